"""make_tabular's planted truth is really in the data; upsample and write_parquet."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mlkit.data as md


def _sync(ddf):
    with dask.config.set(scheduler="sync"):
        return ddf.compute()


def _binom_ok(observed: float, p: float, n: int, z: float = 4.5) -> bool:
    return abs(observed - p) <= z * np.sqrt(p * (1 - p) / n)


def test_same_seed_same_rows_whatever_the_partitioning():
    kw = dict(seed=11, missing_mcar=0.05, missing_mar=0.1, covariate_drift=0.5, concept_drift=0.7, label_bias=0.2)
    one, _ = md.make_tabular(150_000, npartitions=1, **kw)
    seven, _ = md.make_tabular(150_000, npartitions=7, **kw)
    assert (one.npartitions, seven.npartitions) == (1, 7)
    a, b = _sync(one), _sync(seven)
    pd.testing.assert_frame_equal(a, b)
    other = _sync(md.make_tabular(150_000, npartitions=7, **{**kw, "seed": 12})[0])
    assert not np.allclose(a["num_00"], other["num_00"])


def test_many_partitions_on_the_cluster_match(dask_client):
    ddf, _ = md.make_tabular(20_000, seed=5, npartitions=13)
    assert ddf.npartitions == 13 and ddf.known_divisions
    pd.testing.assert_frame_equal(ddf.compute(), _sync(md.make_tabular(20_000, seed=5, npartitions=1)[0]))


def test_group_sizes_and_base_rates_recovered():
    n = 400_000
    ddf, truth = md.make_tabular(n, seed=1, group_sizes={"A": 0.8, "B": 0.2},
                                 group_base_rates={"A": 0.30, "B": 0.10}, feature_bias=0.5)
    df = _sync(ddf)
    sizes = df["group"].value_counts(normalize=True)
    assert _binom_ok(sizes["B"], 0.2, n)
    for g, rate in truth.group_base_rates.items():
        part = df.loc[df["group"] == g, "label"]
        assert _binom_ok(part.mean(), rate, len(part)), (g, part.mean(), rate)
    assert truth.prevalence == pytest.approx(0.8 * 0.3 + 0.2 * 0.1)
    # feature bias: num_00 is shifted down in group B, yet B's base rate holds (intercept compensates).
    shift = df.loc[df.group == "B", "num_00"].mean() - df.loc[df.group == "A", "num_00"].mean()
    assert shift == pytest.approx(-0.5, abs=0.02)


@pytest.mark.parametrize("prevalence", [0.01, 0.001])
def test_rare_prevalence(prevalence):
    n = 600_000
    df = _sync(md.make_tabular(n, seed=2, prevalence=prevalence)[0])
    assert _binom_ok(df["label"].mean(), prevalence, n)


def test_label_bias_lowers_observed_rate_of_non_reference_groups():
    n = 300_000
    ddf, truth = md.make_tabular(n, seed=4, label_bias=0.3, include_true_label=True)
    df = _sync(ddf)
    b = df[df.group == "B"]
    assert _binom_ok(b["label_true"].mean(), truth.group_base_rates["B"], len(b))
    assert _binom_ok(b["label"].mean(), truth.observed_group_base_rates["B"], len(b))
    a = df[df.group == "A"]
    assert (a["label"] == a["label_true"]).all()
    assert truth.observed_group_base_rates["B"] == pytest.approx(0.2 * 0.7)


def test_missingness_mcar_and_mar():
    n = 200_000
    ddf, truth = md.make_tabular(n, seed=6, missing_mcar=0.1, missing_mar=0.2)
    df = _sync(ddf)
    assert truth.missing["num_02"]["mechanism"] == "MCAR" and truth.missing["num_03"]["depends_on"] == "num_01"
    assert _binom_ok(df["num_02"].isna().mean(), 0.1, n) and _binom_ok(df["cat_1"].isna().mean(), 0.1, n)
    assert _binom_ok(df["num_03"].isna().mean(), 0.2, n)
    # MAR: missingness depends on the observed driver only.
    assert df.loc[df.num_01 <= 0, "num_03"].isna().sum() == 0
    assert _binom_ok(df.loc[df.num_01 > 0, "num_03"].isna().mean(), 0.4, int((df.num_01 > 0).sum()))
    # MCAR: unrelated to the label
    assert abs(df.loc[df.num_02.isna(), "label"].mean() - df.loc[df.num_02.notna(), "label"].mean()) < 0.01


def test_drift_points_are_where_planted():
    n = 200_000
    ddf, truth = md.make_tabular(n, seed=7, covariate_drift=0.5, covariate_shift=1.0, concept_drift=0.75)
    df = _sync(ddf)
    t_cov = truth.drift_points["covariate"]
    before, after = df[df.time < t_cov], df[df.time >= t_cov]
    assert abs(len(before) - n / 2) <= 2
    for col in truth.drift["covariate"]["columns"]:
        assert after[col].mean() - before[col].mean() == pytest.approx(1.0, abs=0.03)
    assert before["num_05"].mean() == pytest.approx(after["num_05"].mean(), abs=0.03)
    # concept drift: the effects of num_00 and num_01 swap. Fit a logistic model on each side.
    from sklearn.linear_model import LogisticRegression

    t_con = truth.drift_points["concept"]
    feats = truth.numeric
    pre = df[(df.time >= t_cov) & (df.time < t_con)].dropna()
    post = df[df.time >= t_con].dropna()
    c_pre = LogisticRegression(max_iter=500).fit(pre[feats], pre.label).coef_[0]
    c_post = LogisticRegression(max_iter=500).fit(post[feats], post.label).coef_[0]
    assert c_pre[0] > c_pre[1] and c_post[1] > c_post[0]


def test_methods_recover_the_planted_ranking():
    import xgboost as xgb
    from sklearn.inspection import permutation_importance

    ddf, truth = md.make_tabular(60_000, seed=8)
    df = _sync(ddf)
    feats = truth.numeric + truth.categorical
    train, hold = df.iloc[:40_000], df.iloc[40_000:]
    model = xgb.XGBClassifier(n_estimators=150, max_depth=4, learning_rate=0.2, enable_categorical=True,
                              tree_method="hist", n_jobs=2, random_state=0)
    model.fit(train[feats], train["label"])
    # Held-out permutation importance (gain would favour the 200-level noise categorical).
    imp = permutation_importance(model, hold[feats], hold["label"], scoring="roc_auc", n_repeats=3,
                                 random_state=0, n_jobs=1)
    score = pd.Series(imp.importances_mean, index=feats)
    assert score[truth.informative].min() > score[truth.noise].max() + 0.002, score.sort_values()
    assert score.idxmax() == truth.feature_ranking[0]
    # the interaction partners are informative although num_05's own effect is the weakest
    a, b, coef = truth.interaction
    assert (a, b) == ("num_04", "num_05") and coef > 0
    assert score["num_05"] > score[truth.noise].max() + 0.002


def test_truth_is_json_safe():
    import json

    _, truth = md.make_tabular(1_000, seed=0, covariate_drift=0.3)
    json.dumps(truth.as_dict())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_rows": 0}, "n_rows must be a positive integer"),
        ({"n_rows": 10, "prevalence": 0.0}, "prevalence must be"),
        ({"n_rows": 10, "group_sizes": {"A": 0.5, "B": 0.4}}, "group_sizes must sum to 1"),
        ({"n_rows": 10, "group_base_rates": {"A": 0.1}}, "group_base_rates must give a rate for each group"),
        ({"n_rows": 10, "npartitions": 11}, "npartitions must be in"),
    ],
)
def test_make_tabular_bad_arguments(kwargs, match):
    n = kwargs.pop("n_rows")
    with pytest.raises(md.DataError, match=match):
        md.make_tabular(n, **kwargs)


def test_upsample_is_reproducible_and_jittered():
    adult = md.load_adult()
    big = md.upsample(adult, 150_000, seed=3, exclude=["income"], npartitions=3)
    assert big.npartitions == 3
    a = _sync(big)
    b = _sync(md.upsample(adult, 150_000, seed=3, exclude=["income"], npartitions=1))
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 150_000 and list(a.columns) == list(adult.columns)
    assert set(a["income"].unique()) == {0, 1}
    assert a["income"].mean() == pytest.approx(adult["income"].mean(), abs=0.01)
    assert a["age"].dtype == np.int64 and a["age"].between(17, 90).all()
    # jittered: values move a little, distributions stay.
    assert a["fnlwgt"].nunique() > adult["fnlwgt"].nunique()
    assert a["hours_per_week"].mean() == pytest.approx(adult["hours_per_week"].mean(), rel=0.01)
    assert a["workclass"].isna().mean() == pytest.approx(adult["workclass"].isna().mean(), abs=0.005)
    with pytest.raises(md.EmptyDataError, match="empty frame"):
        md.upsample(adult.iloc[:0], 10)


def test_write_parquet_sizes_partitions(tmp_path):
    ddf, _ = md.make_tabular(200_000, seed=0, npartitions=1)
    info = md.write_parquet(ddf, tmp_path / "d.parquet", partition_size="4MB")
    assert info.n_rows == 200_000
    assert 3 <= info.n_files <= 12  # ~25 MB on disk / 4 MB target
    assert 1.5 < info.mean_file_mb < 8
    back = dd.read_parquet(tmp_path / "d.parquet")
    assert len(back) == 200_000
    with pytest.raises(FileExistsError, match="already exists"):
        md.write_parquet(ddf, tmp_path / "d.parquet")
    info2 = md.write_parquet(ddf.head(1000), tmp_path / "d.parquet", overwrite=True)
    assert info2.n_rows == 1000


class _Boom:
    def __call__(self, i):
        if i == 3:
            raise RuntimeError("disk full (simulated) in partition 3")
        return pd.DataFrame({"x": np.arange(1000.0) + i})


def test_write_parquet_is_atomic(tmp_path):
    ddf = dd.from_map(_Boom(), list(range(6)), meta=pd.DataFrame({"x": pd.Series([], dtype=float)}))
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError, match="partition 3"):
        md.write_parquet(ddf, target, partition_size="1MB")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary directory left behind
