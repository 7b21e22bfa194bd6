"""Compression for inference: int8 dynamic quantization, magnitude pruning, distillation.

* :func:`quantize_dynamic` - ``nn.Linear`` weights to int8, activations quantized on the fly.
  torch 2.14 still ships ``torch.ao.quantization.quantize_dynamic`` (x86/fbgemm kernels) but
  marks it deprecated in favour of ``torchao``, which is not a dependency here; we use the
  installed API and silence its deprecation warning. Embeddings stay float32.
* :func:`prune_magnitude` - global L1 (magnitude) unstructured pruning of the Linear weights,
  made permanent. Dense kernels do not get faster from zeros; the gain is the compressed size.
* :func:`fit_xgboost` / :class:`XGBoostTeacher` - an xgboost model trained from the same stream
  (``QuantileDMatrix`` fed batch by batch: only the quantized matrix is held), used as the
  teacher of :func:`mlkit.deep.fit` (``soft_targets=``) for knowledge distillation.
* :func:`model_size`, :func:`latency`, :func:`compare` - size, CPU batch latency, accuracy.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import warnings
import zlib
from typing import Any

import numpy as np
import torch
from torch import nn

from .streaming import ParquetStream
from .train import evaluate

__all__ = ["XGBoostTeacher", "compare", "fit_xgboost", "latency", "model_size", "prune_magnitude", "quantize_dynamic", "sparsity"]


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """An int8 dynamically quantized copy of ``model`` (CPU inference; Linear layers only)."""
    from torch.ao.quantization import quantize_dynamic as _qd

    m = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        # Deprecated in torch >= 2.10 in favour of torchao (not installed); still supported here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return _qd(m, {nn.Linear}, dtype=torch.qint8)


def prune_magnitude(model: nn.Module, amount: float = 0.5) -> nn.Module:
    """A copy of ``model`` with the smallest ``amount`` share of Linear weights (globally) set to 0."""
    from torch.nn.utils import prune

    if not 0 <= amount < 1:
        raise ValueError(f"amount must be in [0, 1), got {amount}")
    m = copy.deepcopy(model).cpu().eval()
    params = [(mod, "weight") for mod in m.modules() if isinstance(mod, nn.Linear)]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    for mod, name in params:
        prune.remove(mod, name)
    return m


def sparsity(model: nn.Module) -> float:
    """Share of zero weights over the Linear layers."""
    ws = [mod.weight for mod in model.modules() if isinstance(mod, nn.Linear)]
    total = sum(w.numel() for w in ws)
    return float(sum((w == 0).sum().item() for w in ws) / total) if total else 0.0


def model_size(model: nn.Module) -> dict[str, int]:
    """Bytes of the serialized state dict, raw and zlib-compressed (zeros compress)."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    raw = buf.getvalue()
    return {"bytes": len(raw), "compressed_bytes": len(zlib.compress(raw, 6))}


@torch.inference_mode()
def latency(model: nn.Module, x_num: torch.Tensor, x_cat: torch.Tensor, *, repeats: int = 20, warmup: int = 3) -> float:
    """Median seconds of one CPU forward pass on the batch ``(x_num, x_cat)``."""
    model = model.eval()
    for _ in range(warmup):
        model(x_num, x_cat)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x_num, x_cat)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def compare(models: dict[str, nn.Module], stream: ParquetStream, *, batch: tuple[torch.Tensor, torch.Tensor] | None = None,
            repeats: int = 20, extra: dict[str, dict[str, Any]] | None = None):
    """One row per model: size (MB), compressed size, CPU batch latency (ms), accuracy, AUC, log-loss.

    ``batch`` is the latency batch (default: the first batch of ``stream``); ``extra`` adds
    columns by model name. Ratios are against the first model.
    """
    import pandas as pd

    if batch is None:
        x_num, x_cat, _ = next(iter(stream))
    else:
        x_num, x_cat = batch
    rows = []
    for name, m in models.items():
        m = m.cpu().eval()
        size = model_size(m)
        metrics = evaluate(m, stream, device="cpu")
        row = {"model": name, "size_mb": size["bytes"] / 1e6, "compressed_mb": size["compressed_bytes"] / 1e6,
               "latency_ms": 1000 * latency(m, x_num, x_cat, repeats=repeats),
               "accuracy": metrics["accuracy"], "auc": metrics["auc"], "log_loss": metrics["loss"]}
        row.update((extra or {}).get(name, {}))
        rows.append(row)
    df = pd.DataFrame(rows).set_index("model")
    df["speedup"] = df["latency_ms"].iloc[0] / df["latency_ms"]
    df["size_ratio"] = df["size_mb"] / df["size_mb"].iloc[0]
    return df


# --------------------------------------------------------------------------- xgboost teacher


def _features(x_num: torch.Tensor, x_cat: torch.Tensor) -> np.ndarray:
    return np.hstack([x_num.cpu().numpy(), x_cat.cpu().numpy().astype(np.float32)])


def fit_xgboost(train: ParquetStream, *, params: dict[str, Any] | None = None, num_boost_round: int = 200,
                valid: ParquetStream | None = None, early_stopping_rounds: int | None = 20, device: str | None = None):
    """Train an xgboost booster from a stream without materialising it (``QuantileDMatrix`` over batches).

    Features are the stream's encoding: standardised numbers, then category codes.
    """
    import xgboost as xgb

    from mlkit.compute import device as _device

    class _Iter(xgb.DataIter):
        def __init__(self, stream: ParquetStream) -> None:
            self.stream = stream.with_options(shuffle=False, drop_last=False)
            self._it = None
            super().__init__()

        def next(self, input_data) -> bool:
            if self._it is None:
                self._it = iter(self.stream)
            try:
                x_num, x_cat, y = next(self._it)
            except StopIteration:
                return False
            input_data(data=_features(x_num, x_cat), label=y.numpy())
            return True

        def reset(self) -> None:
            self._it = None

    dtrain = xgb.QuantileDMatrix(_Iter(train), max_bin=256)
    evals = [(dtrain, "train")]
    if valid is not None:
        evals.append((xgb.QuantileDMatrix(_Iter(valid), ref=dtrain), "valid"))
    p = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 6, "eta": 0.1,
         **_device(device).xgboost_params, **(params or {})}
    return xgb.train(p, dtrain, num_boost_round=num_boost_round, evals=evals, verbose_eval=False,
                     early_stopping_rounds=early_stopping_rounds if valid is not None else None)


class XGBoostTeacher:
    """Callable ``(x_num, x_cat) -> logits`` from a booster, for ``fit(soft_targets=...)``."""

    def __init__(self, booster) -> None:
        self.booster = booster

    def __call__(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        margin = self.booster.inplace_predict(_features(x_num, x_cat), predict_type="margin")
        return torch.from_numpy(np.asarray(margin, dtype=np.float32))

    def predict_proba(self, stream: ParquetStream, *, return_labels: bool = False):
        probs, labels = [], []
        for x_num, x_cat, y in stream.with_options(shuffle=False, drop_last=False):
            probs.append(torch.sigmoid(self(x_num, x_cat)).numpy())
            labels.append(y.numpy())
        p = np.concatenate(probs)
        return (p, np.concatenate(labels)) if return_labels else p
