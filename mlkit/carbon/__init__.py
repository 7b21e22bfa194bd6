"""Energy and carbon tracking for notebooks and Dask clusters.

Measure where possible, estimate honestly otherwise: RAPL counters, NVML, or
an estimate from CPU time and memory with a low-high range; every figure says
which (``method``) and where it came from (``source``).

* :func:`track` / :class:`CarbonTracker`: context manager and decorator, restartable.
* ``%load_ext mlkit.carbon`` or :func:`ledger`: one row per executed cell, idle
  time as its own rows; :func:`report_footprint` displays the session's footprint.
* :mod:`mlkit.carbon.dask`: plugins attributing energy to tasks, per host and task prefix.
* :func:`estimate`: post-hoc Green Algorithms estimates.
* :func:`grid_intensity`: offline emission factors by region.
"""

from __future__ import annotations

from .backends import BackendUnavailable, CpuPowerProfile, cpu_power_profile
from .estimate import Estimate, estimate, lb_per_kwh
from .factors import (
    DEFAULT_PUE,
    PUE_DATACENTER_AVERAGE,
    EmissionFactor,
    UnknownRegionError,
    grid_intensity,
    regions,
)
from .footprint import ComponentEnergy, Footprint, equivalents, format_energy, format_mass
from .ledger import (
    CellLedger,
    footprint_line,
    footprint_markdown,
    ledger,
    load_ipython_extension,
    report_footprint,
    unload_ipython_extension,
)
from .meter import Meter, Sampler
from .tracker import CarbonTracker, TrackerStateError, track

__all__ = [
    "DEFAULT_PUE",
    "PUE_DATACENTER_AVERAGE",
    "BackendUnavailable",
    "CarbonTracker",
    "CellLedger",
    "ComponentEnergy",
    "CpuPowerProfile",
    "EmissionFactor",
    "Estimate",
    "Footprint",
    "Meter",
    "Sampler",
    "TrackerStateError",
    "UnknownRegionError",
    "cpu_power_profile",
    "equivalents",
    "estimate",
    "footprint_line",
    "footprint_markdown",
    "format_energy",
    "format_mass",
    "grid_intensity",
    "lb_per_kwh",
    "ledger",
    "load_ipython_extension",
    "regions",
    "report_footprint",
    "track",
    "unload_ipython_extension",
]


def __getattr__(name: str):
    # The Dask plugins import distributed: load them only when asked for.
    if name in {"track_dask", "DaskCarbonTracker", "DaskFootprint", "CarbonWorkerPlugin", "CarbonSchedulerPlugin"}:
        from . import dask as _dask

        return getattr(_dask, name)
    raise AttributeError(f"module 'mlkit.carbon' has no attribute {name!r}")
