"""Peak memory of this process and its children (the Dask workers of a LocalCluster,
DataLoader workers): one sampler for notebooks, tests and benchmarks."""

from __future__ import annotations

import threading

import psutil

__all__ = ["PeakMemory", "tree_memory", "tree_rss"]


def _check_kind(kind: str) -> None:
    if kind not in {"rss", "pss"}:
        raise ValueError(f"kind must be 'rss' or 'pss', got {kind!r}")


def tree_memory(root: psutil.Process | None = None, *, kind: str = "rss") -> int:
    """Bytes of ``root`` (default: this process) and all its descendants.

    ``kind="rss"``: resident set size, a page shared by processes counted once per process;
    ``kind="pss"``: proportional set size, each page counted once (slower to read).
    """
    _check_kind(kind)
    root = root or psutil.Process()
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss if kind == "rss" else proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def tree_rss(root: psutil.Process | None = None) -> int:
    """Resident bytes of ``root`` (default: this process) and all its descendants."""
    return tree_memory(root)


class PeakMemory:
    """Sample the process tree's RSS (or PSS, ``kind="pss"``) in a thread while a block runs.

    ``peak`` is the highest total seen (bytes) and ``baseline`` the total at entry;
    workers of a remote cluster are not counted (they are not children of this process)::

        with PeakMemory() as mem:
            work()
        mem.peak_gib
    """

    def __init__(self, interval: float = 0.05, *, kind: str = "rss") -> None:
        _check_kind(kind)  # here, not in the sampling thread
        self.interval = interval
        self.kind = kind
        self.peak = 0
        self.baseline = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_memory(kind=self.kind))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self.baseline = self.peak = tree_memory(kind=self.kind)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_memory(kind=self.kind))

    @property
    def peak_gib(self) -> float:
        return self.peak / 2**30
