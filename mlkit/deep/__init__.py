"""Deep learning on data larger than memory, within memory limits, on CPU or GPU.

Modules, by concern:

* :mod:`~mlkit.deep.streaming` - ``fit_spec``, ``ParquetStream`` (an ``IterableDataset`` over
  Parquet row groups or Dask partitions: shuffled partition order, shuffle buffer, loader
  workers, deterministic per seed and epoch), ``make_loader``
* :mod:`~mlkit.deep.model` - ``TabularMLP`` (embeddings, optional gradient checkpointing)
* :mod:`~mlkit.deep.train` - ``fit`` (AMP, accumulation, early stopping, class weights, carbon,
  safe checkpoints, NaN stop), ``evaluate``, ``predict_proba``, ``save_checkpoint``/``load_checkpoint``
* :mod:`~mlkit.deep.memory` - ``activation_memory`` (bytes saved for backward), ``PeakRSS``
* :mod:`~mlkit.deep.compress` - int8 dynamic quantization, magnitude pruning, distillation
  from an xgboost teacher, size/latency/accuracy comparison
* :mod:`~mlkit.deep.distributed` - ``fit_distributed``: DDP across Dask workers (gloo / nccl)
"""

from __future__ import annotations

from .errors import CheckpointMismatchError, DeepError, NonFiniteLossError, PartitionSchemaError
from .memory import PeakRSS, activation_memory
from .model import TabularMLP, unwrap
from .streaming import ParquetStream, Partition, TabularSpec, fit_spec, make_loader
from .train import (
    TrainResult,
    evaluate,
    fit,
    load_checkpoint,
    predict_proba,
    resolve_device,
    save_checkpoint,
)

__all__ = [
    "CheckpointMismatchError",
    "DeepError",
    "NonFiniteLossError",
    "ParquetStream",
    "Partition",
    "PartitionSchemaError",
    "PeakRSS",
    "TabularMLP",
    "TabularSpec",
    "TrainResult",
    "activation_memory",
    "evaluate",
    "fit",
    "fit_spec",
    "load_checkpoint",
    "make_loader",
    "predict_proba",
    "resolve_device",
    "save_checkpoint",
    "unwrap",
]
