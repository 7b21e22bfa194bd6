"""The notebook manifest: every notebook and report, its profiles, and what it must record.

``notebooks/manifest.yaml`` looks like::

    notebooks:
      - path: notebooks/00_setup_and_compute.ipynb
        profiles: [smoke, ci, workshop, full]
        timeout: 600                 # per cell, seconds (optional)
        expect:                      # checked in every profile
          n_workers: {min: 1}
          pi_estimate: {approx: 3.14159, abs: 0.05}
          device_kind: {in: [cpu, cuda]}
        expect_by_profile:           # extra checks for one profile (optional)
          ci: {n_samples: 2000000}
    reports:
      - path: reports/environment.ipynb
        parameters: {TITLE: "..."}   # used by tests and the demo (optional)
        expect: {...}

An expectation is a literal (must be equal) or a mapping with any of:
``equals``, ``approx`` (with ``rel`` and/or ``abs``), ``min``, ``max``, ``in``,
``type`` (int, float, number, str, bool, list, dict), ``contains``, ``len``, ``min_len``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .paths import notebooks_dir
from .profiles import PROFILES

__all__ = ["ManifestEntry", "ManifestError", "check_expectations", "load_manifest"]

_KEYS = {"equals", "approx", "rel", "abs", "min", "max", "in", "type", "contains", "len", "min_len"}
_TYPES = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
}


class ManifestError(ValueError):
    """The manifest is malformed."""


@dataclass
class ManifestEntry:
    """One notebook or report in the manifest."""

    path: Path
    kind: str  # "notebook" or "report"
    profiles: list[str]
    timeout: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    expect_by_profile: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.stem

    def expectations(self, profile: str | None) -> dict[str, Any]:
        merged = dict(self.expect)
        if profile is not None:
            merged.update(self.expect_by_profile.get(profile, {}))
        return merged


def _entry(raw: Any, kind: str, root: Path, where: str) -> ManifestEntry:
    if not isinstance(raw, dict) or "path" not in raw:
        raise ManifestError(f"{where}: each entry needs a 'path', got {raw!r}")
    unknown = set(raw) - {"path", "profiles", "timeout", "parameters", "expect", "expect_by_profile", "title"}
    if unknown:
        raise ManifestError(f"{where} {raw['path']}: unknown keys {sorted(unknown)}")
    profiles = list(raw.get("profiles", PROFILES))
    bad = [p for p in profiles if p not in PROFILES]
    if bad:
        raise ManifestError(f"{where} {raw['path']}: unknown profiles {bad}; expected {PROFILES}")
    by_profile = raw.get("expect_by_profile") or {}
    bad = [p for p in by_profile if p not in PROFILES]
    if bad:
        raise ManifestError(f"{where} {raw['path']}: expect_by_profile has unknown profiles {bad}")
    for name, spec in {**(raw.get("expect") or {}), **{k: v for d in by_profile.values() for k, v in d.items()}}.items():
        if isinstance(spec, dict):
            extra = set(spec) - _KEYS
            if extra:
                raise ManifestError(f"{where} {raw['path']}: expectation {name} has unknown keys {sorted(extra)}")
            if "type" in spec and spec["type"] not in _TYPES:
                raise ManifestError(f"{where} {raw['path']}: expectation {name} has unknown type {spec['type']!r}")
    return ManifestEntry(
        path=(root / raw["path"]).resolve(),
        kind=kind,
        profiles=profiles,
        timeout=raw.get("timeout"),
        parameters=dict(raw.get("parameters") or {}),
        expect=dict(raw.get("expect") or {}),
        expect_by_profile={k: dict(v or {}) for k, v in by_profile.items()},
    )


def load_manifest(path: str | Path | None = None) -> list[ManifestEntry]:
    """Read the manifest (default ``notebooks/manifest.yaml``); notebooks first, then reports."""
    path = Path(path) if path is not None else notebooks_dir() / "manifest.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist")
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ManifestError(f"manifest {path}: expected a mapping with 'notebooks' and 'reports'")
    # Paths in the manifest are relative to the project root (the folder above notebooks/).
    root = path.parent.parent if path.parent.name == "notebooks" else path.parent
    entries = [_entry(e, "notebook", root, "notebooks") for e in raw.get("notebooks") or []]
    entries += [_entry(e, "report", root, "reports") for e in raw.get("reports") or []]
    seen: set[Path] = set()
    for e in entries:
        if e.path in seen:
            raise ManifestError(f"manifest {path}: {e.path} is listed twice")
        seen.add(e.path)
    return entries


def _check_one(name: str, value: Any, spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        spec = {"equals": spec}
    problems = []
    if "type" in spec and not _TYPES[spec["type"]](value):
        problems.append(f"{name}: expected type {spec['type']}, got {type(value).__name__} {value!r}")
        return problems
    if "equals" in spec and value != spec["equals"]:
        problems.append(f"{name}: expected {spec['equals']!r}, got {value!r}")
    if "approx" in spec:
        target = spec["approx"]
        rel = spec.get("rel", 0.0 if "abs" in spec else 1e-6)
        tol = max(spec.get("abs", 0.0), rel * abs(target))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(f"{name}: expected a number near {target}, got {value!r}")
        elif abs(value - target) > tol:
            problems.append(f"{name}: expected {target} ± {tol:g}, got {value!r}")
    for bound, ok in (("min", lambda v, b: v >= b), ("max", lambda v, b: v <= b)):
        if bound in spec:
            try:
                if not ok(value, spec[bound]):
                    problems.append(f"{name}: expected {bound} {spec[bound]!r}, got {value!r}")
            except TypeError:
                problems.append(f"{name}: cannot compare {value!r} with {bound} {spec[bound]!r}")
    if "in" in spec and value not in spec["in"]:
        problems.append(f"{name}: expected one of {spec['in']!r}, got {value!r}")
    if "contains" in spec:
        try:
            if spec["contains"] not in value:
                problems.append(f"{name}: expected to contain {spec['contains']!r}, got {value!r}")
        except TypeError:
            problems.append(f"{name}: cannot look for {spec['contains']!r} in {value!r}")
    for key, ok in (("len", lambda n, b: n == b), ("min_len", lambda n, b: n >= b)):
        if key in spec:
            if not hasattr(value, "__len__"):
                problems.append(f"{name}: expected a sized value for {key}, got {value!r}")
            elif not ok(len(value), spec[key]):
                problems.append(f"{name}: expected {key} {spec[key]}, got length {len(value)}")
    return problems


def check_expectations(records: dict[str, Any], expect: dict[str, Any]) -> list[str]:
    """Every way ``records`` misses ``expect``; an empty list means all hold."""
    problems = []
    for name, spec in expect.items():
        if name not in records:
            problems.append(f"{name}: not recorded (recorded: {', '.join(sorted(records)) or 'nothing'})")
            continue
        problems.extend(_check_one(name, records[name], spec))
    return problems
