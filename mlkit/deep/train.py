"""The training loop: streaming batches, mixed precision, accumulation, early stopping, safe checkpoints.

* device auto (CUDA when torch sees a GPU, see :func:`mlkit.compute.device`);
* mixed precision with ``torch.autocast``: bfloat16 on CPU, float16 + ``GradScaler`` on CUDA;
* gradient accumulation (``accumulation_steps``; ``no_sync`` between DDP syncs);
* early stopping on the validation log-loss, best weights restored;
* class weights (``pos_weight``) from :mod:`mlkit.imbalance.weights`;
* checkpoints are state dicts written atomically (temp file + rename) and loaded with
  ``torch.load(weights_only=True)``: no pickled code runs on load;
* a NaN/inf loss stops training with :class:`~mlkit.deep.errors.NonFiniteLossError`, the last
  good checkpoint untouched and reloaded into the model;
* a tqdm bar per epoch (:mod:`mlkit.progress`) and the energy of the run (:mod:`mlkit.carbon`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .errors import CheckpointMismatchError, NonFiniteLossError
from .model import unwrap
from .streaming import ParquetStream, make_loader

__all__ = [
    "TrainResult",
    "evaluate",
    "fit",
    "load_checkpoint",
    "predict_proba",
    "resolve_device",
    "resolve_pos_weight",
    "save_checkpoint",
]

LAST, BEST = "last.pt", "best.pt"
SoftTargets = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- device and weights


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"``: CUDA when torch sees a GPU (or ``$MLKIT_DEVICE``), else CPU."""
    if device is None or str(device) == "auto":
        from mlkit.compute import device as _device

        return torch.device(_device().torch_device)
    return torch.device(device)


def amp_dtype(device: torch.device) -> torch.dtype:
    """Mixed-precision dtype: float16 on CUDA (with a GradScaler), bfloat16 on CPU."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def resolve_pos_weight(class_weight: Any, spec=None, device: torch.device | str = "cpu") -> torch.Tensor | None:
    """``pos_weight`` for ``BCEWithLogitsLoss``: None, a number, or ``"balanced"`` (n_neg / n_pos).

    ``"balanced"`` uses :func:`mlkit.imbalance.weights.torch_pos_weight` on the class counts
    the spec counted in its streaming pass.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a number, got {class_weight!r}")
        if spec is None or spec.n_pos == 0 or spec.n_neg == 0:
            raise ValueError("class_weight='balanced' needs a spec with both classes counted (fit_spec)")
        from mlkit.imbalance.weights import torch_pos_weight

        return torch_pos_weight((spec.n_neg, spec.n_pos), device=str(device))
    w = float(class_weight)
    if not math.isfinite(w) or w <= 0:
        raise ValueError(f"class_weight must be a positive number, got {class_weight!r}")
    return torch.tensor([w], dtype=torch.float32, device=device)


# --------------------------------------------------------------------------- checkpoints


def _cpu_state(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_state(v) for v in obj)
    return obj


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, optimizer=None, scaler=None, **meta: Any) -> Path:
    """Write model (and optimizer/scaler) state dicts plus ``meta`` atomically to ``path``.

    ``meta`` must hold plain Python values (numbers, strings, lists, dicts) so that the file
    loads with ``weights_only=True``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inner = unwrap(model)
    payload = {
        "format": "mlkit.deep/1",
        "config": dict(getattr(inner, "config", {})),
        "model": _cpu_state(inner.state_dict()),
        "optimizer": _cpu_state(optimizer.state_dict()) if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "meta": meta,
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, *, optimizer=None, scaler=None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; restore ``model``/``optimizer``/``scaler`` if given.

    Raises
    ------
    CheckpointMismatchError
        When the checkpoint's architecture differs from ``model``'s (the differing settings
        are named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or "model" not in payload:
        raise CheckpointMismatchError(f"{path} is not an mlkit.deep checkpoint (no 'model' state dict)")
    if model is not None:
        inner = unwrap(model)
        saved, mine = payload.get("config") or {}, getattr(inner, "config", {})
        diff = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
        if diff:
            detail = "; ".join(f"{k}: checkpoint {saved.get(k)!r} vs model {mine.get(k)!r}" for k in diff)
            raise CheckpointMismatchError(f"checkpoint {path} was saved from another architecture ({detail})")
        try:
            inner.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise CheckpointMismatchError(f"checkpoint {path} does not fit this model: {exc}") from exc
        if optimizer is not None and payload.get("optimizer") is not None:
            try:
                optimizer.load_state_dict(payload["optimizer"])
            except (KeyError, ValueError) as exc:
                raise CheckpointMismatchError(
                    f"checkpoint {path}: its optimizer state does not fit {type(optimizer).__name__} ({exc!r})"
                ) from exc
        if scaler is not None and payload.get("scaler") is not None:
            scaler.load_state_dict(payload["scaler"])
    return payload


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def predict_proba(model: nn.Module, stream: ParquetStream, *, device=None, num_workers: int = 0,
                  amp: bool = False, return_labels: bool = False):
    """Positive-class probabilities for every row of ``stream`` (in stream order when not shuffled)."""
    dev = resolve_device(device)
    model.eval()
    probs, labels = [], []
    stream.set_epoch(0)
    for x_num, x_cat, y in make_loader(stream, num_workers=num_workers, device=dev):
        with torch.autocast(dev.type, dtype=amp_dtype(dev), enabled=amp):
            logits = model(x_num.to(dev), x_cat.to(dev))
        probs.append(torch.sigmoid(logits.float()).cpu().numpy())
        labels.append(y.numpy())
    p = np.concatenate(probs) if probs else np.zeros(0, np.float32)
    if return_labels:
        return p, (np.concatenate(labels) if labels else np.zeros(0, np.float32))
    return p


def evaluate(model: nn.Module, stream: ParquetStream, *, device=None, num_workers: int = 0, amp: bool = False) -> dict[str, float]:
    """Log-loss, accuracy (threshold 0.5) and ROC-AUC of ``model`` over ``stream``."""
    from sklearn.metrics import roc_auc_score

    p, y = predict_proba(model, stream, device=device, num_workers=num_workers, amp=amp, return_labels=True)
    if len(y) == 0:
        raise ValueError("evaluate: the stream yielded no rows")
    pc = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {"loss": loss, "accuracy": float(np.mean((p >= 0.5) == (y == 1))), "auc": auc, "n": int(len(y))}


# --------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What a call to :func:`fit` did: per-epoch history, timing, energy, stop reason."""

    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int | None = None
    best_valid_loss: float | None = None
    stopped_early: bool = False
    stop_reason: str = ""
    seconds: float = 0.0
    rows_seen: int = 0
    device: str = "cpu"
    amp_dtype: str | None = None
    energy_j: float | None = None
    energy_method: str | None = None
    co2e_g: float | None = None
    peak_gpu_memory: int | None = None
    checkpoint_dir: str | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows_seen / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows_per_s"] = self.rows_per_s
        return out

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.history)


def _is_main() -> bool:
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def fit(
    model: nn.Module,
    train: ParquetStream,
    valid: ParquetStream | None = None,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    weight_decay: float = 1e-5,
    optimizer: str = "adamw",
    device: str | torch.device | None = None,
    amp: bool = True,
    accumulation_steps: int = 1,
    patience: int | None = None,
    min_delta: float = 1e-4,
    class_weight: Any = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    num_workers: int = 0,
    seed: int = 0,
    max_steps_per_epoch: int | None = None,
    soft_targets: SoftTargets | None = None,
    distill_alpha: float = 0.5,
    temperature: float = 2.0,
    progress: bool = True,
    carbon: bool = True,
) -> TrainResult:
    """Train ``model`` on a :class:`ParquetStream`, validating on ``valid`` after each epoch.

    Parameters
    ----------
    model : a :class:`~mlkit.deep.model.TabularMLP` (or DDP-wrapped one, already on its device).
    train, valid : streams (``valid`` should not shuffle).
    epochs : maximum epochs (counted from 0 also when resuming).
    amp : mixed precision (bf16 autocast on CPU; fp16 autocast + GradScaler on CUDA).
    accumulation_steps : micro-batches per optimizer step (effective batch = k x batch size).
    patience : stop after this many epochs without a validation log-loss improvement of
        ``min_delta`` (needs ``valid``); the best weights are restored.
    class_weight : None, ``"balanced"`` or a number: ``pos_weight`` of the loss.
    checkpoint_dir : write ``last.pt`` every epoch and ``best.pt`` on improvement;
        ``resume=True`` continues from ``last.pt``.
    max_steps_per_epoch : cap on micro-batches per epoch (DDP uses it to keep ranks in step).
    soft_targets : ``f(x_num, x_cat) -> teacher logits`` for knowledge distillation; the loss
        becomes ``(1 - a) * BCE(y) + a * T^2 * BCE(logits / T, sigmoid(teacher / T))``.
    """
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
    if patience is not None and valid is None:
        raise ValueError("early stopping (patience=...) needs a validation stream (valid=...)")
    dev = resolve_device(device)
    inner = unwrap(model)
    if inner is model:
        model.to(dev)
    is_ddp = inner is not model
    main = _is_main()
    torch.manual_seed(seed)
    if optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}")
    use_amp = bool(amp)
    dtype = amp_dtype(dev)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and dev.type == "cuda")
    pos_weight = resolve_pos_weight(class_weight, train.spec, dev)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None

    result = TrainResult(device=dev.type, amp_dtype=str(dtype).replace("torch.", "") if use_amp else None,
                         checkpoint_dir=str(ckpt_dir) if ckpt_dir else None)
    start_epoch, best_loss, best_epoch, bad_epochs = 0, math.inf, None, 0
    best_state: dict[str, torch.Tensor] | None = None
    if resume:
        if ckpt_dir is None:
            raise ValueError("resume=True needs checkpoint_dir")
        if (ckpt_dir / LAST).is_file():
            payload = load_checkpoint(ckpt_dir / LAST, model, optimizer=opt, scaler=scaler, map_location=dev)
            for group in opt.param_groups:  # the arguments of this call win over the saved ones
                group["lr"], group["weight_decay"] = lr, weight_decay
            meta = payload["meta"]
            start_epoch = int(meta["epoch"]) + 1
            result.history = list(meta.get("history", []))
            best_loss = float(meta.get("best_loss", math.inf))
            best_epoch = meta.get("best_epoch")
            bad_epochs = int(meta.get("bad_epochs", 0))
            if (ckpt_dir / BEST).is_file():
                best_state = load_checkpoint(ckpt_dir / BEST)["model"]

    tracker = None
    if carbon:
        from mlkit.carbon import track

        tracker = track(name="mlkit.deep.fit")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    t0 = time.perf_counter()
    with tracker if tracker is not None else contextlib.nullcontext():
        for epoch in range(start_epoch, epochs):
            train.set_epoch(epoch)
            torch.manual_seed(seed * 100_003 + epoch)  # dropout: same draws when resumed
            expected = train.n_batches(num_workers)
            if max_steps_per_epoch is not None:
                expected = min(expected, max_steps_per_epoch)
            model.train()
            t_epoch = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
            rows = 0
            opt.zero_grad(set_to_none=True)
            from mlkit.progress import bar

            pbar = bar(total=expected, desc=f"epoch {epoch + 1}/{epochs}") if progress and main else _NullBar()
            step = -1
            for step, (x_num, x_cat, y) in enumerate(make_loader(train, num_workers=num_workers, device=dev)):
                if step >= expected:
                    break
                x_num, x_cat, y = (t.to(dev, non_blocking=True) for t in (x_num, x_cat, y))
                sync = (step + 1) % accumulation_steps == 0 or step + 1 == expected
                ctx = model.no_sync() if (is_ddp and not sync) else contextlib.nullcontext()
                with ctx:
                    with torch.autocast(dev.type, dtype=dtype, enabled=use_amp):
                        logits = model(x_num, x_cat)
                    logits = logits.float()
                    loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
                    if soft_targets is not None:
                        with torch.no_grad():
                            teacher = soft_targets(x_num, x_cat).to(dev, torch.float32)
                        soft = F.binary_cross_entropy_with_logits(logits / temperature, torch.sigmoid(teacher / temperature))
                        loss = (1 - distill_alpha) * loss + distill_alpha * temperature**2 * soft
                    if not torch.isfinite(loss):
                        pbar.close()
                        _stop_on_nan(model, ckpt_dir, float(loss.detach()), epoch, step)
                    scaler.scale(loss / accumulation_steps).backward()
                if sync:
                    scaler.step(opt)
                    scaler.update()
                    opt.zero_grad(set_to_none=True)
                loss_sum += loss.detach().double() * len(y)
                rows += len(y)
                pbar.update(1)
            pbar.close()
            if (step + 1) % accumulation_steps and step + 1 < expected:
                # The loader ended early (fewer rows than expected): apply what was accumulated.
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - t_epoch
            result.rows_seen += rows
            row = {"epoch": epoch, "train_loss": float(loss_sum) / max(rows, 1), "rows": rows,
                   "seconds": seconds, "rows_per_s": rows / seconds if seconds > 0 else 0.0}
            improved = False
            if valid is not None:
                m = evaluate(inner, valid, device=dev, num_workers=0)
                row.update(valid_loss=m["loss"], valid_accuracy=m["accuracy"], valid_auc=m["auc"])
                if m["loss"] < best_loss - min_delta:
                    best_loss, best_epoch, bad_epochs, improved = m["loss"], epoch, 0, True
                    best_state = copy.deepcopy(_cpu_state(inner.state_dict()))
                else:
                    bad_epochs += 1
            result.history.append(row)
            result.epochs_run += 1
            if ckpt_dir is not None and main:
                meta = {"epoch": epoch, "history": result.history, "best_loss": best_loss if math.isfinite(best_loss) else None,
                        "best_epoch": best_epoch, "bad_epochs": bad_epochs, "seed": seed}
                if meta["best_loss"] is None:
                    meta.pop("best_loss")
                if improved:
                    save_checkpoint(ckpt_dir / BEST, model, epoch=epoch, valid_loss=best_loss)
                save_checkpoint(ckpt_dir / LAST, model, optimizer=opt, scaler=scaler, **meta)
            if patience is not None and bad_epochs >= patience:
                result.stopped_early = True
                result.stop_reason = f"no validation improvement for {patience} epochs (best epoch {best_epoch})"
                break
        if not result.stop_reason:
            result.stop_reason = f"reached {epochs} epochs"
        if patience is not None and best_state is not None:
            inner.load_state_dict(best_state)
    result.seconds = time.perf_counter() - t0
    result.best_epoch = best_epoch
    result.best_valid_loss = best_loss if math.isfinite(best_loss) else None
    if tracker is not None and tracker.last is not None:
        result.energy_j = tracker.last.energy_j
        result.energy_method = tracker.last.method
        result.co2e_g = tracker.last.co2e_g
    if dev.type == "cuda":
        result.peak_gpu_memory = int(torch.cuda.max_memory_allocated(dev))
    return result


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _stop_on_nan(model: nn.Module, ckpt_dir: Path | None, value: float, epoch: int, step: int) -> None:
    last = ckpt_dir / LAST if ckpt_dir is not None else None
    where = f"epoch {epoch}, batch {step}"
    if last is not None and last.is_file():
        payload = load_checkpoint(last, model)
        kept = f"the last good checkpoint {last} (end of epoch {payload['meta'].get('epoch')}) is kept and reloaded into the model"
        path = str(last)
    else:
        kept = "no checkpoint had been saved yet (pass checkpoint_dir= to keep one per epoch)"
        path = None
    raise NonFiniteLossError(
        f"training stopped: the loss is {value} at {where}. Lower the learning rate, check the inputs "
        f"for extreme values, or turn off mixed precision; {kept}.",
        epoch=epoch, step=step, last_good_checkpoint=path,
    )
