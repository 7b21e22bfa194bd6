"""Choose the decision threshold from a cost matrix or a target, in memory or in one Dask pass.

Objectives (predict positive where ``score >= threshold``):

* ``"cost"``: minimum expected cost under a cost matrix (rows = true, columns = predicted).
  For *calibrated* probabilities the answer is near the Bayes threshold
  ``(C01 - C00) / ((C01 - C00) + (C10 - C11))``; the empirical search does not assume
  calibration.
* ``"f1"`` / ``"fbeta"``: maximum F-beta.
* ``"recall_at_precision"``: maximum recall subject to precision >= ``min_precision``.

:func:`choose_threshold` searches every distinct score in memory (exact) and every bin edge
``k / n_bins`` of a :class:`~mlkit.imbalance.metrics.ScoreHistogram` on Dask (100M rows: one
pass). :func:`tune_threshold_cv` wraps scikit-learn's ``TunedThresholdClassifierCV`` for
an estimator trained in memory, with the same objectives as scorers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .checks import ImbalanceError, binary_counts, check_binary, is_dask
from .costs import CostMatrix, as_cost_matrix
from .metrics import DEFAULT_BINS, ScoreHistogram, _as_arrays, _rates, score_histogram

__all__ = [
    "OBJECTIVES",
    "ThresholdChoice",
    "choose_threshold",
    "cost_scorer",
    "counts_at_thresholds",
    "threshold_scorer",
    "tune_threshold_cv",
]

OBJECTIVES = ("cost", "f1", "fbeta", "recall_at_precision")


@dataclass
class ThresholdChoice:
    """The chosen threshold and what it gives on the data it was chosen on."""

    threshold: float
    objective: str
    value: float  # the objective's value (expected cost per row for "cost")
    precision: float
    recall: float
    f1: float
    tn: int
    fp: int
    fn: int
    tp: int
    expected_cost: float | None
    feasible: bool = True  # False when no threshold reaches min_precision
    exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def counts_at_thresholds(y_true: Any, y_score: Any) -> dict[str, np.ndarray]:
    """Exact confusion counts at every distinct score (descending), plus "predict nothing".

    Returns ``threshold``, ``tp``, ``fp``, ``fn``, ``tn`` arrays; the last threshold is
    ``inf`` (no positive predicted).
    """
    y, s = _as_arrays(y_true, y_score)
    n_neg, n_pos = binary_counts(y)
    check_binary(n_neg, n_pos, name="y_true")
    order = np.argsort(-s, kind="mergesort")
    s_sorted = s[order]
    pos = (y[order] == 1).astype(np.int64)
    tp_cum = np.cumsum(pos)
    fp_cum = np.arange(1, len(s) + 1) - tp_cum
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s) - 1]  # end of each tie block
    tp = np.r_[tp_cum[last], 0]
    fp = np.r_[fp_cum[last], 0]
    return {"threshold": np.r_[s_sorted[last], np.inf], "tp": tp, "fp": fp, "fn": n_pos - tp, "tn": n_neg - fp}


def _objective_values(c: dict[str, np.ndarray], objective: str, beta: float, min_precision: float | None,
                      cost: CostMatrix | None) -> tuple[np.ndarray, bool]:
    """Scores to maximise per candidate, and whether any candidate is feasible."""
    tp, fp, fn, tn = (c[k].astype(np.float64) for k in ("tp", "fp", "fn", "tn"))
    if objective == "cost":
        return -cost.total(tn, fp, fn, tp), True
    if objective in {"f1", "fbeta"}:
        b2 = beta**2
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(tp > 0, (1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp), 0.0)
        return f, True
    r = _rates(tn, fp, fn, tp)
    ok = (r["precision"] >= min_precision) & (tp + fp > 0)
    if not ok.any():
        # Nothing reaches the precision: fall back to the most precise threshold, flagged.
        return r["precision"] - 2.0, False
    return np.where(ok, r["recall"], -1.0), True


def choose_threshold(
    y_true: Any,
    y_score: Any,
    objective: str = "cost",
    *,
    cost_matrix: Any = None,
    beta: float = 1.0,
    min_precision: float | None = None,
    method: str = "auto",
    n_bins: int = DEFAULT_BINS,
) -> ThresholdChoice:
    """The threshold that optimises ``objective`` on (validation) labels and scores.

    Parameters
    ----------
    y_true, y_score : numpy/pandas (exact search over distinct scores), Dask Series of one
        frame (one-pass histogram, thresholds at bin edges), or a ready :class:`ScoreHistogram`
        as ``y_true`` with ``y_score=None``.
    objective : ``"cost"`` (needs ``cost_matrix``), ``"f1"``, ``"fbeta"`` (with ``beta``), or
        ``"recall_at_precision"`` (with ``min_precision``).
    method : ``"auto"``, ``"exact"`` or ``"binned"``.

    Ties go to the highest threshold (fewest positives predicted).
    """
    if objective not in OBJECTIVES:
        raise ImbalanceError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    cost = as_cost_matrix(cost_matrix) if cost_matrix is not None else None
    if objective == "cost" and cost is None:
        raise ImbalanceError("objective='cost' needs cost_matrix= (rows = true class, columns = predicted)")
    if objective == "recall_at_precision" and (min_precision is None or not 0 < min_precision <= 1):
        raise ImbalanceError(f"objective='recall_at_precision' needs min_precision in (0, 1], got {min_precision!r}")
    if not (isinstance(beta, (int, float)) and beta > 0):
        raise ImbalanceError(f"beta must be a number > 0, got {beta!r}")
    if method not in {"auto", "exact", "binned"}:
        raise ImbalanceError(f"method must be 'auto', 'exact' or 'binned', got {method!r}")
    if isinstance(y_true, ScoreHistogram):
        h, exact = y_true, False
    elif method == "binned" or (method == "auto" and is_dask(y_true)):
        h, exact = score_histogram(y_true, y_score, n_bins=n_bins, sums=False), False
    else:
        if is_dask(y_true):
            raise ImbalanceError("method='exact' needs in-memory data; use method='binned' on Dask")
        h, exact = None, True
    if h is not None:
        h._need_both()
        c = h.edge_counts()
    else:
        c = counts_at_thresholds(y_true, y_score)
    values, feasible = _objective_values(c, objective, beta, min_precision, cost)
    i = int(np.argmax(values))  # first maximum = highest threshold
    cm = {k: int(c[k][i]) for k in ("tn", "fp", "fn", "tp")}
    r = _rates(**cm)
    n = sum(cm.values())
    expected = None if cost is None else float(cost.total(**cm) / n)
    value = expected if objective == "cost" else float(values[i]) if feasible else float(r["recall"])
    return ThresholdChoice(
        threshold=float(c["threshold"][i]), objective=objective, value=float(value),
        precision=float(r["precision"]), recall=float(r["recall"]), f1=float(r["f1"]),
        expected_cost=expected, feasible=feasible, exact=exact, **cm,
    )


# --------------------------------------------------------------------------- scikit-learn


def cost_scorer(cost_matrix: Any):
    """A scikit-learn scorer: minus the mean cost per row of the predictions (higher is better)."""
    from sklearn.metrics import confusion_matrix, make_scorer

    cost = as_cost_matrix(cost_matrix)

    def neg_mean_cost(y_true, y_pred):
        tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
        return -float(cost.total(tn, fp, fn, tp)) / len(y_true)

    return make_scorer(neg_mean_cost)


def threshold_scorer(objective: str, *, cost_matrix: Any = None, beta: float = 1.0, min_precision: float | None = None):
    """A scikit-learn scorer for an :data:`OBJECTIVES` name (for ``TunedThresholdClassifierCV``)."""
    from sklearn.metrics import fbeta_score, make_scorer, precision_score, recall_score

    if objective == "cost":
        if cost_matrix is None:
            raise ImbalanceError("objective='cost' needs cost_matrix=")
        return cost_scorer(cost_matrix)
    if objective in {"f1", "fbeta"}:
        return make_scorer(fbeta_score, beta=beta, zero_division=0)
    if objective == "recall_at_precision":
        if min_precision is None or not 0 < min_precision <= 1:
            raise ImbalanceError(f"objective='recall_at_precision' needs min_precision in (0, 1], got {min_precision!r}")

        def recall_if_precise(y_true, y_pred):
            prec = precision_score(y_true, y_pred, zero_division=0)
            # Feasible thresholds score their recall (>= 0); infeasible ones below 0, closer is better.
            return recall_score(y_true, y_pred, zero_division=0) if prec >= min_precision else prec - 1.0

        return make_scorer(recall_if_precise)
    raise ImbalanceError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def tune_threshold_cv(
    estimator: Any,
    X: Any,
    y: Any,
    objective: str = "cost",
    *,
    cost_matrix: Any = None,
    beta: float = 1.0,
    min_precision: float | None = None,
    cv: int = 5,
    thresholds: int = 200,
    seed: int = 0,
    fit_params: dict[str, Any] | None = None,
):
    """Fit scikit-learn's ``TunedThresholdClassifierCV`` for ``objective`` (in memory).

    The threshold is chosen on out-of-fold predictions (stratified, shuffled with ``seed``)
    and the estimator refitted on all of ``X``. Returns the fitted meta-estimator
    (``.best_threshold_``, ``.predict``, ``.predict_proba``).
    """
    from sklearn.model_selection import StratifiedKFold, TunedThresholdClassifierCV

    if is_dask(X) or is_dask(y):
        raise ImbalanceError(
            "tune_threshold_cv trains in memory; on Dask, score a validation set and use "
            "choose_threshold(y_valid, scores) (one pass over a histogram)"
        )
    n_neg, n_pos = binary_counts(y)
    check_binary(n_neg, n_pos, name="y")
    scorer = threshold_scorer(objective, cost_matrix=cost_matrix, beta=beta, min_precision=min_precision)
    tuned = TunedThresholdClassifierCV(
        estimator, scoring=scorer, response_method="predict_proba", thresholds=thresholds,
        cv=StratifiedKFold(cv, shuffle=True, random_state=seed), random_state=seed,
    )
    return tuned.fit(X, y, **(fit_params or {}))
