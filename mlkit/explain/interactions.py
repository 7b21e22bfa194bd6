"""Pairwise interaction strength for the top features only, guarded by the cost model.

xgboost computes SHAP interaction values (``pred_interactions``) by re-running TreeSHAP with
each feature fixed on and off: about ``2F + 1`` times the cost of plain SHAP per row, and an
``(F+1) x (F+1)`` matrix per row. So the rows are a sample, the matrices are reduced chunk by
chunk to the chosen features, and a request over the feature limit or the time budget is
refused with the estimate instead of running for hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cost import CostEstimate, format_bytes, format_seconds
from .errors import CostExceededError, ExplainError

__all__ = ["Interactions", "interactions"]


@dataclass
class Interactions:
    """Mean |SHAP interaction| between chosen features.

    ``strength`` is symmetric, features x features: off-diagonal cells hold the mean over rows
    of ``|phi_ij + phi_ji|`` (the whole interaction effect of the pair, which xgboost splits
    equally between the two cells); the diagonal holds the mean |main effect| ``phi_ii``.
    """

    features: list[str]
    strength: pd.DataFrame
    n_rows: int
    cost: CostEstimate

    def pairs(self) -> pd.DataFrame:
        """Feature pairs by decreasing interaction strength."""
        rows = []
        f = self.features
        for i in range(len(f)):
            for j in range(i + 1, len(f)):
                rows.append({"feature_a": f[i], "feature_b": f[j], "strength": float(self.strength.iat[i, j])})
        return pd.DataFrame(rows).sort_values("strength", ascending=False, ignore_index=True)


def interactions(
    model: Any,
    X,
    *,
    features: list[str] | None = None,
    top_k: int = 5,
    result: Any = None,
    n_rows: int = 2_000,
    budget_seconds: float | None = 60.0,
    max_features: int = 20,
    class_index: int | None = None,
    seed: int = 0,
    nthread: int | None = None,
) -> Interactions:
    """Interaction strength between ``features`` (default: the ``top_k`` by mean |SHAP|).

    Parameters
    ----------
    model : an xgboost model (the only route with fast exact interaction values).
    X : pandas or Dask DataFrame; ``n_rows`` of it are sampled.
    result : a :class:`ShapResult` to pick the top features from (else a quick sampled one).
    max_features : refuse more features than this (pairs grow as F^2).
    budget_seconds : refuse when the estimated time is above this.

    Raises
    ------
    CostExceededError
        With the estimate, when over ``max_features`` or the budget.
    """
    from ..compute import device
    from . import treeshap
    from .router import _as_frame, _n_rows, _threads, dask_head, explain, sample_rows

    if not treeshap.is_xgboost(model):
        raise ExplainError(
            f"interactions are computed for xgboost models only (exact and fast); got {type(model).__name__}"
        )
    booster = treeshap.booster_of(model)
    X = _as_frame(X, treeshap.feature_names_of(booster))
    names = treeshap.check_columns(X, booster)
    if [str(c) for c in X.columns] != names:
        X = X[names]
    total = _n_rows(X)
    m = min(n_rows, total)
    threads = _threads(X, nthread, None)
    dev = device()
    head = dask_head(X, 5_000) if hasattr(X, "npartitions") else X.iloc[:5_000]
    base = treeshap.estimate(booster, head, rows=m, threads=threads, device_kind=dev.kind, class_index=class_index)
    F = len(names)
    factor = 2 * F + 1
    est = CostEstimate(
        route="xgboost TreeSHAP interactions", rows=m, n_features=F, threads=threads, device=dev.kind,
        seconds=base.seconds * factor, seconds_per_row=base.seconds_per_row * factor,
        value_bytes=m * (F + 1) ** 2 * 4, peak_bytes=min(m, _chunk_rows(F)) * (F + 1) ** 2 * 4 * 2,
        calibrated_rows=base.calibrated_rows, shape=base.shape, budget_seconds=budget_seconds,
    )
    if features is not None:
        features = [str(f) for f in features]
        unknown = [f for f in features if f not in names]
        if unknown:
            raise ExplainError(f"unknown features {unknown}; the model's features are {names}")
        if len(features) > max_features:
            pairs = len(features) * (len(features) - 1) // 2
            raise CostExceededError(
                f"interactions for {len(features)} features ({pairs:,} pairs) refused: the limit is "
                f"max_features={max_features}. On {m:,} rows this would take ~{format_seconds(est.seconds)} "
                f"and {format_bytes(est.value_bytes)} of interaction values on this machine. Ask for the "
                f"top features instead, e.g. features=result.top({min(10, max_features)})",
                estimate=est,
            )
    if budget_seconds is not None and est.seconds > budget_seconds:
        affordable = int(budget_seconds / est.seconds_per_row)
        raise CostExceededError(
            f"interactions on {m:,} rows x {F} model features: estimated ~{format_seconds(est.seconds)} "
            f"(> budget {format_seconds(budget_seconds)}); use n_rows<={affordable:,} or raise budget_seconds",
            estimate=est,
        )
    if features is None:
        if not isinstance(top_k, int) or not 2 <= top_k <= max_features:
            raise ExplainError(f"top_k must be an integer in [2, max_features={max_features}], got {top_k!r}")
        if result is None:
            result = explain(model, X, mode="sample", sample_size=min(total, 5_000), seed=seed, verbose=False, nthread=nthread)
        features = result.top(top_k)
    idx = np.array([names.index(f) for f in features])
    rows = sample_rows(X, m, seed=seed)[0] if m < total or hasattr(X, "npartitions") else X
    local = treeshap.configured_booster(booster, device_kind=dev.kind, nthread=threads)
    acc = np.zeros((len(idx), len(idx)))
    chunk = _chunk_rows(F)
    for start in range(0, len(rows), chunk):
        block = rows.iloc[start : start + chunk]
        phi = local.predict(treeshap._dmatrix(block, local, threads), pred_interactions=True, validate_features=False)
        if phi.ndim == 4:
            if class_index is None:
                raise ExplainError(f"the model has {phi.shape[1]} outputs; pass class_index=")
            phi = phi[:, class_index]
        sub = phi[:, idx][:, :, idx].astype(np.float64)
        sym = sub + np.transpose(sub, (0, 2, 1))
        diag = np.abs(np.diagonal(sub, axis1=1, axis2=2))
        a = np.abs(sym)
        a[:, np.arange(len(idx)), np.arange(len(idx))] = diag
        acc += a.sum(axis=0)
    strength = pd.DataFrame(acc / len(rows), index=features, columns=features)
    return Interactions(features=list(features), strength=strength, n_rows=len(rows), cost=est)


def _chunk_rows(F: int, max_bytes: int = 128 * 2**20) -> int:
    return max(64, int(max_bytes // ((F + 1) ** 2 * 4)))
