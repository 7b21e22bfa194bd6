"""The notebook ledger: one row per executed cell, idle time between cells as its own rows.

``%load_ext mlkit.carbon`` (or ``mlkit.carbon.ledger()``) hooks IPython's
``pre_run_cell`` / ``post_run_cell`` events. Each row has the execution count,
start, duration, CPU time, energy by component, CO2e (with range), the method
and the emission factor (value, source, year) so CO2e can be recomputed later.

Loading twice, ``%reload_ext``, or re-importing the module never registers the
hooks twice: the active ledger lives on the IPython shell itself.

Reports call :func:`report_footprint` at the end; it displays
:func:`footprint_markdown`, one line about the current kernel session.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .factors import DEFAULT_PUE, EmissionFactor, check_pue, resolve_factor
from .footprint import Footprint, Snapshot, format_energy, format_mass
from .meter import Meter, Sampler, default_meter

__all__ = [
    "CellLedger",
    "footprint_line",
    "footprint_markdown",
    "ledger",
    "load_ipython_extension",
    "report_footprint",
    "unload_ipython_extension",
]

_SHELL_ATTR = "_mlkit_carbon_ledger"
_detached: CellLedger | None = None  # the ledger used outside IPython


def _first_line(source: str | None, width: int = 60) -> str:
    for line in (source or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= width else line[: width - 1] + "…"
    return ""


class CellLedger:
    """Per-cell energy and CO2e of a notebook session.

    Parameters
    ----------
    region, intensity, pue
        Emission factor and PUE (see :class:`~mlkit.carbon.CarbonTracker`);
        changeable later with :meth:`set_factor` (rows are re-priced).
    meter, sampler
        Default: the process-wide meter shared with trackers.
    min_idle_s : float
        Idle gaps shorter than this are not recorded as rows (they still count
        in the session total).
    """

    def __init__(
        self,
        region: str | None = None,
        *,
        intensity: float | EmissionFactor | None = None,
        pue: float = DEFAULT_PUE,
        meter: Meter | None = None,
        sampler: Sampler | None = None,
        min_idle_s: float = 0.0,
    ):
        self.factor = resolve_factor(region, intensity)
        self.pue = check_pue(pue)
        if meter is None:
            meter, default_sampler = default_meter()
            sampler = sampler or default_sampler
        self.meter = meter
        self.sampler = sampler or Sampler(meter)
        self.min_idle_s = float(min_idle_s)
        self._entries: list[tuple[dict[str, Any], Footprint]] = []
        self._session_start: Snapshot = self.meter.snapshot()
        self._last_end: Snapshot | None = self._session_start
        self._cell_start: Snapshot | None = None
        self._cell_source = ""
        self._shell = None
        self.hook_seconds: list[float] = []  # pre + post hook cost per cell
        self._pre_cost = 0.0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.active = False

    # ------------------------------------------------------------------ lifecycle
    def start(self, shell=None) -> CellLedger:
        """Register the IPython hooks on ``shell`` (default: the running one)."""
        if self.active:
            return self
        if shell is None:
            from IPython import get_ipython

            shell = get_ipython()
        if shell is not None:
            old = getattr(shell, _SHELL_ATTR, None)
            if old is not None and old is not self:
                old.stop()
            shell.events.register("pre_run_cell", self.pre_run_cell)
            shell.events.register("post_run_cell", self.post_run_cell)
            setattr(shell, _SHELL_ATTR, self)
        self._shell = shell
        self.sampler.acquire()
        self.active = True
        return self

    def stop(self) -> None:
        """Unregister the hooks (rows are kept)."""
        if not self.active:
            return
        shell = self._shell
        if shell is not None:
            for event, cb in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
                if cb in shell.events.callbacks.get(event, []):
                    shell.events.unregister(event, cb)
            if getattr(shell, _SHELL_ATTR, None) is self:
                delattr(shell, _SHELL_ATTR)
        self.sampler.release()
        self.active = False

    def set_factor(self, region: str | None = None, *, intensity=None, pue: float | None = None) -> None:
        """Re-price the ledger with another factor and/or PUE."""
        self.factor = resolve_factor(region, intensity)
        if pue is not None:
            self.pue = check_pue(pue)

    # ------------------------------------------------------------------ hooks
    def pre_run_cell(self, info=None) -> None:
        t0 = time.perf_counter()
        snap = self.meter.snapshot()
        if self._last_end is not None and snap.time - self._last_end.time >= self.min_idle_s:
            fp = Footprint.between(self._last_end, snap, self.factor, self.pue)
            if fp.duration_s > 0:
                self._entries.append(({"kind": "idle", "execution_count": None, "cell": ""}, fp))
        self._cell_start = snap
        self._cell_source = _first_line(getattr(info, "raw_cell", None))
        self._pre_cost = time.perf_counter() - t0

    def post_run_cell(self, result=None) -> None:
        t0 = time.perf_counter()
        snap = self.meter.snapshot()
        if self._cell_start is None:  # loaded inside this cell: count from load time
            self._cell_start = self._last_end or self._session_start
        fp = Footprint.between(self._cell_start, snap, self.factor, self.pue)
        count = getattr(result, "execution_count", None)
        if count is None and self._shell is not None:
            count = getattr(self._shell, "execution_count", None)
        meta = {
            "kind": "cell",
            "execution_count": count,
            "cell": self._cell_source,
            "success": bool(getattr(result, "success", True)),
        }
        self._entries.append((meta, fp))
        self._last_end = snap
        self._cell_start = None
        self.hook_seconds.append(self._pre_cost + time.perf_counter() - t0)
        self._pre_cost = 0.0
        row = self._row(meta, fp)
        for listener in list(self.listeners):
            # A broken widget must not break the notebook.
            with contextlib.suppress(Exception):
                listener(row)

    # ------------------------------------------------------------------ views
    def _row(self, meta: dict[str, Any], fp: Footprint) -> dict[str, Any]:
        fp = fp.with_factor(self.factor, self.pue)
        row = dict(meta)
        row.update(fp.as_dict())
        row["sources"] = "; ".join(f"{k}: {v}" for k, v in fp.sources.items())
        return row

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [self._row(meta, fp) for meta, fp in self._entries]

    @property
    def footprints(self) -> list[Footprint]:
        return [fp.with_factor(self.factor, self.pue) for _, fp in self._entries]

    def cells(self) -> list[Footprint]:
        return [fp.with_factor(self.factor, self.pue) for meta, fp in self._entries if meta["kind"] == "cell"]

    def to_frame(self):
        """The ledger as a pandas DataFrame (one row per cell or idle gap)."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def session(self) -> Footprint:
        """From the ledger's start until now (includes the cell running now)."""
        fp = Footprint.between(self._session_start, self.meter.snapshot(), self.factor, self.pue)
        return fp

    def summary(self) -> dict[str, Any]:
        """JSON-safe totals: session energy, CO2e with range, method, counts, factor."""
        s = self.session()
        cells = self.cells()
        idle = [fp for meta, fp in self._entries if meta["kind"] == "idle"]
        return {
            "n_cells": len(cells),
            "n_idle": len(idle),
            "duration_s": s.duration_s,
            "cpu_s": s.cpu_seconds,
            "energy_j": s.energy_j,
            "energy_low_j": s.energy_low_j,
            "energy_high_j": s.energy_high_j,
            "cells_energy_j": sum(fp.energy_j for fp in cells),
            "idle_energy_j": sum(fp.energy_j for fp in idle),
            "co2e_g": s.co2e_g,
            "co2e_low_g": s.co2e_low_g,
            "co2e_high_g": s.co2e_high_g,
            "method": s.method,
            "sources": s.sources,
            "region": self.factor.region,
            "intensity_g_per_kwh": self.factor.g_per_kwh,
            "factor_source": self.factor.source,
            "factor_year": self.factor.year,
            "pue": self.pue,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ledger as ``.csv`` or ``.parquet`` (atomically: temp file, then rename)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in {".csv", ".parquet"}:
            raise ValueError(f"ledger path {path} must end in .csv or .parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        df = self.to_frame()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            if suffix == ".csv":
                df.to_csv(tmp, index=False)
            else:
                df.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def record(self, name: str = "carbon_ledger") -> dict[str, Any]:
        """Record the summary and rows with :func:`mlkit.record` (lands in the executed notebook)."""
        from ..records import record

        rows = [
            {k: v for k, v in r.items() if not (isinstance(v, float) and not math.isfinite(v))}
            for r in self.rows
        ]
        return record(name, {"summary": self.summary(), "rows": rows})

    def display(self):
        """Show the per-cell table and the footprint line (inside a notebook)."""
        from IPython.display import Markdown, display

        display(Markdown(footprint_markdown(self)))
        df = self.to_frame()
        if not df.empty:
            cols = [c for c in ("kind", "execution_count", "cell", "duration_s", "cpu_s", "energy_j", "co2e_g",
                                "co2e_low_g", "co2e_high_g", "method") if c in df]
            display(df[cols])

    def __repr__(self) -> str:
        return f"CellLedger({'active' if self.active else 'stopped'}, {len(self._entries)} rows; {self.session().line()})"


# --------------------------------------------------------------------------- functions


def _current_shell():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    return get_ipython()


def ledger(shell=None, **kwargs: Any) -> CellLedger:
    """The active cell ledger of this IPython session, started if needed.

    Keyword arguments (``region``, ``intensity``, ``pue``) configure a new ledger
    or re-price the existing one. Outside IPython, a detached ledger (no cell rows,
    session totals only) is returned.
    """
    global _detached
    shell = shell or _current_shell()
    current = getattr(shell, _SHELL_ATTR, None) if shell is not None else _detached
    if current is None:
        current = CellLedger(**kwargs)
        current.start(shell)
        if shell is None:
            _detached = current
    elif kwargs:
        current.set_factor(kwargs.get("region"), intensity=kwargs.get("intensity"), pue=kwargs.get("pue"))
    return current


def load_ipython_extension(ipython) -> None:
    """``%load_ext mlkit.carbon``: start the cell ledger on this shell (idempotent)."""
    ledger(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext mlkit.carbon``: stop recording (the rows stay readable via the ledger object)."""
    current = getattr(ipython, _SHELL_ATTR, None)
    if current is not None:
        current.stop()


def _process_lifetime_footprint(factor: EmissionFactor, pue: float) -> Footprint:
    """CPU-time estimate for this process tree since the process started (no ledger loaded)."""
    import psutil

    from .backends import MEMORY_RANGE, MEMORY_W_PER_GIB, cpu_power_profile
    from .footprint import ComponentEnergy

    proc = psutil.Process()
    cpu = 0.0
    rss = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
            rss += p.memory_info().rss
        except psutil.Error:
            continue
    duration = max(0.0, time.time() - proc.create_time())
    prof = cpu_power_profile()
    mem = rss / 2**30 * MEMORY_W_PER_GIB * duration
    src = "estimate(process, since kernel start; memory at current RSS)"
    comps = {
        "cpu": ComponentEnergy(cpu * prof.per_core_w, cpu * prof.low_w, cpu * prof.high_w, "estimated", src),
        "memory": ComponentEnergy(mem, mem * MEMORY_RANGE[0], mem * MEMORY_RANGE[1], "estimated", src),
    }
    return Footprint(proc.create_time(), duration, cpu, comps, factor, pue)


def _session_footprint(source: CellLedger | None) -> tuple[Footprint, str, int | None]:
    if source is None:
        shell = _current_shell()
        source = getattr(shell, _SHELL_ATTR, None) if shell is not None else _detached
    if source is not None:
        return source.session(), "since the carbon ledger started", len(source.cells())
    factor = resolve_factor()
    return _process_lifetime_footprint(factor, DEFAULT_PUE), "since kernel start, CPU-time estimate", None


def footprint_line(source: CellLedger | None = None) -> str:
    """One plain-text line: this kernel session's energy and CO2e, with method and range."""
    fp, span, n_cells = _session_footprint(source)
    cells = f", {n_cells} cells" if n_cells is not None else ""
    rng = "" if fp.co2e_high_g <= fp.co2e_low_g else f" (range {format_mass(fp.co2e_low_g)}–{format_mass(fp.co2e_high_g)})"
    return (
        f"Carbon footprint of this session ({span}{cells}): {format_energy(fp.energy_j)}, "
        f"{format_mass(fp.co2e_g)} CO2e{rng}, {fp.method}; {fp.duration_s:.0f} s wall, "
        f"{fp.cpu_seconds:.0f} s CPU; {fp.factor.g_per_kwh:.0f} gCO2e/kWh ({fp.factor.region}, "
        f"{fp.factor.year or 'year n/a'}), PUE {fp.pue:g}."
    )


def footprint_markdown(source: CellLedger | None = None) -> str:
    """:func:`footprint_line` as one markdown line (for the end of every report)."""
    return "🌱 " + footprint_line(source).replace("Carbon footprint of this session", "**Carbon footprint** of this session", 1)


def report_footprint(source: CellLedger | None = None) -> str:
    """Display the footprint line as markdown in the current output and return it."""
    text = footprint_markdown(source)
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # pragma: no cover
        print(text)
    return text
