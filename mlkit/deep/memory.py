"""Measure memory: activations kept for backward, and the peak RSS of the process tree.

Activation memory is measured the way autograd sees it: every tensor that the forward pass
*saves for backward* goes through ``torch.autograd.graph.saved_tensors_hooks``; we add up the
bytes of the distinct storages (parameters excluded, views counted once). With non-reentrant
gradient checkpointing, autograd saves only each checkpointed block's input (the inner
tensors go through the checkpoint's own hooks and are recomputed), so the same hook measures
what checkpointing really keeps. On CUDA the peak allocated memory is reported as well.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..memory import PeakMemory, tree_rss

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


# The process-tree sampler is shared by the whole suite (this process + DataLoader workers).
PeakRSS = PeakMemory
