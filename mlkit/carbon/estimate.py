"""Post-hoc estimates with the Green Algorithms formula.

For a job that was never tracked, from what it ran on and for how long::

    E (kWh) = t (h) × (n_cores × P_core × u_cpu + n_gpus × P_gpu × u_gpu + mem_GiB × P_mem) / 1000
    facility kWh = E × PUE
    CO2e (g) = facility kWh × carbon intensity (g/kWh)

(Lannelongue, Grealey & Inouye 2021, "Green Algorithms: Quantifying the Carbon
Footprint of Computation", Adv. Sci. 8:2100707, doi:10.1002/advs.202100707.)

Constants and their sources:

* per-core CPU power: Green Algorithms "Any" CPU, 12 W, range 1.5-24 W
  (:data:`~mlkit.carbon.backends.ANY_CPU_PER_CORE_W`), or ``core_power_w``;
* memory: 0.3725 W per GiB (Green Algorithms v1, Karyakin & Salem 2017);
* GPU board power: :data:`GPU_TDP_W`, from Green Algorithms ``TDP_gpu.csv``
  (techpowerup / NVIDIA datasheets) and NVIDIA datasheets for newer parts;
* grid intensity: :mod:`mlkit.carbon.factors`; PUE: given by the user.

When a job's average power was measured (``power_w``), it replaces the
hardware model, as in Strubell, Ganesh & McCallum 2019 ("Energy and Policy
Considerations for Deep Learning in NLP", ACL), Table 3:
``kWh = 1.58 · t · P / 1000`` and ``0.954 lb CO2e per kWh``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .backends import ANY_CPU_PER_CORE_W, CPU_PER_CORE_RANGE_W, MEMORY_RANGE, MEMORY_W_PER_GIB
from .factors import DEFAULT_PUE, EmissionFactor, check_pue, close_matches, resolve_factor
from .footprint import ComponentEnergy, Footprint

__all__ = ["GPU_TDP_W", "LB_PER_G", "Estimate", "estimate", "lb_per_kwh"]

LB_PER_G = 1 / 453.59237

#: Board power (TDP) of common accelerators, W. Green Algorithms data/TDP_gpu.csv
#: (github.com/GreenAlgorithms/green-algorithms-tool) plus NVIDIA datasheets (H100, A100 SXM, L4, A10).
GPU_TDP_W: dict[str, float] = {
    "K80": 300, "P4": 75, "P100": 250, "V100": 300, "V100S": 250, "T4": 70, "TITAN V": 250,
    "A100 PCIe 40GB": 250, "A100 PCIe 80GB": 300, "A100": 400, "A10": 150, "L4": 72,
    "H100 PCIe": 350, "H100": 700, "GTX 1080": 180, "GTX 1080 Ti": 250, "RTX 2080 Ti": 250,
    "RTX 3090": 350, "RTX 4090": 450, "TPU v2": 280, "TPU v3": 220, "TPU v4": 170,
}
#: A GPU running a training job draws between about half its TDP and its TDP.
GPU_RANGE = (0.5, 1.0)


def lb_per_kwh(lb: float, *, region: str = "user", source: str = "user-set", year: int | None = None) -> EmissionFactor:
    """A factor given in lb CO2e per kWh (as in Strubell et al. 2019: 0.954)."""
    return EmissionFactor.user(lb * 453.59237, region=region, source=source, year=year)


def _gpu_power(model: str) -> tuple[str, float]:
    key = model.strip().upper().replace("NVIDIA", "").replace("TESLA", "").strip()
    table = {k.upper(): (k, v) for k, v in GPU_TDP_W.items()}
    if key in table:
        return table[key]
    hints = close_matches(model, list(GPU_TDP_W))
    hint = f"; close matches: {', '.join(hints)}" if hints else ""
    raise ValueError(
        f"gpu_model {model!r} is not in GPU_TDP_W{hint}. Pass gpu_power_w=<board power in W> instead."
    )


_HW_RE = re.compile(r"^\s*(?:(\d+)\s*[x×]\s*)?([A-Za-z][\w .-]*?)(?:\s*[x×]\s*(\d+))?\s*$")


def _parse_hardware(hardware: str) -> tuple[str, int]:
    """``"P100x8"`` / ``"8xP100"`` / ``"V100"`` -> (model, count)."""
    m = _HW_RE.match(hardware)
    if not m:
        raise ValueError(f"hardware {hardware!r}: expected e.g. 'V100x8', '8xV100' or 'T4'")
    count = int(m.group(1) or m.group(3) or 1)
    return m.group(2).strip(), count


@dataclass(frozen=True, repr=False)
class Estimate:
    """A post-hoc estimate: the footprint plus the inputs and formula behind it."""

    footprint: Footprint
    inputs: dict[str, Any] = field(default_factory=dict)
    formula: str = ""

    @property
    def energy_kwh(self) -> float:
        """IT energy, kWh (before PUE)."""
        return self.footprint.energy_kwh

    @property
    def facility_kwh(self) -> float:
        """kWh × PUE (Strubell et al.'s "kWh·PUE")."""
        return self.footprint.facility_kwh

    @property
    def co2e_g(self) -> float:
        return self.footprint.co2e_g

    @property
    def co2e_kg(self) -> float:
        return self.footprint.co2e_g / 1000

    @property
    def co2e_lb(self) -> float:
        return self.footprint.co2e_g * LB_PER_G

    @property
    def range_g(self) -> tuple[float, float]:
        return self.footprint.co2e_low_g, self.footprint.co2e_high_g

    def as_dict(self) -> dict[str, Any]:
        out = self.footprint.as_dict()
        out.update(facility_kwh=self.facility_kwh, inputs=self.inputs, formula=self.formula)
        return out

    def __str__(self) -> str:
        return f"Estimate: {self.footprint.line()}; {self.facility_kwh:.4g} kWh incl. PUE"

    def __repr__(self) -> str:
        return f"<{self}>"

    def _repr_markdown_(self) -> str:
        return self.footprint._repr_markdown_() + f"\n\nformula: `{self.formula}`"


def estimate(
    hardware: str | None = None,
    hours: float | None = None,
    *,
    region: str | None = None,
    intensity: float | EmissionFactor | None = None,
    pue: float = DEFAULT_PUE,
    power_w: float | None = None,
    n_cores: int = 0,
    core_power_w: float | None = None,
    cpu_usage: float = 1.0,
    memory_gib: float = 0.0,
    memory_w_per_gib: float = MEMORY_W_PER_GIB,
    n_gpus: int | None = None,
    gpu_model: str | None = None,
    gpu_power_w: float | None = None,
    gpu_usage: float = 1.0,
) -> Estimate:
    """Energy and CO2e of a job from its hardware, duration, region and PUE.

    Parameters
    ----------
    hardware : str, optional
        Accelerators as ``"V100x8"`` / ``"8xV100"`` (model from :data:`GPU_TDP_W`).
    hours : float
        Wall-clock duration of the job.
    region, intensity : see :func:`~mlkit.carbon.factors.resolve_factor`.
    pue : float
        Facility overhead (>= 1).
    power_w : float, optional
        Measured average total power (W); replaces the hardware model (exact, no range).
    n_cores, core_power_w, cpu_usage : CPU cores used, W per core (default 12, range
        1.5-24), mean utilisation in [0, 1].
    memory_gib, memory_w_per_gib : memory available to the job and its power per GiB.
    n_gpus, gpu_model, gpu_power_w, gpu_usage : accelerators, their board power, utilisation.

    Returns
    -------
    Estimate
        ``.facility_kwh``, ``.co2e_g`` (``.co2e_lb``), ``.range_g``, and the inputs.
    """
    if hours is None or not hours >= 0:
        raise ValueError(f"hours must be a number >= 0, got {hours!r}")
    pue = check_pue(pue)
    factor = resolve_factor(region, intensity)
    for name, u in (("cpu_usage", cpu_usage), ("gpu_usage", gpu_usage)):
        if not 0 <= u <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {u!r}")
    if n_cores < 0 or memory_gib < 0:
        raise ValueError(f"n_cores and memory_gib must be >= 0, got {n_cores!r}, {memory_gib!r}")
    seconds = hours * 3600.0
    comps: dict[str, ComponentEnergy] = {}
    inputs: dict[str, Any] = {"hours": hours, "pue": pue, "intensity_g_per_kwh": factor.g_per_kwh}
    if power_w is not None:
        if not power_w >= 0:
            raise ValueError(f"power_w must be >= 0 W, got {power_w!r}")
        j = power_w * seconds
        comps["total"] = ComponentEnergy(j, j, j, "estimated", f"given average power {power_w:g} W")
        inputs["power_w"] = power_w
        formula = "kWh = t × P × PUE / 1000; CO2e = kWh × intensity"
    else:
        if hardware is not None:
            model, count = _parse_hardware(hardware)
            gpu_model = gpu_model or model
            n_gpus = count if n_gpus is None else n_gpus
        n_gpus = n_gpus or 0
        if n_cores:
            if core_power_w is not None:
                c, lo, hi = core_power_w, core_power_w, core_power_w
                src = f"{core_power_w:g} W/core (given)"
            else:
                c, (lo, hi) = ANY_CPU_PER_CORE_W, CPU_PER_CORE_RANGE_W
                src = f"Green Algorithms 'Any' CPU {c:g} W/core"
            k = n_cores * cpu_usage * seconds
            comps["cpu"] = ComponentEnergy(k * c, k * lo, k * hi, "estimated", src)
        if memory_gib:
            k = memory_gib * memory_w_per_gib * seconds
            comps["memory"] = ComponentEnergy(
                k, k * MEMORY_RANGE[0], k * MEMORY_RANGE[1], "estimated", f"{memory_w_per_gib:g} W/GiB"
            )
        if n_gpus:
            if gpu_power_w is not None:
                p, lo, hi, src = gpu_power_w, gpu_power_w, gpu_power_w, f"{gpu_power_w:g} W/GPU (given)"
            elif gpu_model is not None:
                name, p = _gpu_power(gpu_model)
                lo, hi = p * GPU_RANGE[0], p * GPU_RANGE[1]
                src = f"{name} TDP {p:g} W"
            else:
                raise ValueError("n_gpus given without gpu_model or gpu_power_w")
            k = n_gpus * gpu_usage * seconds
            comps["gpu"] = ComponentEnergy(k * p, k * lo, k * hi, "estimated", src)
        if not comps:
            raise ValueError("nothing to estimate: give power_w, hardware/n_gpus, n_cores or memory_gib")
        inputs.update(
            n_cores=n_cores, core_power_w=core_power_w, cpu_usage=cpu_usage, memory_gib=memory_gib,
            n_gpus=n_gpus, gpu_model=gpu_model, gpu_power_w=gpu_power_w, gpu_usage=gpu_usage,
        )
        formula = "kWh = t × (n_c·P_c·u_c + n_g·P_g·u_g + mem·P_mem) × PUE / 1000; CO2e = kWh × intensity"
    fp = Footprint(
        start=0.0, duration_s=seconds, cpu_seconds=n_cores * cpu_usage * seconds,
        components=comps, factor=factor, pue=pue,
    )
    return Estimate(fp, inputs, formula)
