"""A tabular MLP: categorical embeddings + standardised numbers -> blocks of Linear/LayerNorm/ReLU.

Each hidden block can be recomputed in the backward pass instead of keeping its activations
(``gradient_checkpointing=True``, ``torch.utils.checkpoint`` with ``use_reentrant=False``),
trading compute for activation memory. The architecture is a plain dict (:attr:`config`)
saved in every checkpoint, so a checkpoint from another architecture is refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["TabularMLP", "embedding_dim", "unwrap"]


def embedding_dim(cardinality: int) -> int:
    """fastai's rule of thumb: ``min(600, round(1.6 * n ** 0.56))`` (capped at 50 here)."""
    return int(min(50, max(2, round(1.6 * cardinality**0.56))))


class TabularMLP(nn.Module):
    """MLP over numeric features and embedded categorical codes; outputs one logit per row.

    Parameters
    ----------
    n_numeric : number of numeric inputs.
    cardinalities : embedding table size per categorical input (levels + 1; code 0 = missing).
    hidden : width of each hidden block.
    dropout : dropout after each block.
    embedding_dims : per-categorical embedding width (default :func:`embedding_dim`).
    gradient_checkpointing : recompute each block in backward (saves activation memory).
    """

    def __init__(
        self,
        n_numeric: int,
        cardinalities: Sequence[int] = (),
        hidden: Sequence[int] = (256, 128),
        dropout: float = 0.1,
        embedding_dims: Sequence[int] | None = None,
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        if embedding_dims is None:
            embedding_dims = [embedding_dim(c) for c in cardinalities]
        if len(embedding_dims) != len(cardinalities):
            raise ValueError(f"embedding_dims has {len(embedding_dims)} entries for {len(cardinalities)} categoricals")
        if n_numeric + len(cardinalities) == 0:
            raise ValueError("the model needs at least one numeric or categorical input")
        if not hidden:
            raise ValueError("hidden must list at least one block width")
        self.config: dict[str, Any] = {
            "n_numeric": int(n_numeric),
            "cardinalities": cardinalities,
            "hidden": [int(h) for h in hidden],
            "dropout": float(dropout),
            "embedding_dims": [int(d) for d in embedding_dims],
        }
        self.gradient_checkpointing = bool(gradient_checkpointing)
        self.embeddings = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cardinalities, embedding_dims))
        width = n_numeric + sum(embedding_dims)
        blocks = []
        for h in hidden:
            blocks.append(nn.Sequential(nn.Linear(width, h), nn.LayerNorm(h), nn.ReLU(), nn.Dropout(dropout)))
            width = h
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width, 1)

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> TabularMLP:
        """Rebuild a model from :attr:`config` (as saved in a checkpoint)."""
        return cls(**config, **kwargs)

    @classmethod
    def for_spec(cls, spec, **kwargs: Any) -> TabularMLP:
        """A model sized for a :class:`~mlkit.deep.streaming.TabularSpec`."""
        return cls(len(spec.numeric), spec.cardinalities, **kwargs)

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        parts = [x_num] if x_num.shape[1] else []
        parts += [emb(x_cat[:, j]) for j, emb in enumerate(self.embeddings)]
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for block in self.blocks:
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.head(x).squeeze(1)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper (or ``model``)."""
    return getattr(model, "module", model)
