"""``audit()``: group metrics, disparities, confidence intervals and verdicts in one pass.

The design follows fairlearn's ``MetricFrame`` (one object with overall, by-group and
disparity views) but computes everything from the additive counts of
:mod:`mlkit.fairness.counts`, so it runs in one pass over pandas or Dask data of any size.

Semantics, compared with fairlearn:

* Groups are the *observed* combinations of the sensitive columns (fairlearn lists the
  full product, with NaN rows for combinations that never occur). Group labels are strings;
  a missing sensitive value forms its own group ``"missing"`` (reported in ``warnings``).
* A metric that is 0/0 for a group (TPR with no positives, precision with no predicted
  positives) is NaN in ``by_group`` with its reason in :attr:`FairnessAudit.undefined`
  (sklearn would return 0 with a warning; fairlearn then reports that 0).
* ``disparity(metric, "difference", "between_groups")`` equals fairlearn's
  ``MetricFrame.difference(method="between_groups")`` (max - min over groups), ``"ratio"`` its
  ``ratio()`` (min / max); ``method="to_overall"`` matches fairlearn's ``to_overall``.
  :meth:`FairnessAudit.difference` / :meth:`FairnessAudit.ratio` compare every group with one
  reference group instead (``group - reference``, ``group / reference``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .counts import MISSING, Counts, CountSpec, FairnessInputError, compute_counts
from .policy import (
    CRITERIA,
    FAIL,
    INCONCLUSIVE,
    PASS,
    Policy,
    combine_verdicts,
    judge_difference,
    judge_ratio,
)
from .uncertainty import adjusted_confidence, bootstrap_interval, mean_interval, wilson_interval

__all__ = ["METRICS", "FairnessAudit", "FairnessWarning", "audit", "rate"]


class FairnessWarning(UserWarning):
    """Small groups, missing sensitive values, undefined metrics."""


# name: (numerator cells, denominator cells, why it can be undefined, higher is better)
# Cells: 0 TN, 1 FP, 2 FN, 3 TP.
METRICS: dict[str, tuple[tuple[int, ...], tuple[int, ...], str, bool]] = {
    "selection_rate": ((1, 3), (0, 1, 2, 3), "no rows", True),
    "tpr": ((3,), (2, 3), "no positives (y_true = 1), so TP / (TP + FN) is 0/0", True),
    "fpr": ((1,), (0, 1), "no negatives (y_true = 0), so FP / (FP + TN) is 0/0", False),
    "fnr": ((2,), (2, 3), "no positives (y_true = 1), so FN / (TP + FN) is 0/0", False),
    "tnr": ((0,), (0, 1), "no negatives (y_true = 0), so TN / (TN + FP) is 0/0", True),
    "precision": ((3,), (1, 3), "no predicted positives, so TP / (TP + FP) is 0/0", True),
    "accuracy": ((0, 3), (0, 1, 2, 3), "no rows", True),
    "base_rate": ((2, 3), (0, 1, 2, 3), "no rows", True),
}
SCORE_METRICS = ("mean_score", "calibration", "ece", "auc")
ECE_BINS = 10


def rate(counts: np.ndarray, metric: str) -> np.ndarray:
    """A rate metric from confusion counts ``(..., 4)``; NaN where its denominator is 0."""
    num, den, _, _ = METRICS[metric]
    n = counts[..., list(num)].sum(axis=-1)
    d = counts[..., list(den)].sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(d > 0, n / np.where(d > 0, d, 1.0), np.nan)


def _label(key: tuple[str, ...]) -> str:
    return " & ".join(key)


# --------------------------------------------------------------------------- inputs


def _is_dask(x: Any) -> bool:
    return hasattr(x, "dask") and hasattr(x, "npartitions")


def _is_frame(x: Any) -> bool:
    import dask.dataframe as dd

    return isinstance(x, (pd.DataFrame, dd.DataFrame))


def _sensitive_items(sensitive: Any) -> list[tuple[str, Any]]:
    """(name, values) pairs from a Series, DataFrame, dict, array or list of them."""
    if isinstance(sensitive, Mapping):
        return [(str(k), v) for k, v in sensitive.items()]
    if _is_frame(sensitive):
        return [(str(c), sensitive[c]) for c in sensitive.columns]
    if isinstance(sensitive, np.ndarray) and sensitive.ndim == 2:
        return [(f"sensitive_feature_{i}", sensitive[:, i]) for i in range(sensitive.shape[1])]
    if isinstance(sensitive, (list, tuple)) and sensitive and not isinstance(sensitive[0], (str, int, float, bool)):
        items = []
        for i, s in enumerate(sensitive):
            name = getattr(s, "name", None)
            items.append((str(name) if name is not None else f"sensitive_feature_{i}", s))
        return items
    name = getattr(sensitive, "name", None)
    return [(str(name) if name is not None else "sensitive_feature_0", sensitive)]


def _build_frame(y_true, y_pred, y_score, sensitive, sample_weight, data):
    """A (pandas or Dask) frame and the column names of each role."""
    if sensitive is None:
        raise FairnessInputError("sensitive= is required: the column(s) defining the groups")
    if data is not None:
        if not _is_frame(data):
            raise FairnessInputError(f"data must be a pandas or Dask DataFrame, got {type(data).__name__}")
        # A Series/array is data, not names: list() of it would be its values, taken as names.
        if not isinstance(sensitive, (str, list, tuple)):
            raise FairnessInputError(
                f"with data=, sensitive must be column name(s) of data, got a {type(sensitive).__name__} of "
                f"{len(sensitive):,} values; add it to data (data.assign(name=values)) or drop data="
                if hasattr(sensitive, "__len__") else
                f"with data=, sensitive must be column name(s) of data, got {type(sensitive).__name__}"
            )
        names = [sensitive] if isinstance(sensitive, str) else list(sensitive)
        if not names or not all(isinstance(n, str) for n in names):
            raise FairnessInputError(f"with data=, sensitive must be column name(s), got {sensitive!r}")
        roles = {"y_true": y_true, "y_pred": y_pred, "y_score": y_score, "sample_weight": sample_weight}
        for role, col in roles.items():
            if col is not None and not isinstance(col, str):
                raise FairnessInputError(f"with data=, {role} must be a column name, got {type(col).__name__}")
        missing = [c for c in [*names, *(c for c in roles.values() if c is not None)] if c not in data.columns]
        if missing:
            raise FairnessInputError(f"column(s) {missing} not in data; it has {list(data.columns)}")
        return data, y_true, y_pred, y_score, sample_weight, tuple(names)

    items = _sensitive_items(sensitive)
    if not items:
        raise FairnessInputError("sensitive= is empty: give at least one sensitive column")
    roles = [("y_true", y_true), ("y_pred", y_pred), ("y_score", y_score), ("sample_weight", sample_weight)]
    columns = {f"__{r}__": v for r, v in roles if v is not None}
    sens_names = []
    for name, values in items:
        col = name if name not in columns else f"{name}__sensitive"
        columns[col] = values
        sens_names.append(col)
    if any(_is_dask(v) for v in columns.values()):
        if not all(_is_dask(v) for v in columns.values()):
            raise FairnessInputError("mix of Dask and in-memory inputs: give all as Dask or pass data= and column names")
        frame = None
        for col, v in columns.items():
            v = v.to_frame(col) if frame is None else v
            frame = v if frame is None else frame.assign(**{col: v})
        return (frame, "__y_true__", "__y_pred__" if y_pred is not None else None,
                "__y_score__" if y_score is not None else None,
                "__sample_weight__" if sample_weight is not None else None, tuple(sens_names))
    lengths = {}
    arrays = {}
    for col, v in columns.items():
        if isinstance(v, pd.Series):
            arr = v.reset_index(drop=True)
        else:
            arr = pd.Series(np.asarray(v)) if not isinstance(v, pd.Categorical) else pd.Series(v)
        if arr.ndim != 1:
            raise FairnessInputError(f"{col.strip('_')}: expected one column, got shape {np.shape(v)}")
        lengths[col.strip("_").replace("__sensitive", "")] = len(arr)
        arrays[col] = arr
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise FairnessInputError(f"inputs have different lengths: {detail}")
    frame = pd.DataFrame(arrays)
    return (frame, "__y_true__", "__y_pred__" if y_pred is not None else None,
            "__y_score__" if y_score is not None else None,
            "__sample_weight__" if sample_weight is not None else None, tuple(sens_names))


def audit(
    y_true,
    y_pred=None,
    y_score=None,
    *,
    sensitive,
    sample_weight=None,
    data=None,
    threshold: float = 0.5,
    pos_label: Any = None,
    reference: Any = "largest",
    policy: Policy | None = None,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    n_bins: int = 1000,
    seed: int = 0,
    progress: bool | None = None,
) -> FairnessAudit:
    """Audit a classifier's fairness across groups, in one pass over pandas or Dask data.

    Parameters
    ----------
    y_true : labels (0/1 or bool; others with ``pos_label``), or a column name with ``data=``.
    y_pred : 0/1 predictions (default: ``y_score >= threshold``).
    y_score : probabilities in [0, 1]: adds calibration, AUC and threshold sweeps.
    sensitive : one or several sensitive columns (Series, DataFrame, dict, array, or names
        with ``data=``). Several columns give their observed intersections.
    sample_weight : non-negative weights (or a column name).
    data : pandas or Dask DataFrame the names refer to.
    reference : default reference group of :meth:`FairnessAudit.difference` / ``ratio``:
        ``"largest"``, ``"best-off"`` or a group label (a tuple for several columns).
    policy : :class:`~mlkit.fairness.policy.Policy` for the verdicts (default: ``Policy()``).
    confidence : level of the per-group intervals.
    n_bootstrap : Poisson bootstrap replicates for differences and ratios (0: Newcombe /
        MOVER intervals from the Wilson limits instead). Cost: O(replicates x groups) per
        partition without weights or with few distinct weight values (e.g. reweighing);
        O(replicates x rows) with continuous weights (about 35 ns per row and replicate).
    n_bins : score histogram bins on [0, 1] (threshold sweeps at the bin edges).
    seed : seeds the bootstrap; the same seed and partitioning give the same intervals.

    Returns
    -------
    FairnessAudit
    """
    if not 0.0 <= threshold <= 1.0:
        raise FairnessInputError(f"threshold must be in [0, 1], got {threshold!r}")
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise FairnessInputError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 0:
        raise FairnessInputError(f"n_bootstrap must be an integer >= 0, got {n_bootstrap!r}")
    if y_pred is None and y_score is None:
        raise FairnessInputError("give y_pred (0/1 predictions) or y_score (probabilities) or both")
    frame, yt, yp, ys, sw, sens = _build_frame(y_true, y_pred, y_score, sensitive, sample_weight, data)
    spec = CountSpec(y_true=yt, sensitive=sens, y_pred=yp, y_score=ys, weight=sw, threshold=float(threshold),
                     pos_label=pos_label, n_bins=int(n_bins), n_bootstrap=int(n_bootstrap), seed=int(seed))
    counts = compute_counts(frame, spec, progress=progress)
    names = tuple(s.removesuffix("__sensitive") for s in sens)
    return FairnessAudit(counts, sensitive_names=names, reference=reference,
                         policy=policy or Policy(), confidence=confidence, threshold=float(threshold),
                         seed=int(seed))


# --------------------------------------------------------------------------- the audit


class FairnessAudit:
    """The result of :func:`audit`: overall and per-group metrics, disparities, verdicts.

    Attributes
    ----------
    overall : pd.Series of every metric over all rows.
    by_group : pd.DataFrame, one row per observed group (counts and metrics).
    undefined : pd.DataFrame of (group, metric, reason) for metrics that are 0/0.
    warnings : list of str (small groups, missing sensitive values, undefined metrics).
    counts : the underlying :class:`~mlkit.fairness.counts.Counts`.
    """

    def __init__(self, counts: Counts, *, sensitive_names: Sequence[str], reference: Any = "largest",
                 policy: Policy | None = None, confidence: float = 0.95, threshold: float = 0.5,
                 seed: int = 0, emit_warnings: bool = True) -> None:
        if counts.n_groups == 0 or counts.n_rows == 0:
            raise FairnessInputError("no data: the inputs have 0 rows")
        self.counts = counts
        self.sensitive_names = tuple(sensitive_names)
        self.keys = list(counts.keys)
        self.labels = [_label(k) for k in self.keys]
        self.policy = policy or Policy()
        self.confidence = float(confidence)
        self.threshold = threshold
        self.seed = seed
        self.has_score = counts.hist_w is not None
        self.n_bootstrap = 0 if counts.boot is None else counts.boot.shape[0]
        self._index = self._make_index()
        self.reference = self._resolve_reference_spec(reference)
        self.warnings: list[str] = []
        self._build()
        if emit_warnings:
            for w in self.warnings:
                warnings.warn(w, FairnessWarning, stacklevel=3)

    # ----- construction

    def _make_index(self) -> pd.Index:
        if len(self.sensitive_names) == 1:
            return pd.Index([k[0] for k in self.keys], name=self.sensitive_names[0])
        return pd.MultiIndex.from_tuples(self.keys, names=list(self.sensitive_names))

    def _resolve_reference_spec(self, reference: Any) -> Any:
        if reference in ("largest", "best-off"):
            return reference
        self._group_position(reference)  # raises for an unknown group
        return reference

    def _group_position(self, group: Any) -> int:
        key = (str(group),) if not isinstance(group, tuple) else tuple(str(g) for g in group)
        if key in self.keys:
            return self.keys.index(key)
        if len(self.sensitive_names) > 1 and isinstance(group, str) and " & " in group:
            key = tuple(group.split(" & "))
            if key in self.keys:
                return self.keys.index(key)
        shown = ", ".join(repr(k[0] if len(k) == 1 else k) for k in self.keys[:20])
        raise FairnessInputError(
            f"reference group {group!r} does not exist in {', '.join(self.sensitive_names)}; "
            f"observed groups: {shown}{' ...' if len(self.keys) > 20 else ''}"
        )

    def _build(self) -> None:
        c = self.counts
        cw = c.counts_w
        total = cw.sum(axis=1)
        rows = c.counts_n.sum(axis=1)
        self._values: dict[str, np.ndarray] = {}
        self._ci: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._reasons: dict[str, list[str | None]] = {}
        overall_cw = cw.sum(axis=0)
        overall_w2 = c.counts_w2.sum(axis=0)
        self._overall_values: dict[str, float] = {}
        self._overall_ci: dict[str, tuple[float, float]] = {}
        for m, (_num, den, why, _) in METRICS.items():
            v = rate(cw, m)
            w_den = cw[:, list(den)].sum(axis=1)
            w2_den = c.counts_w2[:, list(den)].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                n_eff = np.where(w2_den > 0, w_den**2 / np.where(w2_den > 0, w2_den, 1.0), 0.0)
            lo, hi = wilson_interval(np.nan_to_num(v) * n_eff, n_eff, self.confidence)
            self._values[m] = v
            self._ci[m] = (lo, hi, n_eff)
            self._reasons[m] = [None if np.isfinite(x) else why for x in v]
            ov = float(rate(overall_cw, m))
            od = overall_cw[list(den)].sum()
            od2 = overall_w2[list(den)].sum()
            on = od**2 / od2 if od2 > 0 else 0.0
            olo, ohi = wilson_interval(np.nan_to_num(ov) * on, on, self.confidence)
            self._overall_values[m] = ov
            self._overall_ci[m] = (float(olo), float(ohi))
        if self.has_score:
            self._score_metrics(total)
        table = pd.DataFrame(index=self._index)
        table["count"] = rows.astype(np.int64)
        if c.weighted:
            table["weight"] = total
        table["positives"] = cw[:, 2] + cw[:, 3]
        table["negatives"] = cw[:, 0] + cw[:, 1]
        table["predicted_positives"] = cw[:, 1] + cw[:, 3]
        for m in [*METRICS, *(SCORE_METRICS if self.has_score else ())]:
            table[m] = self._values[m]
        table["small_group"] = rows < self.policy.min_group_size
        self.by_group = table
        self.overall = pd.Series(self._overall_values, name="overall")
        self.overall["count"] = int(rows.sum())
        # Warnings: missing sensitive values, small groups, undefined metrics.
        for j, name in enumerate(self.sensitive_names):
            n_missing = int(sum(rows[i] for i, key in enumerate(self.keys) if key[j] == MISSING))
            if n_missing:
                self.warnings.append(
                    f"sensitive column {name!r}: {n_missing:,} rows with a missing value, "
                    f"reported as their own group {MISSING!r}"
                )
        small = [(self.labels[i], int(rows[i])) for i in np.flatnonzero(rows < self.policy.min_group_size)]
        if small:
            shown = ", ".join(f"{g!r} ({n} rows)" for g, n in small[:10])
            self.warnings.append(
                f"{len(small)} group(s) under {self.policy.min_group_size} rows, with wide intervals: {shown}"
                f"{' ...' if len(small) > 10 else ''}"
            )
        und = self.undefined
        if len(und):
            for metric, sub in und.groupby("metric", sort=False):
                self.warnings.append(
                    f"{metric} undefined for {len(sub)} group(s) ({', '.join(map(repr, sub['group'][:5]))}"
                    f"{' ...' if len(sub) > 5 else ''}): {sub['reason'].iloc[0]}"
                )

    def _score_metrics(self, total: np.ndarray) -> None:
        c = self.counts
        z = self.confidence
        w_pos = c.counts_w[:, 2] + c.counts_w[:, 3]
        w2 = c.counts_w2.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_eff = np.where(w2 > 0, total**2 / np.where(w2 > 0, w2, 1.0), 0.0)
            mean_score = c.score_sum.sum(axis=1) / total
            base = w_pos / total
            calib = mean_score - base
            # Var of (score - y): E[(s - y)^2] - E[s - y]^2, from sums of s, s^2 and s over positives.
            e2 = (c.score_sq.sum(axis=1) - 2.0 * c.score_sum[:, 1] + w_pos) / total
            var_s = c.score_sq.sum(axis=1) / total - mean_score**2
        self._values["mean_score"] = mean_score
        self._ci["mean_score"] = (*mean_interval(mean_score, var_s, n_eff, z), n_eff)
        self._values["calibration"] = calib
        self._ci["calibration"] = (*mean_interval(calib, e2 - calib**2, n_eff, z), n_eff)
        self._reasons["mean_score"] = [None] * len(self.keys)
        self._reasons["calibration"] = [None] * len(self.keys)
        # ECE over ECE_BINS equal-width bins, exact from the fine histogram and per-bin score sums.
        nb = c.hist_w.shape[2]
        edges = np.minimum((np.arange(nb) * ECE_BINS) // nb, ECE_BINS - 1)
        w_bin = np.zeros((len(self.keys), ECE_BINS))
        pos_bin = np.zeros_like(w_bin)
        s_bin = np.zeros_like(w_bin)
        np.add.at(w_bin.T, edges, c.hist_w.sum(axis=1).T)
        np.add.at(pos_bin.T, edges, c.hist_w[:, 1, :].T)
        np.add.at(s_bin.T, edges, c.hist_s.T)
        with np.errstate(invalid="ignore", divide="ignore"):
            ece = np.abs(pos_bin - s_bin).sum(axis=1) / total
        self._values["ece"] = ece
        self._ci["ece"] = (np.full_like(ece, np.nan), np.full_like(ece, np.nan), n_eff)
        self._reasons["ece"] = [None] * len(self.keys)
        from .sweep import roc_auc_from_hist

        auc = roc_auc_from_hist(c.hist_w)
        self._values["auc"] = auc
        self._ci["auc"] = (np.full_like(auc, np.nan), np.full_like(auc, np.nan), n_eff)
        self._reasons["auc"] = [
            None if np.isfinite(a) else "needs both positives and negatives in the group" for a in auc
        ]
        overall_w = c.counts_w.sum()
        self._overall_values["mean_score"] = float(c.score_sum.sum() / overall_w)
        self._overall_values["calibration"] = float(
            (c.score_sum.sum() - c.counts_w[:, 2:].sum()) / overall_w
        )
        self._overall_values["ece"] = float(np.abs(pos_bin.sum(0) - s_bin.sum(0)).sum() / overall_w)
        self._overall_values["auc"] = float(roc_auc_from_hist(c.hist_w.sum(axis=0, keepdims=True))[0])

    # ----- views

    @property
    def groups(self) -> list:
        """Group labels as in ``by_group.index`` (strings, or tuples for several columns)."""
        return list(self._index)

    @property
    def metrics(self) -> list[str]:
        return [*METRICS, *(SCORE_METRICS if self.has_score else ())]

    def _check_metric(self, metric: str) -> None:
        if metric not in self._values:
            raise FairnessInputError(f"unknown metric {metric!r}; expected one of {self.metrics}")

    @property
    def undefined(self) -> pd.DataFrame:
        """Every (group, metric) that is undefined, with the reason."""
        rows = [
            {"group": self.labels[i], "metric": m, "reason": r}
            for m, reasons in self._reasons.items()
            for i, r in enumerate(reasons)
            if r is not None
        ]
        return pd.DataFrame(rows, columns=["group", "metric", "reason"])

    def ci(self, metric: str = "selection_rate") -> pd.DataFrame:
        """Per-group value and confidence interval (Wilson for rates) of ``metric``."""
        self._check_metric(metric)
        lo, hi, n_eff = self._ci[metric]
        return pd.DataFrame(
            {"value": self._values[metric], "low": lo, "high": hi, "n_eff": n_eff,
             "reason": self._reasons[metric]},
            index=self._index,
        )

    def overall_ci(self, metric: str = "selection_rate") -> tuple[float, float, float]:
        """(value, low, high) of ``metric`` over all rows (Wilson for rates)."""
        self._check_metric(metric)
        lo, hi = self._overall_ci.get(metric, (math.nan, math.nan))
        return self._overall_values[metric], lo, hi

    def table(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Long table: one row per (group, metric) with value, interval and any reason."""
        frames = []
        for m in metrics or self.metrics:
            t = self.ci(m).reset_index()
            t.insert(0, "group", self.labels)
            t.insert(1, "metric", m)
            frames.append(t)
        return pd.concat(frames, ignore_index=True)

    # ----- references, differences, ratios

    def reference_group(self, metric: str = "selection_rate", reference: Any = None) -> Any:
        """The reference group's label for ``metric`` (``"largest"``, ``"best-off"`` or a label)."""
        return self._index[self._reference_position(metric, reference)]

    def _reference_position(self, metric: str, reference: Any = None) -> int:
        reference = self.reference if reference is None else reference
        if reference == "largest":
            return int(np.argmax(self.counts.counts_n.sum(axis=1)))
        if reference == "best-off":
            self._check_metric(metric)
            v = self._values[metric]
            if not np.isfinite(v).any():
                raise FairnessInputError(f"no best-off group for {metric}: it is undefined for every group")
            higher = METRICS[metric][3] if metric in METRICS else True
            return int(np.nanargmax(v) if higher else np.nanargmin(v))
        return self._group_position(reference)

    def _replicates(self, metric: str) -> np.ndarray | None:
        if self.counts.boot is None or metric not in METRICS:
            return None
        return rate(self.counts.boot, metric)  # (B, G)

    def _compare(self, metric: str, kind: str, ref: int, confidence: float):
        """Point values and intervals of group vs reference (difference or ratio)."""
        v = self._values[metric]
        with np.errstate(invalid="ignore", divide="ignore"):
            point = v - v[ref] if kind == "difference" else np.where(v[ref] != 0, v / v[ref], np.nan)
        reps = self._replicates(metric)
        if reps is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                rr = reps - reps[:, [ref]] if kind == "difference" else reps / reps[:, [ref]]
            lo, hi = bootstrap_interval(rr, confidence)
            method = "poisson bootstrap"
        elif metric in METRICS:
            lo, hi = self._analytic(metric, kind, ref, confidence)
            method = "newcombe" if kind == "difference" else "mover-r"
        else:
            lo = hi = np.full_like(v, np.nan)
            method = "none"
        lo, hi = np.asarray(lo, dtype=float).copy(), np.asarray(hi, dtype=float).copy()
        lo[ref] = hi[ref] = point[ref]
        return point, lo, hi, method

    def _analytic(self, metric: str, kind: str, ref: int, confidence: float):
        """Newcombe's hybrid score interval (difference) / MOVER-R (ratio) from Wilson limits."""
        _, den, _, _ = METRICS[metric]
        c = self.counts
        w = c.counts_w[:, list(den)].sum(axis=1)
        w2 = c.counts_w2[:, list(den)].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_eff = np.where(w2 > 0, w**2 / np.where(w2 > 0, w2, 1.0), 0.0)
        p = self._values[metric]
        lo_, hi_ = wilson_interval(np.nan_to_num(p) * n_eff, n_eff, confidence)
        p2, l2, u2 = p[ref], lo_[ref], hi_[ref]
        with np.errstate(invalid="ignore", divide="ignore"):
            if kind == "difference":
                low = p - p2 - np.sqrt((p - lo_) ** 2 + (u2 - p2) ** 2)
                high = p - p2 + np.sqrt((hi_ - p) ** 2 + (p2 - l2) ** 2)
            else:
                a = p * p2
                low = (a - np.sqrt(np.maximum(a**2 - lo_ * u2 * (2 * p - lo_) * (2 * p2 - u2), 0))) / (u2 * (2 * p2 - u2))
                high = (a + np.sqrt(np.maximum(a**2 - hi_ * l2 * (2 * p - hi_) * (2 * p2 - l2), 0))) / (l2 * (2 * p2 - l2))
                high = np.where(l2 > 0, high, np.inf)
        return low, high

    def _comparison_frame(self, metric: str, kind: str, reference: Any, confidence: float | None) -> pd.DataFrame:
        self._check_metric(metric)
        ref = self._reference_position(metric, reference)
        conf = self.confidence if confidence is None else confidence
        point, lo, hi, method = self._compare(metric, kind, ref, conf)
        reasons = []
        v = self._values[metric]
        for i in range(len(self.keys)):
            if not np.isfinite(v[ref]):
                reasons.append(f"{metric} undefined for the reference group {self.labels[ref]!r}: {self._reasons[metric][ref]}")
            elif not np.isfinite(v[i]):
                reasons.append(f"{metric} undefined for {self.labels[i]!r}: {self._reasons[metric][i]}")
            elif kind == "ratio" and v[ref] == 0:
                reasons.append(f"{metric} of the reference group {self.labels[ref]!r} is 0: ratio undefined")
            elif not (np.isfinite(lo[i]) and np.isfinite(hi[i])):
                reasons.append("interval unstable: the metric is undefined in many bootstrap resamples (small group)")
            else:
                reasons.append(None)
        out = pd.DataFrame({"value": point, "low": lo, "high": hi, "reason": reasons}, index=self._index)
        out.attrs.update({"metric": metric, "kind": kind, "reference": self._index[ref],
                          "confidence": conf, "method": method})
        return out

    def difference(self, metric: str = "selection_rate", reference: Any = None, *,
                   confidence: float | None = None) -> pd.DataFrame:
        """``metric(group) - metric(reference)`` per group, with a bootstrap interval.

        ``reference``: ``"largest"``, ``"best-off"`` or a group label (default: the audit's).
        The reference group used is in ``result.attrs["reference"]``.
        """
        return self._comparison_frame(metric, "difference", reference, confidence)

    def ratio(self, metric: str = "selection_rate", reference: Any = None, *,
              confidence: float | None = None) -> pd.DataFrame:
        """``metric(group) / metric(reference)`` per group, with a bootstrap interval."""
        return self._comparison_frame(metric, "ratio", reference, confidence)

    def disparity(self, metric: str = "selection_rate", kind: str = "difference",
                  method: str = "between_groups", *, confidence: float | None = None) -> dict[str, Any]:
        """One number for the whole disparity, as fairlearn's ``MetricFrame.difference/ratio``.

        ``between_groups``: max - min (difference) or min / max (ratio) over the groups where
        the metric is defined. ``to_overall``: max |group - overall| or min over groups of
        min(group / overall, overall / group). Returns value, low, high (bootstrap).
        """
        self._check_metric(metric)
        if kind not in ("difference", "ratio") or method not in ("between_groups", "to_overall"):
            raise FairnessInputError(f"kind must be 'difference' or 'ratio' and method 'between_groups' or "
                                     f"'to_overall', got {kind!r}, {method!r}")
        conf = self.confidence if confidence is None else confidence

        def summarise(v: np.ndarray, overall: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                if method == "between_groups":
                    if kind == "difference":
                        return np.nanmax(v, axis=-1) - np.nanmin(v, axis=-1)
                    return np.nanmin(v, axis=-1) / np.nanmax(v, axis=-1)
                if kind == "difference":
                    return np.nanmax(np.abs(v - overall[..., None]), axis=-1)
                r = v / overall[..., None]
                return np.nanmin(np.minimum(r, 1.0 / r), axis=-1)

        v = self._values[metric]
        value = float(summarise(v, np.asarray(self._overall_values[metric])))
        reps = self._replicates(metric)
        lo = hi = math.nan
        if reps is not None:
            overall_reps = rate(self.counts.boot.sum(axis=1), metric)
            lo, hi = (float(x) for x in bootstrap_interval(summarise(reps, overall_reps), conf))
        return {"metric": metric, "kind": kind, "method": method, "value": value, "low": lo, "high": hi}

    # ----- criteria and verdicts

    def comparisons(self, policy: Policy | None = None) -> pd.DataFrame:
        """Every (criterion, metric, group) comparison with the reference and its verdict."""
        policy = policy or self.policy
        rows = []
        for criterion in policy.criteria:
            metrics = CRITERIA[criterion]
            if not self.has_score and any(m in SCORE_METRICS for m in metrics):
                continue
            m_comp = len(metrics) * max(len(self.keys) - 1, 1)
            conf = adjusted_confidence(policy.confidence, m_comp, policy.correction)
            for metric in metrics:
                try:
                    ref = self._reference_position(metric, policy.reference)
                except FairnessInputError as exc:
                    rows.append({"criterion": criterion, "metric": metric, "group": None, "reference": None,
                                 "verdict": INCONCLUSIVE, "reason": str(exc), "confidence": conf})
                    continue
                d = self._comparison_frame(metric, "difference", self._index[ref], conf)
                q = self._comparison_frame(metric, "ratio", self._index[ref], conf)
                for i in range(len(self.keys)):
                    if i == ref:
                        continue
                    row = {
                        "criterion": criterion, "metric": metric, "group": self.labels[i],
                        "reference": self.labels[ref], "count": int(self.counts.counts_n[i].sum()),
                        "difference": d["value"].iat[i], "difference_low": d["low"].iat[i],
                        "difference_high": d["high"].iat[i], "ratio": q["value"].iat[i],
                        "ratio_low": q["low"].iat[i], "ratio_high": q["high"].iat[i], "confidence": conf,
                    }
                    parts, why = [], []
                    if policy.max_difference is not None:
                        vd = judge_difference(row["difference_low"], row["difference_high"], policy.max_difference)
                        parts.append(vd)
                        why.append(self._why("difference", vd, row, policy.max_difference, d["reason"].iat[i]))
                    if policy.min_ratio is not None:
                        vq = judge_ratio(row["ratio_low"], row["ratio_high"], policy.min_ratio)
                        parts.append(vq)
                        why.append(self._why("ratio", vq, row, policy.min_ratio, q["reason"].iat[i]))
                    verdict = combine_verdicts(parts)
                    row["verdict"] = verdict
                    # The reason that decided it: a failure, else an inconclusive part, else all.
                    decisive = [w for v_, w in zip(parts, why) if v_ == verdict] or why
                    row["reason"] = "; ".join(decisive)
                    rows.append(row)
        cols = ["criterion", "metric", "group", "reference", "count", "difference", "difference_low",
                "difference_high", "ratio", "ratio_low", "ratio_high", "confidence", "verdict", "reason"]
        return pd.DataFrame(rows, columns=cols)

    @staticmethod
    def _why(kind: str, verdict: str, row: dict, bound: float, undefined: str | None) -> str:
        g, r, m = row["group"], row["reference"], row["metric"]
        lo, hi = row[f"{kind}_low"], row[f"{kind}_high"]
        if undefined:
            return f"{m} {kind} {g!r} vs {r!r}: {undefined}"
        ci = f"[{lo:.3f}, {hi:.3f}]"
        if kind == "difference":
            limit = f"|difference| <= {bound:g}"
        else:
            limit = f"ratio in [{bound:g}, {1 / bound:.3g}]"
        if verdict == PASS:
            return f"{m} {kind} {g!r} vs {r!r}: CI {ci} within {limit}"
        if verdict == FAIL:
            return f"{m} {kind} {g!r} vs {r!r}: CI {ci} entirely outside {limit}"
        return f"{m} {kind} {g!r} vs {r!r}: CI {ci} straddles the bound ({limit})"

    def criteria(self, policy: Policy | None = None) -> pd.DataFrame:
        """One row per criterion: the worst comparison, its intervals, the verdict and why."""
        policy = policy or self.policy
        comp = self.comparisons(policy)
        rows = []
        for criterion in policy.criteria:
            sub = comp[comp["criterion"] == criterion]
            if sub.empty:
                if len(self.keys) < 2:
                    reason = "only one group: nothing to compare"
                else:
                    reason = f"needs scores (y_score) for {CRITERIA[criterion]}"
                rows.append({"criterion": criterion, "metrics": ", ".join(CRITERIA[criterion]),
                             "verdict": INCONCLUSIVE, "reason": reason, "comparisons": 0})
                continue
            verdict = combine_verdicts(list(sub["verdict"]))
            with np.errstate(invalid="ignore"):
                gap = sub["difference"].abs().fillna(-1.0)
            worst = sub.loc[gap.idxmax()]
            if verdict == FAIL:
                reason = sub.loc[sub["verdict"] == FAIL, "reason"].iloc[0]
                n_bad = int((sub["verdict"] == FAIL).sum())
                reason = f"{n_bad} of {len(sub)} comparisons fail; e.g. {reason}"
            elif verdict == PASS:
                reason = f"all {len(sub)} comparisons within bounds at {policy.confidence:.0%} family-wise confidence"
            else:
                inc = sub[sub["verdict"] == INCONCLUSIVE]
                reason = f"{len(inc)} of {len(sub)} comparisons inconclusive; e.g. {inc['reason'].iloc[0]}"
            rows.append({
                "criterion": criterion, "metrics": ", ".join(CRITERIA[criterion]),
                "reference": worst["reference"], "worst_group": worst["group"],
                "difference": worst["difference"], "difference_low": worst["difference_low"],
                "difference_high": worst["difference_high"], "ratio": worst["ratio"],
                "ratio_low": worst["ratio_low"], "ratio_high": worst["ratio_high"],
                "comparisons": len(sub), "confidence": float(sub["confidence"].iloc[0]),
                "verdict": verdict, "reason": reason,
            })
        return pd.DataFrame(rows).set_index("criterion")

    def verdicts(self, policy: Policy | None = None) -> dict[str, dict[str, Any]]:
        """JSON-safe ``{criterion: {verdict, reason, difference, ratio, ...}}`` (None, never NaN)."""
        table = self.criteria(policy)
        return {c: {k: _json(v) for k, v in row.items()} for c, row in table.to_dict("index").items()}

    def violation(self, policy: Policy | None = None) -> bool:
        """True when any criterion fails the policy (a CI gate)."""
        return any(v["verdict"] == FAIL for v in self.verdicts(policy).values())

    # ----- export and plots

    def to_dict(self, policy: Policy | None = None) -> dict[str, Any]:
        """A JSON-safe summary: sizes, overall and per-group metrics, verdicts, warnings."""
        by_group = {}
        for i, label in enumerate(self.labels):
            by_group[label] = {"count": int(self.counts.counts_n[i].sum()),
                               **{m: _json(self._values[m][i]) for m in self.metrics}}
        policy = policy or self.policy
        return {
            "n_rows": self.counts.n_rows,
            "n_groups": len(self.keys),
            "sensitive": list(self.sensitive_names),
            "n_bootstrap": self.n_bootstrap,
            "overall": {m: _json(v) for m, v in self._overall_values.items()},
            "by_group": by_group,
            "verdicts": self.verdicts(policy),
            "policy": policy.as_dict(),
            "warnings": list(self.warnings),
        }

    def plot(self, metric: str = "selection_rate", *, title: str | None = None):
        """Plotly bars of ``metric`` per group with their confidence intervals."""
        import plotly.graph_objects as go

        t = self.ci(metric)
        y = t["value"].to_numpy()
        fig = go.Figure(go.Bar(
            x=self.labels, y=np.nan_to_num(y), name=metric,
            error_y={"type": "data", "symmetric": False,
                     "array": np.nan_to_num(t["high"].to_numpy() - y),
                     "arrayminus": np.nan_to_num(y - t["low"].to_numpy())},
            hovertext=[r or f"n = {int(c):,}" for r, c in zip(t["reason"], self.by_group["count"])],
            marker_color=["#bbbbbb" if r else "#4c78a8" for r in t["reason"]],
        ))
        ov = self._overall_values.get(metric)
        if ov is not None and np.isfinite(ov):
            fig.add_hline(y=ov, line_dash="dot", annotation_text="overall")
        fig.update_layout(title=title or f"{metric} by {' & '.join(self.sensitive_names)} ({self.confidence:.0%} CI)",
                          yaxis_title=metric, height=360, showlegend=False)
        return fig

    def sweep(self, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
        """Per-group metrics at each threshold (see :func:`mlkit.fairness.sweep.threshold_sweep`)."""
        from .sweep import threshold_sweep

        return threshold_sweep(self, thresholds)

    def __repr__(self) -> str:
        return (f"FairnessAudit({self.counts.n_rows:,} rows, {len(self.keys)} groups of "
                f"{' & '.join(self.sensitive_names)}, {self.n_bootstrap} bootstrap replicates)")


def _json(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, tuple):
        return list(v)
    return v
