"""Data-parallel training across Dask workers with ``torch.distributed`` (DDP).

One long task is pinned to each of ``n_workers`` Dask workers; task ``rank`` joins a process
group (``gloo`` on CPU, ``nccl`` on CUDA) rendezvousing at a free port on the first worker's
host, wraps the model in ``DistributedDataParallel`` and trains on its shard of the stream's
partitions with the same :func:`mlkit.deep.fit` loop. Every rank runs the same number of
steps (the minimum over ranks, agreed with an all-reduce) so no rank waits forever for a
gradient all-reduce. The same call uses a laptop's LocalCluster or a GPU cluster unchanged.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .model import TabularMLP
from .streaming import ParquetStream

__all__ = ["DistributedResult", "fit_distributed", "parameter_digest"]


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes (identical models give identical digests)."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def _rank_main(rank: int, world: int, master: str, port: int, backend: str, config: dict[str, Any],
               stream: ParquetStream, fit_kwargs: dict[str, Any], seed: int, threads: int) -> dict[str, Any]:
    import datetime

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from .train import fit

    torch.set_num_threads(max(1, threads))
    dist.init_process_group(backend, init_method=f"tcp://{master}:{port}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=300))
    try:
        if backend == "nccl":
            local = rank % torch.cuda.device_count()
            torch.cuda.set_device(local)
            dev = torch.device("cuda", local)
        else:
            dev = torch.device("cpu")
        torch.manual_seed(seed)
        model = TabularMLP.from_config(config).to(dev)
        ddp = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
        shard = stream.shard(rank, world)
        steps = torch.tensor([shard.n_batches(0)], device=dev)
        dist.all_reduce(steps, op=dist.ReduceOp.MIN)
        if int(steps) == 0:
            raise ValueError(f"rank {rank}: a shard has no full batch; use fewer workers or smaller batches")
        t = time.perf_counter()
        res = fit(ddp, shard, device=dev, max_steps_per_epoch=int(steps), num_workers=0, seed=seed,
                  progress=False, carbon=False, **fit_kwargs)
        seconds = time.perf_counter() - t
        out = {"rank": rank, "host": socket.gethostname(), "rows": res.rows_seen, "seconds": seconds,
               "steps_per_epoch": int(steps), "digest": parameter_digest(model), "history": res.history,
               "device": str(dev)}
        if rank == 0:
            out["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return out
    finally:
        dist.destroy_process_group()


@dataclass
class DistributedResult:
    """What :func:`fit_distributed` did, per rank and in total."""

    n_workers: int
    backend: str
    seconds: float  # wall time of the slowest rank's training
    rows: int  # rows processed, all ranks together
    ranks: list[dict[str, Any]] = field(default_factory=list)
    model: TabularMLP | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def identical_parameters(self) -> bool:
        return len({r["digest"] for r in self.ranks}) == 1

    def as_dict(self) -> dict[str, Any]:
        return {"n_workers": self.n_workers, "backend": self.backend, "seconds": self.seconds, "rows": self.rows,
                "rows_per_s": self.rows_per_s, "identical_parameters": self.identical_parameters,
                "ranks": [{k: v for k, v in r.items() if k not in {"state_dict", "history"}} for r in self.ranks]}


def fit_distributed(config: dict[str, Any], stream: ParquetStream, *, client=None, n_workers: int | None = None,
                    backend: str | None = None, seed: int = 0, **fit_kwargs: Any) -> DistributedResult:
    """Train ``TabularMLP.from_config(config)`` with DDP, one rank per Dask worker.

    Parameters
    ----------
    config : the model's :attr:`~mlkit.deep.model.TabularMLP.config`.
    stream : the training stream; each rank reads ``stream.shard(rank, n_workers)``.
    client : Dask client (default :func:`mlkit.compute.client`).
    n_workers : ranks (default: every worker of the cluster).
    backend : ``"gloo"`` (CPU) or ``"nccl"`` (CUDA); default ``nccl`` when the workers see a GPU.
    fit_kwargs : passed to :func:`mlkit.deep.fit` (``epochs``, ``lr``, ``amp``, ``accumulation_steps``...);
        no validation/early stopping inside DDP: evaluate ``result.model`` afterwards.
    """
    if client is None:
        from mlkit.compute import client as _client

        client = _client()
    for bad in ("valid", "patience", "device", "num_workers", "max_steps_per_epoch", "model"):
        if bad in fit_kwargs:
            raise ValueError(f"fit_distributed: {bad}= is not supported (each rank chooses it)")
    workers = sorted(client.scheduler_info()["workers"].items())
    n = n_workers or len(workers)
    if n < 1 or n > len(workers):
        raise ValueError(f"n_workers={n_workers} but the cluster has {len(workers)} worker(s)")
    chosen = workers[:n]
    if backend is None:
        has_gpu = client.run(lambda: torch.cuda.is_available(), workers=[chosen[0][0]])
        backend = "nccl" if next(iter(has_gpu.values())) else "gloo"
    if backend not in {"gloo", "nccl"}:
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    first_addr, first = chosen[0]
    master = first.get("host") or first_addr.split("://")[-1].rsplit(":", 1)[0]
    port = next(iter(client.run(_free_port, workers=[first_addr]).values()))
    token = uuid.uuid4().hex[:8]
    futures = [
        client.submit(_rank_main, rank, n, master, port, backend, dict(config), stream, fit_kwargs, seed,
                      int(w.get("nthreads") or 1), workers=[addr], allow_other_workers=False, pure=False,
                      key=f"ddp-rank-{rank}-{token}")
        for rank, (addr, w) in enumerate(chosen)
    ]
    try:
        ranks = client.gather(futures)
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    ranks = sorted(ranks, key=lambda r: r["rank"])
    model = TabularMLP.from_config(config)
    model.load_state_dict(ranks[0]["state_dict"])
    return DistributedResult(
        n_workers=n, backend=backend, seconds=float(np.max([r["seconds"] for r in ranks])),
        rows=int(sum(r["rows"] for r in ranks)), ranks=ranks, model=model,
    )
