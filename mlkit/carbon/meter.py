"""The meter: the best available backend per component, cumulative, thread-safe.

``Meter`` picks, best first: RAPL for ``cpu``/``memory``, NVML for ``gpu``, and
always runs the CPU-time estimate as the fallback. If a measuring backend fails
mid-run (driver unloaded, permission revoked), its components continue from the
estimate and the switch is logged in :attr:`Meter.events`: the tracker keeps
working and says which source it used.

Durations come from a monotonic clock (``clock``, injectable); wall-clock time
(``wall_clock``) is only used for timestamps, so clock jumps (NTP, suspend,
a user changing the time) cannot make an interval negative or huge.

A background :class:`Sampler` polls the meter so that RAPL wrap-arounds are
seen, NVML power is integrated and memory use is followed between snapshots.
It adapts its interval so that its own CPU time stays under ``max_overhead``
of one core (default 0.2 %).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .backends import (
    RAPL_ROOT,
    BackendUnavailable,
    CpuPowerProfile,
    EstimateBackend,
    NvmlBackend,
    RaplBackend,
    cpu_power_profile,
)
from .footprint import Snapshot

__all__ = ["Meter", "Sampler", "default_meter"]


class Meter:
    """Cumulative energy per component from the best backends available.

    Parameters
    ----------
    backends : {"auto", "estimate"}
        ``auto`` tries RAPL and NVML before the estimate; ``estimate`` uses only the estimate.
    scope : {"process", "cgroup"}
        What the CPU-time estimate covers (see :class:`EstimateBackend`).
    rapl_root, rapl_opener, nvml
        Hardware access, injectable for tests.
    gpu : bool
        Try NVML (default True).
    per_core_w : float, optional
        Override the per-core power of the estimate.
    clock, wall_clock : callables
        Monotonic seconds for durations; epoch seconds for timestamps.
    """

    def __init__(
        self,
        backends: str = "auto",
        *,
        scope: str = "process",
        pid: int | None = None,
        rapl_root: str | os.PathLike = RAPL_ROOT,
        rapl_opener: Callable | None = None,
        nvml: Any = None,
        gpu: bool = True,
        per_core_w: float | None = None,
        cpu_profile: CpuPowerProfile | None = None,
        estimate_sampler: Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        if backends not in {"auto", "estimate"}:
            raise ValueError(f"backends must be 'auto' or 'estimate', got {backends!r}")
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.RLock()
        self.events: list[str] = []
        now = clock()
        profile = cpu_profile or cpu_power_profile(per_core_w=per_core_w)
        self.estimate = EstimateBackend(scope, pid=pid, profile=profile, now=now, sampler=estimate_sampler)
        self.primaries: list[Any] = []
        self.unavailable: dict[str, str] = {}
        if backends == "auto":
            try:
                kwargs = {"opener": rapl_opener} if rapl_opener is not None else {}
                self.primaries.append(RaplBackend(rapl_root, **kwargs))
            except BackendUnavailable as exc:
                self.unavailable["rapl"] = str(exc)
            if gpu:
                try:
                    self.primaries.append(NvmlBackend(nvml, now=now))
                except BackendUnavailable as exc:
                    self.unavailable["nvml"] = str(exc)
        else:
            self.unavailable["rapl"] = self.unavailable["nvml"] = "disabled (backends='estimate')"
        self._measured: dict[str, float] = {}
        self._estimated: dict[str, list[float]] = {}
        self._cpu_seconds = 0.0
        self._last_poll = now
        self.n_polls = 0

    # ------------------------------------------------------------------ sources
    def _covered(self) -> dict[str, Any]:
        return {comp: b for b in self.primaries for comp in b.components}

    def sources(self) -> dict[str, str]:
        """The source each component uses now."""
        covered = self._covered()
        out = {comp: b.source for comp, b in covered.items()}
        for comp in ("cpu", "memory"):
            out.setdefault(comp, self.estimate.source)
        return out

    def describe(self) -> dict[str, Any]:
        """Sources in use, backends that were unavailable and why, and events."""
        return {
            "sources": self.sources(),
            "unavailable": dict(self.unavailable),
            "events": list(self.events),
            "cpu_profile": self.estimate.profile.__dict__,
        }

    # ------------------------------------------------------------------ polling
    def poll(self) -> float:
        """Bring the cumulative counters up to now; returns the monotonic time."""
        with self._lock:
            now = self.clock()
            if now < self._last_poll:  # a non-monotonic injected clock: never go backwards
                now = self._last_poll
            est = self.estimate.poll(now)
            self._cpu_seconds += est.pop("_cpu_seconds")[0]
            covered: set[str] = set()
            for backend in list(self.primaries):
                try:
                    deltas = backend.poll(now)
                except Exception as exc:  # noqa: BLE001 - any hardware failure falls back
                    self.primaries.remove(backend)
                    msg = (
                        f"{backend.name} failed ({type(exc).__name__}: {exc}); "
                        f"{'/'.join(backend.components)} continue"
                        + (" from the CPU-time estimate" if set(backend.components) & {"cpu", "memory"} else " unmeasured")
                    )
                    self.events.append(msg)
                    self.unavailable[backend.name] = msg
                    continue
                for comp, joules in deltas.items():
                    self._measured[comp] = self._measured.get(comp, 0.0) + joules
                    covered.add(comp)
            for comp, triple in est.items():
                if comp not in covered:
                    acc = self._estimated.setdefault(comp, [0.0, 0.0, 0.0])
                    for i in range(3):
                        acc[i] += triple[i]
            self._last_poll = now
            self.n_polls += 1
            return now

    def snapshot(self) -> Snapshot:
        """Poll, then return the cumulative counters."""
        with self._lock:
            now = self.poll()
            return Snapshot(
                time=now,
                wall=self.wall_clock(),
                cpu_seconds=self._cpu_seconds,
                measured=dict(self._measured),
                estimated={k: (v[0], v[1], v[2]) for k, v in self._estimated.items()},
                sources=self.sources(),
            )


class Sampler:
    """Background thread polling a :class:`Meter`; reference-counted start/stop.

    The interval grows when a poll is expensive so that the thread's CPU time stays
    under ``max_overhead`` of one core; :attr:`cpu_seconds` is what it has used.
    """

    def __init__(self, meter: Meter, interval: float = 2.0, *, max_overhead: float = 0.002):
        if not interval > 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval!r}")
        self.meter = meter
        self.base_interval = float(interval)
        self.interval = float(interval)
        self.max_overhead = max_overhead
        self.cpu_seconds = 0.0
        self._users = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            t0 = time.thread_time()
            try:
                self.meter.poll()
            except Exception as exc:  # noqa: BLE001 - never kill the user's session
                self.meter.events.append(f"sampler poll failed: {type(exc).__name__}: {exc}")
            cost = time.thread_time() - t0
            self.cpu_seconds += cost
            self.interval = max(self.base_interval, cost / self.max_overhead)

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="mlkit-carbon-sampler", daemon=True)
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0 and self._thread is not None:
                self._stop.set()
                self._thread.join(timeout=5)
                self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


_default: tuple[Meter, Sampler] | None = None
_default_lock = threading.Lock()


def default_meter(interval: float = 2.0) -> tuple[Meter, Sampler]:
    """The process-wide meter and sampler (shared by trackers and the cell ledger)."""
    global _default
    with _default_lock:
        if _default is None or _default[0].estimate.scope != "process" or os.getpid() != _default_pid[0]:
            meter = Meter()
            _default = (meter, Sampler(meter, interval))
            _default_pid[0] = os.getpid()
        return _default


_default_pid = [os.getpid()]
