"""Parquet on disk: partitions sized for the cluster, written atomically."""

from __future__ import annotations

import io
import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataError, check_frame

__all__ = ["ParquetInfo", "parse_size", "read_parquet", "write_parquet"]

_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(size: int | str) -> int:
    """Bytes in ``size``: an int, or a string like ``"100MB"`` / ``"64 MiB"``."""
    if isinstance(size, (int, float)) and not isinstance(size, bool):
        if size <= 0:
            raise DataError(f"size must be positive, got {size}")
        return int(size)
    text = str(size).strip().lower().replace(" ", "")
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            try:
                value = float(text[: -len(unit)])
            except ValueError:
                break
            if value > 0:
                return int(value * _UNITS[unit])
    raise DataError(f"cannot read size {size!r}; expected e.g. 100_000_000, '100MB' or '64MiB'")


@dataclass
class ParquetInfo:
    """What :func:`write_parquet` wrote."""

    path: Path
    n_files: int
    n_rows: int
    bytes_on_disk: int
    rows_per_file_target: int

    @property
    def mean_file_mb(self) -> float:
        return self.bytes_on_disk / max(self.n_files, 1) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "n_files": self.n_files, "n_rows": self.n_rows,
            "bytes_on_disk": self.bytes_on_disk, "mean_file_mb": round(self.mean_file_mb, 2),
            "rows_per_file_target": self.rows_per_file_target,
        }


def _parquet_bytes_per_row(sample: pd.DataFrame, compression: str) -> float:
    """Compressed Parquet bytes per row, measured by writing ``sample`` to memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(sample, preserve_index=False), buf, compression=compression)
    return max(buf.tell() / max(len(sample), 1), 1.0)


def _known_length(ddf) -> int | None:
    """Row count from integer divisions that number rows 0..n-1 (as make_tabular/upsample give)."""
    divs = ddf.divisions
    if ddf.known_divisions and divs[0] == 0 and all(isinstance(d, int) for d in divs):
        return int(divs[-1]) + 1
    return None


def write_parquet(
    df,
    path: str | os.PathLike,
    *,
    partition_size: int | str = "100MB",
    overwrite: bool = False,
    compression: str = "snappy",
    write_index: bool = False,
    sample_rows: int = 50_000,
) -> ParquetInfo:
    """Write a pandas or Dask DataFrame as a Parquet dataset with ~``partition_size`` files.

    The file size is aimed at by writing a sample of the first partition to memory
    (compressed bytes per row), then repartitioning. The dataset is written to a temporary
    sibling directory and renamed into place only when every partition succeeded, so a
    failure leaves nothing at ``path``.

    Parameters
    ----------
    df : pandas or Dask DataFrame (Dask is computed partition by partition, never whole).
    path : target directory (must not exist unless ``overwrite``).
    partition_size : target bytes per file on disk, e.g. ``"100MB"``.

    Returns
    -------
    ParquetInfo
    """
    import dask.dataframe as dd

    check_frame(df, where="write_parquet")
    target = parse_size(partition_size)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(df, pd.DataFrame):
        if len(df) == 0:
            from .errors import EmptyDataError

            raise EmptyDataError("write_parquet: empty frame: 0 rows; nothing to write")
        bpr = _parquet_bytes_per_row(df.iloc[:sample_rows], compression)
        n_rows = len(df)
        rows_per_file = max(1, int(target / bpr))
        ddf = dd.from_pandas(df, npartitions=max(1, math.ceil(n_rows / rows_per_file)), sort=False)
    else:
        ddf = df
        first = ddf.partitions[0].compute()
        bpr = _parquet_bytes_per_row(first.iloc[:sample_rows], compression)
        rows_per_file = max(1, int(target / bpr))
        n_rows_est = _known_length(ddf) or len(first) * ddf.npartitions
        wanted = max(1, math.ceil(n_rows_est / rows_per_file))
        # Only merge/split when far off target: repartitioning is cheap but not free.
        if wanted < ddf.npartitions / 1.5 or wanted > ddf.npartitions * 1.5:
            ddf = ddf.repartition(npartitions=wanted)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        ddf.to_parquet(tmp, write_index=write_index, compression=compression, write_metadata_file=False)
        info = _describe(tmp)
        if info.n_rows == 0:
            from .errors import EmptyDataError

            raise EmptyDataError("write_parquet: empty frame: 0 rows; nothing to write")
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(path, old)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info.path = path
    info.rows_per_file_target = rows_per_file
    return info


def _describe(path: Path) -> ParquetInfo:
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet"))
    n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return ParquetInfo(path, len(files), int(n_rows), int(sum(f.stat().st_size for f in files)), 0)


def read_parquet(path: str | os.PathLike, columns: list[str] | None = None, **kwargs: Any):
    """Lazy Dask read of a Parquet dataset with a clear error for a missing path or column."""
    import dask.dataframe as dd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such Parquet dataset: {p}")
    ddf = dd.read_parquet(str(p), **kwargs)
    if columns is not None:
        missing = [c for c in columns if c not in ddf.columns]
        if missing:
            raise DataError(f"{p}: column(s) {missing} not in the dataset; it has {list(ddf.columns)}")
        ddf = ddf[list(columns)]
    return ddf
