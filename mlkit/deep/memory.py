"""Measure memory: activations kept for backward, and the peak RSS of the process tree.

Activation memory is measured the way autograd sees it: every tensor that the forward pass
*saves for backward* goes through ``torch.autograd.graph.saved_tensors_hooks``; we add up the
bytes of the distinct storages (parameters excluded, views counted once). With non-reentrant
gradient checkpointing, autograd saves only each checkpointed block's input (the inner
tensors go through the checkpoint's own hooks and are recomputed), so the same hook measures
what checkpointing really keeps. On CUDA the peak allocated memory is reported as well.
"""

from __future__ import annotations

import threading
from typing import Any

import psutil
import torch
from torch import nn

__all__ = ["PeakRSS", "activation_memory", "tree_rss"]


def activation_memory(model: nn.Module, x_num: torch.Tensor, x_cat: torch.Tensor, *, amp: bool = False,
                      device: str | torch.device | None = None) -> dict[str, Any]:
    """Bytes saved for backward by one training forward pass of ``model`` on a batch.

    Returns ``{"saved_bytes", "n_saved", "peak_cuda_bytes"}`` (the last only on CUDA: the peak
    allocated during forward + backward, minus what was allocated before).
    """
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(dev).train()
    x_num, x_cat = x_num.to(dev), x_cat.to(dev)
    param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in param_ptrs and ptr not in seen:
            seen[ptr] = storage.nbytes()
        return t

    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
    dtype = torch.float16 if cuda else torch.bfloat16
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(dev.type, dtype=dtype, enabled=amp):
            out = model(x_num, x_cat)
        loss = out.float().square().mean()
    loss.backward()
    model.zero_grad(set_to_none=True)
    peak = None
    if cuda:
        torch.cuda.synchronize(dev)
        peak = int(torch.cuda.max_memory_allocated(dev) - before)
    return {"saved_bytes": int(sum(seen.values())), "n_saved": len(seen), "peak_cuda_bytes": peak}


def tree_rss(root: psutil.Process | None = None) -> int:
    """Resident memory of ``root`` (default: this process) and all its descendants."""
    root = root or psutil.Process()
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class PeakRSS:
    """Sample the process tree's RSS (this process + loader workers) in a thread; ``.peak`` bytes."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak = self.baseline = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self.baseline = self.peak = tree_rss()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, tree_rss())
