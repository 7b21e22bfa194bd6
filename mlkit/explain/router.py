"""``explain(model, X)``: one call that routes by model type, prices the work first, and finishes.

Routes
------
* xgboost (``Booster`` or ``XGBClassifier``/``XGBRegressor``...): xgboost's native TreeSHAP
  (``pred_contribs``) on CPU or GPU, in chunks, over Dask partitions when ``X`` is a Dask
  DataFrame (the booster is sent to every worker once).
* torch (``torch.nn.Module``): shap's ``GradientExplainer`` (or ``DeepExplainer``) with a
  background sample.
* scikit-learn tree ensembles: ``shap.TreeExplainer``; any other fitted estimator with
  ``predict_proba``/``predict`` (or a plain function): ``shap.PermutationExplainer``.

Before running, a cost estimate (time and memory, calibrated on this machine) is printed and
kept on the result. When exact SHAP for every row would take longer than ``budget_seconds``,
global importance comes from a (stratified) sample with bootstrap confidence intervals, the
result says how many rows were explained, and ``result.explain_rows([...])`` gives exact SHAP
for any chosen rows. Large exact results stream to Parquet in chunks instead of memory.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import treeshap
from .cost import CostEstimate, format_bytes
from .errors import ExplainError, FeatureMismatchError, UnsupportedModelError
from .result import ShapResult

__all__ = ["ROUTES", "explain", "model_route", "sample_rows", "select_rows"]

ROUTES = {
    "xgboost": "xgboost.Booster / XGBClassifier / XGBRegressor (native TreeSHAP, CPU/GPU, Dask)",
    "torch": "torch.nn.Module (shap GradientExplainer or DeepExplainer)",
    "sklearn-tree": "scikit-learn tree ensembles, e.g. RandomForest*, ExtraTrees*, GradientBoosting*, DecisionTree* (shap TreeExplainer)",
    "permutation": "any fitted estimator with predict_proba/predict, or a function X -> output (shap PermutationExplainer)",
}
MIN_SAMPLE_ROWS = 1_000


# --------------------------------------------------------------------------- routing


def _is_dask(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "npartitions")


def _is_torch_module(model: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def model_route(model: Any) -> str:
    """The route for ``model`` (a key of :data:`ROUTES`), or :class:`UnsupportedModelError`."""
    if treeshap.is_xgboost(model):
        return "xgboost"
    if _is_torch_module(model):
        return "torch"
    from .generic import is_sklearn_tree

    if is_sklearn_tree(model):
        return "sklearn-tree"
    if hasattr(model, "predict_proba") or hasattr(model, "predict") or (callable(model) and not isinstance(model, type)):
        return "permutation"
    supported = "\n".join(f"  - {k}: {v}" for k, v in ROUTES.items())
    raise UnsupportedModelError(
        f"no explanation route for a {type(model).__module__}.{type(model).__name__}; supported:\n{supported}"
    )


# --------------------------------------------------------------------------- rows


def _n_rows(X) -> int:
    if _is_dask(X):
        return int(X.map_partitions(len).compute().sum())
    return len(X)


def select_rows(X, rows: Sequence[Any]) -> pd.DataFrame:
    """The rows of ``X`` (pandas or Dask) with these index labels, in the order given."""
    rows = list(rows)
    if not rows:
        raise ExplainError("rows is empty; give the index labels of the rows to explain")
    if _is_dask(X):
        wanted = set(rows)
        found = X.map_partitions(lambda p: p[p.index.isin(wanted)]).compute()
    else:
        found = X[X.index.isin(rows)]
    missing = [r for r in rows if r not in found.index]
    if missing:
        raise ExplainError(f"rows not found in X's index: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    return found.loc[rows]


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` over strata proportionally to ``counts`` (largest remainder), capped by counts."""
    total = counts.sum()
    exact = counts / total * n
    out = np.floor(exact).astype(np.int64)
    rest = n - out.sum()
    order = np.argsort(-(exact - out), kind="stable")
    for i in order[:rest]:
        out[i] += 1
    return np.minimum(out, counts)


def _strata_labels(values: pd.Series, bins: int = 10) -> pd.Series:
    """Stratum of each row: the value itself for categories, deciles for many numbers."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique(dropna=True) > bins:
        return pd.qcut(values, bins, labels=False, duplicates="drop").astype("float64").fillna(-1).astype(np.int64)
    return values.astype("object").where(values.notna(), "<missing>")


def sample_rows(X, n: int, *, seed: int = 0, stratify: Any = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """A random sample of ``n`` rows of ``X`` (pandas or Dask) and each row's stratum.

    ``stratify``: None (simple random sample), a column of ``X``, or (pandas) values aligned
    with ``X``. Strata get rows in proportion to their size, so the sample mean needs no weights.
    """
    total = _n_rows(X)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ExplainError(f"sample size must be a positive integer, got {n!r}")
    if n > total:
        raise ExplainError(f"sample size {n:,} is larger than the {total:,} rows of X; use mode='exact' or a smaller sample")
    rng = np.random.default_rng(seed)
    if _is_dask(X):
        return _sample_dask(X, n, total, seed=seed, stratify=stratify)
    if stratify is None:
        pos = np.sort(rng.choice(total, size=n, replace=False))
        return X.iloc[pos], None
    labels = _stratify_values(X, stratify)
    strata = _strata_labels(labels)
    codes, uniques = pd.factorize(strata, sort=True)
    counts = np.bincount(codes, minlength=len(uniques))
    take = _allocate(counts, n)
    picked = []
    for h, k in enumerate(take):
        if k:
            members = np.flatnonzero(codes == h)
            picked.append(rng.choice(members, size=k, replace=False))
    pos = np.sort(np.concatenate(picked))
    return X.iloc[pos], np.asarray(uniques)[codes[pos]]


def _stratify_values(X: pd.DataFrame, stratify: Any) -> pd.Series:
    if isinstance(stratify, str):
        if stratify not in X.columns:
            raise ExplainError(f"stratify column {stratify!r} is not a column of X")
        return X[stratify]
    values = pd.Series(np.asarray(stratify)) if not isinstance(stratify, pd.Series) else stratify
    if len(values) != len(X):
        raise ExplainError(f"stratify has {len(values)} values for {len(X)} rows of X")
    return pd.Series(values.to_numpy(), index=X.index)


def _sample_part(part: pd.DataFrame, k: int, seed: int, i: int) -> pd.DataFrame:
    if k <= 0 or len(part) == 0:
        return part.iloc[:0]
    rng = np.random.default_rng([seed, i])
    return part.iloc[np.sort(rng.choice(len(part), size=min(k, len(part)), replace=False))]


def _sample_strat_part(part: pd.DataFrame, frac: float, column: str, seed: int, i: int) -> pd.DataFrame:
    rng = np.random.default_rng([seed, i])
    keys = part[column].astype("object").where(part[column].notna(), "<missing>")
    keep = []
    for _, idx in part.groupby(keys.to_numpy(), sort=True).indices.items():
        k = int(np.floor(len(idx) * frac + rng.random()))  # unbiased rounding
        if k:
            keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    pos = np.sort(np.concatenate(keep)) if keep else np.array([], dtype=np.int64)
    return part.iloc[pos]


def _sample_dask(X, n: int, total: int, *, seed: int, stratify: Any) -> tuple[pd.DataFrame, np.ndarray | None]:
    import dask

    if stratify is None:
        lengths = X.map_partitions(len).compute().to_numpy()
        take = _allocate(lengths, n)
        parts = X.to_delayed()
        picked = dask.compute(*[dask.delayed(_sample_part)(p, int(k), seed, i) for i, (p, k) in enumerate(zip(parts, take))])
        return pd.concat(picked), None
    if not isinstance(stratify, str) or stratify not in X.columns:
        raise ExplainError("with a Dask X, stratify must be the name of one of its columns")
    frac = n / total
    parts = X.to_delayed()
    picked = pd.concat(dask.compute(*[dask.delayed(_sample_strat_part)(p, frac, stratify, seed, i) for i, p in enumerate(parts)]))
    strata = picked[stratify].astype("object").where(picked[stratify].notna(), "<missing>").to_numpy()
    return picked, strata


# --------------------------------------------------------------------------- checks


def _as_frame(X: Any, names: list[str] | None = None):
    if _is_dask(X):
        if not hasattr(X, "columns"):
            raise ExplainError("X must be a Dask DataFrame (not a Series or Array)")
        return X
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ExplainError(f"X must be 2-D (rows x features), got shape {X.shape}")
        cols = names or [f"f{i}" for i in range(X.shape[1])]
        if len(cols) != X.shape[1]:
            raise FeatureMismatchError(f"X has {X.shape[1]} columns; the model has {len(cols)} features")
        return pd.DataFrame(X, columns=cols)
    raise ExplainError(f"X must be a pandas or Dask DataFrame or a 2-D numpy array, got {type(X).__name__}")


def dask_head(X, n: int) -> pd.DataFrame:
    """The first ``n`` rows of a Dask DataFrame, reading as few partitions as possible."""
    k = 1
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # dask: "Insufficient elements for `head`"
            head = X.head(n, npartitions=min(k, X.npartitions), compute=True)
        if len(head) >= n or k >= X.npartitions:
            return head
        k *= 4  # empty or short leading partitions: look further


def _check_all_nan(frame: pd.DataFrame, names: list[str], where: str) -> None:
    if len(frame) == 0:
        raise ExplainError("X has no rows")
    empty = [c for c in names if frame[c].isna().all()]
    if empty:
        raise ExplainError(
            f"columns {empty} are entirely missing (NaN) in {where}; their SHAP values would only "
            "describe the model's default branch. Check the data (a failed join?), or pass "
            "allow_all_nan=True to explain anyway"
        )


def _output_of_booster(booster, class_index: int | None) -> str:
    import json

    try:
        name = json.loads(booster.save_config())["learner"]["objective"]["name"]
    except (KeyError, ValueError):
        return "margin (raw score)"
    if name.startswith("binary:"):
        return "log-odds (margin)"
    if name.startswith("multi:"):
        return f"margin of class {class_index}"
    if name in {"reg:logistic"}:
        return "log-odds (margin)"
    if name.startswith(("count:", "reg:gamma", "reg:tweedie", "survival:")):
        return f"log of the prediction (margin, {name})"
    return f"prediction (margin, {name})"


def _threads(X, nthread: int | None, client) -> int:
    if nthread is not None:
        if nthread < 1:
            raise ExplainError(f"nthread must be >= 1, got {nthread}")
        return int(nthread)
    if _is_dask(X) and client is not None:
        info = client.scheduler_info()
        return max(1, sum(int(w.get("nthreads") or 0) for w in info.get("workers", {}).values()))
    from ..compute import machine_resources

    return int(machine_resources()["usable_cores"])


def _default_max_memory() -> int:
    from ..compute import machine_resources

    return int(machine_resources()["memory_available"] * 0.25)


# --------------------------------------------------------------------------- explain


def explain(
    model: Any,
    X: Any,
    *,
    budget_seconds: float | None = 60.0,
    mode: str = "auto",
    sample_size: int | None = None,
    stratify: Any = None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    max_memory: int | None = None,
    class_index: int | None = None,
    background: Any = None,
    n_background: int = 100,
    method: str | None = None,
    nsamples: int = 200,
    allow_all_nan: bool = False,
    seed: int = 0,
    nthread: int | None = None,
    client: Any = None,
    verbose: bool = True,
) -> ShapResult:
    """Explain ``model`` on ``X`` with SHAP values, within a time budget.

    Parameters
    ----------
    model : an xgboost, torch, scikit-learn model or a function (see :data:`ROUTES`).
    X : pandas DataFrame, Dask DataFrame, or 2-D numpy array with the training features.
    budget_seconds : exact SHAP for every row only if its estimated time is within this
        (None: no limit). Otherwise global importance comes from a sample.
    mode : ``"auto"`` (by budget), ``"exact"`` (every row, whatever the cost) or ``"sample"``.
    sample_size : rows to explain when sampling (default: as many as fit the budget, at least
        1,000). Larger than the data is an error.
    stratify : column of ``X`` (or, for pandas, values aligned with it, e.g. the labels) to
        stratify the sample on; numeric columns are cut into deciles.
    output : Parquet folder to stream exact values to (chunks; written to a temp folder and
        renamed). Without it, values stream to ``mlkit.paths.scratch_dir()`` anyway when they
        would exceed ``max_memory`` (default a quarter of the available memory).
    class_index : the output to explain for multi-class models (binary classifiers: the
        positive class); for torch models with several outputs.
    background, n_background : background data for torch / permutation routes (default: a
        random sample of ``n_background`` rows of ``X``).
    method : torch route only: ``"gradient"`` (default) or ``"deep"``.
    nsamples : torch GradientExplainer samples per row.
    allow_all_nan : explain even if a column is entirely missing (refused by default).
    seed : for sampling, background and the bootstrap.
    nthread : threads for in-process work (default: usable cores); Dask uses its workers.
    client : Dask client for Dask input (default :func:`mlkit.compute.client`).
    verbose : print the cost estimate and the decision.

    Returns
    -------
    ShapResult
    """
    if mode not in {"auto", "exact", "sample"}:
        raise ExplainError(f"mode must be 'auto', 'exact' or 'sample', got {mode!r}")
    if budget_seconds is not None and budget_seconds <= 0:
        raise ExplainError(f"budget_seconds must be positive or None, got {budget_seconds!r}")
    if sample_size is not None and (not isinstance(sample_size, (int, np.integer)) or sample_size < 1):
        raise ExplainError(f"sample_size must be a positive integer, got {sample_size!r}")
    route = model_route(model)
    source_kwargs = {
        "class_index": class_index, "background": background, "n_background": n_background,
        "method": method, "nsamples": nsamples, "allow_all_nan": allow_all_nan, "seed": seed,
        "nthread": nthread,
    }
    if route == "xgboost":
        result = _explain_xgboost(
            model, X, budget_seconds=budget_seconds, mode=mode, sample_size=sample_size, stratify=stratify,
            output=output, overwrite=overwrite, max_memory=max_memory, class_index=class_index,
            allow_all_nan=allow_all_nan, seed=seed, nthread=nthread, client=client, verbose=verbose,
        )
    else:
        from .generic import explain_other

        result = explain_other(
            route, model, X, budget_seconds=budget_seconds, mode=mode, sample_size=sample_size,
            stratify=stratify, class_index=class_index, background=background, n_background=n_background,
            method=method, nsamples=nsamples, allow_all_nan=allow_all_nan, seed=seed, nthread=nthread,
            verbose=verbose,
        )
    result._source = (model, X, source_kwargs)
    return result


def decide(
    est: CostEstimate, *, n_rows: int, budget_seconds: float | None, mode: str, sample_size: int | None
) -> CostEstimate:
    """Fill ``est.decision`` / ``est.sample_rows``: exact if within budget, else the largest affordable sample."""
    est.budget_seconds = budget_seconds
    if sample_size is not None and sample_size > n_rows:
        raise ExplainError(
            f"sample_size={sample_size:,} is larger than the {n_rows:,} rows of X; "
            "use mode='exact' to explain every row, or a smaller sample"
        )
    if mode == "exact" or (mode == "auto" and sample_size is None and (budget_seconds is None or est.seconds <= budget_seconds)):
        est.decision = "exact"
        return est
    if sample_size is None:
        affordable = int(budget_seconds / max(est.seconds_per_row, 1e-12)) if budget_seconds else n_rows
        sample_size = max(MIN_SAMPLE_ROWS, affordable)
        if affordable < MIN_SAMPLE_ROWS:
            est.note = f"the budget affords only {affordable:,} rows; using the minimum sample of {MIN_SAMPLE_ROWS:,}"
    if sample_size >= n_rows:
        est.decision = "exact"
        return est
    est.decision = "sample"
    est.sample_rows = int(sample_size)
    return est


def _explain_xgboost(
    model, X, *, budget_seconds, mode, sample_size, stratify, output, overwrite, max_memory,
    class_index, allow_all_nan, seed, nthread, client, verbose,
) -> ShapResult:
    from ..compute import device

    booster = treeshap.booster_of(model)
    X = _as_frame(X, treeshap.feature_names_of(booster))
    names = treeshap.check_columns(X, booster)
    if [str(c) for c in X.columns] != names:
        X = X[names]  # same features, another order: align by name
    is_dask = _is_dask(X)
    if is_dask and client is None:
        from ..compute import client as get_client

        client = get_client()
    n_rows = _n_rows(X)
    if n_rows == 0:
        raise ExplainError("X has no rows")
    if not is_dask and not allow_all_nan:
        _check_all_nan(X, names, "X")
    dev = device()
    threads = _threads(X, nthread, client if is_dask else None)
    calib = dask_head(X, 20_000) if is_dask else X.iloc[:20_000]
    est = treeshap.estimate(booster, calib, rows=n_rows, threads=threads, device_kind=dev.kind, class_index=class_index)
    est = decide(est, n_rows=n_rows, budget_seconds=budget_seconds, mode=mode, sample_size=sample_size)
    limit = max_memory if max_memory is not None else _default_max_memory()
    if est.decision == "exact" and (output is not None or est.value_bytes > limit):
        est.streamed = True
        if output is None:
            est.note = (est.note + " " if est.note else "") + (
                f"{format_bytes(est.value_bytes)} of values exceed max_memory={format_bytes(limit)}"
            )
    if verbose:
        print(est.summary())
    output_label = _output_of_booster(booster, class_index)
    local = treeshap.configured_booster(booster, device_kind=dev.kind, nthread=threads)

    if est.decision == "sample":
        sample, strata = sample_rows(X, est.sample_rows, seed=seed, stratify=stratify)
        if not allow_all_nan:
            _check_all_nan(sample, names, f"the {len(sample):,} rows sampled")
        values, base = _in_memory(local, sample, threads, class_index, len(sample))
        return ShapResult(
            feature_names=names, base_value=base, output=output_label, route=est.route, n_rows_total=n_rows,
            index=sample.index, _values=values, data=sample, sampled=True, strata=strata, cost=est, seed=seed,
        )
    base = treeshap.contribs(local, calib.iloc[:1], nthread=1, class_index=class_index)[1]
    if is_dask:
        shap_ddf, raw_future = treeshap.dask_contribs(
            booster, X, client=client, device_kind=dev.kind, class_index=class_index, columns=names
        )
        try:
            if est.streamed:
                path = _dask_to_parquet(shap_ddf, client, output, overwrite)
                return ShapResult(
                    feature_names=names, base_value=base, output=output_label, route=est.route + " (Dask)",
                    n_rows_total=n_rows, index=pd.read_parquet(path, columns=[]).index, path=path, cost=est, seed=seed,
                )
            frames = _dask_compute_parts(client, [shap_ddf.to_delayed(), X.to_delayed()])
            values_df = pd.concat(frames[0])
            data = pd.concat(frames[1])
        finally:
            raw_future.release()
        return ShapResult(
            feature_names=names, base_value=base, output=output_label, route=est.route + " (Dask)",
            n_rows_total=n_rows, index=values_df.index, _values=values_df.to_numpy(np.float32), data=data,
            cost=est, seed=seed,
        )
    if est.streamed:
        path = _pandas_to_parquet(local, X, threads, class_index, output, overwrite, names)
        return ShapResult(
            feature_names=names, base_value=base, output=output_label, route=est.route, n_rows_total=n_rows,
            index=X.index, path=path, cost=est, seed=seed,
        )
    values, base = _in_memory(local, X, threads, class_index, n_rows)
    return ShapResult(
        feature_names=names, base_value=base, output=output_label, route=est.route, n_rows_total=n_rows,
        index=X.index, _values=values, data=X, cost=est, seed=seed,
    )


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        return None


def progress_bar(total: int, desc: str, *, show: bool = True):
    """An mlkit progress bar (see :mod:`mlkit.progress`), or a silent stand-in for short work."""
    if not show:
        return _NoBar()
    from ..progress import bar

    return bar(total=total, desc=desc)


def _in_memory(booster, X: pd.DataFrame, threads: int, class_index, n: int) -> tuple[np.ndarray, float]:
    out = None
    base = float("nan")
    chunks = list(range(0, n, treeshap.DEFAULT_CHUNK_ROWS))
    with progress_bar(n, "TreeSHAP rows", show=len(chunks) >= 4) as pbar:
        for start, stop, values, chunk_base in treeshap.iter_contribs(booster, X, nthread=threads, class_index=class_index):
            base = chunk_base
            if out is None:
                out = np.empty((n, values.shape[1]), dtype=np.float32)
            out[start:stop] = values
            pbar.update(stop - start)
    return out, base


def _output_path(output, tag: str) -> Path:
    if output is not None:
        return Path(output)
    from ..paths import scratch_dir

    stamp = f"{os.getpid()}-{np.random.default_rng().integers(1 << 32):08x}"
    return scratch_dir() / "explain" / f"shap-{tag}-{stamp}.parquet"


def _pandas_to_parquet(booster, X, threads, class_index, output, overwrite, names) -> Path:
    from ..progress import bar

    sink = treeshap.ParquetSink(_output_path(output, "values"), overwrite=overwrite)
    try:
        with bar(total=len(X), desc="TreeSHAP rows -> Parquet") as pbar:
            for start, stop, values, _ in treeshap.iter_contribs(booster, X, nthread=threads, class_index=class_index):
                sink.write(pd.DataFrame(values, columns=names, index=X.index[start:stop]))
                pbar.update(stop - start)
    except BaseException:
        sink.abort()
        raise
    return sink.commit()


def _write_part(frame: pd.DataFrame, path: str) -> int:
    frame.to_parquet(path, index=True)
    return len(frame)


def _dask_compute_parts(client, lists: list[list]) -> list[list]:
    from ..progress import track_futures

    flat = [d for lst in lists for d in lst]
    futures = client.compute(flat)
    done = track_futures(futures, desc="SHAP partitions")
    out, i = [], 0
    for lst in lists:
        out.append(done[i : i + len(lst)])
        i += len(lst)
    return out


def _dask_to_parquet(shap_ddf, client, output, overwrite) -> Path:
    import dask

    from ..progress import track_futures

    sink = treeshap.ParquetSink(_output_path(output, "values"), overwrite=overwrite)
    try:
        tasks = [
            dask.delayed(_write_part)(part, str(sink.tmp / f"part.{i:06d}.parquet"))
            for i, part in enumerate(shap_ddf.to_delayed())
        ]
        track_futures(client.compute(tasks), desc="SHAP partitions -> Parquet")
    except BaseException:
        sink.abort()
        raise
    return sink.commit()


def remove_output(result: ShapResult) -> None:
    """Delete the Parquet folder a streamed result was written to."""
    if result.path is not None:
        shutil.rmtree(result.path, ignore_errors=True)
