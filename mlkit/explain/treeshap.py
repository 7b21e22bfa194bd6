"""The xgboost route: xgboost's own TreeSHAP (``pred_contribs``), chunked, on CPU or GPU, over Dask.

``shap.TreeExplainer`` on an xgboost model calls this very function of xgboost, so the values
agree exactly; what this module adds is scale: rows go through in chunks (bounded memory,
optionally streamed to Parquet), Dask partitions are explained on the workers with the booster
sent to each worker once (raw bytes, broadcast, cached per worker), and the booster is switched
to ``device="cuda"`` when :func:`mlkit.compute.device` reports a GPU.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cost import CostEstimate, calibrate, tree_shape
from .errors import ExplainError, FeatureMismatchError

__all__ = [
    "booster_of",
    "configured_booster",
    "contribs",
    "dask_contribs",
    "estimate",
    "feature_names_of",
    "is_xgboost",
    "iter_contribs",
]

DEFAULT_CHUNK_ROWS = 65_536


def is_xgboost(model: Any) -> bool:
    mod = type(model).__module__
    if not mod.startswith("xgboost"):
        return False
    import xgboost as xgb

    return isinstance(model, (xgb.Booster, xgb.XGBModel))


def booster_of(model: Any):
    """The ``xgboost.Booster`` behind a Booster or an sklearn-API ``XGBModel``."""
    import xgboost as xgb

    if isinstance(model, xgb.Booster):
        return model
    if isinstance(model, xgb.XGBModel):
        try:
            return model.get_booster()
        except xgb.core.XGBoostError as exc:  # not fitted
            raise ExplainError(f"{type(model).__name__} is not fitted: {exc}") from None
    raise TypeError(f"not an xgboost model: {type(model).__name__}")


def feature_names_of(booster) -> list[str] | None:
    names = booster.feature_names
    return list(names) if names else None


def configured_booster(booster, *, device_kind: str, nthread: int):
    """A copy of ``booster`` set to predict on ``device_kind`` with ``nthread`` threads.

    A copy, so that the caller's model keeps its own settings.
    """
    b = booster.copy()
    params = {"nthread": int(nthread)}
    if device_kind == "cuda":
        params["device"] = "cuda"
    else:
        params["device"] = "cpu"
    b.set_param(params)
    return b


def _dmatrix(X: pd.DataFrame | np.ndarray, booster, nthread: int):
    import xgboost as xgb

    types = booster.feature_types
    enable_cat = bool(types) and "c" in types
    if isinstance(X, np.ndarray):
        return xgb.DMatrix(X, nthread=nthread, feature_names=booster.feature_names, feature_types=types)
    return xgb.DMatrix(X, nthread=nthread, enable_categorical=enable_cat or _has_categorical(X))


def _has_categorical(X: pd.DataFrame) -> bool:
    return any(isinstance(dt, pd.CategoricalDtype) for dt in X.dtypes)


def _select_output(phi: np.ndarray, class_index: int | None) -> np.ndarray:
    if phi.ndim == 3:  # (rows, outputs, features + 1): multi-class or multi-target
        if class_index is None:
            raise ExplainError(
                f"the model has {phi.shape[1]} outputs (multi-class); pass class_index= "
                f"(0..{phi.shape[1] - 1}) to choose the one to explain"
            )
        if not 0 <= class_index < phi.shape[1]:
            raise ExplainError(f"class_index must be in 0..{phi.shape[1] - 1}, got {class_index}")
        return phi[:, class_index, :]
    if class_index not in (None, 0):
        raise ExplainError(f"the model has a single output; class_index must be None or 0, got {class_index}")
    return phi


def contribs(booster, X, *, nthread: int, class_index: int | None = None) -> tuple[np.ndarray, float]:
    """SHAP values (float32, rows x features) and the base value for one in-memory block.

    ``booster`` must already be configured (:func:`configured_booster`).
    """
    phi = booster.predict(_dmatrix(X, booster, nthread), pred_contribs=True, validate_features=False)
    phi = _select_output(phi, class_index)
    base = float(phi[0, -1]) if len(phi) else float("nan")
    return np.ascontiguousarray(phi[:, :-1], dtype=np.float32), base


def iter_contribs(
    booster, X: pd.DataFrame, *, nthread: int, class_index: int | None = None, chunk_rows: int | None = None
) -> Iterator[tuple[int, int, np.ndarray, float]]:
    """Yield ``(start, stop, values, base)`` for consecutive row chunks of ``X``."""
    n = len(X)
    chunk_rows = chunk_rows or DEFAULT_CHUNK_ROWS
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        block = X.iloc[start:stop] if isinstance(X, pd.DataFrame) else X[start:stop]
        values, base = contribs(booster, block, nthread=nthread, class_index=class_index)
        yield start, stop, values, base


def estimate(
    booster,
    sample: pd.DataFrame,
    *,
    rows: int,
    threads: int,
    device_kind: str,
    class_index: int | None = None,
    calibrate_rows: int = 20_000,
) -> CostEstimate:
    """Time and memory of exact TreeSHAP on ``rows`` rows, calibrated on ``sample``."""
    shape = tree_shape(booster)
    n_features = shape.n_features
    configured = configured_booster(booster, device_kind=device_kind, nthread=threads)

    def run(m: int) -> None:
        contribs(configured, sample.iloc[:m], nthread=threads, class_index=class_index)

    key = f"xgboost|{device_kind}|{threads}|{shape.key()}"
    k, timed = calibrate(
        key, run, n_available=len(sample), work_per_row=shape.work_per_row, threads=threads, max_rows=calibrate_rows
    )
    per_row = k * shape.work_per_row / threads
    outputs = shape.n_outputs
    value_bytes = rows * (n_features + 1) * 4
    # predict() returns every output's values before one is selected.
    chunk_bytes = min(rows, DEFAULT_CHUNK_ROWS) * (n_features + 1) * 4 * (outputs + 2)
    return CostEstimate(
        route="xgboost TreeSHAP",
        rows=rows,
        n_features=n_features,
        threads=threads,
        device=device_kind,
        seconds=rows * per_row,
        seconds_per_row=per_row,
        value_bytes=value_bytes,
        peak_bytes=value_bytes + chunk_bytes,
        calibrated_rows=timed,
        shape={
            "n_trees": shape.n_trees,
            "n_leaves": shape.n_leaves,
            "max_depth": shape.max_depth,
            "work_per_row": shape.work_per_row,
            "n_outputs": outputs,
        },
    )


# --------------------------------------------------------------------------- Parquet output


class ParquetSink:
    """Write SHAP chunks as ``part.N.parquet`` into a temp dir; ``commit()`` renames it into place."""

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        self.path = Path(path).resolve()
        if self.path.exists() and not overwrite:
            raise ExplainError(f"output {self.path} already exists; pass overwrite=True or another path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"))
        self.overwrite = overwrite
        self.n_parts = 0

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.tmp / f"part.{self.n_parts:06d}.parquet", index=True)
        self.n_parts += 1

    def commit(self) -> Path:
        if self.path.exists() and self.overwrite:
            shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------- Dask


_WORKER_BOOSTERS: dict[tuple[str, str, int], Any] = {}
_worker_lock = threading.Lock()


def _worker_threads() -> int:
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return max(1, os.cpu_count() or 1)


def _worker_booster(raw: bytes, token: str, device_kind: str, nthread: int):
    """The booster for ``token``, loaded once per worker process (not once per partition)."""
    import xgboost as xgb

    key = (token, device_kind, nthread)
    with _worker_lock:
        b = _WORKER_BOOSTERS.get(key)
        if b is None:
            b = xgb.Booster()
            b.load_model(bytearray(raw))
            b.set_param({"nthread": nthread, "device": "cuda" if device_kind == "cuda" else "cpu"})
            if len(_WORKER_BOOSTERS) >= 8:  # keep a few models, not every model ever explained
                _WORKER_BOOSTERS.pop(next(iter(_WORKER_BOOSTERS)))
            _WORKER_BOOSTERS[key] = b
    return b


def _partition_shap(
    part: pd.DataFrame, raw: bytes, token: str, device_kind: str, class_index: int | None, columns: list[str]
) -> pd.DataFrame:
    if len(part) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float32") for c in columns}, index=part.index)
    nthread = _worker_threads()
    booster = _worker_booster(raw, token, device_kind, nthread)
    chunks = []
    for _, _, values, _ in iter_contribs(booster, part, nthread=nthread, class_index=class_index):
        chunks.append(values)
    values = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return pd.DataFrame(values, columns=columns, index=part.index)


def booster_token(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()[:16]  # noqa: S324 - a cache key, not security


def dask_contribs(booster, ddf, *, client, device_kind: str, class_index: int | None, columns: list[str]):
    """A lazy Dask DataFrame of SHAP values (one partition per input partition).

    The booster's raw bytes are scattered to every worker once (``broadcast=True``); each task
    gets the future, so no partition ships the model again, and workers keep the loaded
    booster in a small per-process cache.
    """
    raw = bytes(booster.save_raw("ubj"))
    token = booster_token(raw)
    raw_future = client.scatter(raw, broadcast=True, hash=False)
    meta = pd.DataFrame({c: pd.Series(dtype="float32") for c in columns})
    out = ddf.map_partitions(
        _partition_shap, raw_future, token, device_kind, class_index, columns, meta=meta
    )
    return out, raw_future


def check_columns(X, booster, given_names: list[str] | None = None) -> list[str]:
    """Feature names to use for ``X``, after checking them against the booster's.

    Raises :class:`FeatureMismatchError` naming the missing and unexpected columns.
    """
    trained = feature_names_of(booster)
    n = booster.num_features()
    if isinstance(X, np.ndarray):
        if X.ndim != 2 or X.shape[1] != n:
            raise FeatureMismatchError(f"X has shape {X.shape}; the model was trained on {n} features")
        return trained or given_names or [f"f{i}" for i in range(n)]
    cols = [str(c) for c in X.columns]
    if trained is None:
        if len(cols) != n:
            raise FeatureMismatchError(
                f"X has {len(cols)} columns; the model was trained on {n} unnamed features"
            )
        return cols
    missing = [c for c in trained if c not in cols]
    extra = [c for c in cols if c not in trained]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"not seen in training {extra}")
        raise FeatureMismatchError(
            "X's columns differ from the model's features: " + "; ".join(parts)
            + f". The model expects {trained} (select X[{trained!r}])"
        )
    return trained
