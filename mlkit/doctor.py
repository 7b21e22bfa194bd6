"""``mlkit doctor``: check a learner's machine before the workshop and say how to fix it."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from .compute import device, machine_resources
from .paths import build_dir

__all__ = ["Check", "format_checks", "run_checks"]

MIN_CORES = 2
MIN_MEMORY_GIB = 4.0
MIN_DISK_GIB = 2.0


@dataclass
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    found: str
    fix: str = ""


def _requirements() -> list[Requirement]:
    reqs = metadata.requires("mlkit-suite") or []
    return [Requirement(r) for r in reqs if "extra ==" not in r]


def _check_python() -> Check:
    v = sys.version_info
    found = f"{v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if v < (3, 11):
        return Check("Python", "fail", found, "install Python 3.12 and run `make demo` again")
    if v[:2] != (3, 12):
        return Check("Python", "warn", found, "Python 3.12 is the tested version (faster xgboost TreeSHAP)")
    return Check("Python", "ok", found)


def _check_packages() -> Check:
    missing, old = [], []
    for req in _requirements():
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            missing.append(req.name)
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            old.append(f"{req.name} {version} (needs {req.specifier})")
    if missing or old:
        found = "; ".join(filter(None, ["missing: " + ", ".join(missing) if missing else "", ", ".join(old)]))
        return Check("packages", "fail", found, "run `make venv` (or `pip install -e .[test]`) in the suite's folder")
    return Check("packages", "ok", f"{len(_requirements())} requirements satisfied")


def _check_kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception as exc:  # noqa: BLE001 - any failure here means "no usable kernel"
        return Check("Jupyter kernel 'python3'", "fail", f"not found ({exc})",
                     "run `.venv/bin/python -m ipykernel install --sys-prefix --name python3`")
    exe = spec.argv[0]
    same = exe in {"python", "python3"} or Path(exe).resolve().parent == Path(sys.executable).resolve().parent
    if not same:
        return Check("Jupyter kernel 'python3'", "fail", f"runs {exe}, not this environment ({sys.executable})",
                     "run `.venv/bin/python -m ipykernel install --sys-prefix --name python3` so notebooks use the suite")
    return Check("Jupyter kernel 'python3'", "ok", spec.resource_dir)


def _check_frontend() -> Check:
    share = Path(sys.prefix) / "share" / "jupyter" / "labextensions"
    wanted = {"ipywidgets": share / "@jupyter-widgets" / "jupyterlab-manager", "plotly": share / "jupyterlab-plotly"}
    missing = [name for name, path in wanted.items() if not path.is_dir()]
    if missing:
        return Check("JupyterLab widget front end", "fail", "missing extensions for " + ", ".join(missing),
                     "reinstall ipywidgets and plotly in the suite's environment")
    return Check("JupyterLab widget front end", "ok", "ipywidgets and plotly extensions installed")


def _check_data() -> Check:
    try:
        from .data.loaders import BUNDLED_MD5, read_bundled

        for name in BUNDLED_MD5:
            read_bundled(name)
    except Exception as exc:  # noqa: BLE001 - report whatever broke
        return Check("bundled datasets", "fail", str(exc), "reinstall mlkit-suite with its package data")
    return Check("bundled datasets", "ok", f"{len(BUNDLED_MD5)} files, checksums verified")


def _check_machine() -> list[Check]:
    res = machine_resources()
    cores, mem = res["usable_cores"], res["memory_available"] / 2**30
    out = [
        Check("CPU cores", "ok" if cores >= MIN_CORES else "warn", f"{cores} usable",
              "" if cores >= MIN_CORES else "notebooks will run, slowly; use the `ci` profile"),
        Check("memory", "ok" if mem >= MIN_MEMORY_GIB else "fail", f"{mem:.1f} GiB available",
              "" if mem >= MIN_MEMORY_GIB else f"close other programs: {MIN_MEMORY_GIB} GiB free are needed"),
    ]
    target = build_dir()
    probe = target if target.exists() else target.parent
    free = shutil.disk_usage(probe).free / 2**30
    out.append(Check("disk", "ok" if free >= MIN_DISK_GIB else "fail", f"{free:.1f} GiB free at {probe}",
                     "" if free >= MIN_DISK_GIB else "free disk space or set MLKIT_BUILD_DIR / MLKIT_SCRATCH elsewhere"))
    return out


def _check_gpu() -> Check:
    dev = device()
    if dev.gpu_count:
        return Check("GPU", "ok", ", ".join(dev.gpu_names))
    return Check("GPU", "ok", f"none ({dev.reason}); everything runs on the CPU")


def run_checks() -> list[Check]:
    """Every check, in the order a learner should fix them."""
    return [_check_python(), _check_packages(), _check_kernel(), _check_frontend(), _check_data(),
            *_check_machine(), _check_gpu()]


def format_checks(checks: list[Check], as_json: bool = False) -> str:
    if as_json:
        return json.dumps([c.__dict__ for c in checks], indent=2)
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"[{marks[c.status]}] {c.name:<{width}}  {c.found}")
        if c.fix:
            lines.append(f"       {'':<{width}}  fix: {c.fix}")
    failed = sum(c.status == "fail" for c in checks)
    lines.append("ready for the workshop" if not failed else f"{failed} problem(s) to fix before the workshop")
    return "\n".join(lines)
