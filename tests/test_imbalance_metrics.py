"""mlkit.imbalance metrics and thresholds: scikit-learn as the oracle, binned error bounds checked."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve as sk_calibration_curve

from mlkit.data import GERMAN_CREDIT_COSTS
from mlkit.imbalance import (
    ImbalanceError,
    ScoreHistogram,
    as_cost_matrix,
    binned_average_precision,
    calibration_curve,
    choose_threshold,
    confusion_counts,
    imbalance_metrics,
    score_histogram,
    tune_threshold_cv,
)
from mlkit.imbalance.threshold import counts_at_thresholds


def _scores(n=300_000, prevalence=0.01, seed=0, separation=2.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int8)
    logit = rng.normal(np.log(prevalence) - 1, 1.5, n) + separation * y
    return y, 1 / (1 + np.exp(-logit))


def test_exact_metrics_are_sklearns():
    y, p = _scores(n=50_000)
    m = imbalance_metrics(y, p, threshold=0.2, cost_matrix=GERMAN_CREDIT_COSTS)
    pred = (p >= 0.2).astype(int)
    assert m.exact
    assert m.average_precision == skm.average_precision_score(y, p)
    assert m.roc_auc == skm.roc_auc_score(y, p)
    assert m.brier == pytest.approx(skm.brier_score_loss(y, p), rel=1e-12)
    assert m.log_loss == pytest.approx(skm.log_loss(y, p), rel=1e-12)
    assert m.mcc == pytest.approx(skm.matthews_corrcoef(y, pred), abs=1e-12)
    assert m.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred), abs=1e-12)
    assert m.precision == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
    assert m.recall == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert m.f1 == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert m.expected_cost == pytest.approx((fp * 1 + fn * 5) / len(y))
    assert confusion_counts(y, p, 0.2) == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


def test_rates_follow_sklearn_zero_division_conventions():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4])
    m = imbalance_metrics(y, p, threshold=0.9)  # nothing predicted positive
    assert m.precision == 0 and m.recall == 0
    assert m.mcc == skm.matthews_corrcoef(y, np.zeros(4, int))


def test_binned_equals_sklearn_on_quantised_scores_and_is_within_its_bound():
    y, p = _scores()
    h = score_histogram(y, p, n_bins=2**14)
    q = np.minimum((p * 2**14).astype(int), 2**14 - 1)
    assert h.average_precision() == pytest.approx(skm.average_precision_score(y, q), abs=1e-12)
    assert h.roc_auc() == pytest.approx(skm.roc_auc_score(y, q), abs=1e-12)
    ap, auc = skm.average_precision_score(y, p), skm.roc_auc_score(y, p)
    assert abs(h.average_precision() - ap) <= h.average_precision_bound()
    assert abs(h.roc_auc() - auc) <= h.roc_auc_bound()
    assert h.average_precision_bound() < 1e-3 and h.roc_auc_bound() < 1e-3
    # exact parts of the pass
    assert h.brier() == pytest.approx(skm.brier_score_loss(y, p), rel=1e-10)
    assert h.log_loss() == pytest.approx(skm.log_loss(y, p), rel=1e-10)
    assert (h.n, h.n_pos) == (len(y), int(y.sum()))


def test_bound_is_tight_enough_to_matter_on_coarse_scores():
    """A model with few distinct scores: the bound must still cover the real error."""
    rng = np.random.default_rng(3)
    n = 20_000
    y = (rng.random(n) < 0.1).astype(int)
    p = np.clip(np.round(rng.beta(2, 8, n) + 0.3 * y, 1), 0, 1)  # 11 distinct scores
    p = p + rng.uniform(0, 1e-3, n) * (p < 1)  # break ties inside coarse bins
    for bins in (2, 8, 64):
        h = score_histogram(y, p, n_bins=bins)
        err_ap = abs(h.average_precision() - skm.average_precision_score(y, p))
        err_auc = abs(h.roc_auc() - skm.roc_auc_score(y, p))
        assert err_ap <= h.average_precision_bound() + 1e-12
        assert err_auc <= h.roc_auc_bound() + 1e-12
    assert score_histogram(y, p, n_bins=2).roc_auc_bound() > 0.05  # coarse bins: a loose, honest bound


def test_calibration_curve_exact_on_both_paths(dask_client):
    y, p = _scores(n=100_000, prevalence=0.05)
    p[:5] = [0.1, 0.2, 0.5, 0.9, 1.0]  # scores exactly on calibration edges
    for n_bins in (5, 10):
        pt, pp = sk_calibration_curve(y, p, n_bins=n_bins)
        exact = calibration_curve(y, p, n_bins=n_bins)
        np.testing.assert_allclose(exact["fraction_positive"], pt, rtol=1e-12)
        np.testing.assert_allclose(exact["mean_predicted"], pp, rtol=1e-12)
        binned = score_histogram(y, p, n_cal=n_bins).calibration_curve()
        np.testing.assert_allclose(binned["fraction_positive"], pt, rtol=1e-12)
        np.testing.assert_allclose(binned["mean_predicted"], pp, rtol=1e-12)
    df = dd.from_pandas(pd.DataFrame({"y": y, "p": p}), npartitions=4)
    dcal = calibration_curve(df["y"], df["p"])
    np.testing.assert_allclose(dcal["fraction_positive"], exact["fraction_positive"], rtol=1e-12)


def test_pandas_and_dask_give_the_same_binned_result(dask_client):
    y, p = _scores(n=200_000)
    pdf = pd.DataFrame({"y": y, "p": p})
    ddf = dd.from_pandas(pdf, npartitions=6)
    hp = score_histogram(pdf["y"], pdf["p"])
    hd = score_histogram(ddf["y"], ddf["p"])
    np.testing.assert_array_equal(hp.pos, hd.pos)
    np.testing.assert_array_equal(hp.neg, hd.neg)
    assert hd.average_precision() == hp.average_precision()
    assert hd.roc_auc() == hp.roc_auc()
    assert hd.brier() == pytest.approx(hp.brier(), rel=1e-12)
    md = imbalance_metrics(ddf["y"], ddf["p"], threshold=0.5, cost_matrix=GERMAN_CREDIT_COSTS)
    me = imbalance_metrics(pdf["y"], pdf["p"], threshold=0.5, cost_matrix=GERMAN_CREDIT_COSTS)
    assert not md.exact and me.exact
    # 0.5 is a bin edge: threshold metrics are exact on the binned path too
    for k in ("precision", "recall", "mcc", "balanced_accuracy", "expected_cost", "brier", "log_loss"):
        assert getattr(md, k) == pytest.approx(getattr(me, k), rel=1e-10), k
    assert abs(md.average_precision - me.average_precision) <= md.average_precision_bound
    assert abs(md.roc_auc - me.roc_auc) <= md.roc_auc_bound
    ap, bound = binned_average_precision(ddf["y"], ddf["p"])
    assert ap == hp.average_precision() and bound == hp.average_precision_bound()


def test_histograms_merge_by_addition():
    y, p = _scores(n=30_000)
    whole = ScoreHistogram.from_arrays(y, p, 2**10)
    parts = ScoreHistogram.from_arrays(y[:10_000], p[:10_000], 2**10) + ScoreHistogram.from_arrays(y[10_000:], p[10_000:], 2**10)
    np.testing.assert_array_equal(whole.pos, parts.pos)
    np.testing.assert_array_equal(whole.cal_total, parts.cal_total)
    with pytest.raises(ImbalanceError, match="different bins"):
        whole + ScoreHistogram.from_arrays(y, p, 2**8)


@pytest.mark.parametrize(
    "y, p, match",
    [
        (np.zeros(10, int), np.linspace(0, 1, 10), "single class"),
        (np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]), "binary"),
        (np.array([0, 1, 1]), np.array([0.1, 1.2, 0.3]), r"outside \[0, 1\]"),
        (np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3]), "NaN"),
        (np.array([0, 1]), np.array([0.1, 0.2, 0.3]), "aligned"),
    ],
)
def test_bad_input_to_metrics(y, p, match):
    with pytest.raises(ImbalanceError, match=match):
        imbalance_metrics(y, p)


def test_bins_must_be_a_power_of_two():
    with pytest.raises(ImbalanceError, match="power of two"):
        score_histogram(np.array([0, 1]), np.array([0.2, 0.8]), n_bins=1000)


# --------------------------------------------------------------------------- thresholds


def _brute_force(y, p, score_fn):
    best, best_t = -np.inf, None
    for t in np.unique(p)[::-1]:
        v = score_fn(y, (p >= t).astype(int))
        if v > best:
            best, best_t = v, t
    return best_t, best


def test_exact_threshold_search_matches_brute_force():
    y, p = _scores(n=3_000, prevalence=0.1, separation=2.0)
    p = np.round(p, 3)  # ties
    c = as_cost_matrix(GERMAN_CREDIT_COSTS)

    def neg_cost(yy, pred):
        tn, fp, fn, tp = skm.confusion_matrix(yy, pred, labels=[0, 1]).ravel()
        return -c.total(tn, fp, fn, tp)

    t, v = _brute_force(y, p, neg_cost)
    ch = choose_threshold(y, p, "cost", cost_matrix=GERMAN_CREDIT_COSTS)
    assert ch.threshold == t and ch.expected_cost == pytest.approx(-v / len(y))
    t, v = _brute_force(y, p, lambda a, b: skm.fbeta_score(a, b, beta=2))
    ch = choose_threshold(y, p, "fbeta", beta=2)
    assert ch.threshold == t and ch.value == pytest.approx(v)

    def recall_if_precise(a, b):
        return skm.recall_score(a, b) if skm.precision_score(a, b, zero_division=0) >= 0.5 else -1

    t, v = _brute_force(y, p, recall_if_precise)
    ch = choose_threshold(y, p, "recall_at_precision", min_precision=0.5)
    assert ch.feasible and ch.recall == pytest.approx(v) and ch.precision >= 0.5
    assert ch.threshold == t


def test_counts_at_thresholds_include_predict_nothing():
    c = counts_at_thresholds(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.9, 0.5]))
    assert c["threshold"].tolist() == [0.9, 0.5, 0.2, np.inf]
    assert c["tp"].tolist() == [2, 2, 2, 0] and c["fp"].tolist() == [0, 1, 2, 0]


def test_infeasible_precision_is_flagged():
    y = np.array([0, 1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    ch = choose_threshold(y, p, "recall_at_precision", min_precision=0.99)
    assert not ch.feasible


def test_binned_threshold_close_to_exact_and_same_on_dask(dask_client):
    y, p = _scores(n=200_000, prevalence=0.02)
    exact = choose_threshold(y, p, "cost", cost_matrix=[[0, 1], [20, 0]])
    binned = choose_threshold(y, p, "cost", cost_matrix=[[0, 1], [20, 0]], method="binned")
    assert not binned.exact
    assert abs(binned.threshold - exact.threshold) <= 1 / 2**16 + 1e-12 or binned.expected_cost <= exact.expected_cost * 1.001
    assert binned.expected_cost == pytest.approx(exact.expected_cost, rel=1e-3)
    ddf = dd.from_pandas(pd.DataFrame({"y": y, "p": p}), npartitions=5)
    on_dask = choose_threshold(ddf["y"], ddf["p"], "cost", cost_matrix=[[0, 1], [20, 0]])
    assert on_dask.as_dict() == binned.as_dict()
    # for calibrated scores, the empirical cost threshold sits near the Bayes threshold 1/21
    assert abs(exact.threshold - 1 / 21) < 0.03


def test_threshold_bad_input():
    y, p = _scores(n=1_000, prevalence=0.1)
    with pytest.raises(ImbalanceError, match="needs cost_matrix"):
        choose_threshold(y, p, "cost")
    with pytest.raises(ImbalanceError, match="min_precision"):
        choose_threshold(y, p, "recall_at_precision")
    with pytest.raises(ImbalanceError, match="objective must be"):
        choose_threshold(y, p, "accuracy")
    with pytest.raises(ImbalanceError, match="2x2"):
        choose_threshold(y, p, "cost", cost_matrix=[[0, 1, 1], [5, 0, 1], [1, 1, 0]])


def test_tune_threshold_cv_wraps_sklearn_with_our_cost_objective():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import TunedThresholdClassifierCV

    rng = np.random.default_rng(0)
    n = 4_000
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.0 + X @ np.array([1.5, -1.0, 0.5]))))).astype(int)
    tuned = tune_threshold_cv(LogisticRegression(), X, y, "cost", cost_matrix=GERMAN_CREDIT_COSTS, seed=0)
    assert isinstance(tuned, TunedThresholdClassifierCV)
    # A calibrated model under a 5:1 cost: the tuned threshold is near the Bayes 1/6, far below 0.5.
    assert 0.05 < tuned.best_threshold_ < 0.35
    # ... and beats the default threshold on fresh data
    X2 = rng.normal(size=(n, 3))
    y2 = (rng.random(n) < 1 / (1 + np.exp(-(-2.0 + X2 @ np.array([1.5, -1.0, 0.5]))))).astype(int)
    p2 = tuned.estimator_.predict_proba(X2)[:, 1]
    cost_tuned = imbalance_metrics(y2, p2, threshold=tuned.best_threshold_, cost_matrix=GERMAN_CREDIT_COSTS).expected_cost
    cost_default = imbalance_metrics(y2, p2, threshold=0.5, cost_matrix=GERMAN_CREDIT_COSTS).expected_cost
    assert cost_tuned < cost_default
