"""Stream tabular data from Parquet files or Dask partitions into torch, never loading it whole.

A *partition* is one Parquet row group (or one Dask partition). Each epoch, the partitions are
shuffled by ``(seed, epoch)``, dealt out to DDP ranks and then to DataLoader workers
(``torch.utils.data.get_worker_info``), read one at a time, encoded (standardised numbers,
integer category codes), and mixed in an in-memory *shuffle buffer* of ``buffer_rows`` rows
before whole batches are emitted. Memory is bounded by one partition plus the buffer per
loader worker; the same ``(seed, epoch, num_workers)`` gives the same batches.

::

    spec = fit_spec("data/", numeric=[...], categorical=[...], target="label")
    stream = ParquetStream("data/", spec, batch_size=2048, seed=0)
    train, valid = stream.split(valid_fraction=0.1)
    for x_num, x_cat, y in make_loader(train, num_workers=2): ...
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .errors import DeepError, PartitionSchemaError

__all__ = ["ParquetStream", "Partition", "TabularSpec", "fit_spec", "make_loader"]

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------- partitions


@dataclass(frozen=True)
class Partition:
    """One unit of streaming: a Parquet row group (``row_group`` set) or a Dask partition."""

    source: str  # file path, or "dask"
    index: int  # row group within the file, or Dask partition number
    n_rows: int

    @property
    def label(self) -> str:
        if self.source == "dask":
            return f"dask partition {self.index}"
        return f"{self.source} (row group {self.index})"


def _is_dask(obj: Any) -> bool:
    return type(obj).__module__.startswith("dask") and hasattr(obj, "npartitions")


def _parquet_files(source: str | os.PathLike | Sequence) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise FileNotFoundError(f"no such Parquet file or dataset: {p}")
        files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    else:
        files = [Path(f) for f in source]
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"no such Parquet file: {f}")
    if not files:
        raise DeepError(f"no *.parquet files under {source}")
    return files


def _list_partitions(source: Any) -> tuple[list[Partition], Any]:
    """The partitions of ``source`` and the object to read them from (a Dask frame or None)."""
    import pyarrow.parquet as pq

    if _is_dask(source):
        lengths = source.map_partitions(len).compute()
        return [Partition("dask", i, int(n)) for i, n in enumerate(lengths)], source
    if hasattr(source, "iloc"):  # pandas: one in-memory frame; let Dask cut it into partitions
        import dask.dataframe as dd

        ddf = dd.from_pandas(source, npartitions=max(1, math.ceil(len(source) / 100_000)), sort=False)
        return _list_partitions(ddf)
    parts = []
    for f in _parquet_files(source):
        meta = pq.ParquetFile(f).metadata
        parts.extend(Partition(str(f), rg, meta.row_group(rg).num_rows) for rg in range(meta.num_row_groups))
    return parts, None


# --------------------------------------------------------------------------- schema checks


def _numeric_ok(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _categorical_ok(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _categorical_ok(t.value_type)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)


def check_schema(schema: pa.Schema, spec: TabularSpec, where: str) -> None:
    """Raise :class:`PartitionSchemaError` naming ``where`` and the first bad column."""
    names = set(schema.names)
    wanted = [(c, "numeric") for c in spec.numeric] + [(c, "categorical") for c in spec.categorical]
    wanted.append((spec.target, "target"))
    for col, role in wanted:
        if col not in names:
            raise PartitionSchemaError(where, col, f"is missing (expected a {role} column; columns present: {sorted(names)})")
        t = schema.field(col).type
        ok = _categorical_ok(t) if role == "categorical" else _numeric_ok(t)
        if not ok:
            expected = "string, category or integer" if role == "categorical" else "a number (integer, float or bool)"
            raise PartitionSchemaError(where, col, f"has dtype {t} (expected {expected} for a {role} column)")


# --------------------------------------------------------------------------- the spec


@dataclass
class TabularSpec:
    """Which columns feed the model and how they are encoded (fitted in one streaming pass).

    Numbers are standardised with ``mean``/``std`` (missing values become 0, the mean);
    categories become codes ``1..len(levels)`` with 0 for missing or unseen levels.
    """

    numeric: list[str]
    categorical: list[str]
    target: str
    levels: dict[str, list[str]] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)
    std: dict[str, float] = field(default_factory=dict)
    n_rows: int = 0
    n_pos: int = 0

    @property
    def n_neg(self) -> int:
        return self.n_rows - self.n_pos

    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes: levels + 1 (code 0 = missing/unseen)."""
        return [len(self.levels[c]) + 1 for c in self.categorical]

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical, self.target]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_table(part: Partition, columns: list[str], ddf: Any, spec: TabularSpec | None) -> pa.Table:
    if part.source == "dask":
        pdf = ddf.partitions[part.index].compute(scheduler="sync")
        missing = [c for c in columns if c not in pdf.columns]
        if missing:
            raise PartitionSchemaError(part.label, missing[0], f"is missing (columns present: {sorted(map(str, pdf.columns))})")
        table = pa.Table.from_pandas(pdf[columns], preserve_index=False)
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(part.source)
        if spec is not None:
            check_schema(pf.schema_arrow, spec, part.label)
        table = pf.read_row_group(part.index, columns=columns)
    if spec is not None and part.source == "dask":
        check_schema(table.schema, spec, part.label)
    return table


def _as_float(arr: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_boolean(arr.type) or pa.types.is_integer(arr.type):
        arr = pc.cast(arr, pa.float64())
    return np.asarray(arr.to_numpy(), dtype=np.float64)


def _as_strings(arr: pa.ChunkedArray | pa.Array):
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    return arr if pa.types.is_string(t) else pc.cast(arr, pa.string())


def fit_spec(
    source: Any,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    target: str,
    max_partitions: int | None = None,
    seed: int = 0,
) -> TabularSpec:
    """Fit means, standard deviations, category levels and class counts in one streaming pass.

    Parameters
    ----------
    source : Parquet file or folder, list of files, Dask or pandas DataFrame.
    numeric, categorical, target : column names.
    max_partitions : fit on this many partitions drawn at random (seeded); default all.
    """
    spec = TabularSpec(list(numeric), list(categorical), target)
    parts, ddf = _list_partitions(source)
    if max_partitions is not None and max_partitions < len(parts):
        order = np.random.default_rng(seed).permutation(len(parts))[:max_partitions]
        parts = [parts[i] for i in sorted(order)]
    s = {c: 0.0 for c in spec.numeric}
    ss = {c: 0.0 for c in spec.numeric}
    cnt = {c: 0 for c in spec.numeric}
    levels: dict[str, set] = {c: set() for c in spec.categorical}
    for part in parts:
        table = _read_table(part, spec.columns, ddf, spec)
        for c in spec.numeric:
            x = _as_float(table.column(c))
            ok = np.isfinite(x)
            s[c] += float(x[ok].sum())
            ss[c] += float(np.square(x[ok]).sum())
            cnt[c] += int(ok.sum())
        for c in spec.categorical:
            col = table.column(c)
            for chunk in col.chunks:
                values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.unique(chunk)
                levels[c].update(v for v in _as_strings(values).to_pylist() if v is not None)
        y = _labels(table.column(spec.target), part.label, spec.target)
        spec.n_rows += len(y)
        spec.n_pos += int(y.sum())
    for c in spec.numeric:
        n = max(cnt[c], 1)
        mean = s[c] / n
        var = max(ss[c] / n - mean * mean, 0.0)
        spec.mean[c] = mean
        spec.std[c] = math.sqrt(var) if var > 1e-24 else 1.0
    spec.levels = {c: sorted(levels[c]) for c in spec.categorical}
    return spec


def _labels(arr: pa.ChunkedArray, where: str, column: str) -> np.ndarray:
    y = _as_float(arr)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise PartitionSchemaError(where, column, f"holds {float(y[i])!r} at row {i} (expected 0/1 labels, no missing values)")
    return y.astype(np.float32)


def _codes(arr: pa.ChunkedArray, levels: pa.Array) -> np.ndarray:
    """Codes 1..L for known levels, 0 for missing or unseen values."""
    out = []
    for chunk in arr.chunks:
        if pa.types.is_dictionary(chunk.type):
            # Map the (small) dictionary once, then gather by the indices.
            mapped = pc.index_in(_as_strings(chunk.dictionary), value_set=levels)
            mapped = np.asarray(mapped.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64) + 1
            mapped = np.append(mapped, 0)  # slot for null indices
            idx = np.asarray(chunk.indices.fill_null(len(chunk.dictionary)).to_numpy(zero_copy_only=False), dtype=np.int64)
            out.append(mapped[idx])
        else:
            idx = pc.index_in(_as_strings(chunk), value_set=levels)
            out.append(np.asarray(idx.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64) + 1)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def encode_table(table: pa.Table, spec: TabularSpec, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x_num float32 [n, p], x_cat int64 [n, c], y float32 [n])`` from an Arrow table."""
    n = table.num_rows
    x_num = np.empty((n, len(spec.numeric)), dtype=np.float32)
    for j, c in enumerate(spec.numeric):
        x = (_as_float(table.column(c)) - spec.mean[c]) / spec.std[c]
        x[~np.isfinite(x)] = 0.0  # missing -> the mean
        x_num[:, j] = x
    x_cat = np.empty((n, len(spec.categorical)), dtype=np.int64)
    for j, c in enumerate(spec.categorical):
        x_cat[:, j] = _codes(table.column(c), pa.array(spec.levels[c], type=pa.string()))
    y = _labels(table.column(spec.target), where, spec.target)
    return x_num, x_cat, y


# --------------------------------------------------------------------------- the dataset


class ParquetStream(IterableDataset):
    """An ``IterableDataset`` of ``(x_num, x_cat, y)`` batches over Parquet row groups or Dask partitions.

    Parameters
    ----------
    source : Parquet file or folder, list of files, Dask or pandas DataFrame.
    spec : :class:`TabularSpec` from :func:`fit_spec`.
    batch_size : rows per batch (the stream batches; use ``DataLoader(batch_size=None)``).
    shuffle : shuffle partition order per ``(seed, epoch)`` and rows in the buffer.
    buffer_rows : shuffle buffer size in rows (default ``max(64 * batch_size, 100_000)``).
    seed : base seed; call :meth:`set_epoch` before each epoch.
    drop_last : drop each worker's last incomplete batch (default: ``shuffle``).
    rank, world_size : DDP shard of the partitions this stream reads.
    """

    def __init__(
        self,
        source: Any,
        spec: TabularSpec,
        *,
        batch_size: int = 1024,
        shuffle: bool = True,
        buffer_rows: int | None = None,
        seed: int = 0,
        drop_last: bool | None = None,
        rank: int = 0,
        world_size: int = 1,
        partitions: list[Partition] | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.source = source
        self.spec = spec
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.buffer_rows = int(buffer_rows or max(64 * batch_size, 100_000))
        self.seed = int(seed)
        self.drop_last = self.shuffle if drop_last is None else bool(drop_last)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch = 0
        if partitions is None:
            partitions, ddf = _list_partitions(source)
        else:
            ddf = source if _is_dask(source) else None
        if ddf is None and not _is_dask(source):
            # Check every file footer up front (cheap): a bad file fails before training starts.
            import pyarrow.parquet as pq

            for f in dict.fromkeys(p.source for p in partitions):
                check_schema(pq.ParquetFile(f).schema_arrow, spec, f)
        self._ddf = ddf
        self.partitions = list(partitions)
        if not self.partitions:
            raise DeepError("the stream has no partitions")

    # ------------------------------------------------------------------ views
    def _replace(self, **kw: Any) -> ParquetStream:
        args = dict(
            batch_size=self.batch_size, shuffle=self.shuffle, buffer_rows=self.buffer_rows, seed=self.seed,
            drop_last=self.drop_last, rank=self.rank, world_size=self.world_size, partitions=self.partitions,
        )
        args.update(kw)
        src = self._ddf if self._ddf is not None else self.source
        return ParquetStream(src, self.spec, **args)

    def split(self, valid_fraction: float = 0.1, *, seed: int | None = None) -> tuple[ParquetStream, ParquetStream]:
        """(train, valid) streams over disjoint partitions chosen at random (seeded).

        The validation stream does not shuffle and keeps every row (``drop_last=False``).
        """
        if not 0 < valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
        if len(self.partitions) < 2:
            raise DeepError("split() needs at least 2 partitions (row groups or Dask partitions)")
        order = np.random.default_rng(self.seed if seed is None else seed).permutation(len(self.partitions))
        k = min(len(order) - 1, max(1, round(valid_fraction * len(order))))
        valid = [self.partitions[i] for i in sorted(order[:k])]
        train = [self.partitions[i] for i in sorted(order[k:])]
        return self._replace(partitions=train), self._replace(partitions=valid, shuffle=False, drop_last=False)

    def shard(self, rank: int, world_size: int) -> ParquetStream:
        """The part of this stream that DDP rank ``rank`` of ``world_size`` reads."""
        return self._replace(rank=rank, world_size=world_size)

    def with_options(self, **kw: Any) -> ParquetStream:
        """A copy with some options changed (``batch_size``, ``shuffle``, ``seed``, ...)."""
        return self._replace(**kw)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle to produce (call before iterating)."""
        self.epoch = int(epoch)

    @property
    def n_rows(self) -> int:
        """Rows in this stream's partitions (all ranks)."""
        return sum(p.n_rows for p in self.partitions)

    # ------------------------------------------------------------------ assignment
    def _epoch_partitions(self, epoch: int | None = None) -> list[Partition]:
        epoch = self.epoch if epoch is None else epoch
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.partitions))
        else:
            order = np.arange(len(self.partitions))
        return [self.partitions[i] for i in order[self.rank :: self.world_size]]

    def worker_partitions(self, worker: int, num_workers: int, epoch: int | None = None) -> list[Partition]:
        return self._epoch_partitions(epoch)[worker::num_workers]

    def n_batches(self, num_workers: int = 0, epoch: int | None = None) -> int:
        """Batches this rank yields in an epoch with ``num_workers`` loader workers."""
        total = 0
        for w in range(max(1, num_workers)):
            rows = sum(p.n_rows for p in self.worker_partitions(w, max(1, num_workers), epoch))
            total += rows // self.batch_size if self.drop_last else math.ceil(rows / self.batch_size)
        return total

    # ------------------------------------------------------------------ reading
    def read_partition(self, part: Partition) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encoded arrays of one partition (schema checked, errors name the partition)."""
        table = _read_table(part, self.spec.columns, self._ddf, self.spec)
        return encode_table(table, self.spec, part.label)

    def read_all(self) -> Batch:
        """Every row of this stream as tensors (small data and benchmark baselines only)."""
        arrays = [self.read_partition(p) for p in self._epoch_partitions(0)]
        return tuple(torch.from_numpy(np.concatenate([a[i] for a in arrays])) for i in range(3))  # type: ignore[return-value]

    def _batches(self, arrays: tuple[np.ndarray, ...], stop: int) -> Iterator[Batch]:
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, stop)
            yield tuple(torch.from_numpy(a[start:end]) for a in arrays)  # type: ignore[misc]

    def __iter__(self) -> Iterator[Batch]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        parts = self.worker_partitions(worker, num_workers)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        bs = self.batch_size
        buf: list[tuple[np.ndarray, ...]] = []
        n_buf = 0
        for part in parts:
            arrays = self.read_partition(part)
            if not self.shuffle:
                yield from self._emit_in_order(buf, arrays, bs)
                continue
            buf.append(arrays)
            n_buf += len(arrays[2])
            if n_buf >= self.buffer_rows:
                merged = _shuffled(buf, rng)
                # Emit down to half a buffer: the kept half mixes with the next partition.
                n_emit = ((n_buf - self.buffer_rows // 2) // bs) * bs
                yield from self._batches(merged, n_emit)
                buf = [tuple(a[n_emit:] for a in merged)]
                n_buf -= n_emit
        if buf and sum(len(b[2]) for b in buf):
            merged = _shuffled(buf, rng) if self.shuffle else tuple(np.concatenate([b[i] for b in buf]) for i in range(3))
            n = len(merged[2])
            stop = (n // bs) * bs if self.drop_last else n
            yield from self._batches(merged, stop)

    def _emit_in_order(self, buf: list, arrays: tuple, bs: int) -> Iterator[Batch]:
        # Without shuffling, carry a remainder over so batches stay full across partitions.
        if buf:
            arrays = tuple(np.concatenate([buf[0][i], arrays[i]]) for i in range(3))
            buf.clear()
        n = len(arrays[2])
        full = (n // bs) * bs
        yield from self._batches(arrays, full)
        if full < n:
            buf.append(tuple(a[full:] for a in arrays))

    def __repr__(self) -> str:
        return (
            f"ParquetStream({len(self.partitions)} partitions, {self.n_rows:,} rows, batch {self.batch_size}, "
            f"shuffle={self.shuffle}, buffer {self.buffer_rows:,} rows, seed {self.seed}, "
            f"rank {self.rank}/{self.world_size})"
        )


def _shuffled(buf: list[tuple[np.ndarray, ...]], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    arrays = tuple(np.concatenate([b[i] for b in buf]) if len(buf) > 1 else buf[0][i] for i in range(3))
    perm = rng.permutation(len(arrays[2]))
    return tuple(a[perm] for a in arrays)


def make_loader(stream: ParquetStream, *, num_workers: int = 0, device: str | torch.device = "cpu") -> DataLoader:
    """A DataLoader over ``stream`` (which batches itself), pinned memory on CUDA.

    Call ``stream.set_epoch(e)`` before iterating it for epoch ``e``; workers are started per
    epoch so that they see the epoch.
    """
    cuda = torch.device(device).type == "cuda"
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=cuda,
        prefetch_factor=4 if num_workers else None,
        persistent_workers=False,
    )
