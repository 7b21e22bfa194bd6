"""The cost model: how long and how much memory an explanation will take, *before* it runs.

TreeSHAP visits every leaf of every tree for every row and carries a path of up to
``depth`` features, so one row costs about ``sum over trees of leaves x depth**2`` work
units (Lundberg et al. 2020, "From local explanations to global understanding", algorithm 2).
The seconds per work unit depend on the machine, so they are *calibrated* by timing a
small sample of real rows at first use and cached in memory per (route, device, threads,
model shape); set ``$MLKIT_EXPLAIN_COST_CACHE`` to a JSON file to keep them across sessions.

Routes without a closed-form cost (shap's Gradient/Permutation/Tree explainers on torch or
scikit-learn models) are calibrated the same way: a few rows are timed and extrapolated.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CostEstimate",
    "TreeShape",
    "calibrate",
    "clear_calibration",
    "format_bytes",
    "format_seconds",
    "tree_shape",
]

CACHE_ENV = "MLKIT_EXPLAIN_COST_CACHE"
_lock = threading.Lock()
_CACHE: dict[str, float] = {}  # key -> seconds per work unit per thread


def format_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


# --------------------------------------------------------------------------- model shape


@dataclass(frozen=True)
class TreeShape:
    """The size of a tree ensemble, as far as TreeSHAP's cost is concerned."""

    n_trees: int
    n_leaves: int  # over all trees
    max_depth: int
    mean_depth: float  # mean over trees of each tree's depth
    work_per_row: float  # sum over trees of leaves_t * max(depth_t, 1) ** 2
    n_features: int
    n_outputs: int

    @property
    def mean_leaves(self) -> float:
        return self.n_leaves / max(self.n_trees, 1)

    def key(self) -> str:
        return f"T{self.n_trees}-L{self.n_leaves}-D{self.max_depth}-F{self.n_features}-K{self.n_outputs}"


def _tree_depth(left: list[int], right: list[int]) -> int:
    depth = [0] * len(left)
    deepest = 0
    for node in range(len(left)):  # xgboost numbers children after their parent
        for child in (left[node], right[node]):
            if child != -1:
                depth[child] = depth[node] + 1
                deepest = max(deepest, depth[child])
    return deepest


def tree_shape(booster) -> TreeShape:
    """Trees, leaves and depths of an ``xgboost.Booster`` (read from its JSON model, no prediction)."""
    model = json.loads(bytes(booster.save_raw("json")))
    learner = model["learner"]
    gbm = learner["gradient_booster"]
    if "model" not in gbm:  # dart wraps a gbtree
        gbm = gbm.get("gbtree", gbm)
    trees = gbm["model"]["trees"]
    n_leaves = 0
    depths = []
    work = 0.0
    for tree in trees:
        left, right = tree["left_children"], tree["right_children"]
        leaves = sum(1 for c in left if c == -1)
        d = _tree_depth(left, right)
        n_leaves += leaves
        depths.append(d)
        work += leaves * max(d, 1) ** 2
    n_outputs = max(int(learner["learner_model_param"].get("num_class", "0") or 0), 1)
    n_features = int(learner["learner_model_param"]["num_feature"])
    return TreeShape(
        n_trees=len(trees),
        n_leaves=n_leaves,
        max_depth=max(depths, default=0),
        mean_depth=float(np.mean(depths)) if depths else 0.0,
        work_per_row=max(work, 1.0),
        n_features=n_features,
        n_outputs=n_outputs,
    )


# --------------------------------------------------------------------------- calibration


def _disk_cache() -> Path | None:
    raw = os.environ.get(CACHE_ENV)
    return Path(raw).expanduser() if raw else None


def _load_disk() -> dict[str, float]:
    path = _disk_cache()
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError):
        return {}  # a corrupt cache only costs a re-calibration


def _save_disk(key: str, value: float) -> None:
    path = _disk_cache()
    if path is None:
        return
    from ..atomic import atomic_write_text

    data = _load_disk()
    data[key] = value
    with contextlib.suppress(OSError):
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))


def clear_calibration() -> None:
    """Forget the in-memory calibrations (the disk cache, if any, is kept)."""
    with _lock:
        _CACHE.clear()


def calibrate(
    key: str,
    run: Callable[[int], None],
    *,
    n_available: int,
    work_per_row: float,
    threads: int,
    start_rows: int = 256,
    max_rows: int = 20_000,
    target_seconds: float = 0.25,
) -> tuple[float, int]:
    """Seconds per work unit per thread for ``key``, timing ``run(m)`` on growing ``m`` if unknown.

    ``run(m)`` must explain the first ``m`` rows of a sample. Returns ``(k, rows_timed)``;
    ``rows_timed`` is 0 when the value came from the cache.
    """
    with _lock:
        if key in _CACHE:
            return _CACHE[key], 0
    disk = _load_disk()
    if key in disk:
        with _lock:
            _CACHE[key] = disk[key]
        return disk[key], 0
    if n_available < 1:
        raise ValueError("calibration needs at least one row")
    run(min(16, n_available))  # warm-up: thread pools, lazy imports
    m = min(start_rows, n_available)
    while True:
        t0 = time.perf_counter()
        run(m)
        elapsed = time.perf_counter() - t0
        if elapsed >= target_seconds or m >= min(n_available, max_rows):
            break
        # Aim straight for the target time rather than creeping up.
        grow = target_seconds / max(elapsed, 1e-4) * 1.2
        m = int(min(n_available, max_rows, max(m * 2, m * grow)))
    k = max(elapsed, 1e-9) * threads / (m * work_per_row)
    with _lock:
        _CACHE[key] = k
    _save_disk(key, k)
    return k, m


# --------------------------------------------------------------------------- the estimate


@dataclass
class CostEstimate:
    """What an explanation will cost on this machine, and what :func:`explain` decided."""

    route: str
    rows: int
    n_features: int
    threads: int
    device: str
    seconds: float  # for all ``rows``, exact
    seconds_per_row: float
    value_bytes: int  # SHAP values of all rows, float32
    peak_bytes: int  # working memory of the chosen plan
    calibrated_rows: int  # rows timed now (0: from the cache)
    shape: dict[str, Any] = field(default_factory=dict)
    budget_seconds: float | None = None
    decision: str = "exact"  # "exact" or "sample"
    sample_rows: int | None = None
    streamed: bool = False
    note: str = ""

    @property
    def planned_seconds(self) -> float:
        """Estimated seconds of the plan chosen (the sample when sampling)."""
        n = self.sample_rows if self.decision == "sample" and self.sample_rows else self.rows
        return n * self.seconds_per_row

    def summary(self) -> str:
        shape = ""
        if self.shape.get("n_trees"):
            s = self.shape
            shape = (
                f" x {s['n_trees']} trees ({s['n_leaves'] / max(s['n_trees'], 1):.0f} leaves, "
                f"depth {s['max_depth']})"
            )
        line = (
            f"Exact SHAP ({self.route}) for {self.rows:,} rows x {self.n_features} features{shape}: "
            f"~{format_seconds(self.seconds)} on {self.threads} {self.device} thread(s), "
            f"{format_bytes(self.value_bytes)} of values"
        )
        if self.budget_seconds is not None:
            line += f"; budget {format_seconds(self.budget_seconds)}"
        if self.decision == "sample":
            line += (
                f" -> global importance from a sample of {self.sample_rows:,} rows "
                f"(~{format_seconds(self.planned_seconds)}), exact SHAP for chosen rows on demand"
            )
        else:
            line += " -> exact SHAP for every row"
            if self.streamed:
                line += ", streamed to Parquet in chunks"
        if self.note:
            line += f". {self.note}"
        return line

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        return f"<p><b>mlkit.explain cost estimate</b>: {escape(self.summary())}</p>"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["planned_seconds"] = self.planned_seconds
        return out
