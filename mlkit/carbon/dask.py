"""Energy of Dask work: per host (each counted once) and per task prefix.

Two plugins and a client-side tracker:

* :class:`CarbonWorkerPlugin` runs on every worker: a meter over the worker
  process (CPU time and memory -> estimated energy) and, on **one elected worker
  per host**, a host meter reading the host-level counters (RAPL, NVML). However
  many workers share a host, its counters are read once.
* :class:`CarbonSchedulerPlugin` sums, per worker and task prefix, the compute
  time of finished tasks (from the ``startstops`` the scheduler receives).
* :class:`DaskCarbonTracker` (``with track_dask(client): ...``) registers both,
  elects the host readers, and turns two readings into a :class:`DaskFootprint`:

  - host energy = measured host counters when the elected reader has them,
    else the sum of its workers' estimates (per component);
  - a host's measured energy is split among its workers by CPU-time share, and
    each worker's share among task prefixes by compute-time share; energy of a
    worker that ran no task goes to ``"(no task)"``. Prefix rows therefore sum
    exactly to the host totals.
"""

from __future__ import annotations

import os
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin, WorkerPlugin

from .backends import RAPL_ROOT
from .factors import DEFAULT_PUE, EmissionFactor, check_pue, resolve_factor
from .footprint import COMPONENTS, co2e_grams, format_energy, format_mass
from .meter import Meter, Sampler

__all__ = [
    "PLUGIN_NAME",
    "CarbonSchedulerPlugin",
    "CarbonWorkerPlugin",
    "DaskCarbonTracker",
    "DaskFootprint",
    "track_dask",
]

PLUGIN_NAME = "mlkit-carbon"
NO_TASK = "(no task)"


def _key_split(key: Any) -> str:
    from dask.utils import key_split

    return key_split(key)


class CarbonSchedulerPlugin(SchedulerPlugin):
    """Compute seconds and task counts per (worker, task prefix), cumulative."""

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self.compute: dict[tuple[str, str], float] = defaultdict(float)
        self.count: dict[tuple[str, str], int] = defaultdict(int)

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if start != "processing" or finish not in {"memory", "erred"}:
            return
        worker = kwargs.get("worker")
        if not worker:
            return
        seconds = sum(
            ss["stop"] - ss["start"] for ss in kwargs.get("startstops") or () if ss.get("action") == "compute"
        )
        prefix = _key_split(key)
        self.compute[(worker, prefix)] += max(0.0, seconds)
        self.count[(worker, prefix)] += 1

    def totals(self) -> list[tuple[str, str, float, int]]:
        return [(w, p, s, self.count[(w, p)]) for (w, p), s in self.compute.items()]


class CarbonWorkerPlugin(WorkerPlugin):
    """Per-worker process meter, plus the host meter on the elected worker.

    Parameters
    ----------
    rapl_root : str
        Powercap tree for the host meter (tests pass a fake one).
    gpu : bool
        Let the host meter try NVML.
    per_core_w : float, optional
        Override the per-core power of the estimates.
    interval : float
        Sampling period of the worker's meters, seconds.
    """

    name = PLUGIN_NAME

    def __init__(self, rapl_root: str = RAPL_ROOT, gpu: bool = True, per_core_w: float | None = None,
                 interval: float = 2.0) -> None:
        self.rapl_root = str(rapl_root)
        self.gpu = gpu
        self.per_core_w = per_core_w
        self.interval = interval
        self.meter: Meter | None = None
        self.host_meter: Meter | None = None
        self._samplers: list[Sampler] = []

    @property
    def config(self) -> dict[str, Any]:
        return {"rapl_root": self.rapl_root, "gpu": self.gpu, "per_core_w": self.per_core_w,
                "interval": self.interval}

    def setup(self, worker) -> None:
        self.worker = worker
        self.host = socket.gethostname()
        self.meter = Meter("estimate", pid=os.getpid(), per_core_w=self.per_core_w)
        self._start_sampler(self.meter)

    def _start_sampler(self, meter: Meter) -> None:
        sampler = Sampler(meter, self.interval)
        sampler.acquire()
        self._samplers.append(sampler)

    def teardown(self, worker) -> None:
        for s in self._samplers:
            s.release()
        self._samplers.clear()

    def elect(self) -> dict[str, Any]:
        """Become this host's reader of host-level counters."""
        if self.host_meter is None:
            self.host_meter = Meter("auto", rapl_root=self.rapl_root, gpu=self.gpu, per_core_w=self.per_core_w)
            if self.host_meter.primaries:
                self._start_sampler(self.host_meter)
        return {"sources": {k: v for k, v in self.host_meter.sources().items() if not v.startswith("estimate")},
                "unavailable": self.host_meter.unavailable}

    def reading(self) -> dict[str, Any]:
        snap = self.meter.snapshot()
        out: dict[str, Any] = {
            "host": self.host,
            "pid": os.getpid(),
            "time": snap.time,
            "wall": snap.wall,
            "cpu_seconds": snap.cpu_seconds,
            "estimated": snap.estimated,
            "source": self.meter.estimate.source,
            "host_measured": None,
        }
        if self.host_meter is not None and self.host_meter.primaries:
            h = self.host_meter.snapshot()
            covered = {c for b in self.host_meter.primaries for c in b.components}
            out["host_measured"] = {c: h.measured.get(c, 0.0) for c in covered}
            out["host_sources"] = {c: s for c, s in h.sources.items() if c in covered}
            out["host_events"] = list(self.host_meter.events)
        return out


def _worker_plugin(dask_worker) -> CarbonWorkerPlugin:
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError(f"worker {dask_worker.address} has no {PLUGIN_NAME} plugin")
    return plugin


def _run_reading(dask_worker) -> dict[str, Any]:
    return _worker_plugin(dask_worker).reading()


def _run_elect(dask_worker) -> dict[str, Any]:
    return _worker_plugin(dask_worker).elect()


def _run_config(dask_worker) -> dict[str, Any] | None:
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return plugin.config if isinstance(plugin, CarbonWorkerPlugin) else None


def _run_host(dask_worker) -> str:
    return socket.gethostname()


def _scheduler_totals(dask_scheduler) -> list:
    plugin = dask_scheduler.plugins.get(PLUGIN_NAME)
    return plugin.totals() if plugin is not None else []


@dataclass
class DaskFootprint:
    """Energy and CO2e of Dask work, per host and per task prefix."""

    by_host: Any  # pandas DataFrame
    by_prefix: Any  # pandas DataFrame
    by_worker: Any  # pandas DataFrame
    duration_s: float
    factor: EmissionFactor
    pue: float
    events: list[str] = field(default_factory=list)

    @property
    def energy_j(self) -> float:
        return float(self.by_host["energy_j"].sum()) if len(self.by_host) else 0.0

    @property
    def energy_low_j(self) -> float:
        return float(self.by_host["energy_low_j"].sum()) if len(self.by_host) else 0.0

    @property
    def energy_high_j(self) -> float:
        return float(self.by_host["energy_high_j"].sum()) if len(self.by_host) else 0.0

    def _co2(self, joules: float) -> float:
        return co2e_grams(joules, self.pue, self.factor)

    @property
    def co2e_g(self) -> float:
        return self._co2(self.energy_j)

    @property
    def method(self) -> str:
        methods = set(self.by_host["method"]) if len(self.by_host) else {"estimated"}
        return "measured" if methods == {"measured"} else "estimated"

    def line(self) -> str:
        return (
            f"Dask: {format_energy(self.energy_j)}, {format_mass(self.co2e_g)} CO2e "
            f"(range {format_mass(self._co2(self.energy_low_j))}–{format_mass(self._co2(self.energy_high_j))}) "
            f"[{self.method}] over {self.duration_s:.3g} s on {len(self.by_host)} host(s), "
            f"{len(self.by_worker)} worker(s)"
        )

    def __str__(self) -> str:
        return self.line()

    def _repr_markdown_(self) -> str:
        return f"**{self.line()}**\n\n" + self.by_prefix.to_markdown(index=False) if _has_tabulate() else self.line()


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


class DaskCarbonTracker:
    """Track the energy of a Dask cluster's work; restartable like :class:`~mlkit.carbon.CarbonTracker`.

    Parameters
    ----------
    client : distributed.Client, optional
        Default: :func:`mlkit.compute.client`.
    region, intensity, pue
        Emission factor and PUE.
    rapl_root, gpu, per_core_w, interval
        Passed to :class:`CarbonWorkerPlugin`.
    """

    def __init__(self, client=None, region: str | None = None, *, intensity=None, pue: float = DEFAULT_PUE,
                 rapl_root: str = RAPL_ROOT, gpu: bool = True, per_core_w: float | None = None,
                 interval: float = 2.0) -> None:
        if client is None:
            from ..compute import client as _client

            client = _client()
        self.client = client
        self.factor = resolve_factor(region, intensity)
        self.pue = check_pue(pue)
        self.plugin_args = {"rapl_root": str(rapl_root), "gpu": gpu, "per_core_w": per_core_w, "interval": interval}
        self.readers: dict[str, str] = {}
        self.intervals: list[DaskFootprint] = []
        self._start: tuple[dict, list] | None = None

    def _ensure_plugins(self) -> None:
        has = self.client.run_on_scheduler(lambda dask_scheduler: PLUGIN_NAME in dask_scheduler.plugins)
        if not has:
            self.client.register_plugin(CarbonSchedulerPlugin(), name=PLUGIN_NAME)
        have = self.client.run(_run_config)
        if not have or any(cfg != self.plugin_args for cfg in have.values()):
            self.client.register_plugin(CarbonWorkerPlugin(**self.plugin_args), name=PLUGIN_NAME)
        # One reader of host-level counters per host: the lowest worker address.
        hosts = self.client.run(_run_host)
        by_host: dict[str, list[str]] = defaultdict(list)
        for addr, host in hosts.items():
            by_host[host].append(addr)
        self.readers = {host: min(addrs) for host, addrs in by_host.items()}
        for addr in self.readers.values():
            self.client.run(_run_elect, workers=[addr])

    def _read(self) -> tuple[dict, list]:
        readings = self.client.run(_run_reading)
        totals = self.client.run_on_scheduler(_scheduler_totals)
        return readings, totals

    def start(self) -> DaskCarbonTracker:
        if self._start is not None:
            from .tracker import TrackerStateError

            raise TrackerStateError("Dask tracker already started; call stop() first")
        self._ensure_plugins()
        self._start = self._read()
        return self

    def stop(self) -> DaskFootprint:
        if self._start is None:
            from .tracker import TrackerStateError

            raise TrackerStateError("Dask tracker is not running; call start() first")
        end = self._read()
        fp = aggregate(self._start, end, self.factor, self.pue)
        self._start = None
        self.intervals.append(fp)
        return fp

    @property
    def last(self) -> DaskFootprint | None:
        return self.intervals[-1] if self.intervals else None

    def __enter__(self) -> DaskCarbonTracker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def track_dask(client=None, **kwargs: Any) -> DaskCarbonTracker:
    """``with track_dask(client) as t: ...`` then ``t.last.by_prefix`` / ``t.last.by_host``."""
    return DaskCarbonTracker(client, **kwargs)


def aggregate(start: tuple[dict, list], end: tuple[dict, list], factor: EmissionFactor, pue: float) -> DaskFootprint:
    """Turn two (worker readings, scheduler totals) pairs into a :class:`DaskFootprint`."""
    import pandas as pd

    (r0, t0), (r1, t1) = start, end
    compute0 = {(w, p): (s, n) for w, p, s, n in t0}
    compute: dict[str, dict[str, tuple[float, int]]] = defaultdict(dict)
    for w, p, s, n in t1:
        s0, n0 = compute0.get((w, p), (0.0, 0))
        if n - n0 > 0 or s - s0 > 0:
            compute[w][p] = (s - s0, n - n0)

    workers = []
    events: list[str] = []
    for addr in sorted(r1):
        a, b = r0.get(addr), r1[addr]
        if a is None or a.get("pid") != b.get("pid"):
            events.append(f"worker {addr} joined or restarted during the interval; counted from its first reading")
            a = {"cpu_seconds": b["cpu_seconds"], "estimated": {}, "time": b["time"], "host_measured": None}
        est = {}
        for comp in COMPONENTS:
            e0 = a["estimated"].get(comp, (0.0, 0.0, 0.0))
            e1 = b["estimated"].get(comp, (0.0, 0.0, 0.0))
            est[comp] = tuple(max(0.0, e1[i] - e0[i]) for i in range(3))
        measured = None
        if b.get("host_measured") is not None and a.get("host_measured") is not None:
            measured = {c: max(0.0, v - a["host_measured"].get(c, v)) for c, v in b["host_measured"].items()}
        events.extend(b.get("host_events", []))
        workers.append({
            "worker": addr, "host": b["host"], "cpu_s": max(0.0, b["cpu_seconds"] - a["cpu_seconds"]),
            "duration_s": max(0.0, b["time"] - a["time"]), "est": est, "measured": measured,
            "host_sources": b.get("host_sources", {}), "source": b.get("source", ""),
        })

    host_rows, worker_rows = [], []
    prefix_acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0])
    by_host: dict[str, list[dict]] = defaultdict(list)
    for w in workers:
        by_host[w["host"]].append(w)
    for host, ws in sorted(by_host.items()):
        measured = next((w["measured"] for w in ws if w["measured"] is not None), None)
        sources = next((w["host_sources"] for w in ws if w["measured"] is not None), {})
        cpu_total = sum(w["cpu_s"] for w in ws)
        # energy per component for each worker (central, low, high)
        per_worker: dict[str, dict[str, tuple[float, float, float]]] = {w["worker"]: {} for w in ws}
        methods = {}
        for comp in COMPONENTS:
            if measured is not None and comp in measured:
                methods[comp] = "measured"
                for w in ws:
                    share = w["cpu_s"] / cpu_total if cpu_total > 0 else 1.0 / len(ws)
                    j = measured[comp] * share
                    per_worker[w["worker"]][comp] = (j, j, j)
            else:
                if any(w["est"][comp][0] > 0 for w in ws):
                    methods[comp] = "estimated"
                for w in ws:
                    per_worker[w["worker"]][comp] = w["est"][comp]
        host_row: dict[str, Any] = {"host": host, "n_workers": len(ws), "cpu_s": cpu_total}
        for comp in COMPONENTS:
            host_row[f"energy_{comp}_j"] = sum(per_worker[w["worker"]][comp][0] for w in ws)
        host_row["energy_j"] = sum(v[0] for pw in per_worker.values() for v in pw.values())
        host_row["energy_low_j"] = sum(v[1] for pw in per_worker.values() for v in pw.values())
        host_row["energy_high_j"] = sum(v[2] for pw in per_worker.values() for v in pw.values())
        host_row["method"] = "measured" if methods and set(methods.values()) == {"measured"} else "estimated"
        host_row["methods"] = ";".join(f"{c}={m}" for c, m in methods.items())
        host_row["sources"] = "; ".join(f"{c}: {s}" for c, s in sources.items()) or ws[0]["source"]
        host_rows.append(host_row)
        for w in ws:
            e = per_worker[w["worker"]]
            totals = [sum(v[i] for v in e.values()) for i in range(3)]
            worker_rows.append({"worker": w["worker"], "host": host, "cpu_s": w["cpu_s"], "energy_j": totals[0],
                                "energy_low_j": totals[1], "energy_high_j": totals[2]})
            tasks = compute.get(w["worker"], {})
            busy = sum(s for s, _ in tasks.values())
            if not tasks:
                if totals[0] <= 0:
                    continue
                tasks, busy = {NO_TASK: (1.0, 0)}, 1.0
            for prefix, (seconds, n) in tasks.items():
                share = seconds / busy if busy > 0 else 1.0 / len(tasks)
                acc = prefix_acc[prefix]
                for i in range(3):
                    acc[i] += totals[i] * share
                acc[3] += seconds if prefix != NO_TASK else 0.0
                acc[4] += n

    def co2(j: float) -> float:
        return co2e_grams(j, pue, factor)

    for row in host_rows:
        row.update(co2e_g=co2(row["energy_j"]), co2e_low_g=co2(row["energy_low_j"]),
                   co2e_high_g=co2(row["energy_high_j"]))
    prefix_rows = [
        {"prefix": p, "n_tasks": int(v[4]), "compute_s": v[3], "energy_j": v[0], "energy_low_j": v[1],
         "energy_high_j": v[2], "co2e_g": co2(v[0]), "co2e_low_g": co2(v[1]), "co2e_high_g": co2(v[2])}
        for p, v in prefix_acc.items()
    ]
    by_prefix = pd.DataFrame(prefix_rows)
    if len(by_prefix):
        by_prefix = by_prefix.sort_values("energy_j", ascending=False, ignore_index=True)
    duration = max((w["duration_s"] for w in workers), default=0.0)
    return DaskFootprint(pd.DataFrame(host_rows), by_prefix, pd.DataFrame(worker_rows), duration, factor, pue,
                         list(dict.fromkeys(events)))
