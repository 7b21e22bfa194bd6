"""What a measured interval cost: energy by component, CO2e, method and range.

A :class:`Snapshot` holds cumulative counters at one instant; the
:class:`Footprint` between two snapshots is their difference, priced with an
:class:`~mlkit.carbon.factors.EmissionFactor` and a PUE. Every figure says how
it was obtained (``measured`` or ``estimated``) and, when estimated, its
low-high range. Footprints add up (``a + b``) for cumulative totals.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from .factors import EmissionFactor

__all__ = [
    "CAR_G_PER_KM",
    "PHONE_CHARGE_KWH",
    "ComponentEnergy",
    "Footprint",
    "Snapshot",
    "equivalents",
    "format_energy",
    "format_mass",
]

#: Average passenger car, gCO2e per km (EU fleet, real-world; Green Algorithms
#: referenceValues.csv, from doi:10.1016/j.atmosenv.2018.09.042 and UK BEIS 2019 factors).
CAR_G_PER_KM = 175.0
#: One full smartphone charge, kWh (US EPA Greenhouse Gas Equivalencies Calculator,
#: "number of smartphones charged", revised 2023).
PHONE_CHARGE_KWH = 0.019
J_PER_KWH = 3.6e6


def co2e_grams(joules: float, pue: float, factor) -> float:
    """Grams of CO2e for ``joules`` at the facility's ``pue`` and the grid ``factor`` (g/kWh)."""
    return joules / J_PER_KWH * pue * factor.g_per_kwh
COMPONENTS = ("cpu", "memory", "gpu")


@dataclass(frozen=True)
class Snapshot:
    """Cumulative counters of a :class:`~mlkit.carbon.meter.Meter` at one instant."""

    time: float  # monotonic seconds (durations)
    wall: float  # epoch seconds (timestamps only; may jump)
    cpu_seconds: float  # CPU time of the tracked process tree / cgroup
    measured: dict[str, float]  # joules per component from measuring backends
    estimated: dict[str, tuple[float, float, float]]  # (central, low, high) joules
    sources: dict[str, str]  # the source each component uses now


@dataclass(frozen=True)
class ComponentEnergy:
    """Energy of one component over an interval."""

    joules: float
    low: float
    high: float
    method: str  # "measured" or "estimated"
    source: str

    def __add__(self, other: ComponentEnergy) -> ComponentEnergy:
        method = "measured" if self.method == other.method == "measured" else "estimated"
        source = self.source if self.source == other.source else f"{self.source}; {other.source}"
        return ComponentEnergy(
            self.joules + other.joules, self.low + other.low, self.high + other.high, method, source
        )


def format_energy(joules: float) -> str:
    """Human units: J, kJ, Wh, kWh, MWh."""
    wh = joules / 3600.0
    if joules < 1000:
        return f"{joules:.3g} J"
    if wh < 1000:
        return f"{wh:.3g} Wh"
    if wh < 1e6:
        return f"{wh / 1000:.3g} kWh"
    return f"{wh / 1e6:.3g} MWh"


def format_mass(grams: float) -> str:
    """Human units for CO2e: mg, g, kg, t."""
    if grams < 1:
        return f"{grams * 1000:.3g} mg"
    if grams < 1000:
        return f"{grams:.3g} g"
    if grams < 1e6:
        return f"{grams / 1000:.3g} kg"
    return f"{grams / 1e6:.3g} t"


def equivalents(co2e_g: float, energy_kwh: float) -> dict[str, float]:
    """Everyday equivalents: km driven by an average car, smartphone charges."""
    return {"km_by_car": co2e_g / CAR_G_PER_KM, "phone_charges": energy_kwh / PHONE_CHARGE_KWH}


@dataclass(frozen=True, repr=False)
class Footprint:
    """Energy and CO2e of an interval (or a sum of intervals).

    ``co2e_g = energy_kwh × pue × factor.g_per_kwh``; the low/high figures carry
    the ranges of estimated components (measured ones count at their value).
    """

    start: float  # epoch seconds
    duration_s: float
    cpu_seconds: float
    components: dict[str, ComponentEnergy]
    factor: EmissionFactor
    pue: float
    n_intervals: int = 1
    events: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot, factor: EmissionFactor, pue: float, events=()) -> Footprint:
        comps: dict[str, ComponentEnergy] = {}
        for name in COMPONENTS:
            m = b.measured.get(name, 0.0) - a.measured.get(name, 0.0)
            ea = a.estimated.get(name, (0.0, 0.0, 0.0))
            eb = b.estimated.get(name, (0.0, 0.0, 0.0))
            e, lo, hi = (eb[i] - ea[i] for i in range(3))
            source = b.sources.get(name)
            if source is None and m == 0 and e == 0:
                continue
            uses_estimate = e > 0 or (source or "").startswith("estimate")
            method = "estimated" if uses_estimate else "measured"
            comps[name] = ComponentEnergy(m + e, m + lo, m + hi, method, source or "")
        return cls(
            start=a.wall,
            duration_s=max(0.0, b.time - a.time),
            cpu_seconds=max(0.0, b.cpu_seconds - a.cpu_seconds),
            components=comps,
            factor=factor,
            pue=pue,
            events=tuple(events),
        )

    @classmethod
    def zero(cls, factor: EmissionFactor, pue: float, start: float = 0.0) -> Footprint:
        return cls(start, 0.0, 0.0, {}, factor, pue, n_intervals=0)

    def __add__(self, other: Footprint) -> Footprint:
        if not isinstance(other, Footprint):
            return NotImplemented
        if other.n_intervals == 0:
            return self
        if self.n_intervals == 0:
            return other
        comps = dict(self.components)
        for name, c in other.components.items():
            comps[name] = comps[name] + c if name in comps else c
        return Footprint(
            start=min(self.start, other.start),
            duration_s=self.duration_s + other.duration_s,
            cpu_seconds=self.cpu_seconds + other.cpu_seconds,
            components=comps,
            factor=self.factor,
            pue=self.pue,
            n_intervals=self.n_intervals + other.n_intervals,
            events=tuple(dict.fromkeys(self.events + other.events)),
        )

    # ------------------------------------------------------------------ totals
    @property
    def energy_j(self) -> float:
        return sum(c.joules for c in self.components.values())

    @property
    def energy_low_j(self) -> float:
        return sum(c.low for c in self.components.values())

    @property
    def energy_high_j(self) -> float:
        return sum(c.high for c in self.components.values())

    @property
    def energy_kwh(self) -> float:
        """IT energy (what the hardware drew), kWh."""
        return self.energy_j / J_PER_KWH

    @property
    def facility_kwh(self) -> float:
        """Energy including the facility overhead: ``energy_kwh × pue``."""
        return self.energy_kwh * self.pue

    def _co2(self, joules: float) -> float:
        return co2e_grams(joules, self.pue, self.factor)

    @property
    def co2e_g(self) -> float:
        return self._co2(self.energy_j)

    @property
    def co2e_low_g(self) -> float:
        return self._co2(self.energy_low_j)

    @property
    def co2e_high_g(self) -> float:
        return self._co2(self.energy_high_j)

    @property
    def method(self) -> str:
        """``measured`` when every component was measured, else ``estimated``."""
        if self.components and all(c.method == "measured" for c in self.components.values()):
            return "measured"
        return "estimated"

    @property
    def sources(self) -> dict[str, str]:
        return {name: c.source for name, c in self.components.items()}

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    def with_factor(self, factor: EmissionFactor, pue: float | None = None) -> Footprint:
        """The same energy priced with another factor (and PUE)."""
        return Footprint(
            self.start, self.duration_s, self.cpu_seconds, self.components, factor,
            self.pue if pue is None else pue, self.n_intervals, self.events,
        )

    def equivalents(self) -> dict[str, float]:
        return equivalents(self.co2e_g, self.energy_kwh * self.pue)

    # ------------------------------------------------------------------ views
    def as_dict(self) -> dict[str, Any]:
        """Flat JSON-safe dict (one ledger row's worth of columns)."""
        out: dict[str, Any] = {
            "start": _dt.datetime.fromtimestamp(self.start, _dt.UTC).isoformat(timespec="milliseconds"),
            "duration_s": self.duration_s,
            "cpu_s": self.cpu_seconds,
        }
        for name in COMPONENTS:
            c = self.components.get(name)
            out[f"energy_{name}_j"] = c.joules if c else 0.0
        out.update(
            energy_j=self.energy_j,
            energy_low_j=self.energy_low_j,
            energy_high_j=self.energy_high_j,
            co2e_g=self.co2e_g,
            co2e_low_g=self.co2e_low_g,
            co2e_high_g=self.co2e_high_g,
            method=self.method,
            methods=";".join(f"{n}={c.method}" for n, c in self.components.items()),
            intensity_g_per_kwh=self.factor.g_per_kwh,
            pue=self.pue,
            region=self.factor.region,
            factor_source=self.factor.source,
            factor_year=self.factor.year,
        )
        return out

    def line(self) -> str:
        """One line: energy, CO2e, method and range."""
        rng = ""
        if self.co2e_high_g > self.co2e_low_g:
            rng = f" (range {format_mass(self.co2e_low_g)}–{format_mass(self.co2e_high_g)})"
        return (
            f"{format_energy(self.energy_j)}, {format_mass(self.co2e_g)} CO2e{rng} "
            f"[{self.method}] over {self.duration_s:.3g} s at {self.factor.g_per_kwh:.0f} gCO2e/kWh "
            f"({self.factor.region}), PUE {self.pue:g}"
        )

    def __str__(self) -> str:
        return f"Footprint: {self.line()}"

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={format_energy(c.joules)} {c.method}" for n, c in self.components.items())
        return f"<Footprint {self.line()}; {parts}>"

    def _repr_markdown_(self) -> str:
        rows = "\n".join(
            f"| {n} | {format_energy(c.joules)} | {format_energy(c.low)}–{format_energy(c.high)} | {c.method} | {c.source} |"
            for n, c in self.components.items()
        )
        eq = self.equivalents()
        return (
            f"**Footprint** — {self.line()}\n\n"
            f"≈ {eq['km_by_car']:.3g} km by car, {eq['phone_charges']:.3g} phone charges\n\n"
            "| component | energy | range | method | source |\n|---|---|---|---|---|\n" + rows
        )
