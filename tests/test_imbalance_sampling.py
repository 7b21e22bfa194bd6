"""mlkit.imbalance sampling: imbalanced-learn as the oracle in memory, binomial CIs on Dask."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mlkit.imbalance import (
    ImbalanceError,
    TooLargeForSmoteError,
    class_balance,
    oversample,
    rebalance,
    smote,
    undersample,
)


def _data(n=20_000, prevalence=0.02, seed=0, categorical=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int8)
    df = pd.DataFrame({"a": rng.normal(size=n) + y, "b": rng.normal(size=n) - y, "y": y})
    if categorical:
        df.insert(2, "c", pd.Categorical(rng.choice(["u", "v", "w"], n)))
    df.index = df.index + 1000  # a non-trivial index that must survive
    return df


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1])
def test_undersample_pandas_counts_equal_imbalanced_learn(ratio):
    from imblearn.under_sampling import RandomUnderSampler

    df = _data()
    out = undersample(df, "y", ratio, seed=3)
    _, y_ref = RandomUnderSampler(sampling_strategy=ratio, random_state=0).fit_resample(df[["a", "b"]], df["y"])
    assert out["y"].value_counts().to_dict() == y_ref.value_counts().to_dict()
    assert out["y"].sum() == df["y"].sum()  # every minority row kept
    assert out.index.is_monotonic_increasing and out.index.isin(df.index).all()
    pd.testing.assert_frame_equal(out, df.loc[out.index])  # rows unchanged, only dropped
    pd.testing.assert_frame_equal(undersample(df, "y", ratio, seed=3), out)
    assert not undersample(df, "y", ratio, seed=4).index.equals(out.index)


@pytest.mark.parametrize("ratio", [1.0, 0.3])
def test_oversample_pandas_counts_equal_imbalanced_learn(ratio):
    from imblearn.over_sampling import RandomOverSampler

    df = _data()
    out = oversample(df, "y", ratio, seed=1)
    _, y_ref = RandomOverSampler(sampling_strategy=ratio, random_state=0).fit_resample(df[["a", "b"]], df["y"])
    assert out["y"].value_counts().to_dict() == y_ref.value_counts().to_dict()
    assert (out[out["y"] == 0].index == df[df["y"] == 0].index).all()  # majority untouched
    assert set(out.index) == set(df.index)  # copies of existing rows only


def _binomial_ci(n, p, z=4.0):
    sd = np.sqrt(n * p * (1 - p))
    return n * p - z * sd, n * p + z * sd


def test_undersample_dask_is_reproducible_and_within_binomial_ci(dask_client):
    df = _data(n=200_000, prevalence=0.01, seed=5)
    ddf = dd.from_pandas(df, npartitions=7)
    n_neg, n_pos = int((df["y"] == 0).sum()), int(df["y"].sum())
    for ratio in (1.0, 0.25):
        out = undersample(ddf, "y", ratio, seed=11)
        assert hasattr(out, "dask")  # lazy
        a = out.compute()
        b = undersample(ddf, "y", ratio, seed=11).compute()
        pd.testing.assert_frame_equal(a, b)  # same seed, same sample
        assert int(a["y"].sum()) == n_pos
        q = n_pos / ratio / n_neg
        lo, hi = _binomial_ci(n_neg, q)
        kept = int((a["y"] == 0).sum())
        assert lo <= kept <= hi, (kept, lo, hi)
    other = undersample(ddf, "y", 1.0, seed=12).compute()
    assert not other.index.equals(a.index)


def test_undersample_dask_realised_ratio_is_unbiased_over_seeds(dask_client):
    """Mean realised majority count over seeds within a CI of the target: exact in expectation."""
    df = _data(n=50_000, prevalence=0.05, seed=2)
    ddf = dd.from_pandas(df, npartitions=4)
    n_neg, n_pos = int((df["y"] == 0).sum()), int(df["y"].sum())
    kept = [int((undersample(ddf, "y", 1.0, seed=s).compute()["y"] == 0).sum()) for s in range(12)]
    q = n_pos / n_neg
    sd_mean = np.sqrt(n_neg * q * (1 - q) / len(kept))
    assert abs(np.mean(kept) - n_pos) < 4 * sd_mean


def test_oversample_dask_within_poisson_ci(dask_client):
    df = _data(n=40_000, prevalence=0.02, seed=7)
    ddf = dd.from_pandas(df, npartitions=5)
    n_neg, n_pos = int((df["y"] == 0).sum()), int(df["y"].sum())
    out = oversample(ddf, "y", 0.5, seed=0).compute()
    assert int((out["y"] == 0).sum()) == n_neg
    extra = int(out["y"].sum()) - n_pos
    lam_total = 0.5 * n_neg - n_pos
    assert abs(extra - lam_total) < 4 * np.sqrt(lam_total)
    pd.testing.assert_frame_equal(out, oversample(ddf, "y", 0.5, seed=0).compute())


def test_smote_matches_imbalanced_learn_and_refuses_categoricals():
    from imblearn.over_sampling import SMOTE

    df = _data(n=5_000, prevalence=0.05)
    out = smote(df, "y", 0.5, seed=0)
    X_ref, y_ref = SMOTE(sampling_strategy=0.5, random_state=0).fit_resample(df[["a", "b"]], df["y"])
    np.testing.assert_allclose(out[["a", "b"]].to_numpy(), X_ref.to_numpy())
    assert out["y"].tolist() == y_ref.tolist()
    assert list(out.columns) == list(df.columns)

    cat = _data(n=3_000, prevalence=0.05, categorical=True)
    with pytest.raises(ImbalanceError, match=r"\['c'\].*smotenc"):
        smote(cat, "y", 0.5)
    nc = smote(cat, "y", 0.5, method="smotenc")
    assert set(nc["c"].astype(str).unique()) <= {"u", "v", "w"}
    assert int(nc["y"].sum()) == int(0.5 * (cat["y"] == 0).sum())


def test_smote_refuses_data_too_large_with_a_suggestion():
    df = _data(n=5_000)
    with pytest.raises(TooLargeForSmoteError, match="undersample"):
        smote(df, "y", max_rows=1_000)
    with pytest.raises(ImbalanceError, match="missing values"):
        smote(df.assign(a=df["a"].where(df.index != 1000)), "y")


def test_bad_inputs_to_samplers():
    df = _data(n=2_000)
    with pytest.raises(ImbalanceError, match=r"\(0, 1\]"):
        undersample(df, "y", 1.5)
    with pytest.raises(ImbalanceError, match=r"\(0, 1\]"):
        oversample(df, "y", 0.0)
    with pytest.raises(ImbalanceError, match="single class"):
        undersample(df.assign(y=0), "y")
    with pytest.raises(ImbalanceError, match="binary"):
        undersample(df.assign(y=np.arange(len(df)) % 3), "y")
    with pytest.raises(ImbalanceError, match="pick a ratio >= the current one"):
        undersample(df, "y", 0.001)
    with pytest.raises(ImbalanceError, match="'label' not in the frame"):
        rebalance(df, "label")
    with pytest.raises(ImbalanceError, match="method must be one of"):
        rebalance(df, "y", "tomek")


@pytest.mark.parametrize("method", ["none", "weight", "under", "over", "smote"])
def test_rebalance_odds_ratio_reflects_the_training_balance(method):
    df = _data(n=10_000, prevalence=0.02)
    r = rebalance(df, "y", method, ratio=0.5, seed=0)
    before = df["y"].mean() / (1 - df["y"].mean())
    if method == "none":
        assert r.odds_ratio == 1.0
        return
    assert r.odds_ratio == pytest.approx(0.5 / before, rel=0.01)
    if method == "weight":
        assert r.frame is df
        w = r.sample_weight
        assert (w[df["y"] == 0] == 1).all()
        assert (w[df["y"] == 1] * df["y"]).sum() / (df["y"] == 0).sum() == pytest.approx(0.5)
        assert r.xgboost_params["scale_pos_weight"] == pytest.approx(r.odds_ratio)
    else:
        cb = class_balance(r.frame, "y")
        assert cb.overall["n_pos"].iloc[0] / cb.overall["n_neg"].iloc[0] == pytest.approx(0.5, rel=0.01)


def test_undersampling_is_independent_of_data_generated_with_the_same_seed(dask_client):
    """numpy ignores trailing zeros in seeds: default_rng([0, 0]) == default_rng(0) == make_tabular's
    block 0 stream. The samplers key their streams apart, so kept negatives keep the group mix."""
    from mlkit.data import make_tabular

    ddf, truth = make_tabular(2**17, seed=0, prevalence=0.05, partition_rows=2**16)
    out = undersample(ddf, "label", 1.0, seed=0).compute()
    neg = out[out["label"] == 0]
    share_b = float((neg["group"] == "B").mean())
    n = len(neg)
    assert abs(share_b - truth.group_sizes["B"]) < 4 * np.sqrt(0.3 * 0.7 / n), (share_b, n)
