"""Shared benchmark helpers: timing, peak memory of the whole process tree, ratio tables.

Benchmarks print ratios against the peer measured *in the same run*, and the peak RSS of
the process tree (this client and every Dask worker/nanny it started).
"""

from __future__ import annotations

import json
import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

from mlkit.memory import PeakMemory, tree_rss

__all__ = ["PeakRSS", "Result", "gib", "print_table", "timed", "tree_rss"]


def gib(n_bytes: float) -> float:
    return n_bytes / 2**30


# One sampler for the whole suite: benchmarks measure with the same code as the notebooks.
PeakRSS = PeakMemory


@dataclass
class Result:
    name: str
    seconds: float
    peak_rss: int = 0
    extra: dict = field(default_factory=dict)


@contextmanager
def timed(name: str, results: list[Result] | None = None, *, memory: bool = True):
    """Time a block (and its process-tree peak RSS); append a :class:`Result` to ``results``."""
    res = Result(name, 0.0)
    sampler = PeakRSS() if memory else None
    if sampler:
        sampler.__enter__()
    start = time.perf_counter()
    try:
        yield res
    finally:
        res.seconds = time.perf_counter() - start
        if sampler:
            sampler.__exit__(None, None, None)
            res.peak_rss = sampler.peak
        if results is not None:
            results.append(res)


def print_table(title: str, rows: list[dict], *, json_path: str | None = None) -> None:
    """Print rows as an aligned table (and optionally save them as JSON)."""
    print(f"\n== {title}  ({platform.node()}, {psutil.cpu_count()} cores)")
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))  # every column any row has
        widths = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys}
        print("  ".join(k.ljust(widths[k]) for k in keys))
        for r in rows:
            print("  ".join(_fmt(r.get(k)).ljust(widths[k]) for k in keys))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(rows, fh, indent=2, default=str)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
