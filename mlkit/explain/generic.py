"""The other routes: torch models (shap Gradient/Deep explainers), scikit-learn tree ensembles
(shap TreeExplainer) and any other model or function (shap PermutationExplainer).

These explainers have no closed-form cost, so the cost model times a few rows and
extrapolates; the same budget logic as the xgboost route then decides between every row and a
sample. Rows are explained in process (a Dask ``X`` is sampled, or collected for ``"exact"``).
"""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

import numpy as np
import pandas as pd

from .cost import CostEstimate, calibrate
from .errors import ExplainError, FeatureMismatchError
from .result import ShapResult

__all__ = ["explain_other", "is_sklearn_tree"]

_SKLEARN_TREES = {
    "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor",
    "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
    "GradientBoostingClassifier", "GradientBoostingRegressor", "IsolationForest",
}


def is_sklearn_tree(model: Any) -> bool:
    return type(model).__module__.startswith("sklearn.") and type(model).__name__ in _SKLEARN_TREES


# --------------------------------------------------------------------------- per-route explainers


class _Route:
    """Explain a block of rows; ``base`` is the expected output; ``output`` says in what."""

    name: str
    output: str
    base: float

    def explain(self, rows: pd.DataFrame) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def _pick(values: np.ndarray, class_index: int | None, default: int | None, what: str) -> np.ndarray:
    """Select one output from (rows, features, outputs) values."""
    values = np.asarray(values)
    if values.ndim == 2:
        return values
    k = values.shape[-1]
    if k == 1:
        return values[..., 0]
    idx = class_index if class_index is not None else default
    if idx is None:
        raise ExplainError(f"the {what} has {k} outputs; pass class_index= (0..{k - 1}) to choose one")
    if not 0 <= idx < k:
        raise ExplainError(f"class_index must be in 0..{k - 1}, got {idx}")
    return values[..., idx]


class _TreeRoute(_Route):
    def __init__(self, model, class_index: int | None) -> None:
        import shap

        self.name = "shap TreeExplainer"
        self.explainer = shap.TreeExplainer(model)
        ev = np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=np.float64))
        self.binary_default = 1 if len(ev) == 2 else None
        idx = class_index if class_index is not None else self.binary_default
        if len(ev) > 1 and idx is None:
            raise ExplainError(f"the model has {len(ev)} outputs; pass class_index= (0..{len(ev) - 1})")
        self.index = idx
        self.base = float(ev[idx] if len(ev) > 1 else ev[0])
        proba = hasattr(model, "predict_proba") and type(model).__name__.startswith(("RandomForest", "ExtraTree", "DecisionTree"))
        self.output = f"probability of class {idx}" if proba else "model output (raw)"

    def explain(self, rows: pd.DataFrame) -> np.ndarray:
        values = self.explainer.shap_values(rows, check_additivity=False)
        return _pick(values, self.index, self.binary_default, "model").astype(np.float32)


def _frame_fn(fn, columns: list[str], dtypes: pd.Series):
    """Wrap ``fn`` so that it receives a DataFrame with the training columns and dtypes."""

    def wrapped(arr):
        frame = pd.DataFrame(arr if all(pd.api.types.is_numeric_dtype(d) for d in dtypes) else np.asarray(arr, dtype=object), columns=columns)
        with contextlib.suppress(ValueError, TypeError):
            frame = frame.astype(dtypes.to_dict())
        return fn(frame)

    return wrapped


class _PermutationRoute(_Route):
    def __init__(self, model, background: pd.DataFrame, class_index: int | None, seed: int) -> None:
        import shap

        self.name = "shap PermutationExplainer"
        cols = [str(c) for c in background.columns]
        if hasattr(model, "predict_proba"):
            idx = 1 if class_index is None else class_index

            def fn(frame):
                p = np.asarray(model.predict_proba(frame))
                if not 0 <= idx < p.shape[1]:
                    raise ExplainError(f"class_index must be in 0..{p.shape[1] - 1}, got {idx}")
                return p[:, idx]

            self.output = f"probability of class {idx}"
        elif hasattr(model, "predict"):
            def fn(frame):
                return np.asarray(model.predict(frame), dtype=np.float64).reshape(len(frame), -1)[:, class_index or 0]

            self.output = "prediction"
        else:
            def fn(frame):
                return np.asarray(model(frame), dtype=np.float64).reshape(len(frame), -1)[:, class_index or 0]

            self.output = "function output"
        self.fn = _frame_fn(fn, cols, background.dtypes)
        bg = background.to_numpy()
        self.masker = shap.maskers.Independent(bg, max_samples=len(bg))
        self.explainer = shap.PermutationExplainer(self.fn, self.masker, seed=seed)
        self.base = float(np.mean(self.fn(bg)))
        self.n_features = len(cols)

    def explain(self, rows: pd.DataFrame) -> np.ndarray:
        out = self.explainer(rows.to_numpy(), max_evals=2 * self.n_features + 1, silent=True)
        return np.asarray(out.values, dtype=np.float32)


class _TorchRoute(_Route):
    def __init__(self, model, background: pd.DataFrame, class_index: int | None, method: str, nsamples: int, seed: int) -> None:
        import shap
        import torch

        if method not in {"gradient", "deep"}:
            raise ExplainError(f"method for torch models must be 'gradient' or 'deep', got {method!r}")
        self.torch = torch
        self.model = model.eval()
        try:
            self.device = next(model.parameters()).device
        except StopIteration:
            self.device = torch.device("cpu")
        self.class_index = class_index
        self.nsamples = nsamples
        self.seed = seed
        bg = self._tensor(background)
        with torch.no_grad():
            out = model(bg)
        self.n_outputs = 1 if out.ndim == 1 else int(np.prod(out.shape[1:]))
        if self.n_outputs > 1 and class_index is None:
            raise ExplainError(f"the torch model has {self.n_outputs} outputs; pass class_index= (0..{self.n_outputs - 1})")
        col = 0 if self.n_outputs == 1 else class_index
        self.base = float(out.reshape(len(bg), -1)[:, col].double().mean())
        if method == "deep":
            self.name = "shap DeepExplainer"
            self.explainer = shap.DeepExplainer(model, bg)
        else:
            self.name = "shap GradientExplainer"
            self.explainer = shap.GradientExplainer(model, bg)
        self.method = method
        self.output = "model output" if self.n_outputs == 1 else f"model output {class_index}"

    def _tensor(self, frame: pd.DataFrame):
        try:
            arr = frame.to_numpy(dtype=np.float32)
        except (ValueError, TypeError):
            raise ExplainError("a torch model needs numeric features; encode categorical columns first") from None
        return self.torch.from_numpy(np.array(arr, dtype=np.float32, order="C", copy=True)).to(self.device)

    def explain(self, rows: pd.DataFrame) -> np.ndarray:
        x = self._tensor(rows)
        with contextlib.redirect_stderr(io.StringIO()):  # shap's per-call warnings about layer types
            if self.method == "deep":
                values = self.explainer.shap_values(x, check_additivity=False)
            else:
                values = self.explainer.shap_values(x, nsamples=self.nsamples, rseed=self.seed)
        values = np.asarray(values)
        if values.ndim == 3 and values.shape[1] != rows.shape[1]:  # (rows, outputs, features)
            values = np.moveaxis(values, 1, 2)
        return _pick(values, self.class_index, 0, "torch model").astype(np.float32)


# --------------------------------------------------------------------------- checks


def _check_features(route: str, model, X: pd.DataFrame) -> None:
    names = getattr(model, "feature_names_in_", None)
    cols = [str(c) for c in X.columns]
    if names is not None:
        names = [str(c) for c in names]
        if cols != names:
            missing = [c for c in names if c not in cols]
            extra = [c for c in cols if c not in names]
            if missing or extra:
                raise FeatureMismatchError(
                    f"X's columns differ from the model's features: missing {missing}, not seen in training {extra}"
                )
    n = getattr(model, "n_features_in_", None)
    if route == "torch":
        torch = __import__("torch")
        first = next((m for m in model.modules() if isinstance(m, torch.nn.Linear)), None)
        n = first.in_features if first is not None else None
    if n is not None and len(cols) != n:
        raise FeatureMismatchError(f"X has {len(cols)} columns; the model was trained on {n} features")


# --------------------------------------------------------------------------- entry point


def explain_other(
    route: str, model, X, *, budget_seconds, mode, sample_size, stratify, class_index, background,
    n_background, method, nsamples, allow_all_nan, seed, nthread, verbose,
) -> ShapResult:
    from .router import _as_frame, _check_all_nan, _is_dask, _n_rows, dask_head, decide, sample_rows

    if method is not None and route != "torch":
        raise ExplainError(f"method= applies to torch models only (route {route!r})")
    X = _as_frame(X, [str(c) for c in getattr(model, "feature_names_in_", [])] or None)
    _check_features(route, model, X)
    names = [str(c) for c in X.columns]
    n_rows = _n_rows(X)
    if n_rows == 0:
        raise ExplainError("X has no rows")
    if not _is_dask(X) and not allow_all_nan:
        _check_all_nan(X, names, "X")
    head = dask_head(X, max(n_background, 64)) if _is_dask(X) else X
    if route == "sklearn-tree":
        explainer: _Route = _TreeRoute(model, class_index)
        calib_rows = 64
    else:
        if background is None:
            bg = sample_rows(X, min(n_background, n_rows), seed=seed)[0]
        else:
            bg = _as_frame(background, names)
            if [str(c) for c in bg.columns] != names:
                raise FeatureMismatchError(f"background columns {list(bg.columns)} differ from X's {names}")
        if route == "torch":
            explainer = _TorchRoute(model, bg, class_index, method or "gradient", nsamples, seed)
            calib_rows = 8
        else:
            explainer = _PermutationRoute(model, bg, class_index, seed)
            calib_rows = 4
    calib = head.iloc[:calib_rows]
    key = f"{route}|{explainer.name}|{type(model).__name__}|{id(model)}|F{len(names)}|{nsamples}"
    k, timed = calibrate(
        key, lambda m: explainer.explain(calib.iloc[:m]), n_available=len(calib), work_per_row=1.0,
        threads=1, start_rows=len(calib), max_rows=len(calib), target_seconds=0.0,
    )
    est = CostEstimate(
        route=explainer.name, rows=n_rows, n_features=len(names), threads=nthread or 1, device="cpu",
        seconds=n_rows * k, seconds_per_row=k, value_bytes=n_rows * len(names) * 4,
        peak_bytes=n_rows * len(names) * 8, calibrated_rows=timed,
    )
    est = decide(est, n_rows=n_rows, budget_seconds=budget_seconds, mode=mode, sample_size=sample_size)
    if verbose:
        print(est.summary())
    strata = None
    if est.decision == "sample":
        rows, strata = sample_rows(X, est.sample_rows, seed=seed, stratify=stratify)
        if not allow_all_nan:
            _check_all_nan(rows, names, f"the {len(rows):,} rows sampled")
    else:
        rows = X.compute() if _is_dask(X) else X
    values = _run_chunks(explainer, rows)
    return ShapResult(
        feature_names=names, base_value=explainer.base, output=explainer.output, route=explainer.name,
        n_rows_total=n_rows, index=rows.index, _values=values, data=rows, sampled=est.decision == "sample",
        strata=strata, cost=est, seed=seed,
    )


def _run_chunks(explainer: _Route, rows: pd.DataFrame, chunk: int = 256) -> np.ndarray:
    from .router import progress_bar

    out = np.empty((len(rows), rows.shape[1]), dtype=np.float32)
    t0 = time.perf_counter()
    with progress_bar(len(rows), f"{explainer.name} rows", show=len(rows) > chunk) as pbar:
        for start in range(0, len(rows), chunk):
            stop = min(len(rows), start + chunk)
            out[start:stop] = explainer.explain(rows.iloc[start:stop])
            pbar.update(stop - start)
    explainer.seconds = time.perf_counter() - t0
    return out
