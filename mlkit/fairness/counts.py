"""One pass over the data: per-group confusion counts, score histograms and bootstrap counts.

Everything a fairness audit needs reduces to small additive arrays per group:

* ``counts_w[g, c]``: weighted count of confusion cell ``c`` (0 TN, 1 FP, 2 FN, 3 TP) in
  group ``g``; ``counts_n`` the same unweighted (rows); ``counts_w2`` the sum of squared
  weights (for Kish's effective sample size).
* ``hist_w[g, y, b]``: weighted count of rows of group ``g`` with label ``y`` whose score
  falls in bin ``b`` of ``n_bins`` equal bins on [0, 1] (threshold sweeps, ROC/PR, calibration),
  with ``hist_n`` unweighted, ``hist_s[g, b]`` the weighted sum of the scores in each bin
  (exact per-bin calibration), and ``score_sum[g, y]`` / ``score_sq[g, y]`` the weighted sums
  of the score and its square.
* ``boot[r, g, c]``: weighted count of cell ``c`` of group ``g`` in Poisson bootstrap
  replicate ``r``.

Each partition yields a :class:`Counts`; partitions merge by exact addition keyed by group,
so pandas and Dask give the same counts, and a partition recomputed after a worker died
gives the same arrays.

The Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012) gives each row an
independent Poisson(1) weight per replicate. The statistics only need the per-cell sums of
those weights, and a sum of ``n`` independent Poisson(1) draws *is* Poisson(``n``); rows
sharing a cell and a sample weight ``w`` contribute ``w * Poisson(n)``. So each partition
draws one Poisson value per (replicate, cell, distinct weight): identical in distribution to
drawing per row, but O(replicates x cells) rather than O(replicates x rows) for unweighted
data. The draws come from ``numpy.random.default_rng([seed, partition, ...])``, so a
re-executed partition reproduces its replicates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..compute import tree_reduce

__all__ = [
    "CELLS",
    "MISSING",
    "CountSpec",
    "Counts",
    "FairnessInputError",
    "compute_counts",
    "count_partition",
    "merge_counts",
]

CELLS = ("tn", "fp", "fn", "tp")
MISSING = "missing"  # the group label given to a missing sensitive value
_BOOT_CHUNK = 1 << 22  # Poisson draws per block when weights are many-valued (bounded memory)


class FairnessInputError(ValueError):
    """Bad input to a fairness audit (names the argument, column or value at fault)."""


@dataclass(frozen=True)
class CountSpec:
    """Which columns of a partition hold what, and how to count them."""

    y_true: str
    sensitive: tuple[str, ...]
    y_pred: str | None = None
    y_score: str | None = None
    weight: str | None = None
    threshold: float = 0.5
    pos_label: object = None
    n_bins: int = 1000
    n_bootstrap: int = 0
    seed: int = 0

    @property
    def columns(self) -> list[str]:
        cols = [self.y_true, *self.sensitive]
        cols += [c for c in (self.y_pred, self.y_score, self.weight) if c is not None]
        return list(dict.fromkeys(cols))


@dataclass
class Counts:
    """Additive per-group statistics of one partition or of the whole data (see module doc)."""

    keys: list[tuple[str, ...]]
    counts_w: np.ndarray
    counts_n: np.ndarray
    counts_w2: np.ndarray
    hist_w: np.ndarray | None = None
    hist_n: np.ndarray | None = None
    hist_s: np.ndarray | None = None
    score_sum: np.ndarray | None = None
    score_sq: np.ndarray | None = None
    boot: np.ndarray | None = None
    n_partitions: int = 1
    weighted: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    @property
    def n_rows(self) -> int:
        return int(self.counts_n.sum())


# --------------------------------------------------------------------------- one partition


def _binary(values: pd.Series | np.ndarray, name: str, pos_label: object, first_row: int) -> np.ndarray:
    """0/1 int8 array from labels; a clear error for missing or non-binary values."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if s.isna().any():
        row = first_row + int(np.flatnonzero(s.isna().to_numpy())[0])
        raise FairnessInputError(f"{name}: missing value at row {row}; labels must be 0/1 with no missing values")
    if pos_label is not None:
        return (s.to_numpy() == pos_label).astype(np.int8)
    arr = s.to_numpy()
    if arr.dtype == bool:
        return arr.astype(np.int8)
    try:
        num = arr.astype(np.float64)
    except (TypeError, ValueError):
        uniq = pd.unique(s)[:5]
        raise FairnessInputError(
            f"{name}: expected binary 0/1 labels, got values such as {list(uniq)}; "
            f"pass pos_label= to say which value is the positive class"
        ) from None
    bad = (num != 0) & (num != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        uniq = sorted(pd.unique(num).tolist())[:6]
        raise FairnessInputError(
            f"{name}: expected binary 0/1 labels, found {float(num[i])!r} at row {first_row + i} "
            f"(values include {uniq}); pass pos_label= for other encodings"
        )
    return num.astype(np.int8)


def _scores(values, name: str, first_row: int) -> np.ndarray:
    s = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(s) | (s < 0.0) | (s > 1.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FairnessInputError(
            f"{name}: scores must be probabilities in [0, 1] with no missing values; "
            f"found {float(s[i])!r} at row {first_row + i} ({int(bad.sum())} such rows in this partition)"
        )
    return s


def _weights(values, name: str, first_row: int) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0.0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FairnessInputError(
            f"{name}: sample weights must be finite and >= 0; found {float(w[i])!r} at row {first_row + i}"
        )
    return w


def _group_codes(df: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Dense codes 0..G-1 over the observed combinations, and their keys, sorted by key.

    Labels are strings (``str(value)``); a missing value is its own group :data:`MISSING`.
    """
    codes = []
    labels = []
    for col in columns:
        c, uniques = pd.factorize(df[col], use_na_sentinel=True)
        lab = [str(u) for u in uniques]
        if (c < 0).any():
            c = np.where(c < 0, len(lab), c)
            lab.append(MISSING)
        codes.append(c.astype(np.int64))
        labels.append(lab)
    combined = np.zeros(len(df), dtype=np.int64)
    for c, lab in zip(codes, labels):
        combined = combined * len(lab) + c
    uniq, inverse = np.unique(combined, return_inverse=True)
    keys = []
    for u in uniq.tolist():
        parts = []
        for lab in reversed(labels):
            u, r = divmod(u, len(lab))
            parts.append(lab[r])
        keys.append(tuple(reversed(parts)))
    # Sort by key so that the draw order of the bootstrap does not depend on row order.
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.ravel()], [keys[i] for i in order]


def _poisson_boot(
    rng: np.random.Generator, flat: np.ndarray, w: np.ndarray | None, n_cells: int, n_boot: int, counts_n: np.ndarray
) -> np.ndarray:
    """Bootstrap replicate sums of Poisson(1) row weights per cell, shape (n_boot, n_cells)."""
    if w is None:
        # Sum of n iid Poisson(1) = Poisson(n): one draw per (replicate, cell).
        return rng.poisson(counts_n.astype(np.float64), size=(n_boot, n_cells)).astype(np.float64)
    # Rows with the same cell and the same weight w contribute w * Poisson(n_rows).
    order = np.lexsort((w, flat))
    fs, ws = flat[order], w[order]
    change = np.ones(len(fs), dtype=bool)
    change[1:] = (fs[1:] != fs[:-1]) | (ws[1:] != ws[:-1])
    starts = np.flatnonzero(change)
    n_sub = np.diff(np.append(starts, len(fs))).astype(np.float64)
    cell_sub, w_sub = fs[starts], ws[starts]
    out = np.zeros((n_boot, n_cells))
    step = max(1, _BOOT_CHUNK // max(n_boot, 1))
    for lo in range(0, len(starts), step):
        hi = min(lo + step, len(starts))
        draws = rng.poisson(n_sub[lo:hi], size=(n_boot, hi - lo)) * w_sub[lo:hi]
        # Sub-cells are sorted by cell: add each run of columns into its cell.
        cells = cell_sub[lo:hi]
        bounds = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        out[:, cells[bounds]] += np.add.reduceat(draws, bounds, axis=1)
    return out


def _role(role: str, column: str) -> str:
    """How to name an input in an error: the role, and the column when the user named one."""
    return role if column.startswith("__") else f"{role} (column {column!r})"


def count_partition(df: pd.DataFrame, spec: CountSpec, partition: int = 0, first_row: int = 0) -> Counts:
    """The :class:`Counts` of one pandas partition (``partition`` seeds its bootstrap draws)."""
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise FairnessInputError(f"column(s) {missing} not in the data; it has {list(df.columns)}")
    y = _binary(df[spec.y_true], _role("y_true", spec.y_true), spec.pos_label, first_row)
    score = _scores(df[spec.y_score], _role("y_score", spec.y_score), first_row) if spec.y_score else None
    if spec.y_pred is not None:
        pred = _binary(df[spec.y_pred], _role("y_pred", spec.y_pred), spec.pos_label, first_row)
    elif score is not None:
        pred = (score >= spec.threshold).astype(np.int8)
    else:
        raise FairnessInputError("give y_pred (0/1 predictions) or y_score (probabilities) or both")
    w = _weights(df[spec.weight], _role("sample_weight", spec.weight), first_row) if spec.weight else None
    g, keys = _group_codes(df, spec.sensitive)
    n_groups = len(keys)
    n_cells = n_groups * 4
    flat = g * 4 + 2 * y.astype(np.int64) + pred
    counts_n = np.bincount(flat, minlength=n_cells).astype(np.int64)
    if w is None:
        counts_w = counts_n.astype(np.float64)
        counts_w2 = counts_w.copy()
    else:
        counts_w = np.bincount(flat, weights=w, minlength=n_cells)
        counts_w2 = np.bincount(flat, weights=w * w, minlength=n_cells)
    out = Counts(
        keys=keys,
        counts_w=counts_w.reshape(n_groups, 4),
        counts_n=counts_n.reshape(n_groups, 4),
        counts_w2=counts_w2.reshape(n_groups, 4),
        weighted=w is not None,
    )
    if score is not None:
        nb = spec.n_bins
        b = np.minimum((score * nb).astype(np.int64), nb - 1)
        hflat = (g * 2 + y) * nb + b
        size = n_groups * 2 * nb
        hist_n = np.bincount(hflat, minlength=size).astype(np.int64)
        hist_w = hist_n.astype(np.float64) if w is None else np.bincount(hflat, weights=w, minlength=size)
        ww = np.ones_like(score) if w is None else w
        gy = g * 2 + y
        out.hist_n = hist_n.reshape(n_groups, 2, nb)
        out.hist_w = hist_w.reshape(n_groups, 2, nb)
        out.hist_s = np.bincount(g * nb + b, weights=ww * score, minlength=n_groups * nb).reshape(n_groups, nb)
        out.score_sum = np.bincount(gy, weights=ww * score, minlength=n_groups * 2).reshape(n_groups, 2)
        out.score_sq = np.bincount(gy, weights=ww * score * score, minlength=n_groups * 2).reshape(n_groups, 2)
    if spec.n_bootstrap:
        rng = np.random.default_rng([spec.seed, partition, 0xB0075])
        boot = _poisson_boot(rng, flat, w, n_cells, spec.n_bootstrap, counts_n)
        out.boot = boot.reshape(spec.n_bootstrap, n_groups, 4)
    return out


# --------------------------------------------------------------------------- merging


def merge_counts(parts: Sequence[Counts]) -> Counts:
    """Add partitions' counts, group by group (exact for counts; fixed order for floats)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        raise FairnessInputError("no data: every partition was empty")
    if len(parts) == 1:
        return parts[0]
    keys = sorted(set().union(*(p.keys for p in parts)))
    index = {k: i for i, k in enumerate(keys)}
    first = parts[0]
    n_groups = len(keys)

    def zeros(arr: np.ndarray | None, axis: int) -> np.ndarray | None:
        if arr is None:
            return None
        shape = list(arr.shape)
        shape[axis] = n_groups
        return np.zeros(shape, dtype=arr.dtype)

    out = Counts(
        keys=keys,
        counts_w=zeros(first.counts_w, 0),
        counts_n=zeros(first.counts_n, 0),
        counts_w2=zeros(first.counts_w2, 0),
        hist_w=zeros(first.hist_w, 0),
        hist_n=zeros(first.hist_n, 0),
        hist_s=zeros(first.hist_s, 0),
        score_sum=zeros(first.score_sum, 0),
        score_sq=zeros(first.score_sq, 0),
        boot=zeros(first.boot, 1),
        n_partitions=0,
        weighted=any(p.weighted for p in parts),
    )
    for p in parts:
        idx = np.array([index[k] for k in p.keys], dtype=np.int64)
        # Keys are unique within a partition, so plain fancy-index addition is exact.
        out.counts_w[idx] += p.counts_w
        out.counts_n[idx] += p.counts_n
        out.counts_w2[idx] += p.counts_w2
        for name in ("hist_w", "hist_n", "hist_s", "score_sum", "score_sq"):
            mine, theirs = getattr(out, name), getattr(p, name)
            if mine is not None and theirs is not None:
                mine[idx] += theirs
        if out.boot is not None and p.boot is not None:
            out.boot[:, idx] += p.boot
        out.n_partitions += p.n_partitions
    return out


def _merge_all(*parts: Counts) -> Counts:
    return merge_counts(parts)


def compute_counts(frame, spec: CountSpec, *, chunk_rows: int = 1 << 21, progress: bool | None = None) -> Counts:
    """Counts over a pandas or Dask DataFrame holding the columns named in ``spec``.

    pandas frames are processed in chunks of ``chunk_rows`` (bounded memory); Dask frames
    in one pass over their partitions, merged in a tree on the cluster. With a
    ``distributed`` client active, partition results are followed with a progress bar.
    """
    import dask.dataframe as dd

    if isinstance(frame, pd.DataFrame):
        if len(frame) == 0:
            raise FairnessInputError("no data: the inputs have 0 rows")
        parts = [
            count_partition(frame.iloc[lo : lo + chunk_rows], spec, partition=i, first_row=lo)
            for i, lo in enumerate(range(0, len(frame), chunk_rows))
        ]
        return merge_counts(parts)
    if not isinstance(frame, dd.DataFrame):
        raise FairnessInputError(f"expected a pandas or Dask DataFrame, got {type(frame).__name__}")
    import dask

    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise FairnessInputError(f"column(s) {missing} not in the data; it has {list(frame.columns)}")
    delayed_parts = frame[spec.columns].to_delayed()
    count = dask.delayed(count_partition, pure=True)
    # Row numbers in error messages are partition-relative for Dask (first_row=0).
    partials = [count(p, spec, partition=i) for i, p in enumerate(delayed_parts)]
    # Merged in a fixed tree (deterministic float addition order), in groups of 8 on a cluster.
    return tree_reduce(partials, _merge_all, desc="fairness counts", progress=progress is not False)

