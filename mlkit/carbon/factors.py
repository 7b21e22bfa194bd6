"""Emission factors: grid carbon intensity by region, and PUE.

Offline data only, read from the installed codecarbon package (never its network
paths):

* countries: ``data/private_infra/global_energy_mix.json`` (Our World in Data /
  Ember energy mix, ``carbon_intensity`` in gCO2e/kWh, year in each record),
  by ISO 3166-1 alpha-3 code (``"FRA"``) or country name (``"France"``);
* US states: ``data/private_infra/2023/usa_emissions.json`` (EPA eGRID2023, lb/MWh,
  converted here at 453.59237 g/lb), as ``"USA/CA"`` or ``"USA/california"``;
* Google Cloud regions: ``data/cloud/impact.csv``, as ``"gcp:europe-west1"``;
* ``"world"``: 475 gCO2e/kWh (IEA Global Energy & CO2 Status Report 2019, the
  world average codecarbon ships in ``carbon_intensity_per_source.json``).

A user-set factor (``EmissionFactor.user(g_per_kwh, ...)``) works anywhere.
Every ledger stores the factor's value, source and year, so CO2e can be
recomputed later with a better factor.
"""

from __future__ import annotations

import csv
import difflib
import functools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_PUE",
    "PUE_DATACENTER_AVERAGE",
    "WORLD_AVERAGE_G_PER_KWH",
    "EmissionFactor",
    "UnknownRegionError",
    "grid_intensity",
    "regions",
    "resolve_factor",
]

REGION_ENV = "MLKIT_CARBON_REGION"
LB_TO_G = 453.59237
#: IEA Global Energy & CO2 Status Report 2019, as bundled by codecarbon.
WORLD_AVERAGE_G_PER_KWH = 475.0
#: PUE of a machine under a desk or in a notebook server with no data-centre overhead
#: counted (codecarbon's default too). Pass ``pue=`` for a data centre.
DEFAULT_PUE = 1.0
#: Average data-centre PUE, Uptime Institute 2019 survey (Green Algorithms' default).
PUE_DATACENTER_AVERAGE = 1.67


class UnknownRegionError(ValueError):
    """A region code or name that is not in the offline tables."""


@dataclass(frozen=True)
class EmissionFactor:
    """Grid carbon intensity (gCO2e per kWh) and where it came from."""

    g_per_kwh: float
    region: str
    name: str
    source: str
    year: int | None

    @classmethod
    def user(cls, g_per_kwh: float, *, region: str = "user", source: str = "user-set", year: int | None = None):
        """A factor set by the user (e.g. from the utility bill or a live feed)."""
        g = float(g_per_kwh)
        if not g >= 0:
            raise ValueError(f"carbon intensity must be >= 0 gCO2e/kWh, got {g_per_kwh!r}")
        return cls(g, region, region, source, year)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _codecarbon_data() -> Path:
    import codecarbon

    return Path(codecarbon.__file__).parent / "data"


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, EmissionFactor]:
    """Every known region key (upper-cased) -> factor."""
    data = _codecarbon_data()
    out: dict[str, EmissionFactor] = {}
    out["WORLD"] = EmissionFactor(
        WORLD_AVERAGE_G_PER_KWH, "world", "World average",
        "IEA Global Energy & CO2 Status Report 2019 (codecarbon carbon_intensity_per_source.json)", 2019,
    )
    mix = json.loads((data / "private_infra" / "global_energy_mix.json").read_text())
    for code, rec in mix.items():
        if rec.get("carbon_intensity") is None:
            continue
        f = EmissionFactor(
            float(rec["carbon_intensity"]), code, rec.get("country_name", code),
            "codecarbon global_energy_mix.json (Our World in Data / Ember)", rec.get("year"),
        )
        out[code.upper()] = f
        out[str(rec.get("country_name", code)).upper()] = f
    usa = json.loads((data / "private_infra" / "2023" / "usa_emissions.json").read_text())
    meta = usa.get("_source", {})
    for state, rec in usa.items():
        if state.startswith("_"):
            continue
        g = float(rec["emissions"]) * LB_TO_G / 1000.0  # lb/MWh -> g/kWh
        f = EmissionFactor(
            g, f"USA/{rec['regionCode']}", f"USA, {state.title()}",
            f"codecarbon usa_emissions.json ({meta.get('name', 'EPA eGRID')})", meta.get("year"),
        )
        out[f"USA/{rec['regionCode']}".upper()] = f
        out[f"USA/{state}".upper()] = f
    with open(data / "cloud" / "impact.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            key = f"{row['provider']}:{row['region']}"
            out[key.upper()] = EmissionFactor(
                float(row["impact"]), key, f"{row['providerName']} {row['region']} ({row.get('city') or row.get('country_name')})",
                f"codecarbon cloud/impact.csv ({row.get('source', '')})", None,
            )
    return out


def close_matches(word: str, choices: list[str], n: int = 5) -> list[str]:
    """Up to ``n`` entries of ``choices`` that look like ``word`` (case-insensitive)."""
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    if len(hits) < n:  # substring hits help with short codes ("FR" -> "FRA", "france")
        hits += [k for k in lowered if word.lower() in k and k not in hits][: n - len(hits)]
    return [lowered[h] for h in hits]


def regions() -> list[str]:
    """Region codes accepted by :func:`grid_intensity` (countries, US states, GCP regions)."""
    return sorted({f.region for f in _table().values()})


def grid_intensity(region: str) -> EmissionFactor:
    """The grid carbon intensity for ``region``, from codecarbon's offline data.

    Parameters
    ----------
    region : str
        ISO alpha-3 country code (``"FRA"``) or name (``"France"``), ``"USA/CA"``,
        ``"gcp:europe-west1"`` or ``"world"``. Case-insensitive.

    Raises
    ------
    UnknownRegionError
        Naming the region and listing close matches.
    """
    if not isinstance(region, str) or not region.strip():
        raise UnknownRegionError(f"region must be a non-empty string such as 'FRA', got {region!r}")
    key = region.strip().upper().replace("-", "/") if region.upper().startswith("USA-") else region.strip().upper()
    table = _table()
    if key in table:
        return table[key]
    names = sorted({f.region for f in table.values()} | {f.name for f in table.values() if "," not in f.name})
    hints = close_matches(region.strip(), names)
    hint = f"; did you mean {', '.join(repr(h) for h in hints)}?" if hints else ""
    raise UnknownRegionError(
        f"unknown region {region!r}: expected an ISO 3166 alpha-3 country code ('FRA'), a country "
        f"name, 'USA/<state code>', 'gcp:<region>' or 'world'{hint}"
    )


def resolve_factor(region: str | None = None, intensity: float | EmissionFactor | None = None) -> EmissionFactor:
    """The factor to use: explicit intensity, else ``region``, else ``$MLKIT_CARBON_REGION``, else world."""
    if isinstance(intensity, EmissionFactor):
        return intensity
    if intensity is not None:
        return EmissionFactor.user(intensity, region=region or "user")
    region = region or os.environ.get(REGION_ENV) or "world"
    return grid_intensity(region)


def check_pue(pue: float) -> float:
    """Validate a PUE (>= 1)."""
    try:
        value = float(pue)
    except (TypeError, ValueError):
        raise ValueError(f"pue must be a number >= 1, got {pue!r}") from None
    if not value >= 1.0:
        raise ValueError(f"pue (power usage effectiveness) must be >= 1, got {pue!r}")
    return value
