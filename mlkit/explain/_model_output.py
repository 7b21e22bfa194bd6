"""The model's output on the scale its SHAP values explain (margin for xgboost, probability or
prediction for scikit-learn, the raw output for torch), for surrogates and checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import ExplainError

__all__ = ["model_output", "numeric_frame"]


def model_output(model: Any, X: pd.DataFrame, *, class_index: int | None = None) -> np.ndarray:
    """One number per row: what :func:`mlkit.explain.explain` attributes for this model."""
    from .router import model_route

    route = model_route(model)
    if route == "xgboost":
        from . import treeshap

        booster = treeshap.booster_of(model)
        dm = treeshap._dmatrix(X, booster, nthread=0)
        out = booster.predict(dm, output_margin=True, validate_features=False)
        if out.ndim == 2:
            if class_index is None:
                raise ExplainError("multi-output model: pass class_index=")
            out = out[:, class_index]
        return np.asarray(out, dtype=np.float64)
    if route == "torch":
        import torch

        dev = next(iter(model.parameters()), torch.empty(0)).device
        with torch.no_grad():
            out = model(torch.from_numpy(X.to_numpy(np.float32)).to(dev)).reshape(len(X), -1)
        return out[:, class_index or 0].double().cpu().numpy()
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X))[:, 1 if class_index is None else class_index].astype(np.float64)
    if hasattr(model, "predict"):
        return np.asarray(model.predict(X), dtype=np.float64).reshape(len(X), -1)[:, class_index or 0]
    return np.asarray(model(X), dtype=np.float64).reshape(len(X), -1)[:, class_index or 0]


def numeric_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Features as numbers for scikit-learn trees: categories become their codes (NaN for missing)."""
    out = {}
    for c in X.columns:
        s = X[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.astype("float64")
            out[c] = codes.where(codes >= 0, np.nan)
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype("float64")
        else:
            out[c] = pd.Series(pd.factorize(s)[0], index=s.index).astype("float64").where(s.notna(), np.nan)
    return pd.DataFrame(out, index=X.index)
