"""Train/valid/test splits on pandas or Dask: stratified or group-aware, reproducible per seed.

* ``groups=``: every row of a group lands in the same split, decided by a seeded hash of the
  group value, so it does not depend on partitioning (proportions hold over groups).
* ``stratify=``: a first, cheap pass counts each stratum per partition (only that column is
  read); rows are then shuffled within their partition and the stratum's global rank ``r``
  goes to the split where the low-discrepancy sequence ``frac(r * phi + c)`` falls, so each
  stratum is divided in the requested proportions to within a few rows, even at 0.1 %
  prevalence, without ever gathering the data.
* neither: a seeded uniform draw per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .errors import DataError, EmptyDataError, check_frame

__all__ = ["SPLIT_NAMES", "assign_splits", "train_valid_test_split"]

SPLIT_NAMES = ("train", "valid", "test")
_PHI = (np.sqrt(5.0) - 1.0) / 2.0  # golden-ratio Weyl sequence: lowest discrepancy in 1-D


def _check_sizes(sizes: Sequence[float]) -> np.ndarray:
    arr = np.asarray(sizes, dtype=float)
    if arr.ndim != 1 or len(arr) < 2 or (arr <= 0).any() or abs(arr.sum() - 1) > 1e-6:
        raise DataError(f"sizes must be 2 or 3 positive shares summing to 1, got {list(sizes)}")
    return np.cumsum(arr)[:-1]


def _hash_key(seed: int) -> str:
    return f"{int(seed) % 10**16:016d}"


def _by_group(pdf: pd.DataFrame, groups: str, cuts: np.ndarray, seed: int) -> np.ndarray:
    h = pd.util.hash_array(pdf[groups].astype(str).to_numpy(dtype=object), hash_key=_hash_key(seed))
    u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.searchsorted(cuts, u, side="right").astype(np.int8)


def _stratum_offset(seed: int, stratum: str) -> float:
    h = pd.util.hash_array(np.array([stratum], dtype=object), hash_key=_hash_key(seed))[0]
    return float(h >> np.uint64(11)) / float(1 << 53)


# Stream identifiers keep the splitter's random numbers apart from make_tabular's, which are
# drawn from default_rng([seed, block]): numpy ignores trailing zeros in a seed, so a
# two-element key [seed, part] here would replay the very numbers that generated partition
# `part`, correlating the split with the data.
_STRATUM_STREAM = 0x53504C54  # "SPLT"
_ROW_STREAM = 7


def _by_stratum(pdf: pd.DataFrame, stratify: str, cuts: np.ndarray, seed: int, part: int,
                offsets: dict[str, int]) -> np.ndarray:
    keys = pdf[stratify].astype(str).to_numpy(dtype=object)
    rng = np.random.default_rng([int(seed), int(part), _STRATUM_STREAM])
    order = rng.permutation(len(pdf))
    out = np.empty(len(pdf), dtype=np.int8)
    shuffled = keys[order]
    for key in pd.unique(shuffled):
        where = order[shuffled == key]  # rows of this stratum, in shuffled order
        r = offsets.get(key, 0) + np.arange(len(where), dtype=np.float64)
        u = np.mod((r + 1.0) * _PHI + _stratum_offset(seed, key), 1.0)
        out[where] = np.searchsorted(cuts, u, side="right")
    return out


def _by_row(pdf: pd.DataFrame, cuts: np.ndarray, seed: int, part: int) -> np.ndarray:
    u = np.random.default_rng([int(seed), int(part), _ROW_STREAM]).random(len(pdf))
    return np.searchsorted(cuts, u, side="right").astype(np.int8)


def _assign_part(pdf: pd.DataFrame, part: int, *, column: str, cuts: np.ndarray, seed: int,
                 stratify: str | None, groups: str | None, offsets: dict[str, int] | None) -> pd.DataFrame:
    if groups is not None:
        codes = _by_group(pdf, groups, cuts, seed)
    elif stratify is not None:
        codes = _by_stratum(pdf, stratify, cuts, seed, part, offsets or {})
    else:
        codes = _by_row(pdf, cuts, seed, part)
    out = pdf.copy()
    names = list(SPLIT_NAMES[: len(cuts) + 1])
    out[column] = pd.Categorical.from_codes(codes, categories=names)
    return out


def _counts(s: pd.Series) -> dict[str, int]:
    vc = s.astype(str).value_counts()
    return {str(k): int(v) for k, v in vc.items()}


def assign_splits(
    df,
    sizes: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    stratify: str | None = None,
    groups: str | None = None,
    seed: int = 0,
    column: str = "split",
):
    """``df`` with a categorical ``column`` naming each row's split (``train``/``valid``/``test``).

    See the module docstring for how ``stratify`` and ``groups`` are honoured. The result
    is reproducible for a seed (and, for ``groups``, independent of the partitioning).
    """
    check_frame(df, where="assign_splits")
    cuts = _check_sizes(sizes)
    if stratify is not None and groups is not None:
        raise DataError("use either stratify= or groups=, not both")
    for arg, name in (("stratify", stratify), ("groups", groups)):
        if name is not None and name not in df.columns:
            raise DataError(f"{arg} column {name!r} not in the frame; it has {list(map(str, df.columns))}")
    if column in df.columns:
        raise DataError(f"column {column!r} already exists; pass another column= name")
    kwargs = {"column": column, "cuts": cuts, "seed": int(seed), "stratify": stratify, "groups": groups}
    if not hasattr(df, "dask"):
        if len(df) == 0:
            raise EmptyDataError("assign_splits: empty frame: 0 rows; expected at least one row")
        return _assign_part(df, 0, offsets=None, **kwargs)

    import dask
    import dask.dataframe as dd

    parts = df.to_delayed(optimize_graph=True)
    offsets: list[dict[str, int] | None] = [None] * len(parts)
    if stratify is not None:
        counts = dask.compute(*[dask.delayed(_counts)(p) for p in df[stratify].to_delayed()])
        running: dict[str, int] = {}
        for i, c in enumerate(counts):
            offsets[i] = dict(running)
            for k, v in c.items():
                running[k] = running.get(k, 0) + v
    meta = df._meta.assign(**{column: pd.Categorical([], categories=list(SPLIT_NAMES[: len(cuts) + 1]))})
    fn = dask.delayed(_assign_part, pure=True)
    out = [fn(p, i, offsets=offsets[i], **kwargs) for i, p in enumerate(parts)]
    return dd.from_delayed(out, meta=meta, divisions=df.divisions, verify_meta=False)


def train_valid_test_split(
    df,
    sizes: Sequence[float] = (0.7, 0.15, 0.15),
    *,
    stratify: str | None = None,
    groups: str | None = None,
    seed: int = 0,
):
    """Split ``df`` (pandas or Dask) into 2 or 3 frames with the given shares.

    Returns
    -------
    tuple of frames (train, valid[, test]) of the same type as ``df``, without the helper column.
    """
    column = "__split__"
    marked = assign_splits(df, sizes, stratify=stratify, groups=groups, seed=seed, column=column)
    names = SPLIT_NAMES[: len(sizes)]
    return tuple(marked[marked[column] == name].drop(columns=[column]) for name in names)
