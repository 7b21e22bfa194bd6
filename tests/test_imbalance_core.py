"""mlkit.imbalance: input checks, cost matrices, diagnosis, weights and the prior-shift correction."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mlkit.data import GERMAN_CREDIT_COSTS, load_german_credit
from mlkit.imbalance import (
    CostMatrix,
    ImbalanceError,
    as_cost_matrix,
    class_balance,
    class_weights,
    correct_prior_shift,
    cost_weights,
    odds_ratio,
    sample_weights,
    scale_pos_weight,
    torch_class_weights,
    torch_pos_weight,
    xgboost_params,
)

# --------------------------------------------------------------------------- cost matrix


def test_german_credit_cost_matrix_every_form():
    df = load_german_credit()
    for form in (GERMAN_CREDIT_COSTS, df.attrs["cost_matrix"], [[0, 1], [5, 0]], np.array([[0, 1], [5, 0]])):
        c = as_cost_matrix(form)
        assert (c.c00, c.c01, c.c10, c.c11) == (0, 1, 5, 0)
    c = as_cost_matrix(GERMAN_CREDIT_COSTS)
    assert c.bayes_threshold == pytest.approx(1 / 6)
    assert c.class_weights == {0: 1.0, 1: 5.0}
    assert cost_weights(GERMAN_CREDIT_COSTS) == {0: 1.0, 1: 5.0}
    assert xgboost_params(cost_matrix=GERMAN_CREDIT_COSTS) == {"scale_pos_weight": 5.0}
    # Naming the positive class reorders a labelled matrix: "good" as positive swaps the roles.
    swapped = as_cost_matrix(GERMAN_CREDIT_COSTS, positive="good")
    assert (swapped.c01, swapped.c10) == (5, 1)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0, 1, 2], [5, 0, 1]], "2x2"),
        (np.zeros((3, 3)), "2x2"),
        ([[0, 1], [5, np.nan]], "finite"),
        ([[0, -1], [5, 0]], ">= 0"),
        ([[1, 1], [5, 0]], "more than the correct"),
        ("expensive", "2x2"),
        (pd.DataFrame([[0, 1], [5, 0]], index=["a", "b"], columns=["b", "c"]), "same two classes"),
    ],
)
def test_bad_cost_matrix_is_refused(bad, match):
    with pytest.raises(ImbalanceError, match=match):
        as_cost_matrix(bad)


def test_cost_matrix_total_matches_hand_count():
    c = CostMatrix(0, 1, 5, 0)
    assert c.total(tn=10, fp=3, fn=2, tp=4) == 3 * 1 + 2 * 5


# --------------------------------------------------------------------------- diagnose


def _frame(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B", "C"], size=n, p=[0.6, 0.35, 0.05])
    rate = np.select([group == "A", group == "B"], [0.01, 0.05], 0.2)
    y = (rng.random(n) < rate).astype(np.int8)
    return pd.DataFrame({"x": rng.normal(size=n), "group": pd.Categorical(group), "y": y})


def test_class_balance_pandas_matches_value_counts_and_dask_agrees(dask_client):
    df = _frame()
    cb = class_balance(df, "y", by="group")
    assert cb.overall["n_pos"].iloc[0] == int(df["y"].sum())
    assert cb.prevalence == pytest.approx(df["y"].mean())
    assert cb.imbalance_ratio == pytest.approx((df["y"] == 0).sum() / df["y"].sum())
    expected = df.groupby("group", observed=True)["y"].agg(["mean", "sum", "size"])
    for g in ["A", "B", "C"]:
        row = cb.by_group.loc[g]
        assert row["prevalence"] == pytest.approx(expected.loc[g, "mean"])
        assert row["n_pos"] == expected.loc[g, "sum"] and row["n"] == expected.loc[g, "size"]
        assert row["prevalence_low"] <= row["prevalence"] <= row["prevalence_high"]
    d = cb.disparity()
    assert d["max_group"] == "C" and d["min_group"] == "A"
    assert d["difference"] == pytest.approx(expected["mean"].max() - expected["mean"].min())
    cbd = class_balance(dd.from_pandas(df, npartitions=4), "y", by="group")
    pd.testing.assert_frame_equal(cbd.by_group, cb.by_group, check_dtype=False)
    pd.testing.assert_frame_equal(cbd.overall, cb.overall, check_dtype=False)


def test_class_balance_reports_single_class_and_missing_labels_instead_of_failing():
    df = pd.DataFrame({"y": [0, 0, 0, np.nan], "g": ["a", "a", "b", "b"]})
    cb = class_balance(df, "y", by="g")
    assert bool(cb.overall["single_class"].iloc[0])
    assert cb.n_missing_label == 1
    assert any("single class" in w for w in cb.warnings)


def test_class_balance_refuses_non_binary_and_missing_columns():
    df = pd.DataFrame({"y": [0, 1, 2, 1], "g": list("abab")})
    with pytest.raises(ImbalanceError, match="binary"):
        class_balance(df, "y")
    with pytest.raises(ImbalanceError, match="'nope' not in the frame"):
        class_balance(df, "nope")
    with pytest.raises(ImbalanceError, match="by column"):
        class_balance(df, "y", by="zz")


# --------------------------------------------------------------------------- weights


def test_class_weights_match_sklearn_balanced():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.r_[np.zeros(990, int), np.ones(10, int)]
    cw = class_weights(y)
    ref = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    assert cw[0] == pytest.approx(ref[0]) and cw[1] == pytest.approx(ref[1])
    assert scale_pos_weight(y) == pytest.approx(99.0)
    assert scale_pos_weight(y, ratio=0.5) == pytest.approx(49.5)
    sw = sample_weights(pd.Series(y))
    assert sw.iloc[-1] == pytest.approx(ref[1]) and sw.iloc[0] == pytest.approx(ref[0])
    assert class_weights(y, "sqrt")[1] == pytest.approx(np.sqrt(ref[1]))


def test_sample_weights_on_dask_are_lazy_and_equal(dask_client):
    y = pd.Series(np.r_[np.zeros(90, int), np.ones(10, int)], name="y")
    out = sample_weights(dd.from_pandas(y, npartitions=3))
    assert hasattr(out, "dask")
    np.testing.assert_allclose(out.compute().to_numpy(), sample_weights(y).to_numpy())


@pytest.mark.parametrize(
    "y, match",
    [
        (np.zeros(10, int), "single class"),
        (np.ones(10, int), "single class"),
        (np.array([0, 1, 2, 1]), "binary"),
        (np.array(["a", "b", "a"]), "binary"),
        (np.array([0.0, 1.0, np.nan]), "NaN"),
        (np.array([], dtype=int), "no labels"),
    ],
)
def test_bad_labels_are_refused(y, match):
    with pytest.raises(ImbalanceError, match=match):
        class_weights(y)


@pytest.mark.parametrize("w, match", [({0: 1.0, 1: -2.0}, "negative"), ({0: np.nan, 1: 2.0}, "NaN"), ({0: 0.0, 1: 0.0}, "all weights are zero"), ({1: 2.0}, "classes 0 and 1")])
def test_bad_class_weights_are_refused(w, match):
    with pytest.raises(ImbalanceError, match=match):
        class_weights(None, w)


@pytest.mark.parametrize("ratio", [0, -0.5, 1.5, np.nan, "1:1", True])
def test_ratio_outside_unit_interval_is_refused(ratio):
    with pytest.raises(ImbalanceError, match=r"\(0, 1\]"):
        scale_pos_weight(np.r_[np.zeros(9, int), 1], ratio=ratio)


def test_torch_weights_give_the_same_loss_as_explicit_sample_weights():
    import torch

    y = np.r_[np.zeros(95, int), np.ones(5, int)]
    logits = torch.linspace(-3, 3, 100)
    target = torch.tensor(y, dtype=torch.float32)
    pw = torch_pos_weight(y)
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=pw, reduction="sum")(logits, target)
    w = torch.tensor(np.where(y == 1, 19.0, 1.0), dtype=torch.float32)
    manual = torch.nn.BCEWithLogitsLoss(weight=w, reduction="sum")(logits, target)
    assert float(loss) == pytest.approx(float(manual), rel=1e-5)
    cw = torch_class_weights(y)
    assert cw.tolist() == pytest.approx([100 / 190, 100 / 10])
    assert torch_class_weights(cost_matrix=GERMAN_CREDIT_COSTS).tolist() == [1.0, 5.0]


# --------------------------------------------------------------------------- prior shift


def test_odds_ratio_forms_agree():
    assert odds_ratio(pos_weight=5) == 5
    assert odds_ratio(class_weight={0: 2.0, 1: 10.0}) == 5
    # 1 % -> 50 %: odds 1/99 -> 1, ratio 99
    assert odds_ratio(prior_before=0.01, prior_after=0.5) == pytest.approx(99.0)
    with pytest.raises(ImbalanceError, match="exactly one"):
        odds_ratio(pos_weight=2, class_weight={0: 1, 1: 2})
    with pytest.raises(ImbalanceError, match="w must be"):
        correct_prior_shift(np.array([0.5]), -1)


def test_correction_is_the_inverse_of_an_odds_shift():
    p = np.linspace(0, 1, 101)
    w = 7.0
    shifted = w * p / (w * p + (1 - p))  # a model trained with positives weighted w
    np.testing.assert_allclose(correct_prior_shift(shifted, w), p, atol=1e-12)
    two_col = correct_prior_shift(np.column_stack([1 - shifted, shifted]), w)
    np.testing.assert_allclose(two_col[:, 1], p, atol=1e-12)
    s = correct_prior_shift(pd.Series(shifted, name="p"), w)
    assert isinstance(s, pd.Series) and s.name == "p"


def test_correction_restores_calibration_of_a_weighted_model():
    """Logistic data with known prevalence (~2 %): weighting breaks calibration, the correction restores it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(1)
    n = 60_000
    X = rng.normal(size=(n, 3))
    logit = -4.6 + X @ np.array([1.0, -0.8, 0.5])
    p_true = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p_true).astype(int)
    w = scale_pos_weight(y)  # balanced, ~ 50
    model = LogisticRegression(C=1e6, max_iter=1000).fit(X[: n // 2], y[: n // 2], sample_weight=np.where(y[: n // 2] == 1, w, 1.0))
    raw = model.predict_proba(X[n // 2:])[:, 1]
    fixed = correct_prior_shift(raw, odds_ratio(pos_weight=w))
    y_te, p_te = y[n // 2:], p_true[n // 2:]
    observed = y_te.mean()
    assert raw.mean() > 5 * observed  # weighting inflates the probabilities
    assert fixed.mean() == pytest.approx(observed, rel=0.15)
    assert brier_score_loss(y_te, fixed) < 0.5 * brier_score_loss(y_te, raw)
    # and the corrected probabilities track the planted ones
    assert np.mean(np.abs(fixed - p_te)) < 0.01


def test_xgboost_scale_pos_weight_equals_the_weight_strategy():
    """xgboost's scale_pos_weight and per-row weights from rebalance('weight') train the same model."""
    import xgboost as xgb

    from mlkit.imbalance import rebalance

    rng = np.random.default_rng(4)
    n = 3_000
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-(-3 + 1.5 * df["a"])))).astype(int)
    r = rebalance(df, "y", "weight")
    # xgboost estimates its base score from weighted labels but ignores scale_pos_weight there: pin it.
    params = {"n_estimators": 20, "max_depth": 3, "random_state": 0, "n_jobs": 1, "base_score": 0.5,
              "tree_method": "exact"}  # and its hist sketch is weighted by sample_weight only
    by_param = xgb.XGBClassifier(**params, **xgboost_params(df["y"])).fit(df[["a", "b"]], df["y"])
    by_weight = xgb.XGBClassifier(**params).fit(df[["a", "b"]], df["y"], sample_weight=r.sample_weight)
    np.testing.assert_allclose(by_param.predict_proba(df[["a", "b"]]), by_weight.predict_proba(df[["a", "b"]]), rtol=1e-5)
    plain = xgb.XGBClassifier(**params).fit(df[["a", "b"]], df["y"])
    assert by_param.predict_proba(df[["a", "b"]])[:, 1].mean() > 3 * plain.predict_proba(df[["a", "b"]])[:, 1].mean()
