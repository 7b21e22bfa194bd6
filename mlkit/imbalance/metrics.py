"""Metrics that hold under imbalance: exact in memory, one-pass score histograms at scale.

In memory (numpy/pandas) every metric is scikit-learn's own (the oracle). On Dask, one pass
builds a :class:`ScoreHistogram` per partition, histograms merge by addition, and every
metric is read off the merged histogram:

* **Exact from the pass** (no binning error): prevalence, Brier score, log-loss (running
  sums), the calibration curve (its coarse bins are tracked row by row with scikit-learn's
  rule), and the confusion counts at any threshold that is a bin edge ``k / n_bins``
  (such as 0.5; others are snapped down to one, see :meth:`ScoreHistogram.confusion`).
* **Binned** (ties within a bin): average precision and ROC-AUC. Both equal scikit-learn's
  value on the scores *quantised to their bin* (tested), and their distance to the exact
  value is bounded by a number computed from the histogram itself:

  - ROC-AUC: only positive-negative pairs in the same bin are unresolved; the binned AUC
    scores them 1/2 and the truth lies in [0, 1], so
    ``|AUC - AUC_binned| <= sum_b P_b N_b / (2 P N)``.
  - Average precision (``sum over positives of precision at its rank / P``): a positive in
    bin ``b`` is credited a precision ``TP / (TP + FP)`` with
    ``TP_{>b} + 1 <= TP <= TP_{>=b}`` and ``FP_{>b} <= FP <= FP_{>=b}``; the binned AP uses
    one value in that range, so ``|AP - AP_binned| <= sum_b (P_b / P) (hi_b - lo_b)`` with
    ``hi_b = TP_{>=b} / (TP_{>=b} + FP_{>b})`` and ``lo_b = (TP_{>b} + 1) / (TP_{>b} + 1 + FP_{>=b})``.

  With ``2**16`` bins on [0, 1] both bounds are typically < 1e-4 on 10M rows; they grow only
  when many positives *and* negatives share a bin (a model that outputs few distinct scores).

Bins are ``floor(p * n_bins)`` with ``n_bins`` a power of two, so ``p >= k / n_bins`` holds
exactly when the bin is ``>= k`` (multiplying by a power of two is exact in floating point).
A score of exactly 1.0 goes to the last bin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .checks import ImbalanceError, binary_counts, check_binary, check_scores, is_dask
from .costs import as_cost_matrix

__all__ = [
    "DEFAULT_BINS",
    "ImbalanceMetrics",
    "ScoreHistogram",
    "binned_average_precision",
    "calibration_curve",
    "confusion_counts",
    "imbalance_metrics",
    "score_histogram",
]

DEFAULT_BINS = 2**16
DEFAULT_CALIBRATION_BINS = 10
_EPS = np.finfo(np.float64).eps  # scikit-learn's log_loss clip for float64 input


def _as_arrays(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(y_true, pd.Series) and isinstance(y_true.dtype, pd.CategoricalDtype):
        y_true = y_true.astype(y_true.cat.categories.dtype)
    y = np.asarray(y_true)
    s = np.asarray(y_score)
    if y.ndim != 1 or s.ndim != 1:
        raise ImbalanceError(f"y_true and y_score must be 1-D, got shapes {y.shape} and {s.shape}")
    if len(y) != len(s):
        raise ImbalanceError(f"y_true has {len(y)} rows but y_score has {len(s)}; they must be aligned")
    binary_counts(y, name="y_true")
    return y, check_scores(s)


# --------------------------------------------------------------------------- confusion


def confusion_counts(y_true: Any, y_score: Any, threshold: float = 0.5) -> dict[str, int]:
    """``{"tn", "fp", "fn", "tp"}`` predicting positive where ``score >= threshold``."""
    y, s = _as_arrays(y_true, y_score)
    pred = s >= threshold
    pos = y == 1
    tp = int(np.count_nonzero(pred & pos))
    fp = int(np.count_nonzero(pred & ~pos))
    n_pos = int(np.count_nonzero(pos))
    return {"tn": len(y) - n_pos - fp, "fp": fp, "fn": n_pos - tp, "tp": tp}


def _rates(tn: Any, fp: Any, fn: Any, tp: Any) -> dict[str, Any]:
    """Precision, recall, specificity, balanced accuracy, MCC, F1 from counts (scalars or arrays).

    Conventions as scikit-learn with ``zero_division=0``: precision is 0 with no predicted
    positive, MCC is 0 when a margin is empty.
    """
    tn, fp, fn, tp = (np.asarray(v, dtype=np.float64) for v in (tn, fp, fn, tp))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(denom > 0, (tp * tn - fp * fn) / np.where(denom > 0, denom, 1.0), 0.0)
    return {
        "precision": precision,
        "recall": recall,
        "specificity": specificity,
        "balanced_accuracy": 0.5 * (recall + specificity),
        "f1": f1,
        "mcc": mcc,
    }


# --------------------------------------------------------------------------- histogram


def _check_bins(n_bins: int) -> int:
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2 or (n_bins & (n_bins - 1)):
        raise ImbalanceError(f"n_bins must be a power of two >= 2 (e.g. 2**16), got {n_bins!r}")
    return int(n_bins)


def _calibration_layout(n_bins: int, n_cal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map fine bins to scikit-learn's uniform calibration bins, and flag the ambiguous ones.

    scikit-learn puts ``p`` in coarse bin ``searchsorted(inner_edges, p)`` (an edge value goes
    to the lower bin). A fine bin that contains a coarse edge (at most ``n_cal - 1`` of them)
    is resolved row by row.
    """
    inner = np.linspace(0.0, 1.0, n_cal + 1)[1:-1]
    lo = np.arange(n_bins, dtype=np.float64) / n_bins
    hi = (np.arange(n_bins, dtype=np.float64) + 1) / n_bins
    coarse_lo = np.searchsorted(inner, lo, side="left")
    coarse_hi = np.searchsorted(inner, np.nextafter(hi, 0.0), side="left")
    ambiguous = (coarse_lo != coarse_hi) | np.isin(lo, inner)
    return inner, coarse_lo, ambiguous


@dataclass
class ScoreHistogram:
    """Per-class counts of scores in ``n_bins`` equal bins on [0, 1], plus exact running sums.

    Build with :func:`score_histogram` (numpy, pandas or Dask; one pass), merge with ``+``.

    Attributes
    ----------
    neg, pos : int64 counts per bin of the negative / positive rows.
    brier_sum, log_loss_sum : sums of the per-row Brier and log-loss terms (exact).
    cal_total, cal_pos, cal_sum : per calibration bin: rows, positives, sum of scores.
    """

    n_bins: int
    n_cal: int
    neg: np.ndarray
    pos: np.ndarray
    brier_sum: float
    log_loss_sum: float
    cal_total: np.ndarray
    cal_pos: np.ndarray
    cal_sum: np.ndarray

    # ------------------------------------------------------------------ build / merge

    @classmethod
    def empty(cls, n_bins: int = DEFAULT_BINS, n_cal: int = DEFAULT_CALIBRATION_BINS) -> ScoreHistogram:
        return cls(n_bins, n_cal, np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64), 0.0, 0.0,
                   np.zeros(n_cal, np.int64), np.zeros(n_cal, np.int64), np.zeros(n_cal))

    @classmethod
    def from_arrays(cls, y_true: Any, y_score: Any, n_bins: int = DEFAULT_BINS,
                    n_cal: int = DEFAULT_CALIBRATION_BINS, *, sums: bool = True) -> ScoreHistogram:
        """Histogram of one in-memory chunk. ``sums=False`` skips Brier/log-loss/calibration."""
        n_bins = _check_bins(n_bins)
        y, s = _as_arrays(y_true, y_score)
        pos_mask = y == 1
        idx = (s * n_bins).astype(np.intp)
        np.minimum(idx, n_bins - 1, out=idx)  # p == 1.0 -> last bin
        both = np.bincount(idx, minlength=n_bins)
        pos = np.bincount(idx[pos_mask], minlength=n_bins)
        h = cls.empty(n_bins, n_cal)
        h.pos = pos.astype(np.int64)
        h.neg = (both - pos).astype(np.int64)
        if not sums:
            return h
        sp, sn = s[pos_mask], s[~pos_mask]
        h.brier_sum = float(np.sum((1.0 - sp) ** 2) + np.sum(sn**2))
        h.log_loss_sum = float(-np.sum(np.log(np.clip(sp, _EPS, 1 - _EPS))) - np.sum(np.log1p(-np.clip(sn, _EPS, 1 - _EPS))))
        inner, coarse_of_fine, ambiguous = _calibration_layout(n_bins, n_cal)
        coarse = coarse_of_fine[idx]
        amb_rows = ambiguous[idx]
        if amb_rows.any():
            coarse[amb_rows] = np.searchsorted(inner, s[amb_rows], side="left")
        h.cal_total = np.bincount(coarse, minlength=n_cal).astype(np.int64)
        h.cal_pos = np.bincount(coarse[pos_mask], minlength=n_cal).astype(np.int64)
        h.cal_sum = np.bincount(coarse, weights=s, minlength=n_cal)
        return h

    def __add__(self, other: ScoreHistogram) -> ScoreHistogram:
        if (self.n_bins, self.n_cal) != (other.n_bins, other.n_cal):
            raise ImbalanceError(
                f"cannot merge histograms with different bins ({self.n_bins}, {self.n_cal}) and ({other.n_bins}, {other.n_cal})"
            )
        return ScoreHistogram(self.n_bins, self.n_cal, self.neg + other.neg, self.pos + other.pos,
                              self.brier_sum + other.brier_sum, self.log_loss_sum + other.log_loss_sum,
                              self.cal_total + other.cal_total, self.cal_pos + other.cal_pos,
                              self.cal_sum + other.cal_sum)

    # ------------------------------------------------------------------ totals

    @property
    def n_pos(self) -> int:
        return int(self.pos.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg.sum())

    @property
    def n(self) -> int:
        return self.n_pos + self.n_neg

    @property
    def prevalence(self) -> float:
        return self.n_pos / self.n

    def _need_both(self) -> None:
        check_binary(self.n_neg, self.n_pos, name="y_true")

    # ------------------------------------------------------------------ curves at bin edges

    def edge_counts(self) -> dict[str, np.ndarray]:
        """Counts predicting positive where ``score >= k / n_bins``, for ``k = 0 .. n_bins``.

        Returns ``threshold`` (n_bins + 1), ``tp``, ``fp``, ``fn``, ``tn`` (int64).
        """
        tp = np.concatenate([np.cumsum(self.pos[::-1])[::-1], [0]])
        fp = np.concatenate([np.cumsum(self.neg[::-1])[::-1], [0]])
        return {
            "threshold": np.arange(self.n_bins + 1, dtype=np.float64) / self.n_bins,
            "tp": tp, "fp": fp, "fn": self.n_pos - tp, "tn": self.n_neg - fp,
        }

    def confusion(self, threshold: float = 0.5) -> dict[str, int]:
        """Confusion counts at ``threshold`` snapped *down* to a bin edge (exact when it is one).

        The threshold actually used is ``floor(threshold * n_bins) / n_bins``; with
        ``2**16`` bins that moves it by < 1.6e-5.
        """
        if not 0.0 <= threshold <= 1.0:
            raise ImbalanceError(f"threshold must be in [0, 1], got {threshold!r}")
        k = int(np.floor(threshold * self.n_bins))
        tp = int(self.pos[k:].sum())
        fp = int(self.neg[k:].sum())
        return {"tn": self.n_neg - fp, "fp": fp, "fn": self.n_pos - tp, "tp": tp}

    def average_precision(self) -> float:
        """Average precision with ties within a bin (= scikit-learn's AP on bin indices)."""
        self._need_both()
        tp = np.cumsum(self.pos[::-1])  # counts at >= bin, from the top bin down
        fp = np.cumsum(self.neg[::-1])
        p_b = self.pos[::-1]
        has = p_b > 0
        return float(np.sum(p_b[has] * tp[has] / (tp[has] + fp[has])) / self.n_pos)

    def average_precision_bound(self) -> float:
        """Upper bound on ``|exact AP - binned AP|`` (see the module docstring)."""
        self._need_both()
        p_b = self.pos[::-1].astype(np.float64)
        n_b = self.neg[::-1].astype(np.float64)
        tp_ge = np.cumsum(p_b)
        fp_ge = np.cumsum(n_b)
        tp_gt = tp_ge - p_b
        fp_gt = fp_ge - n_b
        has = p_b > 0
        hi = tp_ge[has] / (tp_ge[has] + fp_gt[has])
        lo = (tp_gt[has] + 1) / (tp_gt[has] + 1 + fp_ge[has])
        return float(np.sum(p_b[has] * (hi - lo)) / self.n_pos)

    def roc_auc(self) -> float:
        """ROC-AUC with pairs in the same bin counted as ties (= scikit-learn's AUC on bin indices)."""
        self._need_both()
        neg_below = np.cumsum(self.neg) - self.neg
        num = np.sum(self.pos.astype(np.float64) * (neg_below + 0.5 * self.neg))
        return float(num / (float(self.n_pos) * float(self.n_neg)))

    def roc_auc_bound(self) -> float:
        """Upper bound on ``|exact ROC-AUC - binned ROC-AUC|``: same-bin pairs / 2."""
        self._need_both()
        return float(0.5 * np.sum(self.pos.astype(np.float64) * self.neg) / (float(self.n_pos) * float(self.n_neg)))

    def brier(self) -> float:
        return self.brier_sum / self.n

    def log_loss(self) -> float:
        return self.log_loss_sum / self.n

    def calibration_curve(self) -> pd.DataFrame:
        """scikit-learn's uniform ``calibration_curve`` (exact), with the count per bin."""
        nz = self.cal_total > 0
        edges = np.linspace(0.0, 1.0, self.n_cal + 1)
        return pd.DataFrame({
            "bin_low": edges[:-1][nz], "bin_high": edges[1:][nz],
            "mean_predicted": self.cal_sum[nz] / self.cal_total[nz],
            "fraction_positive": self.cal_pos[nz] / self.cal_total[nz],
            "count": self.cal_total[nz],
        })

    def pr_curve(self, max_points: int = 2000) -> pd.DataFrame:
        """Precision/recall at bin edges (thinned to about ``max_points`` distinct points)."""
        self._need_both()
        c = self.edge_counts()
        keep = np.flatnonzero(np.r_[True, np.diff(c["tp"] + c["fp"]) != 0])
        keep = _thin(keep, max_points)
        r = _rates(c["tn"][keep], c["fp"][keep], c["fn"][keep], c["tp"][keep])
        return pd.DataFrame({"threshold": c["threshold"][keep], "precision": r["precision"], "recall": r["recall"]})


def _thin(idx: np.ndarray, max_points: int) -> np.ndarray:
    if len(idx) <= max_points:
        return idx
    pick = np.unique(np.round(np.linspace(0, len(idx) - 1, max_points)).astype(int))
    return idx[pick]


def _hist_part(pdf: pd.DataFrame, n_bins: int, n_cal: int, sums: bool) -> ScoreHistogram:
    return ScoreHistogram.from_arrays(pdf.iloc[:, 0], pdf.iloc[:, 1].to_numpy(dtype=np.float64), n_bins, n_cal, sums=sums)


def _merge(*hs: ScoreHistogram) -> ScoreHistogram:
    out = hs[0]
    for h in hs[1:]:
        out = out + h
    return out


def score_histogram(y_true: Any, y_score: Any, *, n_bins: int = DEFAULT_BINS,
                    n_cal: int = DEFAULT_CALIBRATION_BINS, sums: bool = True,
                    chunk_rows: int = 4_000_000) -> ScoreHistogram:
    """One pass over labels and scores (numpy, pandas, or Dask Series from one frame).

    Dask partitions are histogrammed where they live and merged in a tree, so only
    ``n_bins``-sized arrays travel; memory is a few partitions whatever the row count.
    In memory, chunks of ``chunk_rows`` bound the temporaries.
    """
    n_bins = _check_bins(n_bins)
    if is_dask(y_true) != is_dask(y_score):
        raise ImbalanceError("y_true and y_score must both be Dask or both be in memory")
    if is_dask(y_true):
        import dask

        frame = _pair_frame(y_true, y_score)
        fn = dask.delayed(_hist_part, pure=True)
        parts = [fn(p, n_bins, n_cal, sums) for p in frame.to_delayed()]
        merge = dask.delayed(_merge, pure=True)
        while len(parts) > 1:  # tree reduction: no single task holds every partial result
            parts = [merge(*parts[i:i + 8]) for i in range(0, len(parts), 8)]
        return parts[0].compute()
    y, s = _as_arrays(y_true, y_score)
    h = ScoreHistogram.empty(n_bins, n_cal)
    for start in range(0, max(len(y), 1), chunk_rows):
        h = h + ScoreHistogram.from_arrays(y[start:start + chunk_rows], s[start:start + chunk_rows], n_bins, n_cal, sums=sums)
    return h


def _pair_frame(y_true: Any, y_score: Any):
    """A two-column Dask frame (label, score) from two aligned Dask Series."""
    if y_true.npartitions != y_score.npartitions:
        raise ImbalanceError(
            f"y_true has {y_true.npartitions} partitions but y_score has {y_score.npartitions}; "
            "pass two columns of the same frame"
        )
    y = y_true.rename("__y__") if hasattr(y_true, "rename") else y_true
    return y.to_frame().assign(__s__=y_score)


def binned_average_precision(y_true: Any, y_score: Any, *, n_bins: int = DEFAULT_BINS) -> tuple[float, float]:
    """(binned AP, its error bound) from one pass of counts only (the fast path)."""
    h = score_histogram(y_true, y_score, n_bins=n_bins, sums=False)
    return h.average_precision(), h.average_precision_bound()


# --------------------------------------------------------------------------- the report


@dataclass
class ImbalanceMetrics:
    """Threshold-free and threshold metrics for a binary scorer.

    ``exact`` is True when computed by scikit-learn on in-memory data; otherwise
    ``average_precision`` and ``roc_auc`` are binned and ``*_bound`` bound their error.
    ``expected_cost`` is the mean cost per row (None without a cost matrix).
    """

    n: int
    n_pos: int
    prevalence: float
    average_precision: float
    roc_auc: float
    brier: float
    log_loss: float
    threshold: float
    precision: float
    recall: float
    f1: float
    balanced_accuracy: float
    mcc: float
    expected_cost: float | None
    exact: bool
    average_precision_bound: float = 0.0
    roc_auc_bound: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def imbalance_metrics(
    y_true: Any,
    y_score: Any,
    *,
    threshold: float = 0.5,
    cost_matrix: Any = None,
    method: str = "auto",
    n_bins: int = DEFAULT_BINS,
) -> ImbalanceMetrics:
    """PR-AUC (average precision), ROC-AUC, Brier, log-loss and threshold metrics in one call.

    Parameters
    ----------
    y_true, y_score : 0/1 labels and positive-class probabilities: numpy/pandas (exact,
        scikit-learn) or Dask Series of one frame (one pass, binned; see the module docstring).
    threshold : predict positive where ``score >= threshold`` for precision, recall, F1,
        balanced accuracy, MCC and expected cost. Binned: snapped down to a bin edge.
    cost_matrix : rows = true class, columns = predicted (see :mod:`mlkit.imbalance.costs`).
    method : ``"auto"`` (exact in memory, binned on Dask), ``"exact"`` or ``"binned"``.
    """
    if method not in {"auto", "exact", "binned"}:
        raise ImbalanceError(f"method must be 'auto', 'exact' or 'binned', got {method!r}")
    cost = as_cost_matrix(cost_matrix) if cost_matrix is not None else None
    if method == "exact" and is_dask(y_true):
        raise ImbalanceError("method='exact' needs in-memory data; compute() it, or use method='binned' on Dask")
    if method == "binned" or (method == "auto" and is_dask(y_true)):
        h = score_histogram(y_true, y_score, n_bins=n_bins)
        h._need_both()
        t_used = np.floor(threshold * h.n_bins) / h.n_bins
        cm = h.confusion(threshold)
        r = _rates(**cm)
        return ImbalanceMetrics(
            n=h.n, n_pos=h.n_pos, prevalence=h.prevalence,
            average_precision=h.average_precision(), roc_auc=h.roc_auc(), brier=h.brier(), log_loss=h.log_loss(),
            threshold=float(t_used), precision=float(r["precision"]), recall=float(r["recall"]), f1=float(r["f1"]),
            balanced_accuracy=float(r["balanced_accuracy"]), mcc=float(r["mcc"]),
            expected_cost=None if cost is None else float(cost.total(**cm) / h.n), exact=False,
            average_precision_bound=h.average_precision_bound(), roc_auc_bound=h.roc_auc_bound(),
        )
    from sklearn import metrics as skm

    y, s = _as_arrays(y_true, y_score)
    n_neg, n_pos = binary_counts(y)
    check_binary(n_neg, n_pos, name="y_true")
    cm = confusion_counts(y, s, threshold)
    r = _rates(**cm)
    return ImbalanceMetrics(
        n=len(y), n_pos=n_pos, prevalence=n_pos / len(y),
        average_precision=float(skm.average_precision_score(y, s)), roc_auc=float(skm.roc_auc_score(y, s)),
        brier=float(skm.brier_score_loss(y, s)), log_loss=float(skm.log_loss(y, s, labels=[0, 1])),
        threshold=float(threshold), precision=float(r["precision"]), recall=float(r["recall"]), f1=float(r["f1"]),
        balanced_accuracy=float(r["balanced_accuracy"]), mcc=float(r["mcc"]),
        expected_cost=None if cost is None else float(cost.total(**cm) / len(y)), exact=True,
    )


def calibration_curve(y_true: Any, y_score: Any, *, n_bins: int = DEFAULT_CALIBRATION_BINS) -> pd.DataFrame:
    """Reliability table (uniform bins, as :func:`sklearn.calibration.calibration_curve`).

    Exact on both paths: columns ``bin_low``, ``bin_high``, ``mean_predicted``,
    ``fraction_positive``, ``count`` for the non-empty bins.
    """
    if is_dask(y_true):
        return score_histogram(y_true, y_score, n_cal=n_bins).calibration_curve()
    y, s = _as_arrays(y_true, y_score)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], s)
    total = np.bincount(ids, minlength=n_bins)
    nz = total > 0
    return pd.DataFrame({
        "bin_low": edges[:-1][nz], "bin_high": edges[1:][nz],
        "mean_predicted": np.bincount(ids, weights=s, minlength=n_bins)[nz] / total[nz],
        "fraction_positive": np.bincount(ids, weights=(y == 1).astype(float), minlength=n_bins)[nz] / total[nz],
        "count": total[nz],
    })
