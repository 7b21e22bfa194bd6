"""Cost-sensitive learning: class weights, ``scale_pos_weight``, cost-matrix weights, and the
prior-shift correction that keeps probabilities calibrated afterwards.

Why the correction: weighting positives by ``w`` (or keeping a share ``q`` of the negatives,
or copying positives) trains the model on a world whose class odds are ``w`` times the real
ones. A model that is calibrated *there* predicts odds ``w * p / (1 - p)``; dividing the odds
by ``w`` gives back calibrated probabilities on the real data (Saerens et al. 2002,
Elkan 2001)::

    p = p_w / (p_w + (1 - p_w) * w)

The ranking (hence ROC-AUC and average precision) is unchanged; Brier score and log-loss
improve, and a cost-based threshold can then be read off the cost matrix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .checks import ImbalanceError, binary_counts, check_binary, check_weights, is_dask
from .costs import as_cost_matrix

__all__ = [
    "class_counts",
    "class_weights",
    "correct_prior_shift",
    "cost_weights",
    "odds_ratio",
    "sample_weights",
    "scale_pos_weight",
    "torch_class_weights",
    "torch_pos_weight",
    "xgboost_params",
]


def class_counts(y: Any, *, name: str = "y") -> tuple[int, int]:
    """(negatives, positives) of 0/1 labels: array, pandas Series or Dask Series (one pass)."""
    if isinstance(y, tuple) and len(y) == 2 and all(isinstance(v, (int, np.integer)) for v in y):
        return int(y[0]), int(y[1])
    if is_dask(y):
        import dask

        parts = dask.compute(*[dask.delayed(binary_counts)(p, name=name) for p in y.to_delayed()])
        return int(sum(p[0] for p in parts)), int(sum(p[1] for p in parts))
    return binary_counts(y, name=name)


def class_weights(y: Any, scheme: str | dict = "balanced", *, name: str = "y") -> dict[int, float]:
    """Per-class weights ``{0: w0, 1: w1}``.

    Parameters
    ----------
    y : 0/1 labels (array, pandas or Dask Series) or a ``(n_neg, n_pos)`` tuple.
    scheme : ``"balanced"`` gives ``n / (2 n_c)`` (scikit-learn's ``class_weight="balanced"``);
        ``"sqrt"`` the square root of it (a milder rebalancing); a dict ``{0: w0, 1: w1}`` is
        checked and returned.
    """
    if isinstance(scheme, dict):
        if set(scheme) != {0, 1}:
            raise ImbalanceError(f"class weights must be given for classes 0 and 1, got keys {sorted(scheme)}")
        check_weights([scheme[0], scheme[1]], name="class weights")
        return {0: float(scheme[0]), 1: float(scheme[1])}
    n_neg, n_pos = class_counts(y, name=name)
    check_binary(n_neg, n_pos, name=name)
    n = n_neg + n_pos
    balanced = {0: n / (2 * n_neg), 1: n / (2 * n_pos)}
    if scheme == "balanced":
        return balanced
    if scheme == "sqrt":
        return {k: float(np.sqrt(v)) for k, v in balanced.items()}
    raise ImbalanceError(f"scheme must be 'balanced', 'sqrt' or a dict {{0: w0, 1: w1}}, got {scheme!r}")


def scale_pos_weight(y: Any, ratio: float = 1.0, *, name: str = "y") -> float:
    """xgboost's ``scale_pos_weight``: ``ratio * n_neg / n_pos`` (1.0 = balanced, as xgboost advises).

    ``ratio`` is the weighted positive:negative mass wanted after weighting.
    """
    from .checks import check_ratio

    ratio = check_ratio(ratio)
    n_neg, n_pos = class_counts(y, name=name)
    check_binary(n_neg, n_pos, name=name)
    return ratio * n_neg / n_pos


def cost_weights(cost_matrix: Any, *, positive: Any = None) -> dict[int, float]:
    """Class weights from a cost matrix: ``{0: C01 - C00, 1: C10 - C11}`` (Elkan 2001).

    Rows = true class, columns = predicted (see :mod:`mlkit.imbalance.costs`). For German
    Credit's ``[[0, 1], [5, 0]]`` this is ``{0: 1, 1: 5}``: ``scale_pos_weight = 5``.
    """
    return as_cost_matrix(cost_matrix, positive=positive).class_weights


def sample_weights(y: Any, class_weight: dict[int, float] | str = "balanced"):
    """Per-row weights for ``y`` (same type back: numpy, pandas Series, or lazy Dask Series)."""
    cw = class_weights(y, class_weight) if isinstance(class_weight, str) else class_weights(None, class_weight)
    if is_dask(y):
        return y.map_partitions(_row_weights, cw, meta=(y.name, "float64"))
    return _row_weights(y, cw)


def _row_weights(y: Any, cw: dict[int, float]):
    binary_counts(y)  # validates the labels
    arr = np.asarray(y).astype(np.float64)
    w = np.where(arr == 1, cw[1], cw[0])
    return pd.Series(w, index=y.index, name=y.name) if isinstance(y, pd.Series) else w


def xgboost_params(y: Any = None, *, cost_matrix: Any = None, ratio: float = 1.0) -> dict[str, float]:
    """``{"scale_pos_weight": w}`` for ``xgboost.XGBClassifier`` from labels or a cost matrix.

    The same as per-row weights ``w`` on the positives for the gradients, but not quite the same
    model with ``tree_method="hist"``: xgboost estimates ``base_score`` and weights its quantile
    sketch from ``sample_weight`` only (the test suite pins both to show the equivalence).
    Either way, undo the odds shift with :func:`correct_prior_shift` (``w``) for probabilities.
    """
    if cost_matrix is not None:
        cw = cost_weights(cost_matrix)
        return {"scale_pos_weight": cw[1] / cw[0]}
    if y is None:
        raise ImbalanceError("xgboost_params needs labels y or a cost_matrix")
    return {"scale_pos_weight": scale_pos_weight(y, ratio)}


def torch_pos_weight(y: Any = None, *, cost_matrix: Any = None, ratio: float = 1.0, device: str = "cpu"):
    """A one-element tensor for ``torch.nn.BCEWithLogitsLoss(pos_weight=...)``."""
    import torch

    w = xgboost_params(y, cost_matrix=cost_matrix, ratio=ratio)["scale_pos_weight"]
    return torch.tensor([w], dtype=torch.float32, device=device)


def torch_class_weights(y: Any = None, scheme: str | dict = "balanced", *, cost_matrix: Any = None, device: str = "cpu"):
    """A ``[w0, w1]`` tensor for ``torch.nn.CrossEntropyLoss(weight=...)`` (2-logit models)."""
    import torch

    cw = cost_weights(cost_matrix) if cost_matrix is not None else class_weights(y, scheme)
    return torch.tensor([cw[0], cw[1]], dtype=torch.float32, device=device)


def odds_ratio(
    *,
    class_weight: dict[int, float] | None = None,
    pos_weight: float | None = None,
    prior_before: float | None = None,
    prior_after: float | None = None,
) -> float:
    """How much training multiplied the positive-class odds (the ``w`` of the correction).

    Give one of: ``class_weight`` (``w = w1 / w0``), ``pos_weight`` (e.g. xgboost's
    ``scale_pos_weight`` or torch's ``pos_weight``), or the positive prevalence before and
    after resampling (``w = odds(after) / odds(before)``).
    """
    given = [class_weight is not None, pos_weight is not None, prior_before is not None or prior_after is not None]
    if sum(given) != 1:
        raise ImbalanceError("odds_ratio: give exactly one of class_weight, pos_weight, or prior_before + prior_after")
    if class_weight is not None:
        cw = class_weights(None, class_weight)
        if cw[0] == 0:
            raise ImbalanceError("odds_ratio: class weight of class 0 is zero")
        return cw[1] / cw[0]
    if pos_weight is not None:
        w = float(pos_weight)
        if not np.isfinite(w) or w <= 0:
            raise ImbalanceError(f"pos_weight must be a finite number > 0, got {pos_weight!r}")
        return w
    for nm, v in (("prior_before", prior_before), ("prior_after", prior_after)):
        if v is None or not (0.0 < float(v) < 1.0):
            raise ImbalanceError(f"odds_ratio: {nm} must be a prevalence in (0, 1), got {v!r}")
    return (prior_after / (1 - prior_after)) / (prior_before / (1 - prior_before))


def correct_prior_shift(proba: Any, w: float) -> Any:
    """Undo a training-time change of the class odds by ``w``: ``p / (p + (1 - p) w)``.

    Parameters
    ----------
    proba : predicted positive-class probabilities (array, pandas or Dask Series), or an
        ``(n, 2)`` ``predict_proba`` array (the corrected ``(n, 2)`` array is returned).
    w : the odds ratio from :func:`odds_ratio` (``scale_pos_weight``, ``w1/w0``, or
        ``1/q`` after keeping a share ``q`` of the negatives).
    """
    w = float(w)
    if not np.isfinite(w) or w <= 0:
        raise ImbalanceError(f"correct_prior_shift: w must be a finite number > 0, got {w!r}")
    if is_dask(proba):
        return proba.map_partitions(_correct, w, meta=proba._meta)
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim == 2:
        if arr.shape[1] != 2:
            raise ImbalanceError(f"correct_prior_shift: a 2-D proba must have 2 columns, got shape {arr.shape}")
        p1 = _correct(arr[:, 1], w)
        return np.column_stack([1 - p1, p1])
    out = _correct(arr, w)
    if isinstance(proba, pd.Series):
        return pd.Series(out, index=proba.index, name=proba.name)
    return out


def _correct(p: Any, w: float) -> Any:
    # The denominator is >= min(1, w) * 1 > 0 for p in [0, 1]: no division by zero.
    return p / (p + (1 - p) * w)
