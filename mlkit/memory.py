"""Peak memory of this process and its children (the Dask workers of a LocalCluster,
DataLoader workers): one sampler for notebooks, tests and benchmarks."""

from __future__ import annotations

import threading

import psutil

__all__ = ["PeakMemory", "tree_rss"]


def tree_rss(root: psutil.Process | None = None) -> int:
    """Resident bytes of ``root`` (default: this process) and all its descendants."""
    root = root or psutil.Process()
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class PeakMemory:
    """Sample the process tree's RSS in a thread while a block runs.

    ``peak`` is the highest total seen (bytes) and ``baseline`` the total at entry;
    workers of a remote cluster are not counted (they are not children of this process)::

        with PeakMemory() as mem:
            work()
        mem.peak_gib
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

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = tree_rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss())

    @property
    def peak_gib(self) -> float:
        return self.peak / 2**30
