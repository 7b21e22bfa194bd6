"""The compute layer: one Dask client per session, and the device to train on.

``client()`` starts (once) a ``LocalCluster`` sized to this machine, or connects
to an existing scheduler named by ``address`` or ``$MLKIT_SCHEDULER``. A named
scheduler that does not answer is an error naming it, never a silent fallback.
``device()`` reports CPU/GPU and the matching xgboost and torch settings.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

__all__ = [
    "ClusterInfo",
    "DeviceInfo",
    "SchedulerUnreachableError",
    "client",
    "cluster_info",
    "current_client",
    "device",
    "machine_resources",
    "shutdown",
    "tree_reduce",
]

SCHEDULER_ENV = "MLKIT_SCHEDULER"
DEVICE_ENV = "MLKIT_DEVICE"
CONNECT_TIMEOUT_ENV = "MLKIT_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 15.0

_lock = threading.RLock()
_client = None  # the distributed.Client this module owns or connected
_cluster = None  # the LocalCluster this module started, if any
_address: str | None = None  # the address the cached client was asked for


class SchedulerUnreachableError(ConnectionError):
    """A named Dask scheduler did not answer."""


# --------------------------------------------------------------------------- machine


def _cgroup_cpu_limit() -> float | None:
    """CPUs allowed by the cgroup quota (containers), or None if unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
            period_us = int(fh.read())
        if quota_us > 0:
            return quota_us / period_us
    except (OSError, ValueError):
        pass
    return None


def _cgroup_memory_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                raw = fh.read().strip()
            if raw != "max" and int(raw) < (1 << 60):
                return int(raw)
        except (OSError, ValueError):
            continue
    return None


def machine_resources() -> dict[str, Any]:
    """Cores and memory this process may really use (cgroup- and affinity-aware)."""
    logical = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = logical
    quota = _cgroup_cpu_limit()
    if quota is not None:
        usable = max(1, min(usable, int(quota)))
    vm = psutil.virtual_memory()
    limit = _cgroup_memory_limit()
    total = min(vm.total, limit) if limit else vm.total
    return {
        "logical_cores": logical,
        "usable_cores": usable,
        "memory_total": int(total),
        "memory_available": int(min(vm.available, total)),
        "cgroup_memory_limit": limit,
    }


def _local_cluster_shape(resources: dict[str, Any]) -> tuple[int, int, int]:
    """(n_workers, threads_per_worker, memory_limit bytes) for this machine.

    Worker processes sidestep the GIL for pandas work; beyond 8 cores, two
    threads per worker keeps the per-worker memory share useful.
    """
    cores = resources["usable_cores"]
    threads = 1 if cores <= 8 else 2
    n_workers = max(1, cores // threads)
    # Leave a fifth of memory to the client (the notebook kernel) and the OS.
    memory_limit = int(resources["memory_total"] * 0.8 / n_workers)
    return n_workers, threads, memory_limit


# --------------------------------------------------------------------------- client


def _normalise_address(address: str) -> str:
    address = address.strip()
    if not address:
        raise ValueError("scheduler address is empty; expected e.g. 'tcp://10.0.0.5:8786'")
    if "://" not in address:
        address = "tcp://" + address
    if not re.match(r"^[a-z]+://[^/\s]+:\d+$", address) and not address.startswith("inproc://"):
        raise ValueError(
            f"scheduler address {address!r} is not of the form 'tcp://HOST:PORT' "
            f"(from the address argument or ${SCHEDULER_ENV})"
        )
    return address


def _connect_timeout() -> float:
    raw = os.environ.get(CONNECT_TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_CONNECT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${CONNECT_TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= 300:
        raise ValueError(f"${CONNECT_TIMEOUT_ENV} must be in (0, 300] seconds, got {value}")
    return value


def _alive(c) -> bool:
    return c is not None and getattr(c, "status", None) == "running"


def client(address: str | None = None, *, timeout: float | None = None):
    """Return the session's Dask ``distributed.Client``.

    Parameters
    ----------
    address : str, optional
        Scheduler to connect to (``tcp://host:port``). Defaults to ``$MLKIT_SCHEDULER``;
        when neither is set, a ``LocalCluster`` sized to this machine is started once
        (dashboard on 127.0.0.1 only) and reused by later calls.
    timeout : float, optional
        Seconds to wait for a named scheduler (default ``$MLKIT_CONNECT_TIMEOUT`` or 15).

    Raises
    ------
    SchedulerUnreachableError
        When a named scheduler does not answer within ``timeout``.
    """
    global _client, _cluster, _address
    from distributed import Client, LocalCluster

    requested = address if address is not None else os.environ.get(SCHEDULER_ENV) or None
    if requested is not None:
        requested = _normalise_address(requested)
    with _lock:
        if _alive(_client) and (requested is None or requested == _address):
            return _client
        if requested is None and _client is None:
            # A client the user made themselves (e.g. dask_cuda, a cloud cluster) wins.
            try:
                existing = Client.current(allow_global=True)
            except ValueError:
                existing = None
            if _alive(existing):
                return existing
        if requested is not None:
            wait = timeout if timeout is not None else _connect_timeout()
            try:
                # Connect before letting go of the current client: a failed connect
                # must leave the session as it was.
                connected = Client(requested, timeout=wait, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise SchedulerUnreachableError(
                    f"Dask scheduler at {requested} did not answer within {wait:g} s "
                    f"({type(exc).__name__}: {exc}). Check that the scheduler is running and "
                    f"reachable, or unset ${SCHEDULER_ENV} to use the embedded local cluster."
                ) from exc
            _close_owned()
            _make_default(connected)
            _client, _address = connected, requested
            return _client
        _close_owned()
        n_workers, threads, memory_limit = _local_cluster_shape(machine_resources())
        _cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads,
            memory_limit=memory_limit,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=40,  # logging.ERROR: keep notebooks readable
        )
        _client = Client(_cluster, set_as_default=True)
        _address = None
        return _client


def current_client():
    """The default distributed Client if one is set (e.g. by :func:`client`), else None:
    work then runs on Dask's local schedulers, without futures or progress bars."""
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def tree_reduce(parts: list, merge, *, desc: str, progress: bool = True, fan_in: int = 8):
    """Combine delayed per-partition results with ``merge(*results)`` (associative).

    With a distributed client: merged in groups of ``fan_in`` on the cluster, followed with a
    progress bar, then merged here. Otherwise (or when the caller chose a scheduler with
    ``dask.config.set(scheduler=...)``) one merge tree on Dask's local scheduler.
    """
    import dask

    def tree(items: list):
        node = dask.delayed(merge, pure=True)
        while len(items) > 1:
            items = [node(*items[i : i + fan_in]) for i in range(0, len(items), fan_in)]
        return items[0]

    c = current_client()
    chosen = dask.config.get("scheduler", None)
    if c is None or len(parts) <= fan_in or chosen not in (None, "dask.distributed", "distributed"):
        (out,) = dask.compute(tree(parts))
        return out
    from .progress import track_futures

    futures = c.compute([tree(parts[i : i + fan_in]) for i in range(0, len(parts), fan_in)])
    label = f"{desc}: {len(parts)} partitions in groups of {fan_in}"
    return merge(*(track_futures(futures, desc=label) if progress else c.gather(futures)))


def _make_default(c) -> None:
    """What ``Client(set_as_default=True)`` does, applied after the connection succeeded."""
    import dask
    from distributed.client import _set_global_client

    _set_global_client(c)
    dask.config.set(scheduler="dask.distributed")


def _close_owned() -> None:
    global _client, _cluster, _address
    # Closing a dead client or cluster must not mask the error that brought us here.
    if _client is not None:
        with contextlib.suppress(Exception):
            _client.close()
    if _cluster is not None:
        with contextlib.suppress(Exception):
            _cluster.close()
    _client = _cluster = _address = None


def shutdown() -> None:
    """Close the client and the local cluster this module started."""
    with _lock:
        _close_owned()


atexit.register(shutdown)


@dataclass
class ClusterInfo:
    """What a Dask client is connected to."""

    kind: str  # "local" (started by mlkit), "external", or "user" (a client made by the user)
    scheduler_address: str
    dashboard_link: str | None
    n_workers: int
    total_threads: int
    total_memory: int
    workers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cluster_info(c=None) -> ClusterInfo:
    """Describe the cluster behind ``c`` (default: :func:`client`)."""
    c = c if c is not None else client()
    info = c.scheduler_info()
    workers = [
        {
            "address": addr,
            "host": w.get("host"),
            "nthreads": w.get("nthreads"),
            "memory_limit": w.get("memory_limit"),
        }
        for addr, w in sorted(info.get("workers", {}).items())
    ]
    if c is _client and _cluster is not None:
        kind = "local"
    elif c is _client:
        kind = "external"
    else:
        kind = "user"
    try:
        dashboard = c.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard (bokeh missing) is fine
        dashboard = None
    return ClusterInfo(
        kind=kind,
        scheduler_address=c.scheduler.address,
        dashboard_link=dashboard,
        n_workers=len(workers),
        total_threads=int(sum(w["nthreads"] or 0 for w in workers)),
        total_memory=int(sum(w["memory_limit"] or 0 for w in workers)),
        workers=workers,
    )


# --------------------------------------------------------------------------- device


@dataclass
class DeviceInfo:
    """The accelerator picture and the settings that match it."""

    kind: str  # "cuda" or "cpu"
    cuda_available: bool
    gpu_count: int
    gpu_names: list[str]
    gpu_memory: list[int]  # bytes, per GPU
    torch_version: str | None
    cuda_version: str | None
    reason: str  # why this kind was chosen

    @property
    def xgboost_params(self) -> dict[str, str]:
        """Parameters for ``xgboost`` (3.x) training on this device."""
        return {"device": "cuda" if self.kind == "cuda" else "cpu", "tree_method": "hist"}

    @property
    def torch_device(self) -> str:
        return "cuda" if self.kind == "cuda" else "cpu"

    @property
    def torch_amp_dtype(self) -> str:
        """Mixed-precision dtype for ``torch.autocast``: fp16 on CUDA, bf16 on CPU."""
        return "float16" if self.kind == "cuda" else "bfloat16"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["xgboost_params"] = self.xgboost_params
        out["torch_device"] = self.torch_device
        out["torch_amp_dtype"] = self.torch_amp_dtype
        return out


def device(prefer: str | None = None) -> DeviceInfo:
    """Report CPU/GPU and the matching xgboost and torch settings.

    Parameters
    ----------
    prefer : {"auto", "cpu", "cuda"}, optional
        Default ``$MLKIT_DEVICE`` or ``"auto"`` (CUDA when torch sees a GPU).
    """
    prefer = (prefer or os.environ.get(DEVICE_ENV) or "auto").lower()
    if prefer not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"device preference must be 'auto', 'cpu' or 'cuda', got {prefer!r}")
    names: list[str] = []
    memory: list[int] = []
    torch_version = cuda_version = None
    available = False
    try:
        import torch

        torch_version = torch.__version__
        cuda_version = torch.version.cuda
        available = bool(torch.cuda.is_available())
        if available:
            for i in range(torch.cuda.device_count()):
                props = torch.cuda.get_device_properties(i)
                names.append(props.name)
                memory.append(int(props.total_memory))
    except ImportError:
        pass
    if prefer == "cuda" and not available:
        raise RuntimeError(
            f"CUDA was requested (prefer='cuda' or ${DEVICE_ENV}=cuda) but torch sees no GPU "
            f"(torch {torch_version}, built for CUDA {cuda_version})"
        )
    if prefer == "cpu":
        kind, reason = "cpu", f"CPU requested (${DEVICE_ENV} or prefer='cpu')"
    elif available:
        kind, reason = "cuda", f"{len(names)} CUDA GPU(s) visible to torch"
    else:
        kind, reason = "cpu", "no CUDA GPU visible to torch"
    return DeviceInfo(
        kind=kind,
        cuda_available=available,
        gpu_count=len(names),
        gpu_names=names,
        gpu_memory=memory,
        torch_version=torch_version,
        cuda_version=cuda_version,
        reason=reason,
    )
