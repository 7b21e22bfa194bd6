"""Where energy figures come from: RAPL counters, NVML, or an honest estimate.

Each backend turns "what happened since the last poll" into joules for one or
more components (``cpu``, ``memory``, ``gpu``):

* :class:`RaplBackend` reads the Linux powercap energy counters
  (``/sys/class/powercap/intel-rapl:*``; AMD Zen packages appear there too):
  ``package-N`` zones give ``cpu``, ``dram`` sub-zones give ``memory``. The
  counters wrap at ``max_energy_range_uj``; a poll that sees a smaller value
  adds the range back. Figures are **measured** and cover the whole socket
  (scope ``host``), not just this process.
* :class:`NvmlBackend` reads each GPU's total-energy counter (Volta and later,
  millijoules) or, where the driver does not support it, integrates
  ``nvmlDeviceGetPowerUsage`` samples (trapezoid rule). **Measured**, per GPU.
* :class:`EstimateBackend` is the fallback everywhere: CPU time of the process
  tree (or of the cgroup) times a per-core power, plus resident memory times a
  per-GiB power, integrated over time. **Estimated**, always with a low-high range.

Hardware access is injectable so every fault can be tested without hardware:
``RaplBackend(root=..., opener=...)``, ``NvmlBackend(nvml=...)``,
``EstimateBackend(cgroup_root=..., cpuinfo_path=...)``.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "ANY_CPU_PER_CORE_W",
    "CPU_PER_CORE_RANGE_W",
    "MEMORY_W_PER_GIB",
    "BackendUnavailable",
    "CpuPowerProfile",
    "EstimateBackend",
    "NvmlBackend",
    "RaplBackend",
    "cpu_power_profile",
    "cpu_tdp_table",
]

RAPL_ROOT = "/sys/class/powercap"

#: Per-core power (W) of an unknown CPU: Green Algorithms' "Any" CPU, 12 W per core
#: (Lannelongue, Grealey & Inouye 2021, Adv. Sci. 8:2100707; data/TDP_cpu.csv of
#: github.com/GreenAlgorithms/green-algorithms-tool).
ANY_CPU_PER_CORE_W = 12.0
#: Low-high per-core power (W) for an unknown CPU: spans many-core server parts at
#: ~1.5 W per hardware thread (e.g. a 360 W, 256-thread EPYC 9754) up to the 23.8 W
#: per core of old desktop quad-cores in the Green Algorithms table.
CPU_PER_CORE_RANGE_W = (1.5, 24.0)
#: For a CPU matched in codecarbon's TDP table: sustained all-core load draws about
#: TDP (the figure Green Algorithms uses); a single busy core on an otherwise idle
#: socket draws less than its 1/n share, turbo can exceed TDP. Multipliers of TDP/cores.
MATCHED_CPU_RANGE = (0.5, 1.2)
#: Memory power, W per GiB resident: Green Algorithms v1 (0.3725 W/GB, from
#: Karyakin & Salem 2017, doi:10.1145/3076113.3076117); range ±50 % for DRAM generations.
MEMORY_W_PER_GIB = 0.3725
MEMORY_RANGE = (0.5, 1.5)

GIB = float(2**30)


class BackendUnavailable(RuntimeError):
    """A backend that cannot be used here; the message says why."""


# --------------------------------------------------------------------------- RAPL


@dataclass
class _Counter:
    path: Path
    component: str
    label: str
    max_range: float  # µJ at which the counter wraps
    last: float  # last raw value, µJ


def _default_opener(path: str | os.PathLike, mode: str = "r"):
    return open(path, mode)  # noqa: SIM115 - returned to the caller, who closes it


class RaplBackend:
    """Measured CPU package and DRAM energy from Linux powercap (RAPL).

    Parameters
    ----------
    root : path, default ``/sys/class/powercap``
        The powercap tree (tests pass a fake one).
    opener : callable, default :func:`open`
        Used for every read, so tests can inject ``PermissionError``.

    Raises
    ------
    BackendUnavailable
        No RAPL zones, or zones present but unreadable (permission denied).
    """

    name = "rapl"
    method = "measured"
    scope = "host"

    def __init__(self, root: str | os.PathLike = RAPL_ROOT, *, opener: Callable = _default_opener):
        self.root = Path(root)
        self._open = opener
        self.counters: list[_Counter] = []
        if not self.root.is_dir():
            raise BackendUnavailable(f"RAPL: {self.root} does not exist (no powercap driver)")
        zones = sorted(p for p in self.root.glob("intel-rapl:*") if ":" in p.name and p.name.count(":") == 1)
        if not zones:
            raise BackendUnavailable(f"RAPL: no intel-rapl:* zones under {self.root}")
        for zone in zones:
            name = self._read_text(zone / "name")
            if name.startswith("package"):
                self._add(zone, "cpu", name)
                for sub in sorted(zone.glob(f"{zone.name}:*")):
                    if self._read_text(sub / "name") == "dram":
                        self._add(sub, "memory", f"{name}/dram")
            elif name == "dram":  # some servers expose DRAM as a top-level zone
                self._add(zone, "memory", "dram")
            # "psys" (whole platform) would double count package + dram: skipped.
        if not self.counters:
            raise BackendUnavailable(f"RAPL: no package or dram zones under {self.root}")

    def _read_text(self, path: Path) -> str:
        try:
            with self._open(path) as fh:
                return fh.read().strip()
        except PermissionError:
            raise BackendUnavailable(
                f"RAPL present but unreadable: permission denied on {path} "
                "(since Linux 5.10 energy_uj is root-only; run as root or grant read access)"
            ) from None
        except OSError as exc:
            raise BackendUnavailable(f"RAPL: cannot read {path}: {exc}") from None

    def _add(self, zone: Path, component: str, label: str) -> None:
        raw = float(self._read_text(zone / "energy_uj"))
        try:
            max_range = float(self._read_text(zone / "max_energy_range_uj"))
        except BackendUnavailable:
            max_range = float(2**32)  # the hardware register is 32 bits of energy units
        self.counters.append(_Counter(zone / "energy_uj", component, label, max_range, raw))

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(sorted({c.component for c in self.counters}))

    @property
    def source(self) -> str:
        return "rapl:" + "+".join(c.label for c in self.counters)

    def poll(self, now: float) -> dict[str, float]:
        """Joules per component since the last poll (wrap-around corrected)."""
        out: dict[str, float] = {}
        for c in self.counters:
            with self._open(c.path) as fh:
                raw = float(fh.read().strip())
            delta = raw - c.last
            if delta < 0:  # the counter wrapped at max_energy_range_uj
                delta += c.max_range
            c.last = raw
            out[c.component] = out.get(c.component, 0.0) + delta / 1e6
        return out


# --------------------------------------------------------------------------- NVML


@dataclass
class _Gpu:
    index: int
    handle: Any
    name: str
    mode: str  # "energy-counter" or "power-polling"
    last_counter: float = 0.0  # mJ
    last_power: float = 0.0  # W
    last_time: float = 0.0


class NvmlBackend:
    """Measured GPU energy from NVML (energy counter, else power polling).

    Parameters
    ----------
    nvml : module, optional
        A ``pynvml``-compatible module (default: ``import pynvml``); tests pass a fake.
    now : float
        Monotonic time of construction (start of power integration).

    Raises
    ------
    BackendUnavailable
        pynvml missing, the driver failing, or no GPU.
    """

    name = "nvml"
    method = "measured"
    scope = "device"
    components = ("gpu",)

    def __init__(self, nvml: Any = None, *, now: float = 0.0):
        if nvml is None:
            try:
                import pynvml as nvml  # noqa: PLC0415 - optional dependency
            except ImportError:
                raise BackendUnavailable("NVML: pynvml is not installed") from None
        self.nvml = nvml
        try:
            nvml.nvmlInit()
            count = int(nvml.nvmlDeviceGetCount())
        except Exception as exc:  # noqa: BLE001 - NVMLError subclasses vary by driver
            raise BackendUnavailable(f"NVML failed to initialise: {type(exc).__name__}: {exc}") from None
        if count == 0:
            raise BackendUnavailable("NVML: no GPU found")
        self.gpus: list[_Gpu] = []
        try:
            for i in range(count):
                self.gpus.append(self._open_gpu(i, now))
        except Exception as exc:  # noqa: BLE001 - a half-working driver is an unusable one
            raise BackendUnavailable(f"NVML: cannot open GPU {len(self.gpus)}: {type(exc).__name__}: {exc}") from None

    def _open_gpu(self, i: int, now: float) -> _Gpu:
        nvml = self.nvml
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        name = nvml.nvmlDeviceGetName(h)
        name = name.decode() if isinstance(name, bytes) else str(name)
        try:
            counter = float(nvml.nvmlDeviceGetTotalEnergyConsumption(h))
            return _Gpu(i, h, name, "energy-counter", last_counter=counter, last_time=now)
        except Exception:  # noqa: BLE001 - NotSupported on pre-Volta GPUs
            power = float(nvml.nvmlDeviceGetPowerUsage(h)) / 1000.0
            return _Gpu(i, h, name, "power-polling", last_power=power, last_time=now)

    @property
    def source(self) -> str:
        return "nvml:" + "+".join(f"gpu{g.index}({g.mode})" for g in self.gpus)

    def poll(self, now: float) -> dict[str, float]:
        total = 0.0
        for g in self.gpus:
            if g.mode == "energy-counter":
                raw = float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle))
                # A 64-bit mJ counter never wraps in practice; going backwards means
                # the driver reloaded and restarted it from zero.
                delta = raw - g.last_counter if raw >= g.last_counter else raw
                g.last_counter = raw
                total += delta / 1000.0
            else:
                power = float(self.nvml.nvmlDeviceGetPowerUsage(g.handle)) / 1000.0
                dt = max(0.0, now - g.last_time)
                total += 0.5 * (power + g.last_power) * dt
                g.last_power = power
            g.last_time = now
        return {"gpu": total}


# --------------------------------------------------------------------------- estimate


@functools.lru_cache(maxsize=1)
def cpu_tdp_table() -> dict[str, float]:
    """codecarbon's bundled CPU table (``data/hardware/cpu_power.csv``): model -> TDP W.

    Read offline from the installed package; empty if codecarbon is not installed.
    """
    try:
        import codecarbon
    except ImportError:  # pragma: no cover - codecarbon is a dependency
        return {}
    path = Path(codecarbon.__file__).parent / "data" / "hardware" / "cpu_power.csv"
    table: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                table[row["Name"].strip()] = float(row["TDP"])
            except (KeyError, ValueError):
                continue
    return table


def _clean_model(raw: str) -> str:
    s = re.sub(r"\((R|TM|tm|r)\)", "", raw)
    s = re.sub(r"\s+@\s*[\d.]+\s*GHz", "", s)
    s = re.sub(r"\b(CPU|Processor|\d+-Core)\b", "", s)
    return re.sub(r"\s+", " ", s).strip()


def _match_cpu(model: str, table: dict[str, float]) -> str | None:
    """The table entry naming this exact CPU, or None.

    An entry matches when its name equals the cleaned model or when all of the
    entry's tokens appear in the model and the entry has a model number (a digit):
    "AMD EPYC" alone (what cloud VMs often report) matches nothing, on purpose.
    """
    cleaned = _clean_model(model).lower()
    lowered = {name.lower(): name for name in table}
    if cleaned in lowered:
        return lowered[cleaned]
    tokens = set(cleaned.split())
    best = None
    for low in lowered:
        parts = low.split()
        if any(ch.isdigit() for ch in low) and set(parts) <= tokens and (best is None or len(low) > len(best)):
            best = low
    return lowered[best] if best else None


@dataclass(frozen=True)
class CpuPowerProfile:
    """Per-core power used by the CPU-time estimate, with its range and where it came from."""

    model: str
    per_core_w: float
    low_w: float
    high_w: float
    tdp_w: float | None
    cores: int | None
    source: str


def _read_cpuinfo(path: str | os.PathLike) -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if ":" in line:
                    key, value = line.split(":", 1)
                    info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def cpu_power_profile(
    model: str | None = None,
    *,
    per_core_w: float | None = None,
    cpuinfo_path: str | os.PathLike = "/proc/cpuinfo",
) -> CpuPowerProfile:
    """Per-core power for this CPU: user value, codecarbon's TDP table, or a wide default.

    Parameters
    ----------
    model : str, optional
        CPU model name (default: ``model name`` from ``/proc/cpuinfo``).
    per_core_w : float, optional
        Override (W per core); the range is then that exact value.
    """
    info = _read_cpuinfo(cpuinfo_path)
    model = model or info.get("model name") or "unknown CPU"
    if per_core_w is not None:
        if not per_core_w > 0:
            raise ValueError(f"per_core_w must be > 0 W, got {per_core_w!r}")
        return CpuPowerProfile(model, per_core_w, per_core_w, per_core_w, None, None, "user-set per-core power")
    table = cpu_tdp_table()
    match = _match_cpu(model, table)
    in_vm = "hypervisor" in info.get("flags", "").split()
    cores = int(info["cpu cores"]) if info.get("cpu cores", "").isdigit() else None
    if match is not None and cores and not in_vm:
        tdp = table[match]
        central = tdp / cores
        lo, hi = MATCHED_CPU_RANGE
        return CpuPowerProfile(
            model, central, central * lo, central * hi, tdp, cores,
            f"codecarbon cpu_power.csv: {match} TDP {tdp:g} W / {cores} cores",
        )
    why = (
        f"matched {match} but running in a VM (socket core count unknown)"
        if match is not None
        else "model not in codecarbon's CPU table"
    )
    lo, hi = CPU_PER_CORE_RANGE_W
    return CpuPowerProfile(
        model, ANY_CPU_PER_CORE_W, lo, hi, table.get(match) if match else None, cores,
        f"Green Algorithms 'Any' CPU {ANY_CPU_PER_CORE_W:g} W/core ({why})",
    )


class _ProcessTree:
    """Monotone CPU seconds and current RSS of a process and its descendants.

    A process's own time (``user + system``) counts while it lives; when a child
    exits and is reaped its total moves into the parent's ``children_user/system``,
    from which the part already counted while the child was alive is deducted.
    So nothing is counted twice, and a short-lived child that was never seen
    alive (``subprocess.run``) is still counted through its parent. The total only
    grows (a process re-parented outside the tree loses its time after the last poll).
    """

    def __init__(self, pid: int | None = None, *, refresh_s: float = 1.0, clock=None):
        import time

        self.root = psutil.Process(pid)
        # key (pid, create_time) -> (own seconds, reaped-children seconds, ppid)
        self._last: dict[tuple[int, float], tuple[float, float, int]] = {}
        self._total = 0.0
        # Listing descendants scans every process on the host (/proc/*/stat); do it at most
        # once per refresh_s and reuse the list in between. A child that exits in between
        # is still counted through its parent's children_* times.
        self.refresh_s = refresh_s
        self._clock = clock or time.monotonic
        self._procs: list[psutil.Process] = []
        self._listed_at = float("-inf")

    def _processes(self) -> list[psutil.Process]:
        now = self._clock()
        if now - self._listed_at >= self.refresh_s:
            try:
                self._procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                self._procs = []
            self._listed_at = now
        return self._procs

    def sample(self) -> tuple[float, float]:
        procs = self._processes()
        rss = 0.0
        current: dict[tuple[int, float], tuple[float, float, int]] = {}
        for p in procs:
            try:
                with p.oneshot():
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())
                    ppid = p.ppid()
                    rss += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            children = getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
            current[key] = (t.user + t.system, children, ppid)
        if not self._last:
            self._total = sum(own + ch for own, ch, _ in current.values())
        else:
            by_pid = {key[0]: key for key in current}
            credit: dict[tuple[int, float], float] = {}
            for key, (own, ch, ppid) in self._last.items():
                parent = by_pid.get(ppid)
                if key not in current and parent is not None:
                    credit[parent] = credit.get(parent, 0.0) + own + ch
            for key, (own, ch, _) in current.items():
                last_own, last_ch, _ = self._last.get(key, (0.0, 0.0, 0))
                self._total += max(0.0, own - last_own)
                self._total += max(0.0, ch - last_ch - credit.get(key, 0.0))
        self._last = current
        return self._total, rss


class _Cgroup:
    """CPU seconds and memory of this process's cgroup (v2 or v1)."""

    def __init__(self, root: str | os.PathLike = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup"):
        root = Path(root)
        paths: dict[str, str] = {}
        try:
            with open(proc_cgroup) as fh:
                for line in fh:
                    _, ctrls, path = line.strip().split(":", 2)
                    for ctrl in ctrls.split(",") if ctrls else [""]:
                        paths[ctrl] = path.lstrip("/")
        except OSError:
            pass
        v2 = root / paths.get("", "") / "cpu.stat"
        if (root / "cgroup.controllers").exists() and v2.exists():
            self.cpu_file, self.cpu_scale, self.cpu_key = v2, 1e-6, "usage_usec"
            self.mem_file = root / paths.get("", "") / "memory.current"
        else:
            self.cpu_file = root / "cpuacct" / paths.get("cpuacct", paths.get("cpu,cpuacct", "")) / "cpuacct.usage"
            self.cpu_scale, self.cpu_key = 1e-9, None
            self.mem_file = root / "memory" / paths.get("memory", "") / "memory.usage_in_bytes"
        if not self.cpu_file.exists():
            raise BackendUnavailable(f"cgroup CPU accounting not found ({self.cpu_file})")

    def sample(self) -> tuple[float, float]:
        text = self.cpu_file.read_text()
        if self.cpu_key:
            value = next(float(line.split()[1]) for line in text.splitlines() if line.startswith(self.cpu_key))
        else:
            value = float(text.strip())
        try:
            mem = float(self.mem_file.read_text().strip())
        except (OSError, ValueError):
            mem = 0.0
        return value * self.cpu_scale, mem


class EstimateBackend:
    """Estimated CPU and memory energy from CPU time and resident memory.

    ``cpu J = CPU seconds × per-core W`` and ``memory J = ∫ resident GiB × W/GiB dt``
    (the Green Algorithms model with usage measured instead of assumed). Both
    carry a low-high range from the power ranges.

    Parameters
    ----------
    scope : {"process", "cgroup"}
        ``process``: this process and its descendants (kernel + local Dask
        workers); ``cgroup``: everything in this container's cgroup. Never the
        host's totals.
    pid : int, optional
        Root of the process tree (default: this process).
    profile : CpuPowerProfile, optional
        Per-core power (default: :func:`cpu_power_profile`).
    memory_w_per_gib : float
        Memory power, W per GiB resident.
    """

    name = "estimate"
    method = "estimated"
    components = ("cpu", "memory")

    def __init__(
        self,
        scope: str = "process",
        *,
        pid: int | None = None,
        profile: CpuPowerProfile | None = None,
        memory_w_per_gib: float = MEMORY_W_PER_GIB,
        cgroup_root: str | os.PathLike = "/sys/fs/cgroup",
        now: float = 0.0,
        sampler: Any = None,
    ):
        if scope not in {"process", "cgroup"}:
            raise ValueError(f"scope must be 'process' or 'cgroup', got {scope!r}")
        self.scope = scope
        self.profile = profile or cpu_power_profile()
        self.memory_w_per_gib = float(memory_w_per_gib)
        if sampler is not None:
            self._sampler = sampler
        elif scope == "cgroup":
            self._sampler = _Cgroup(cgroup_root)
        else:
            self._sampler = _ProcessTree(pid)
        self.cpu_seconds, self.memory_bytes = self._sampler.sample()
        self._last_time = now

    @property
    def source(self) -> str:
        return (
            f"estimate({self.scope}): CPU time × {self.profile.per_core_w:.3g} W/core "
            f"[{self.profile.low_w:.3g}-{self.profile.high_w:.3g}] ({self.profile.source}); "
            f"memory × {self.memory_w_per_gib:g} W/GiB (Green Algorithms)"
        )

    def poll(self, now: float) -> dict[str, tuple[float, float, float]]:
        """(central, low, high) joules per component since the last poll."""
        cpu, mem = self._sampler.sample()
        d_cpu = max(0.0, cpu - self.cpu_seconds)
        dt = max(0.0, now - self._last_time)  # monotonic clock: never negative, but be safe
        mem_gib_s = 0.5 * (mem + self.memory_bytes) / GIB * dt
        self.cpu_seconds, self.memory_bytes, self._last_time = cpu, mem, now
        p = self.profile
        m = self.memory_w_per_gib
        return {
            "cpu": (d_cpu * p.per_core_w, d_cpu * p.low_w, d_cpu * p.high_w),
            "memory": (mem_gib_s * m, mem_gib_s * m * MEMORY_RANGE[0], mem_gib_s * m * MEMORY_RANGE[1]),
            "_cpu_seconds": (d_cpu, d_cpu, d_cpu),
        }

