"""Boundary checks shared by :mod:`mlkit.imbalance`: binary labels, weights, ratios, scores.

Every check raises :class:`ImbalanceError` (a ``ValueError``) naming the argument or column,
what it found and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ImbalanceError",
    "binary_counts",
    "check_binary",
    "check_ratio",
    "check_scores",
    "check_weights",
    "is_dask",
]


class ImbalanceError(ValueError):
    """Bad input to :mod:`mlkit.imbalance` (labels, weights, ratios, cost matrices)."""


def is_dask(obj: Any) -> bool:
    """True for a Dask DataFrame/Series/Array (anything with a task graph)."""
    return hasattr(obj, "dask") and hasattr(obj, "compute")


def _as_numpy(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(values.cat.categories.dtype)
        return values.to_numpy(dtype=None, na_value=np.nan) if values.hasnans else values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ImbalanceError(f"{name}: expected a 1-D array of labels/scores, got shape {arr.shape}")
    return arr


def binary_counts(y: np.ndarray | pd.Series, *, name: str = "y") -> tuple[int, int]:
    """(negatives, positives) of a label vector whose values must all be 0/1 (or bool).

    Counts only: a single class is allowed here (see :func:`check_binary`).
    """
    arr = _as_numpy(y, name)
    if arr.dtype == bool:
        pos = int(arr.sum())
        return len(arr) - pos, pos
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            _raise_not_binary(arr, name)
        counts = np.bincount(arr.astype(np.int64), minlength=2)
        return int(counts[0]), int(counts[1])
    if arr.dtype.kind == "f":
        bad = ~((arr == 0) | (arr == 1))
        if bad.any():
            _raise_not_binary(arr, name)
        pos = int((arr == 1).sum())
        return len(arr) - pos, pos
    _raise_not_binary(arr, name)
    raise AssertionError  # pragma: no cover


def _raise_not_binary(arr: np.ndarray, name: str) -> None:
    seen = pd.unique(pd.Series(arr, dtype=object if arr.dtype.kind not in "iufb" else arr.dtype))
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in seen[:6])
    more = f" and {len(seen) - 6} more" if len(seen) > 6 else ""
    hint = (
        " (NaN labels must be dropped first)"
        if arr.dtype.kind == "f" and np.isnan(arr).any()
        else "; encode the positive class as 1 and the other as 0 (multi-class is not supported)"
    )
    raise ImbalanceError(
        f"{name}: labels must be binary 0/1 (or bool), got {len(seen)} distinct value(s): {shown}{more}{hint}"
    )


def check_binary(n_neg: int, n_pos: int, *, name: str = "y") -> None:
    """Refuse labels with a single class (or no rows)."""
    if n_neg + n_pos == 0:
        raise ImbalanceError(f"{name}: no labels (0 rows)")
    if n_neg == 0 or n_pos == 0:
        only = "1 (positive)" if n_neg == 0 else "0 (negative)"
        raise ImbalanceError(
            f"{name}: labels have a single class (all {n_neg + n_pos} rows are {only}); "
            "need both classes to rebalance, weight or score"
        )


def check_ratio(ratio: Any, *, name: str = "ratio") -> float:
    """A minority:majority target ratio in (0, 1]."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.integer, np.floating)):
        raise ImbalanceError(f"{name} must be a number in (0, 1] (minority/majority after rebalancing), got {ratio!r}")
    ratio = float(ratio)
    if not (0.0 < ratio <= 1.0) or not np.isfinite(ratio):
        raise ImbalanceError(
            f"{name} must be in (0, 1] (minority/majority after rebalancing; 1.0 = balanced), got {ratio!r}"
        )
    return ratio


def check_weights(weights: Any, *, name: str = "sample_weight", length: int | None = None) -> np.ndarray:
    """Finite, non-negative weights, not all zero."""
    arr = np.asarray(weights, dtype=np.float64).ravel() if not isinstance(weights, pd.Series) else weights.to_numpy(dtype=np.float64, na_value=np.nan)
    if length is not None and len(arr) != length:
        raise ImbalanceError(f"{name}: has {len(arr)} values, expected {length} (one per row)")
    nan = np.isnan(arr)
    if nan.any():
        raise ImbalanceError(f"{name}: {int(nan.sum())} NaN weight(s), first at position {int(np.flatnonzero(nan)[0])}; weights must be finite and >= 0")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImbalanceError(
            f"{name}: {int(bad.sum())} negative or infinite weight(s), first {arr[i]!r} at position {i}; "
            "weights must be finite and >= 0"
        )
    if arr.size and not (arr > 0).any():
        raise ImbalanceError(f"{name}: all weights are zero")
    return arr


def check_scores(scores: np.ndarray, *, name: str = "y_score") -> np.ndarray:
    """Probabilities as float64 in [0, 1], no NaN."""
    arr = np.asarray(scores, dtype=np.float64)
    bad = ~((arr >= 0.0) & (arr <= 1.0))  # also catches NaN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImbalanceError(
            f"{name}: {int(bad.sum())} score(s) outside [0, 1] or NaN, first {arr[i]!r} at position {i}; "
            "expected predicted probabilities of the positive class (apply a sigmoid to raw margins)"
        )
    return arr
