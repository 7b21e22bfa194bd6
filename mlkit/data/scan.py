"""One pass over a pandas or Dask frame: mergeable per-partition summaries.

:func:`mlkit.data.validate` and :func:`mlkit.data.profile` both read their numbers from a
:class:`ScanResult`; :func:`scan` computes it in a single pass, partition by partition,
with a tree reduction on the workers, so memory stays bounded by a few partitions.

Per column it keeps counts, exact min/max, mergeable moments (Chan's formula), a relative-
error quantile sketch (log-linear bins read off the float's exponent and top mantissa bits,
the HDR-histogram idea: every quantile within ``SKETCH_ALPHA`` relative error), per-label bin
counts (for label-leakage hints), category counts, a k-minimum-values distinct-count sketch,
and range-violation counts against a schema. Whole rows are hashed for duplicate detection:
exact up to ``DUPLICATE_EXACT_ROWS`` rows; beyond, only hashes below a threshold are kept (a
bottom-k sample: copies of a row share a hash, so they are kept or dropped together) and the
count is scaled up.

The kernel is written for memory bandwidth, since it must cost no more than reading the data
(``benchmarks/bench_data.py``): a handful of vectorised passes per column, each value hashed
once (one multiply) for both the distinct-count sketch and the row hash, work arrays reused
across columns and partitions, and no temporaries of a partition's length.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..compute import tree_reduce
from .errors import DataError, EmptyDataError, check_frame
from .schema import Schema, kind_of

__all__ = ["SKETCH_ALPHA", "ColumnSummary", "ScanResult", "Sketch", "merge_sketches", "scan", "value_sketch"]

SKETCH_ALPHA = 0.01
# Sketch bins come straight from the bits of the float64 value: the exponent and the top
# _MBITS mantissa bits (the HDR-histogram idea) -- one shift per value instead of a log, and
# a bin [lo, hi) has hi / lo <= 1 + 2**-_MBITS, so its representative 2*lo*hi/(lo+hi) is
# within 1 / (2**(_MBITS+1) + 1) = 0.78 % < SKETCH_ALPHA of every value in it.
_MBITS = 6
_SHIFT = 52 - _MBITS
_KEYS = 1 << (64 - _SHIFT)  # keys of the signed top bits, offset to be >= 0
_HALF = _KEYS // 2
_MIN_ABS = 1e-9  # |x| below this bin's lower edge counts as zero
_MAX_ABS = float(np.finfo(np.float64).max)  # every finite magnitude has its bin


def _raw_key(v: float) -> int:
    """``bits >> _SHIFT`` of one value: its magnitude bucket, minus _HALF when negative."""
    return int(np.array([v], dtype=np.float64).view(np.int64)[0] >> _SHIFT)


_BLO, _BHI = _raw_key(_MIN_ABS), _raw_key(_MAX_ABS)  # magnitude buckets of the bin range
_NB = _BHI - _BLO + 1  # bins per sign
N_SKETCH_BINS = 2 * _NB + 1  # negatives, zero, positives (monotone in x); a column stores only
# the window of bins it uses (``ColumnSummary.sketch_lo``), typically a few hundred.
KMV_K = 2048
DUPLICATE_EXACT_ROWS = 2_000_000
PANDAS_CHUNK_ROWS = 1_000_000
MAX_STRING_VALUES = 2_000


# --------------------------------------------------------------------------- sketches


def _fold_table() -> np.ndarray:
    """Sketch bin of every key ``(bits >> _SHIFT) + _HALF``."""
    key = np.arange(_KEYS, dtype=np.int64)
    neg = key < _HALF  # sign bit set: the arithmetic shift left key - _HALF < 0
    b = np.where(neg, key, key - _HALF)  # magnitude bucket
    i = np.clip(b, _BLO, _BHI) - _BLO
    out = np.where(neg, _NB - 1 - i, _NB + 1 + i)
    out[b < _BLO] = _NB
    return out


_FOLD = _fold_table()


def _keys(f: np.ndarray, out: np.ndarray | None = None, offset: int | np.ndarray = _HALF) -> np.ndarray:
    """Sketch key of each finite float64 value (into ``out`` when given: no allocation).

    ``offset``: _HALF, or per row ``label * _KEYS + _HALF`` to count each label apart."""
    k = np.right_shift(f.view(np.int64), _SHIFT, out=out)
    k += offset
    return k


def sketch_index(x: np.ndarray) -> np.ndarray:
    """Bin index of each (finite) value in the log-linear sketch."""
    return _FOLD[_keys(np.ascontiguousarray(x, dtype=np.float64))]


def _fold(table: np.ndarray, vmin: float, vmax: float, totals: np.ndarray) -> tuple[int, np.ndarray]:
    """Sketch window ``(lo, counts[n_labels, width])`` from key counts: label ``l``'s count of
    raw key ``r`` (``bits >> _SHIFT``, in [-_HALF, _HALF)) is at ``table[l * _KEYS + _HALF + r]``;
    ``totals``: values per label.

    Only two windows of keys are read, from the exact min and max: magnitudes >= _MIN_ABS of
    each sign up to the key of the min (negatives) or of the max (positives); the rest of the
    table is untouched (a mixed-sign column spans half of it). What lies outside the windows
    is the zero bin."""
    L = len(totals)
    bins, counts = [np.array([_NB])], [np.zeros((L, 1), np.int64)]
    windows = []
    if vmin < 0:  # negatives: the key grows with the magnitude, so the min has the largest
        windows.append((_BLO - _HALF, _raw_key(vmin)))
    if vmax > 0:
        windows.append((_BLO, _raw_key(vmax)))
    for a, b in windows:
        if b < a:
            continue
        parts = np.stack([table[li * _KEYS + _HALF + a: li * _KEYS + _HALF + b + 1] for li in range(L)])
        nz = np.flatnonzero(parts.any(axis=0))
        bins.append(_FOLD[nz + (a + _HALF)])
        counts.append(parts[:, nz])
    bins_all, counts_all = np.concatenate(bins), np.concatenate(counts, axis=1)
    counts_all[:, 0] = totals - counts_all.sum(axis=1)  # the zero bin: everything else
    if counts_all[:, 0].sum() == 0:
        bins_all, counts_all = bins_all[1:], counts_all[:, 1:]
    if len(bins_all) == 0:
        return _NB, np.zeros((L, 0), np.int64)
    lo = int(bins_all.min())
    out = np.zeros((L, int(bins_all.max()) - lo + 1), np.int64)
    for li in range(L):
        np.add.at(out[li], bins_all - lo, counts_all[li])
    return lo, out


_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place on uint64 ``h`` (``tmp``: scratch of the same size)."""
    for shift, mult in ((30, _M1), (27, _M2), (31, None)):
        np.right_shift(h, shift, out=tmp)
        h ^= tmp
        if mult is not None:
            h *= mult
    return h


def _bin_values() -> np.ndarray:
    b = np.arange(_BLO, _BHI + 2, dtype=np.int64)
    edges = (b << _SHIFT).view(np.float64)
    edges[-1] = _MAX_ABS  # the top bin's upper edge would be inf
    lo, hi = edges[:-1], edges[1:]
    pos = 2.0 / (1.0 / lo + 1.0 / hi)  # 2*lo*hi/(lo+hi), within alpha of every value in the bin
    return np.concatenate([-pos[::-1], [0.0], pos])


_BIN_VALUES = _bin_values()


@dataclass
class Sketch:
    """Quantiles from merged sketch bins, clamped to the exact min and max."""

    counts: np.ndarray  # counts of bins lo, lo + 1, ... (all N_SKETCH_BINS when lo = 0)
    vmin: float
    vmax: float
    lo: int = 0

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def quantile(self, q: float | np.ndarray) -> np.ndarray | float:
        n = self.n
        if n == 0:
            return np.nan if np.isscalar(q) else np.full(np.shape(q), np.nan)
        cum = np.cumsum(self.counts)
        qa = np.atleast_1d(np.asarray(q, dtype=float))
        rank = np.floor(qa * (n - 1))  # lower rank, as numpy's "lower" method
        idx = np.searchsorted(cum, rank + 1, side="left")
        vals = np.clip(_BIN_VALUES[self.lo + idx], self.vmin, self.vmax)
        vals[qa <= 0] = self.vmin
        vals[qa >= 1] = self.vmax
        return float(vals[0]) if np.isscalar(q) else vals

    def histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts) over [min, max], bins re-cut from the sketch."""
        lo, hi = self.vmin, self.vmax
        if not np.isfinite(lo) or hi <= lo:
            return np.array([lo, hi if hi > lo else lo + 1]), np.array([self.n])
        nz = np.flatnonzero(self.counts)
        vals = np.clip(_BIN_VALUES[self.lo + nz], lo, hi)
        counts, edges = np.histogram(vals, bins=bins, range=(lo, hi), weights=self.counts[nz])
        return edges, counts.astype(np.int64)


def value_sketch(x: np.ndarray) -> Sketch:
    """Quantile sketch of the finite values of ``x``; mergeable with :func:`merge_sketches`."""
    f = np.ascontiguousarray(x, dtype=np.float64)
    f = f[np.isfinite(f)]
    if not len(f):
        return Sketch(np.zeros(0, np.int64), np.inf, -np.inf, _NB)
    vmin, vmax = float(f.min()), float(f.max())
    lo, counts = _fold(np.bincount(_keys(f), minlength=_KEYS), vmin, vmax, np.array([len(f)]))
    return Sketch(counts[0], vmin, vmax, lo)


def merge_sketches(a: Sketch, b: Sketch) -> Sketch:
    """The sketch of both inputs' values."""
    lo, counts = _merge_windows(a.lo, a.counts[None], b.lo, b.counts[None])
    return Sketch(counts[0], min(a.vmin, b.vmin), max(a.vmax, b.vmax), lo)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _kmv(hashes: np.ndarray, k: int = KMV_K, mask: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """The k smallest distinct hashes, and whether larger distinct hashes were dropped."""
    frac = 3.0 * k / max(len(hashes), 1)
    while frac < 1.0:
        # Hashes are uniform: those below 2**64 * frac are that share of the values, and if k
        # distinct ones are among them they are the k smallest of all. Else widen and retry.
        below = np.less(hashes, np.uint64(int(2.0**64 * frac)), out=mask[: len(hashes)] if mask is not None else None)
        sub = _sorted_unique(hashes[below])  # a few thousand: sorting beats a hash table
        if len(sub) >= k:
            return sub[:k], True
        frac *= max(2.0, 1.5 * k / max(len(sub), 1))
    u = np.sort(pd.unique(hashes))
    return u[:k], len(u) > k


def kmv_estimate(mins: np.ndarray, truncated: bool) -> float:
    """Distinct count from a k-minimum-values sketch (exact when nothing was dropped)."""
    if not truncated:
        return float(len(mins))
    m = len(mins)
    kth = float(mins[m - 1]) / 2.0**64
    return (m - 1) / max(kth, 1e-300)


# --------------------------------------------------------------------------- summaries


@dataclass
class ColumnSummary:
    """Mergeable statistics of one column (see module docstring)."""

    kind: str
    n: int = 0
    n_missing: int = 0
    # numeric / datetime
    mean: float = 0.0
    m2: float = 0.0
    vmin: float = np.inf
    vmax: float = -np.inf
    n_zero: int = 0
    sketch: np.ndarray | None = None  # (n_labels, width) counts of sketch bins sketch_lo, ...
    sketch_lo: int = 0
    missing_by_label: np.ndarray | None = None
    n_below: int = 0
    n_above: int = 0
    n_nonfinite: int = 0
    # category / string
    categories: list | None = None
    cat_counts: np.ndarray | None = None  # (n_labels, n_categories + 1): last = missing
    values: dict | None = None  # string value -> counts per label
    values_truncated: bool = False
    n_not_allowed: int = 0
    not_allowed_examples: list = field(default_factory=list)
    # distinct values
    kmv: np.ndarray | None = None
    kmv_truncated: bool = False

    @property
    def n_present(self) -> int:
        return self.n - self.n_missing

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n_present - 1)) if self.n_present > 1 else float("nan")

    @property
    def distinct(self) -> float:
        if self.cat_counts is not None:
            return float((self.cat_counts[:, :-1].sum(axis=0) > 0).sum())
        if self.values is not None and (self.kmv is None or not self.values_truncated):
            return float(len(self.values))
        if self.kmv is None:
            return float("nan")
        return kmv_estimate(self.kmv, self.kmv_truncated)

    @property
    def distinct_exact(self) -> bool:
        if self.cat_counts is not None:
            return True
        if self.kmv is None:
            return not self.values_truncated
        return not self.kmv_truncated

    def sketch_total(self) -> Sketch | None:
        if self.sketch is None:
            return None
        return Sketch(self.sketch.sum(axis=0), self.vmin, self.vmax, self.sketch_lo)


def _merge_windows(alo: int, a: np.ndarray, blo: int, b: np.ndarray) -> tuple[int, np.ndarray]:
    """Sum of two (n_labels, width) bin windows starting at bins ``alo`` and ``blo``."""
    if a.shape[1] == 0:
        return blo, b
    if b.shape[1] == 0:
        return alo, a
    lo = min(alo, blo)
    out = np.zeros((a.shape[0], max(alo + a.shape[1], blo + b.shape[1]) - lo), np.int64)
    out[:, alo - lo: alo - lo + a.shape[1]] += a
    out[:, blo - lo: blo - lo + b.shape[1]] += b
    return lo, out


def _merge_col(a: ColumnSummary, b: ColumnSummary) -> ColumnSummary:
    out = ColumnSummary(a.kind)
    out.n = a.n + b.n
    out.n_missing = a.n_missing + b.n_missing
    na, nb = a.n_present, b.n_present
    if na + nb > 0:
        delta = b.mean - a.mean
        out.mean = a.mean + delta * nb / (na + nb)
        out.m2 = a.m2 + b.m2 + delta * delta * na * nb / (na + nb)
    out.vmin, out.vmax = min(a.vmin, b.vmin), max(a.vmax, b.vmax)
    out.n_zero = a.n_zero + b.n_zero
    out.n_below, out.n_above = a.n_below + b.n_below, a.n_above + b.n_above
    out.n_nonfinite = a.n_nonfinite + b.n_nonfinite
    if a.sketch is not None and b.sketch is not None:
        out.sketch_lo, out.sketch = _merge_windows(a.sketch_lo, a.sketch, b.sketch_lo, b.sketch)
    else:
        out.sketch_lo, out.sketch = (a.sketch_lo, a.sketch) if a.sketch is not None else (b.sketch_lo, b.sketch)
    for name in ("missing_by_label", "cat_counts"):
        x, y = getattr(a, name), getattr(b, name)
        setattr(out, name, x if y is None else y if x is None else x + y)
    out.categories = a.categories if a.categories is not None else b.categories
    if a.values is not None or b.values is not None:
        merged = dict(a.values or {})
        for key, cnt in (b.values or {}).items():
            merged[key] = merged[key] + cnt if key in merged else cnt
        truncated = a.values_truncated or b.values_truncated
        if len(merged) > MAX_STRING_VALUES:
            keep = sorted(merged, key=lambda k: -merged[k].sum())[:MAX_STRING_VALUES]
            merged = {k: merged[k] for k in keep}
            truncated = True
        out.values, out.values_truncated = merged, truncated
    out.n_not_allowed = a.n_not_allowed + b.n_not_allowed
    out.not_allowed_examples = list(dict.fromkeys(a.not_allowed_examples + b.not_allowed_examples))[:5]
    if a.kmv is not None or b.kmv is not None:
        both = np.concatenate([x for x in (a.kmv, b.kmv) if x is not None])
        u = np.unique(both)
        out.kmv = u[:KMV_K]
        out.kmv_truncated = a.kmv_truncated or b.kmv_truncated or len(u) > KMV_K
    return out


@dataclass
class _Plan:
    columns: list[str]
    kinds: dict[str, str]
    categories: dict[str, list]
    target: str | None
    n_labels: int
    ranges: dict[str, tuple[float | None, float | None]]
    allowed: dict[str, set]
    duplicates: bool
    npartitions: int = 1


def _labels(pdf: pd.DataFrame, plan: _Plan, sc: _Scratch) -> np.ndarray | None:
    if plan.target is None:
        return None
    s = pdf[plan.target]
    y = s.to_numpy() if isinstance(s.dtype, np.dtype) else s.to_numpy(dtype=float, na_value=np.nan)
    np.equal(y, 1, out=sc.mask)  # 1 is positive; 0, other values and missing are not
    return np.copyto(sc.lab, sc.mask) or sc.lab


def _numeric_values(s: pd.Series, kind: str, sc: _Scratch) -> np.ndarray:
    """The column as float64 (NaN for missing): a view when it already is, else in ``sc.v``."""
    if kind == "datetime":
        v = np.copyto(sc.v, s.to_numpy(dtype="datetime64[ns]").view(np.int64), casting="unsafe") or sc.v
        v[s.isna().to_numpy()] = np.nan
        return v
    if isinstance(s.dtype, np.dtype):  # numpy-backed: no missing marker but NaN itself
        arr = s.to_numpy()
        if arr.dtype == np.float64:
            return np.ascontiguousarray(arr)
        return np.copyto(sc.v, arr, casting="unsafe") or sc.v
    return np.ascontiguousarray(s.to_numpy(dtype=np.float64, na_value=np.nan))


class _Scratch:
    """Work arrays of one partition's length, reused by every column and, per thread, by the
    next partition: numpy temporaries would each be fresh pages (Dask workers hand freed memory
    back to the OS at once), and page faults then cost as much as the arithmetic."""

    _SPEC = (("v", np.float64), ("f", np.float64), ("k", np.int64), ("h", np.uint64), ("t", np.uint64), ("row", np.uint64),
             ("lab", np.int64), ("lab_key", np.int64), ("mask", np.bool_), ("ones", np.float64))

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.full = {name: np.empty(capacity, dtype) for name, dtype in self._SPEC}
        self.full["ones"].fill(1.0)  # sums as BLAS dot products: several times faster than .sum()
        self.sized(capacity)

    def sized(self, n: int) -> _Scratch:
        for name, arr in self.full.items():
            setattr(self, name, arr[:n])
        return self

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.full.values())


# Kept between partitions, per thread, within a budget per process: a Dask worker with many
# threads must not hold a set for each (~73 bytes a row: 73 MB for a 1M-row partition).
KEEP_SCRATCH_BYTES = 256 * 2**20
_POOL: dict[int, _Scratch] = {}
_POOL_LOCK = threading.Lock()


def _scratch(n: int) -> _Scratch:
    tid = threading.get_ident()
    with _POOL_LOCK:
        sc = _POOL.get(tid)
    if sc is not None and sc.capacity >= n:
        return sc.sized(n)
    sc = _Scratch(n)
    with _POOL_LOCK:
        _POOL.pop(tid, None)
        if sum(s.nbytes for s in _POOL.values()) + sc.nbytes <= KEEP_SCRATCH_BYTES:
            _POOL[tid] = sc
    return sc.sized(n)


def _release_scratch() -> None:
    with _POOL_LOCK:
        _POOL.pop(threading.get_ident(), None)


def _hash_values(v: np.ndarray, sc: _Scratch, normalize_zero: bool, mult: np.uint64) -> np.ndarray:
    """A 64-bit hash of each float64 value, into ``sc.h``: the bits times the column's odd
    ``mult`` (one pass). A bijection, so distinct values never collide; its top bits, which the
    k-minimum-values sketch reads, depend on all of the value's bits (Fibonacci hashing).
    Rows are hashed by XOR-ing their columns' hashes, each with its own multiplier."""
    n = len(v)
    if normalize_zero:  # -0.0 + 0.0 == +0.0: one value, one hash
        v = np.add(v, 0.0, out=sc.f[:n])
    return np.multiply(v.view(np.uint64), mult, out=sc.h[:n])


_NAN_HASH = np.uint64(0x7FF8_0000_0000_0001)


def _umul(a: np.uint64 | int, b: np.uint64 | int) -> np.uint64:
    """Product modulo 2**64 (numpy scalars warn on the wrap-around that arrays do silently)."""
    return np.uint64(int(a) * int(b) & (2**64 - 1))


def _column_multiplier(i: int) -> np.uint64:
    """An odd 64-bit constant per column position (splitmix64 of the position)."""
    mask = 2**64 - 1
    z = (i + 1) * 0x9E3779B97F4A7C15 & mask
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & mask
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & mask
    return np.uint64((z ^ (z >> 31)) | 1)


@functools.lru_cache(maxsize=256)
def _category_hashes_cached(values: tuple) -> np.ndarray:
    return pd.util.hash_array(np.array(values, dtype=object))


def _category_hashes(values: pd.Index) -> np.ndarray:
    """Hash of each category value; cached, since every partition has the same few categories."""
    if len(values) > 10_000:
        return pd.util.hash_array(values.to_numpy(dtype=object))
    return _category_hashes_cached(tuple(values))


def _factorize_text(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """(codes, distinct values as str) of a text column; code -1 for missing."""
    codes, values = pd.factorize(s, use_na_sentinel=True)
    as_text = pd.Index(values).astype(str)
    if not as_text.is_unique:  # mixed objects such as 1 and "1": one value once written as text
        codes, as_text = pd.factorize(s.astype(str).where(s.notna()), use_na_sentinel=True)
        as_text = pd.Index(as_text).astype(str)
    return codes, as_text


def _text_hashes(values: pd.Index) -> np.ndarray:
    return pd.util.hash_array(values.to_numpy(dtype=object)) if len(values) else np.zeros(0, np.uint64)


def _numeric_summary(cs: ColumnSummary, v: np.ndarray, labels: np.ndarray | None, key_offset: np.ndarray | None,
                     lab_total: int, plan: _Plan, name: str, scratch: _Scratch, mult: np.uint64) -> np.ndarray:
    """Fill ``cs`` from the float64 values ``v``; returns the column's per-row hash.

    ``key_offset``: ``label * _KEYS + _HALF`` per row (None without a target)."""
    n = len(v)
    L = plan.n_labels
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: nan, as intended
        total = float(np.dot(v, scratch.ones[:n])) if n else 0.0
    missing = None
    if np.isfinite(total):  # a NaN or inf anywhere makes the sum non-finite
        f, ko, finite = v, key_offset, None
    else:
        finite = np.isfinite(v)
        missing = np.isnan(v)
        cs.n_missing = int(missing.sum())
        cs.n_nonfinite = n - cs.n_missing - int(finite.sum())
        f = v[finite]
        ko = key_offset[finite] if key_offset is not None else None
        total = float(np.dot(f, scratch.ones[:m])) if (m := len(f)) else 0.0
    if labels is not None:
        cs.missing_by_label = (np.bincount(labels[missing], minlength=L) if missing is not None
                               else np.zeros(L, np.int64))
    m = len(f)
    if m:
        cs.vmin, cs.vmax = float(f.min()), float(f.max())
        cs.mean = total / m
    if m and cs.kind != "datetime":  # timestamps: min/max/count only
        s2 = float(np.dot(f, f))
        m2 = s2 - total * cs.mean
        if not m2 > 1e-6 * s2:  # cancellation (mean >> spread) or constant: exact two-pass form
            d = np.subtract(f, cs.mean, out=scratch.f[:m])
            m2 = float(np.dot(d, d))
        cs.m2 = max(m2, 0.0)
        keys = _keys(f, out=scratch.k[:m], offset=ko if ko is not None else _HALF)
        table = np.bincount(keys, minlength=L * _KEYS)  # untouched pages stay unmapped
        n1 = lab_total if finite is None else (int(np.count_nonzero(ko >= _KEYS)) if ko is not None else 0)
        totals = np.array([m - n1, n1]) if L == 2 else np.array([m])
        # Zero (and subnormal dust below 2**-1028): raw key 0, or -_HALF when negative.
        cs.n_zero = int(sum(table[li * _KEYS + _HALF] + table[li * _KEYS] for li in range(L)))
        cs.sketch_lo, cs.sketch = _fold(table, cs.vmin, cs.vmax, totals)
        lo, hi = plan.ranges.get(name, (None, None))
        # Count range violations only when the exact min/max say there are some.
        if lo is not None and cs.vmin < lo:
            cs.n_below = int((f < lo).sum())
        if hi is not None and cs.vmax > hi:
            cs.n_above = int((f > hi).sum())
    elif cs.kind != "datetime":
        cs.sketch_lo, cs.sketch = _NB, np.zeros((L, 0), np.int64)
    h = _hash_values(v, scratch, normalize_zero=cs.n_zero > 0, mult=mult)
    if finite is not None:
        h[missing] = _umul(_NAN_HASH, mult)  # every missing value alike, whatever its NaN payload
        cs.kmv, cs.kmv_truncated = _kmv(h[finite])
    else:
        cs.kmv, cs.kmv_truncated = _kmv(h, mask=scratch.mask)
    return h


def _summarize(pdf: pd.DataFrame, plan: _Plan) -> dict[str, Any]:
    n_rows = len(pdf)
    scratch = _scratch(n_rows)
    labels = _labels(pdf, plan, scratch)
    key_offset = None
    if labels is not None:
        key_offset = np.multiply(labels, _KEYS, out=scratch.lab_key)
        key_offset += _HALF
    lab_total = int(np.count_nonzero(labels)) if labels is not None else 0
    L = plan.n_labels
    row_hash = None
    if plan.duplicates:
        row_hash = scratch.row
        row_hash.fill(0)
    cols: dict[str, ColumnSummary] = {}
    for position, name in enumerate(plan.columns):
        mult = _column_multiplier(position)
        kind = plan.kinds[name]
        s = pdf[name]
        cs = ColumnSummary(kind, n=len(s))
        col_hash = None
        if kind in {"int", "float", "bool", "datetime"}:
            col_hash = _numeric_summary(cs, _numeric_values(s, kind, scratch), labels, key_offset, lab_total, plan, name,
                                        scratch, mult)
        else:  # category or text: integer codes into the partition's distinct values
            text = kind != "category"
            if text:
                codes, values = _factorize_text(s)
            else:
                codes, values = s.array.codes, s.cat.categories  # the Categorical's own arrays
                if name in plan.categories and list(values) != plan.categories[name]:
                    # Partitions with other category lists: realign to the known categories.
                    values = pd.Index(plan.categories[name])
                    codes = pd.Categorical(s, categories=plan.categories[name]).codes
            C = len(values)
            k = np.add(codes, 1, out=scratch.k[:n_rows], dtype=np.int64)  # 0: missing, 1..C
            # Hash the values (codes differ between partitions); missing as NaN.
            value_hashes = _text_hashes(values) if text else _category_hashes(values)
            if plan.duplicates:
                table = np.concatenate([[_NAN_HASH], value_hashes]) * mult
                col_hash = np.take(table, k, out=scratch.h[:n_rows], mode="wrap")  # k in range: no checks
            if labels is not None:
                k += np.multiply(labels, C + 1, out=scratch.t[:n_rows].view(np.int64))
            counts = np.bincount(k, minlength=L * (C + 1)).reshape(L, C + 1)
            cs.n_missing = int(counts[:, 0].sum())
            if name in plan.categories:
                cs.categories = plan.categories[name]
                cs.cat_counts = np.concatenate([counts[:, 1:], counts[:, :1]], axis=1)  # missing last
            else:  # values unknown up front: the partition's own, merged by value
                per_value = counts[:, 1:]
                totals = per_value.sum(axis=0)
                keep = np.flatnonzero(totals)
                if text and len(keep) > MAX_STRING_VALUES:
                    keep = keep[np.argsort(-totals[keep], kind="stable")[:MAX_STRING_VALUES]]
                    cs.values_truncated = True
                cs.values = {str(values[i]): per_value[:, i] for i in keep}
            if text:
                cs.kmv, cs.kmv_truncated = _kmv(value_hashes)  # already distinct: one per value
                if name in plan.allowed:
                    bad = np.flatnonzero(~pd.Index(values).isin(list(plan.allowed[name])))
                    cs.n_not_allowed = int(counts[:, 1:][:, bad].sum())
                    cs.not_allowed_examples = [str(values[i]) for i in bad[:5]]  # in order of appearance
        if row_hash is not None:
            # XOR of the columns' hashes, each with its own multiplier (a column's place
            # matters); mixed again at the end.
            row_hash ^= col_hash
        cols[name] = cs
    out: dict[str, Any] = {"n": n_rows, "columns": cols, "dup": None}
    if row_hash is not None:
        h = _mix(row_hash, scratch.t)
        # Expected total rows ~ this partition x npartitions: keep only this partition's share of
        # the bottom-k sample now (a lower threshold elsewhere only filters further when merged).
        expected = n_rows * plan.npartitions
        local = int(2.0**64 * DUPLICATE_EXACT_ROWS / expected) if expected > DUPLICATE_EXACT_ROWS else None
        out["dup"] = _bottom(h, local)
        if out["dup"][0] is h:  # the work array is reused by the next partition
            out["dup"] = (h.copy(), out["dup"][1])
    return out


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    cols = {k: _merge_col(a["columns"][k], b["columns"][k]) for k in a["columns"]}
    dup = None
    if a["dup"] is not None:
        (ha, ta), (hb, tb) = a["dup"], b["dup"]
        dup = _bottom(np.concatenate([ha, hb]), _min_threshold(ta, tb))
    return {"n": a["n"] + b["n"], "columns": cols, "dup": dup}


def _merge_many(*parts: dict[str, Any]) -> dict[str, Any]:
    out = parts[0]
    for p in parts[1:]:
        out = _merge(out, p)
    return out


@dataclass
class ScanResult:
    """Merged one-pass statistics of a frame."""

    n_rows: int
    columns: dict[str, ColumnSummary]
    dtypes: dict[str, str]
    target: str | None
    duplicate_rows: float | None  # rows that repeat an earlier row (estimated beyond exact size)
    duplicates_exact: bool
    npartitions: int

    @property
    def duplicate_rate(self) -> float | None:
        return None if self.duplicate_rows is None else self.duplicate_rows / max(self.n_rows, 1)


def _min_threshold(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _bottom(h: np.ndarray, threshold: int | None) -> tuple[np.ndarray, int | None]:
    """Hashes below ``threshold`` (None: all), at most ~DUPLICATE_EXACT_ROWS of them."""
    if threshold is not None:
        h = h[h < np.uint64(threshold)]
    if len(h) > DUPLICATE_EXACT_ROWS:
        threshold = int(np.partition(h, DUPLICATE_EXACT_ROWS)[DUPLICATE_EXACT_ROWS])
        h = h[h < np.uint64(threshold)]
    return h, threshold


def _plan(df, schema: Schema | None, target: str | None, columns: list[str] | None, duplicates: bool) -> _Plan:
    cols = list(columns) if columns is not None else list(df.columns)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"column(s) {missing} not in the frame; it has {list(map(str, df.columns))}")
    kinds = {c: kind_of(df.dtypes[c]) for c in cols}
    cats: dict[str, list] = {}
    for c in cols:
        if kinds[c] == "category":
            dtype = df.dtypes[c]
            known = getattr(df[c].cat, "known", True) if hasattr(df, "dask") else True
            if known:  # otherwise (e.g. read from Parquet) counted per value, like text
                cats[c] = list(dtype.categories)
    if target is not None:
        if target not in df.columns:
            raise DataError(f"target column {target!r} not in the frame; it has {list(map(str, df.columns))}")
        if kinds.get(target, kind_of(df.dtypes[target])) not in {"int", "bool", "float"}:
            target = None  # leakage hints need a 0/1 label
    ranges: dict[str, tuple] = {}
    allowed: dict[str, set] = {}
    if schema is not None:
        for c, spec in schema.columns.items():
            if c in kinds:
                ranges[c] = (spec.min, spec.max)
                if spec.categories is not None and kinds[c] == "string":
                    allowed[c] = {str(v) for v in spec.categories}
    return _Plan(cols, kinds, cats, target, 2 if target else 1, ranges, allowed, bool(duplicates))


def scan(
    df,
    *,
    schema: Schema | None = None,
    target: str | None = None,
    columns: list[str] | None = None,
    duplicates: bool = True,
    progress: bool = True,
) -> ScanResult:
    """Summarise every column of ``df`` (pandas or Dask) in one pass.

    Parameters
    ----------
    schema : ranges and allowed values to count violations of (optional).
    target : 0/1 label column; enables per-label counts for leakage hints.
    columns : restrict to these columns (column pruning: Parquet reads only these).
    duplicates : hash whole rows to count duplicates.
    progress : on a distributed cluster, show a progress bar over the partitions.
    """
    import dask

    check_frame(df, where="scan")
    if target is None and schema is not None:
        target = schema.target
    is_dask = hasattr(df, "dask")
    if columns is not None:
        cols = list(dict.fromkeys([*columns, *([target] if target else [])]))
        df = df[cols]
    plan = _plan(df, schema, target, None, duplicates)
    plan.npartitions = df.npartitions if is_dask else max(1, -(-len(df) // PANDAS_CHUNK_ROWS))
    try:
        if is_dask:
            parts = [dask.delayed(_summarize, pure=True)(p, plan) for p in df.to_delayed(optimize_graph=True)]
            merged = tree_reduce(parts, _merge_many, desc="scan", progress=progress)
            npart = df.npartitions
        else:
            chunks = [df.iloc[i : i + PANDAS_CHUNK_ROWS] for i in range(0, max(len(df), 1), PANDAS_CHUNK_ROWS)]
            merged = _merge_many(*[_summarize(c, plan) for c in chunks])
            npart = len(chunks)
    finally:
        _release_scratch()  # a notebook kernel (or a sync scheduler) need not keep the work arrays
    if merged["n"] == 0:
        raise EmptyDataError(
            f"empty frame: 0 rows (columns {plan.columns[:10]}); expected at least one row"
        )
    dup_rows, exact = None, True
    if merged["dup"] is not None:
        kept, threshold = merged["dup"]
        _, counts = np.unique(kept, return_counts=True)
        exact = threshold is None
        scale = 1.0 if exact else 2.0**64 / threshold  # kept hashes are a uniform share of all
        dup_rows = float((counts - 1).sum() * scale)
    return ScanResult(
        n_rows=int(merged["n"]),
        columns=merged["columns"],
        dtypes={c: str(df.dtypes[c]) for c in plan.columns},
        target=plan.target,
        duplicate_rows=dup_rows,
        duplicates_exact=exact,
        npartitions=npart,
    )


# --------------------------------------------------------------------------- leakage


def _binned_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """AUC of the best ordering of bins (by positive rate): what one feature alone can do."""
    P, N = pos.sum(), neg.sum()
    if P == 0 or N == 0:
        return float("nan")
    rate = pos / np.maximum(pos + neg, 1)
    order = np.argsort(-rate, kind="stable")
    p, n = pos[order].astype(float), neg[order].astype(float)
    neg_after = N - np.cumsum(n)
    return float((p * neg_after).sum() + 0.5 * (p * n).sum()) / float(P * N)


def _coarsen(pos: np.ndarray, neg: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge adjacent (ordered) bins into about ``n_bins`` of equal mass."""
    tot = pos + neg
    cum = np.cumsum(tot)
    if cum[-1] == 0:
        return pos, neg
    mid = cum - tot / 2.0  # mass before each bin's centre
    group = np.clip(np.floor(mid * n_bins / cum[-1]), 0, n_bins - 1).astype(np.int64)
    return np.bincount(group, pos, n_bins), np.bincount(group, neg, n_bins)


def leakage_auc(cs: ColumnSummary, *, min_per_bin: int = 50, max_bins: int = 64) -> float:
    """Binned single-feature AUC for one column summary with per-label counts (nan if none)."""
    if cs.sketch is not None and cs.sketch.shape[0] == 2:
        n_present = int(cs.sketch.sum())
        k = int(min(max_bins, max(2, n_present // min_per_bin)))
        pos, neg = _coarsen(cs.sketch[1].astype(float), cs.sketch[0].astype(float), k)
        if cs.missing_by_label is not None and cs.missing_by_label.sum() > 0:
            pos = np.append(pos, cs.missing_by_label[1])
            neg = np.append(neg, cs.missing_by_label[0])
        return _binned_auc(pos, neg)
    if cs.cat_counts is not None and cs.cat_counts.shape[0] == 2:
        pos, neg = cs.cat_counts[1].astype(float), cs.cat_counts[0].astype(float)
    elif cs.values is not None and not cs.values_truncated and cs.values:
        arr = np.array(list(cs.values.values()))
        if arr.shape[1] != 2:
            return float("nan")
        neg, pos = arr[:, 0].astype(float), arr[:, 1].astype(float)
    else:
        return float("nan")
    # Pool small categories: an id-like column would otherwise "predict" its training rows.
    small = (pos + neg) < min_per_bin
    if small.any():
        pos = np.append(pos[~small], pos[small].sum())
        neg = np.append(neg[~small], neg[small].sum())
    return _binned_auc(pos, neg)
