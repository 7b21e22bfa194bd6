"""mlkit.fairness: oracles (fairlearn, scipy), planted truth, bad input, bootstrap properties."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from mlkit.fairness import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    FairnessInputError,
    FairnessWarning,
    Policy,
    adjusted_confidence,
    audit,
    wilson_interval,
)
from mlkit.fairness.counts import CountSpec, count_partition, merge_counts

FOUR = ["selection_rate", "tpr", "fpr", "accuracy"]


@pytest.fixture(scope="module")
def adult():
    """Adult (bundled) with a logistic model's scores and predictions."""
    from mlkit.data import load_adult

    df = load_adult("all")
    X = df[["age", "education_num", "hours_per_week", "capital_gain", "capital_loss"]].to_numpy(float)
    model = LogisticRegression(max_iter=2000).fit(X, df["income"])
    df["score"] = model.predict_proba(X)[:, 1]
    df["pred"] = (df["score"] >= 0.5).astype(int)
    df["w"] = np.random.default_rng(0).uniform(0.5, 2.0, len(df))
    return df


def _frame(df, sensitive, weights=False):
    return MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                 "fpr": false_positive_rate, "accuracy": accuracy_score},
        y_true=df["income"], y_pred=df["pred"], sensitive_features=df[sensitive],
        sample_params={m: {"sample_weight": df["w"].to_numpy()} for m in FOUR} if weights else None,
    )


@pytest.mark.parametrize("sensitive", [["sex"], ["race"], ["sex", "race"]])
@pytest.mark.parametrize("weights", [False, True])
def test_equal_to_fairlearn_metricframe(adult, sensitive, weights):
    mf = _frame(adult, sensitive[0] if len(sensitive) == 1 else sensitive, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FairnessWarning)
        au = audit("income", "pred", sensitive=sensitive, data=adult, n_bootstrap=50,
                   sample_weight="w" if weights else None)
    expected = mf.by_group.dropna(how="all")  # fairlearn lists unobserved combinations as NaN rows
    index = [tuple(map(str, i)) if isinstance(i, tuple) else str(i) for i in expected.index]
    mine = au.by_group.loc[index, FOUR]
    assert len(mine) == len(au.by_group) == len(expected)
    np.testing.assert_allclose(mine.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    for m in FOUR:
        assert abs(au.disparity(m, "difference")["value"] - mf.difference()[m]) <= 1e-12
        assert abs(au.disparity(m, "ratio")["value"] - mf.ratio()[m]) <= 1e-12
        assert abs(au.disparity(m, "difference", "to_overall")["value"] - mf.difference(method="to_overall")[m]) <= 1e-12
        assert abs(au.disparity(m, "ratio", "to_overall")["value"] - mf.ratio(method="to_overall")[m]) <= 1e-12
        assert abs(au.overall[m] - mf.overall[m]) <= 1e-12
        # Difference and ratio to a chosen reference: by_group minus / over the reference row.
        ref = index[0]
        d = au.difference(m, reference=ref)
        q = au.ratio(m, reference=ref)
        np.testing.assert_allclose(d.loc[index, "value"], expected[m] - expected[m].iloc[0], atol=1e-12)
        np.testing.assert_allclose(q.loc[index, "value"], expected[m] / expected[m].iloc[0], atol=1e-12)


def test_named_criteria_match_fairlearn_functions(adult):
    au = audit("income", "pred", sensitive="race", data=adult, n_bootstrap=0)
    dp = demographic_parity_difference(adult["income"], adult["pred"], sensitive_features=adult["race"])
    eo = equalized_odds_difference(adult["income"], adult["pred"], sensitive_features=adult["race"])
    assert abs(au.disparity("selection_rate")["value"] - dp) <= 1e-12
    assert abs(max(au.disparity("tpr")["value"], au.disparity("fpr")["value"]) - eo) <= 1e-12


@pytest.mark.parametrize("k,n", [(0, 10), (10, 10), (3, 7), (45, 100), (1, 1), (512, 2048)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k, n, confidence):
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo, hi = wilson_interval(k, n, confidence)
    assert abs(float(lo) - ci.low) < 1e-12 and abs(float(hi) - ci.high) < 1e-12


def test_wilson_empty_group_is_nan():
    lo, hi = wilson_interval(np.array([0, 1]), np.array([0, 2]))
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and 0 < lo[1] < hi[1] < 1


def test_adjusted_confidence():
    assert adjusted_confidence(0.95, 1) == 0.95
    assert adjusted_confidence(0.95, 10) == pytest.approx(0.995)
    assert adjusted_confidence(0.95, 10, "sidak") == pytest.approx(0.95 ** 0.1)
    assert adjusted_confidence(0.95, 10, "none") == 0.95
    with pytest.raises(ValueError, match="correction"):
        adjusted_confidence(0.95, 3, "holm-ish")


# --------------------------------------------------------------------------- bootstrap


def _spec(**kw):
    base = {"y_true": "y", "sensitive": ("g",), "y_pred": "p", "n_bootstrap": 4000, "seed": 3}
    base.update(kw)
    return CountSpec(**base)


def test_poisson_bootstrap_moments_and_determinism():
    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n), "g": rng.choice(["a", "b"], n)})
    c1 = count_partition(df, _spec(), partition=7)
    c2 = count_partition(df.sample(frac=1.0, random_state=0), _spec(), partition=7)
    c3 = count_partition(df, _spec(), partition=8)
    # Same partition id: identical replicates, whatever the row order inside the partition.
    np.testing.assert_array_equal(c1.boot, c2.boot)
    assert not np.array_equal(c1.boot, c3.boot)
    # Each cell's replicate total ~ Poisson(n_cell): mean n, variance n (as per-row Poisson(1) weights).
    mean = c1.boot.mean(axis=0)
    var = c1.boot.var(axis=0)
    np.testing.assert_allclose(mean, c1.counts_n, rtol=0.02)
    np.testing.assert_allclose(var, c1.counts_n, rtol=0.1)


@pytest.mark.parametrize("levels", [3, None])  # few distinct weights (sub-cells) or continuous
def test_weighted_poisson_bootstrap_moments(levels):
    rng = np.random.default_rng(2)
    n = 3000 if levels is None else 20_000
    w = rng.choice([0.5, 1.0, 3.0], n) if levels else rng.uniform(0.1, 2.0, n)
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n),
                       "g": rng.choice(["a", "b"], n), "w": w})
    c = count_partition(df, _spec(weight="w", n_bootstrap=2000), partition=0)
    # sum_i w_i P_i with P_i ~ Poisson(1): mean sum w, variance sum w^2.
    np.testing.assert_allclose(c.boot.mean(axis=0), c.counts_w, rtol=0.03)
    np.testing.assert_allclose(c.boot.var(axis=0), c.counts_w2, rtol=0.12)


def test_merge_is_exact_and_keyed_by_group():
    rng = np.random.default_rng(3)
    n = 10_000
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n), "g": rng.choice(list("abcd"), n)})
    parts = [count_partition(df.iloc[i:i + 900], _spec(n_bootstrap=5), partition=j)
             for j, i in enumerate(range(0, n, 900))]
    parts.append(count_partition(df[df["g"] == "d"].iloc[:3], _spec(n_bootstrap=5), partition=99))
    merged = merge_counts(parts)
    whole = count_partition(pd.concat([df, df[df["g"] == "d"].iloc[:3]]), _spec(n_bootstrap=5))
    assert merged.keys == whole.keys == [("a",), ("b",), ("c",), ("d",)]
    np.testing.assert_array_equal(merged.counts_n, whole.counts_n)


def test_bootstrap_interval_close_to_newcombe():
    rng = np.random.default_rng(4)
    n = 40_000
    g = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    p = (rng.random(n) < np.where(g == "a", 0.5, 0.35)).astype(int)
    y = rng.integers(0, 2, n)
    boot = audit(y, p, sensitive=pd.Series(g, name="g"), n_bootstrap=2000, seed=1).difference(reference="a")
    analytic = audit(y, p, sensitive=pd.Series(g, name="g"), n_bootstrap=0).difference(reference="a")
    assert analytic.attrs["method"] == "newcombe" and boot.attrs["method"] == "poisson bootstrap"
    wb = boot.loc["b", "high"] - boot.loc["b", "low"]
    wa = analytic.loc["b", "high"] - analytic.loc["b", "low"]
    assert wb == pytest.approx(wa, rel=0.12)


# --------------------------------------------------------------------------- planted truth, verdicts


def _planted(n, rate_a, rate_b, seed=0, tpr=(0.8, 0.8)):
    rng = np.random.default_rng(seed)
    g = rng.choice(["A", "B"], n, p=[0.6, 0.4])
    y = (rng.random(n) < 0.3).astype(int)
    sel = np.where(g == "A", rate_a, rate_b)
    p = (rng.random(n) < sel).astype(int)
    return pd.DataFrame({"y": y, "p": p, "g": g})


def test_planted_disparity_recovered_and_fails_four_fifths():
    df = _planted(200_000, 0.5, 0.3)
    au = audit("y", "p", sensitive="g", data=df, policy=Policy.four_fifths())
    d = au.difference("selection_rate", reference="A")
    q = au.ratio("selection_rate", reference="best-off")
    assert d.loc["B", "low"] <= -0.2 <= d.loc["B", "high"]
    assert d.loc["B", "high"] - d.loc["B", "low"] < 0.02
    assert q.attrs["reference"] == "A" and q.loc["B", "low"] <= 0.6 <= q.loc["B", "high"]
    v = au.verdicts()
    assert v["demographic_parity"]["verdict"] == FAIL
    assert au.violation()
    assert "0.8" in v["demographic_parity"]["reason"]


def test_fair_case_passes_and_small_sample_is_inconclusive():
    fair = audit("y", "p", sensitive="g", data=_planted(200_000, 0.4, 0.4), policy=Policy.four_fifths())
    assert fair.verdicts()["demographic_parity"]["verdict"] == PASS
    assert not fair.violation()
    with pytest.warns(FairnessWarning, match="under 30 rows"):
        small = audit("y", "p", sensitive="g", data=_planted(60, 0.4, 0.3, seed=5), policy=Policy.four_fifths())
    assert small.verdicts()["demographic_parity"]["verdict"] == INCONCLUSIVE


def test_max_difference_policy_and_correction_widen_intervals():
    rng = np.random.default_rng(6)
    n = 100_000
    g = rng.choice(list("ABCDEFGH"), n)
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "p": rng.integers(0, 2, n), "g": g})
    pol = Policy.max_gap(0.05, criteria=("demographic_parity",), reference="A")
    au = audit("y", "p", sensitive="g", data=df, policy=pol)
    comp = au.comparisons()
    assert len(comp) == 7
    np.testing.assert_allclose(comp["confidence"], 1 - 0.05 / 7)
    none = au.comparisons(Policy.max_gap(0.05, criteria=("demographic_parity",), reference="A", correction="none"))
    width = (comp["difference_high"] - comp["difference_low"]).mean()
    width_none = (none["difference_high"] - none["difference_low"]).mean()
    assert width > width_none * 1.2
    assert au.verdicts()["demographic_parity"]["verdict"] == PASS


def test_intersections_are_observed_combinations_only():
    df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "p": [0, 1, 0, 0, 1, 1],
                       "a": ["x", "x", "y", "y", "y", "x"], "b": ["p", "q", "p", "p", "p", "q"]})
    au = audit("y", "p", sensitive=["a", "b"], data=df, n_bootstrap=10)
    assert list(au.by_group.index) == [("x", "p"), ("x", "q"), ("y", "p")]
    assert au.by_group.index.names == ["a", "b"]
    assert au.by_group.loc[("y", "p"), "count"] == 3


def test_score_metrics_and_sweep(adult):
    from sklearn.metrics import roc_auc_score

    au = audit("income", y_score="score", sensitive="sex", data=adult, n_bootstrap=0)
    # y_pred defaults to score >= threshold.
    np.testing.assert_allclose(au.by_group["selection_rate"],
                               adult.groupby("sex", observed=True)["pred"].mean().to_numpy(), atol=1e-12)
    for sex in ["Female", "Male"]:
        part = adult[adult["sex"] == sex]
        assert au.by_group.loc[sex, "auc"] == pytest.approx(roc_auc_score(part["income"], part["score"]), abs=2e-3)
        assert au.by_group.loc[sex, "mean_score"] == pytest.approx(part["score"].mean(), abs=1e-12)
    sw = au.sweep([0.3, 0.5])
    at = sw[(sw["threshold"] == 0.5)].set_index("group")
    np.testing.assert_allclose(at.loc[["Female", "Male"], "tpr"], au.by_group["tpr"], atol=1e-12)
    from mlkit.fairness import group_threshold_state

    st = group_threshold_state(au, {"Female": 0.3, "Male": 0.5})
    part = adult[adult["sex"] == "Female"]
    assert st["by_group"]["Female"]["selection_rate"] == pytest.approx((part["score"] >= 0.3).mean(), abs=1e-3)
    assert st["by_group"]["Male"]["tpr"] == pytest.approx(au.by_group.loc["Male", "tpr"], abs=1e-12)


# --------------------------------------------------------------------------- bad input


def test_mismatched_lengths():
    with pytest.raises(FairnessInputError, match="different lengths: y_true=4, y_pred=3"):
        audit([0, 1, 0, 1], [0, 1, 1], sensitive=["a", "b", "a", "b"])


def test_nan_sensitive_is_its_own_group():
    df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 0], "p": [0, 1, 0, 0, 1, 1], "g": ["a", None, "b", "a", np.nan, "b"]})
    with pytest.warns(FairnessWarning, match="2 rows with a missing value"):
        au = audit("y", "p", sensitive="g", data=df, n_bootstrap=10)
    assert au.by_group.loc["missing", "count"] == 2


def test_group_with_no_positives_is_undefined_with_reason():
    df = pd.DataFrame({"y": [0, 0, 0, 1, 1, 0, 1, 0], "p": [0, 1, 0, 1, 0, 0, 1, 1], "g": list("aaabbbbb")})
    with pytest.warns(FairnessWarning, match="tpr undefined"):
        au = audit("y", "p", sensitive="g", data=df, n_bootstrap=20)
    assert np.isnan(au.by_group.loc["a", "tpr"])
    und = au.undefined
    assert ((und["group"] == "a") & (und["metric"] == "tpr")).any()
    assert "no positives" in und.set_index(["group", "metric"]).loc[("a", "tpr"), "reason"]
    v = au.verdicts(Policy(reference="b"))
    assert v["equal_opportunity"]["verdict"] == INCONCLUSIVE
    assert "no positives" in v["equal_opportunity"]["reason"]
    assert all(x["verdict"] in (PASS, FAIL, INCONCLUSIVE) for x in v.values())


def test_non_binary_labels_and_bad_scores():
    with pytest.raises(FairnessInputError, match=r"y_true.*binary.*2"):
        audit([0, 1, 2], [0, 1, 1], sensitive=["a", "b", "a"])
    with pytest.raises(FairnessInputError, match=r"y_score.*\[0, 1\].*1.5 at row 1"):
        audit([0, 1, 1], y_score=[0.2, 1.5, 0.3], sensitive=["a", "b", "a"])
    with pytest.raises(FairnessInputError, match="y_score.*nan"):
        audit([0, 1, 1], y_score=[0.2, np.nan, 0.3], sensitive=["a", "b", "a"])
    au = audit(["no", "yes", "yes"], ["no", "yes", "no"], sensitive=["a", "b", "a"], pos_label="yes", n_bootstrap=0)
    assert au.overall["tpr"] == 0.5


def test_unknown_reference_group():
    df = _planted(1000, 0.5, 0.5)
    with pytest.raises(FairnessInputError, match="reference group 'C' does not exist in g; observed groups: 'A', 'B'"):
        audit("y", "p", sensitive="g", data=df, reference="C")
    au = audit("y", "p", sensitive="g", data=df, n_bootstrap=0)
    with pytest.raises(FairnessInputError, match="does not exist"):
        au.difference(reference="nope")
    with pytest.raises(FairnessInputError, match="not in data"):
        audit("y", "p", sensitive="missing_col", data=df)


def test_to_dict_is_json_safe():
    import json

    from mlkit.records import to_json_safe

    df = pd.DataFrame({"y": [0, 0, 1, 1], "p": [0, 1, 1, 0], "g": ["a", "a", "b", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FairnessWarning)
        au = audit("y", "p", sensitive="g", data=df, n_bootstrap=10)
    d = to_json_safe(au.to_dict())
    json.dumps(d)
    assert d["by_group"]["a"]["tpr"] is None  # undefined, not NaN


def test_series_sensitive_with_data_is_refused_clearly():
    import pandas as pd

    from mlkit.fairness import FairnessInputError, audit

    frame = pd.DataFrame({"y": [0, 1] * 50, "p": [0, 1] * 50})
    bands = pd.Series(["young", "old"] * 50, name="band")
    with pytest.raises(FairnessInputError, match=r"got a Series of 100 values; add it to data"):
        audit("y", "p", sensitive=bands, data=frame)
