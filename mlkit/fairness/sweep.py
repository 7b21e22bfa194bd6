"""Threshold sweeps from the per-group score histograms: no second pass over the data.

At threshold ``t = k / n_bins`` (a bin edge) a row is predicted positive when its score
falls in bin ``k`` or above, so cumulative sums of the histograms from the top give each
group's confusion counts at every threshold at once. This is what the accuracy-fairness
trade-off, per-group ROC curves and group-specific thresholds are computed from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .counts import FairnessInputError

__all__ = [
    "confusion_at",
    "group_threshold_state",
    "roc_auc_from_hist",
    "roc_curves",
    "threshold_sweep",
    "tradeoff",
    "tradeoff_figure",
]


def _hist(audit) -> np.ndarray:
    if audit.counts.hist_w is None:
        raise FairnessInputError("threshold sweeps need scores: call audit(..., y_score=...)")
    return audit.counts.hist_w


def _cum_from_top(h: np.ndarray) -> np.ndarray:
    """``out[..., k]`` = sum of bins ``k..end`` (k = 0..n_bins); ``out[..., n_bins] = 0``."""
    rev = np.cumsum(h[..., ::-1], axis=-1)[..., ::-1]
    return np.concatenate([rev, np.zeros((*h.shape[:-1], 1))], axis=-1)


def confusion_at(hist: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """Confusion counts ``(G, 4)`` (TN, FP, FN, TP) when group g predicts positive from bin ``k[g]``."""
    n_groups, _, nb = hist.shape
    k = np.broadcast_to(np.asarray(k, dtype=np.int64), (n_groups,))
    if ((k < 0) | (k > nb)).any():
        raise FairnessInputError(f"bin index out of range [0, {nb}]")
    top = _cum_from_top(hist)  # (G, 2, nb + 1)
    rows = np.arange(n_groups)
    fp = top[rows, 0, k]
    tp = top[rows, 1, k]
    neg = hist[:, 0].sum(axis=1)
    pos = hist[:, 1].sum(axis=1)
    return np.stack([neg - fp, fp, pos - tp, tp], axis=1)


def _bin_of(threshold: float, nb: int) -> int:
    if not 0.0 <= threshold <= 1.0:
        raise FairnessInputError(f"threshold must be in [0, 1], got {threshold!r}")
    return int(np.clip(np.ceil(threshold * nb - 1e-9), 0, nb))


def threshold_sweep(audit, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Per-group metrics at each threshold (default: 101 thresholds 0, 0.01, ..., 1).

    Thresholds are rounded up to the histogram's bin edges (``k / n_bins``); the
    ``threshold`` column holds the edge actually used.
    """
    from .audit import rate

    hist = _hist(audit)
    nb = hist.shape[2]
    ts = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, dtype=float)
    frames = []
    for t in ts:
        k = _bin_of(float(t), nb)
        cm = confusion_at(hist, k)
        f = pd.DataFrame({"group": audit.labels, "threshold": k / nb})
        for m in ("selection_rate", "tpr", "fpr", "precision", "accuracy"):
            f[m] = rate(cm, m)
        f["weight"] = cm.sum(axis=1)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def roc_auc_from_hist(hist: np.ndarray) -> np.ndarray:
    """Per-group ROC AUC from ``(G, 2, n_bins)`` histograms (ties within a bin count half)."""
    neg = hist[:, 0]
    pos = hist[:, 1]
    n_neg = neg.sum(axis=1)
    n_pos = pos.sum(axis=1)
    # P(score_pos > score_neg) + 0.5 P(same bin): a Mann-Whitney count over bins.
    neg_below = np.cumsum(neg, axis=1) - neg
    u = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def roc_curves(audit) -> pd.DataFrame:
    """Per-group ROC and precision-recall points at every bin edge."""
    hist = _hist(audit)
    top = _cum_from_top(hist)
    nb = hist.shape[2]
    frames = []
    for i, label in enumerate(audit.labels):
        fp, tp = top[i, 0], top[i, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            frames.append(pd.DataFrame({
                "group": label, "threshold": np.arange(nb + 1) / nb,
                "fpr": fp / fp[0] if fp[0] > 0 else np.nan,
                "tpr": tp / tp[0] if tp[0] > 0 else np.nan,
                "precision": np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), np.nan),
            }))
    return pd.concat(frames, ignore_index=True)


def _disparity(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max() - finite.min()) if finite.size else float("nan")


def group_threshold_state(audit, thresholds: Mapping[Any, float] | float,
                          metric: str = "selection_rate") -> dict[str, Any]:
    """Metrics when each group gets its own threshold: per group, overall accuracy, disparity.

    ``thresholds`` maps group labels (as in ``audit.labels``) to thresholds; a single float
    applies to every group. Returns a JSON-safe dict (None for undefined values).
    """
    from .audit import rate

    hist = _hist(audit)
    nb = hist.shape[2]
    if isinstance(thresholds, Mapping):
        unknown = set(map(str, thresholds)) - set(audit.labels)
        if unknown:
            raise FairnessInputError(f"thresholds for unknown groups {sorted(unknown)}; groups: {audit.labels}")
        ts = [float(thresholds.get(label, audit.threshold)) for label in audit.labels]
    else:
        ts = [float(thresholds)] * len(audit.labels)
    k = np.array([_bin_of(t, nb) for t in ts])
    cm = confusion_at(hist, k)
    total = cm.sum(axis=0)
    per_group = {}
    for i, label in enumerate(audit.labels):
        per_group[label] = {m: _num(rate(cm[i], m)) for m in ("selection_rate", "tpr", "fpr", "precision", "accuracy")}
        per_group[label]["threshold"] = k[i] / nb
    values = rate(cm, metric)
    return {
        "thresholds": {label: k[i] / nb for i, label in enumerate(audit.labels)},
        "accuracy": _num(rate(total, "accuracy")),
        "selection_rate": _num(rate(total, "selection_rate")),
        "metric": metric,
        "disparity": _num(_disparity(values)),
        "by_group": per_group,
    }


def _num(v) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def tradeoff(audit, metric: str = "selection_rate", thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Overall accuracy and between-group disparity of ``metric`` at each single threshold."""
    from .audit import rate

    hist = _hist(audit)
    nb = hist.shape[2]
    ts = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, dtype=float)
    rows = []
    for t in ts:
        k = _bin_of(float(t), nb)
        cm = confusion_at(hist, k)
        rows.append({"threshold": k / nb, "accuracy": float(rate(cm.sum(axis=0), "accuracy")),
                     "disparity": _disparity(rate(cm, metric))})
    return pd.DataFrame(rows)


def tradeoff_figure(audit, metric: str = "selection_rate", *, points: pd.DataFrame | None = None,
                    title: str | None = None):
    """Plotly: accuracy vs disparity as the single threshold moves; optional extra ``points``
    (columns name, accuracy, disparity and optionally *_low/*_high for error bars)."""
    import plotly.graph_objects as go

    curve = tradeoff(audit, metric)
    fig = go.Figure(go.Scatter(
        x=curve["disparity"], y=curve["accuracy"], mode="lines+markers", name="single threshold",
        marker={"size": 4}, text=[f"t = {t:.2f}" for t in curve["threshold"]],
    ))
    if points is not None and len(points):
        err_x = err_y = None
        if {"disparity_low", "disparity_high"} <= set(points.columns):
            err_x = {"type": "data", "symmetric": False,
                     "array": (points["disparity_high"] - points["disparity"]).fillna(0),
                     "arrayminus": (points["disparity"] - points["disparity_low"]).fillna(0)}
        if {"accuracy_low", "accuracy_high"} <= set(points.columns):
            err_y = {"type": "data", "symmetric": False,
                     "array": (points["accuracy_high"] - points["accuracy"]).fillna(0),
                     "arrayminus": (points["accuracy"] - points["accuracy_low"]).fillna(0)}
        fig.add_trace(go.Scatter(x=points["disparity"], y=points["accuracy"], mode="markers+text",
                                 text=points["name"], textposition="top center", name="models",
                                 marker={"size": 11, "symbol": "diamond"}, error_x=err_x, error_y=err_y))
    fig.update_layout(title=title or f"Accuracy vs {metric} disparity (max - min over groups)",
                      xaxis_title=f"{metric} disparity", yaxis_title="accuracy", height=400)
    return fig
