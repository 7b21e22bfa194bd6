"""The environment report behind ``mlkit info``: versions, cores, memory, GPU, cluster, paths."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from . import __version__
from .compute import SCHEDULER_ENV, _local_cluster_shape, device, machine_resources
from .paths import build_dir, data_dir, notebooks_dir, project_root, reports_dir, scratch_dir

__all__ = ["PACKAGES", "environment_report", "format_report"]

PACKAGES = (
    "pandas", "numpy", "pyarrow", "dask", "distributed", "xgboost", "torch", "shap",
    "scikit-learn", "fairlearn", "imbalanced-learn", "codecarbon", "plotly", "ipywidgets",
    "jupyterlab", "papermill", "nbconvert",
)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _kernel_path() -> str | None:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return KernelSpecManager().find_kernel_specs().get("python3")
    except Exception:  # noqa: BLE001 - a broken Jupyter install is reported as missing
        return None


def environment_report(start_cluster: bool = True) -> dict[str, Any]:
    """Everything ``mlkit info`` prints, as a dict.

    With ``start_cluster`` the session's Dask client is started (or connected) and
    described; otherwise the local cluster's planned shape is given.
    """
    res = machine_resources()
    dev = device()
    report: dict[str, Any] = {
        "mlkit": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in PACKAGES},
        "cpu": {
            "model": _cpu_model(),
            "logical_cores": res["logical_cores"],
            "usable_cores": res["usable_cores"],
        },
        "memory": {
            "total_gib": round(res["memory_total"] / 2**30, 2),
            "available_gib": round(res["memory_available"] / 2**30, 2),
            "cgroup_limit_gib": round(res["cgroup_memory_limit"] / 2**30, 2) if res["cgroup_memory_limit"] else None,
        },
        "device": dev.as_dict(),
        "paths": {
            "project": str(project_root()),
            "bundled_data": str(data_dir()),
            "notebooks": str(notebooks_dir()),
            "reports": str(reports_dir()),
            "outputs": str(build_dir()),
            "scratch": str(scratch_dir()),
            "kernel_python3": _kernel_path(),
        },
    }
    scheduler = os.environ.get(SCHEDULER_ENV)
    if start_cluster:
        from .compute import client, cluster_info

        report["cluster"] = cluster_info(client()).as_dict()
    else:
        n, threads, mem = _local_cluster_shape(res)
        report["cluster"] = {
            "kind": "external (not contacted)" if scheduler else "local (not started)",
            "scheduler_address": scheduler,
            "n_workers": None if scheduler else n,
            "total_threads": None if scheduler else n * threads,
            "total_memory": None if scheduler else n * mem,
        }
    return report


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gib(n: Any) -> str:
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) and n else "?"


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text for :func:`environment_report`."""
    lines = [f"mlkit-suite {report['mlkit']}  ·  Python {report['python']} ({report['executable']})"]
    lines.append(f"platform     {report['platform']}")
    cpu, mem = report["cpu"], report["memory"]
    lines.append(f"cpu          {cpu['model']}: {cpu['usable_cores']} usable of {cpu['logical_cores']} logical cores")
    limit = f", cgroup limit {mem['cgroup_limit_gib']} GiB" if mem["cgroup_limit_gib"] else ""
    lines.append(f"memory       {mem['total_gib']} GiB total, {mem['available_gib']} GiB available{limit}")
    dev = report["device"]
    if dev["gpu_count"]:
        gpus = "; ".join(f"{n} ({_gib(m)})" for n, m in zip(dev["gpu_names"], dev["gpu_memory"]))
        lines.append(f"gpu          {dev['gpu_count']} CUDA: {gpus}")
    else:
        lines.append(f"gpu          none ({dev['reason']}; torch {dev['torch_version']}, CUDA build {dev['cuda_version']})")
    lines.append(
        f"device       {dev['kind']}  ->  xgboost {dev['xgboost_params']}, torch device '{dev['torch_device']}', "
        f"autocast {dev['torch_amp_dtype']}"
    )
    cl = report["cluster"]
    if cl.get("n_workers") is not None:
        desc = f"{cl['n_workers']} workers, {cl['total_threads']} threads, {_gib(cl['total_memory'])}"
    else:
        desc = "size unknown until contacted"
    where = f" at {cl['scheduler_address']}" if cl.get("scheduler_address") else ""
    dash = f", dashboard {cl['dashboard_link']}" if cl.get("dashboard_link") else ""
    lines.append(f"cluster      {cl['kind']}{where}: {desc}{dash}")
    lines.append("packages     " + ", ".join(f"{k} {v or 'MISSING'}" for k, v in report["packages"].items()))
    for key, value in report["paths"].items():
        lines.append(f"{'path ' + key:<22} {value}")
    return "\n".join(lines)
