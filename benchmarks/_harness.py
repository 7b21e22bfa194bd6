"""Shared benchmark helpers: timing, peak memory of the whole process tree, ratio tables.

Benchmarks print ratios against the peer measured *in the same run*, and the peak RSS of
the process tree (this client and every Dask worker/nanny it started).
"""

from __future__ import annotations

import json
import platform
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

__all__ = ["PeakRSS", "Result", "gib", "print_table", "timed"]


def gib(n_bytes: float) -> float:
    return n_bytes / 2**30


def tree_rss(root: psutil.Process | None = None) -> int:
    """Resident memory of ``root`` (default: this process) and all its descendants."""
    root = root or psutil.Process()
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class PeakRSS:
    """Sample the process tree's RSS in a background thread; ``.peak`` in bytes.

    Use as a context manager around the measured work::

        with PeakRSS() as mem:
            work()
        print(gib(mem.peak))
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self.baseline = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.baseline = tree_rss()
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss())


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
        keys = list(rows[0])
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
