"""Trackers: a context manager and decorator that can be started and stopped many times.

::

    with mlkit.carbon.track(region="FRA") as t:
        model.fit(X, y)
    print(t.last)          # this interval
    print(t.total)         # every interval so far

    @mlkit.carbon.track
    def train(): ...
    train(); train()
    train.carbon.intervals # one Footprint per call

Each interval is the difference of two meter snapshots, so many start/stop
cycles give exact per-interval figures that sum to the cumulative one, and a
tracker re-created after a notebook cell is re-run does not double count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .factors import DEFAULT_PUE, EmissionFactor, check_pue, resolve_factor
from .footprint import Footprint, Snapshot
from .meter import Meter, Sampler, default_meter

__all__ = ["CarbonTracker", "TrackerStateError", "track"]


class TrackerStateError(RuntimeError):
    """start() on a running tracker, or stop() on a stopped one."""


class CarbonTracker:
    """Measure (or estimate) energy and CO2e over one or more intervals.

    Parameters
    ----------
    region : str, optional
        Grid region for the emission factor (see :func:`~mlkit.carbon.grid_intensity`);
        default ``$MLKIT_CARBON_REGION`` or the world average.
    intensity : float or EmissionFactor, optional
        gCO2e/kWh set by the user; overrides ``region``.
    pue : float
        Power usage effectiveness of the facility (>= 1; default 1.0).
    backends : {"auto", "estimate"}
        See :class:`~mlkit.carbon.meter.Meter`.
    interval : float
        Background sampling period in seconds (grows if polling is expensive).
    meter : Meter, optional
        Share a meter (default: the process-wide one, or a private one when
        hardware arguments are given).
    rapl_root, rapl_opener, nvml, per_core_w, scope, clock, wall_clock
        Passed to a private :class:`Meter` (hardware injection for tests).
    sample : bool
        Run the background sampler while started (default True).
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        intensity: float | EmissionFactor | None = None,
        pue: float = DEFAULT_PUE,
        backends: str = "auto",
        interval: float = 2.0,
        meter: Meter | None = None,
        sample: bool = True,
        name: str | None = None,
        **meter_kwargs: Any,
    ):
        self.factor = resolve_factor(region, intensity)
        self.pue = check_pue(pue)
        self.name = name
        if meter is not None:
            self.meter = meter
            self.sampler = Sampler(meter, interval)
        elif meter_kwargs or backends != "auto":
            self.meter = Meter(backends, **meter_kwargs)
            self.sampler = Sampler(self.meter, interval)
        else:
            self.meter, self.sampler = default_meter(interval)
        self.sample = sample
        self.intervals: list[Footprint] = []
        self._start: Snapshot | None = None
        self._events_seen = len(self.meter.events)

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        return self._start is not None

    def start(self) -> CarbonTracker:
        """Begin an interval; raises if one is already running."""
        if self._start is not None:
            raise TrackerStateError("tracker already started; call stop() first (or use it as a context manager)")
        self._events_seen = len(self.meter.events)
        self._start = self.meter.snapshot()
        if self.sample:
            self.sampler.acquire()
        return self

    def stop(self) -> Footprint:
        """End the interval and return its :class:`Footprint`."""
        if self._start is None:
            raise TrackerStateError("tracker is not running; call start() first")
        if self.sample:
            self.sampler.release()
        end = self.meter.snapshot()
        fp = Footprint.between(self._start, end, self.factor, self.pue, self.meter.events[self._events_seen :])
        self._start = None
        self.intervals.append(fp)
        return fp

    def current(self) -> Footprint:
        """The running interval so far (without stopping it)."""
        if self._start is None:
            raise TrackerStateError("tracker is not running")
        return Footprint.between(self._start, self.meter.snapshot(), self.factor, self.pue)

    def reset(self) -> None:
        """Forget past intervals (a running interval keeps going)."""
        self.intervals.clear()

    @property
    def last(self) -> Footprint | None:
        return self.intervals[-1] if self.intervals else None

    @property
    def total(self) -> Footprint:
        """Sum of finished intervals, plus the running one if any."""
        total = Footprint.zero(self.factor, self.pue)
        for fp in self.intervals:
            total = total + fp
        if self._start is not None:
            total = total + self.current()
        return total

    def describe(self) -> dict[str, Any]:
        """Sources per component, unavailable backends (and why), events, factor, PUE."""
        out = self.meter.describe()
        out.update(factor=self.factor.as_dict(), pue=self.pue, sampler_interval_s=self.sampler.interval)
        return out

    def to_frame(self):
        """One row per interval (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([fp.as_dict() for fp in self.intervals])

    # ------------------------------------------------------------------ protocols
    def __enter__(self) -> CarbonTracker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __call__(self, func: Callable) -> Callable:
        """Use the tracker as a decorator: each call is one interval."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            self.start()
            try:
                return func(*args, **kwargs)
            finally:
                self.stop()

        wrapper.carbon = self  # type: ignore[attr-defined]
        return wrapper

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"CarbonTracker({state}, {len(self.intervals)} intervals, total: {self.total.line()})"


def track(func: Callable | None = None, /, **kwargs: Any):
    """A :class:`CarbonTracker` usable as ``with track(...):`` or ``@track`` / ``@track(...)``."""
    if func is not None and callable(func):
        return CarbonTracker(**kwargs)(func)
    return CarbonTracker(**kwargs)

