"""One pass over a pandas or Dask frame: mergeable per-partition summaries.

:func:`mlkit.data.validate` and :func:`mlkit.data.profile` both read their numbers from a
:class:`ScanResult`; :func:`scan` computes it in a single pass, partition by partition,
with a tree reduction on the workers, so memory stays bounded by a few partitions.

Per column it keeps counts, exact min/max, Welford moments, a relative-error quantile
sketch (log-spaced bins, the DDSketch idea: every quantile within ``SKETCH_ALPHA`` relative
error), per-label bin counts (for label-leakage hints), category counts, a k-minimum-values
distinct-count sketch, and range-violation counts against a schema. Whole rows are hashed
for duplicate detection: exact up to ``DUPLICATE_EXACT_ROWS`` rows; beyond, only hashes below a
threshold are kept (a bottom-k sample: copies of a row share a hash, so they are kept or dropped
together) and the count is scaled up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, EmptyDataError, check_frame
from .schema import Schema, kind_of

__all__ = ["SKETCH_ALPHA", "ColumnSummary", "ScanResult", "Sketch", "scan"]

SKETCH_ALPHA = 0.01
_GAMMA = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_MIN_ABS = 1e-9
_MAX_ABS = 1e13
_IMIN = math.ceil(math.log(_MIN_ABS) / _LOG_GAMMA)
_IMAX = math.ceil(math.log(_MAX_ABS) / _LOG_GAMMA)
_NB = _IMAX - _IMIN + 1  # bins per sign
N_SKETCH_BINS = 2 * _NB + 1  # negatives, zero, positives (monotone in x)
KMV_K = 2048
DUPLICATE_EXACT_ROWS = 2_000_000
PANDAS_CHUNK_ROWS = 1_000_000
MAX_STRING_VALUES = 2_000


# --------------------------------------------------------------------------- sketches


def sketch_index(x: np.ndarray) -> np.ndarray:
    """Bin index of each (finite) value in the log-spaced sketch."""
    ax = np.abs(x)
    # float32 logs are twice as fast and far finer than the 2 % bin width.
    i = np.ceil(np.log(np.clip(ax, _MIN_ABS, _MAX_ABS).astype(np.float32)) * np.float32(1 / _LOG_GAMMA))
    i = np.clip(i, _IMIN, _IMAX).astype(np.int64) - _IMIN  # 0.._NB-1
    out = np.where(x > 0, _NB + 1 + i, _NB - 1 - i)
    out[ax < _MIN_ABS] = _NB
    return out


def _bin_values() -> np.ndarray:
    i = np.arange(_IMIN, _IMAX + 1, dtype=np.float64)
    pos = 2 * _GAMMA**i / (_GAMMA + 1)  # the value within alpha of every value in the bin
    return np.concatenate([-pos[::-1], [0.0], pos])


_BIN_VALUES = _bin_values()


@dataclass
class Sketch:
    """Quantiles from merged sketch bins, clamped to the exact min and max."""

    counts: np.ndarray  # (N_SKETCH_BINS,)
    vmin: float
    vmax: float

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
        vals = np.clip(_BIN_VALUES[idx], self.vmin, self.vmax)
        vals[qa <= 0] = self.vmin
        vals[qa >= 1] = self.vmax
        return float(vals[0]) if np.isscalar(q) else vals

    def histogram(self, bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts) over [min, max], bins re-cut from the sketch."""
        lo, hi = self.vmin, self.vmax
        if not np.isfinite(lo) or hi <= lo:
            return np.array([lo, hi if hi > lo else lo + 1]), np.array([self.n])
        nz = self.counts > 0
        vals = np.clip(_BIN_VALUES[nz], lo, hi)
        counts, edges = np.histogram(vals, bins=bins, range=(lo, hi), weights=self.counts[nz])
        return edges, counts.astype(np.int64)


def _kmv(hashes: np.ndarray, k: int = KMV_K) -> tuple[np.ndarray, bool]:
    """The k smallest distinct hashes, and whether larger distinct hashes were dropped."""
    n = len(hashes)
    if n > 8 * k:
        # Hashes are uniform: those below this threshold hold ~8k values, usually >= k distinct.
        thr = np.uint64(min(2**64 - 1, int(2.0**64 * (8 * k / n))))
        sub = pd.unique(hashes[hashes < thr])
        if len(sub) >= k:
            sub.sort()
            return sub[:k], True
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
    sketch: np.ndarray | None = None  # (n_labels, N_SKETCH_BINS) counts
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
        return Sketch(self.sketch.sum(axis=0), self.vmin, self.vmax)


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
    for name in ("sketch", "missing_by_label", "cat_counts"):
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


def _labels(pdf: pd.DataFrame, plan: _Plan) -> np.ndarray | None:
    if plan.target is None:
        return None
    y = pdf[plan.target].to_numpy(dtype=float, na_value=np.nan)
    lab = np.zeros(len(y), dtype=np.int64)
    lab[y == 1] = 1
    lab[np.isnan(y)] = 0
    return lab


def _numeric_values(s: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        v = s.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        v[s.isna().to_numpy()] = np.nan
        return v
    return s.to_numpy(dtype=np.float64, na_value=np.nan)


def _summarize(pdf: pd.DataFrame, plan: _Plan) -> dict[str, Any]:
    labels = _labels(pdf, plan)
    L = plan.n_labels
    cols: dict[str, ColumnSummary] = {}
    for name in plan.columns:
        kind = plan.kinds[name]
        s = pdf[name]
        cs = ColumnSummary(kind, n=len(s))
        if kind in {"int", "float", "bool", "datetime"}:
            v = _numeric_values(s, kind)
            finite = np.isfinite(v)
            missing = np.isnan(v)
            cs.n_missing = int(missing.sum())
            cs.n_nonfinite = int((~finite & ~missing).sum())
            all_finite = bool(finite.all())
            f = v if all_finite else v[finite]
            lab = labels if (labels is None or all_finite) else labels[finite]
            if len(f):
                cs.vmin, cs.vmax = float(f.min()), float(f.max())
                cs.mean = float(f.mean())
                d = f - cs.mean
                cs.m2 = float(np.dot(d, d))
                cs.n_zero = len(f) - int(np.count_nonzero(f))
            if kind != "datetime":  # timestamps: min/max/count only
                idx = sketch_index(f)
                if lab is not None:
                    idx = idx + lab * N_SKETCH_BINS
                cs.sketch = np.bincount(idx, minlength=L * N_SKETCH_BINS).reshape(L, N_SKETCH_BINS)
            if labels is not None:
                cs.missing_by_label = np.bincount(labels[missing], minlength=L)
            lo, hi = plan.ranges.get(name, (None, None))
            if lo is not None:
                cs.n_below = int((f < lo).sum())
            if hi is not None:
                cs.n_above = int((f > hi).sum())
            h = pd.util.hash_array(f) if len(f) else np.zeros(0, np.uint64)
            cs.kmv, cs.kmv_truncated = _kmv(h)
        elif kind == "category" and name not in plan.categories:
            # Categories unknown up front: count the partition's categories, merge by value.
            codes = s.cat.codes.to_numpy().astype(np.int64)
            missing = codes < 0
            cs.n_missing = int(missing.sum())
            C = len(s.cat.categories)
            lab = labels[~missing] if labels is not None else np.zeros(int((~missing).sum()), np.int64)
            counts2 = np.bincount(codes[~missing] + lab * C, minlength=L * C).reshape(L, C)
            keep = counts2.sum(axis=0) > 0
            cs.values = {str(k): counts2[:, i] for i, k in enumerate(s.cat.categories) if keep[i]}
        elif kind == "category":
            cats = plan.categories[name]
            codes = s.cat.codes.to_numpy().astype(np.int64)
            if list(s.cat.categories) != cats:  # partitions with other category lists: realign
                codes = pd.Categorical(s, categories=cats).codes.astype(np.int64)
            codes = np.where(codes < 0, len(cats), codes)
            cs.n_missing = int((codes == len(cats)).sum())
            C = len(cats) + 1
            if labels is not None:
                codes = codes + labels * C
            cs.categories = cats
            cs.cat_counts = np.bincount(codes, minlength=L * C).reshape(L, C)
        else:  # string-like
            present = s.notna().to_numpy()
            cs.n_missing = int((~present).sum())
            vals = s[present].astype(str)
            lab = labels[present] if labels is not None else np.zeros(len(vals), np.int64)
            vc = pd.crosstab(vals.to_numpy(), lab) if len(vals) else pd.DataFrame()
            counts = {}
            for key, row in vc.iterrows():
                arr = np.zeros(L, np.int64)
                for li, c in row.items():
                    arr[int(li)] = int(c)
                counts[str(key)] = arr
            truncated = False
            if len(counts) > MAX_STRING_VALUES:
                keep = sorted(counts, key=lambda k: -counts[k].sum())[:MAX_STRING_VALUES]
                counts, truncated = {k: counts[k] for k in keep}, True
            cs.values, cs.values_truncated = counts, truncated
            if name in plan.allowed:
                bad = ~vals.isin(plan.allowed[name]).to_numpy()
                cs.n_not_allowed = int(bad.sum())
                cs.not_allowed_examples = list(dict.fromkeys(vals[bad].head(50)))[:5]
            h = pd.util.hash_array(vals.to_numpy(dtype=object)) if len(vals) else np.zeros(0, np.uint64)
            cs.kmv, cs.kmv_truncated = _kmv(h)
        cols[name] = cs
    out: dict[str, Any] = {"n": len(pdf), "columns": cols, "dup": None}
    if plan.duplicates:
        h = pd.util.hash_pandas_object(pdf[plan.columns], index=False).to_numpy()
        # Expected total rows ~ this partition x npartitions: keep only this partition's share of
        # the bottom-k sample now (a lower threshold elsewhere only filters further when merged).
        expected = len(pdf) * plan.npartitions
        local = int(2.0**64 * DUPLICATE_EXACT_ROWS / expected) if expected > DUPLICATE_EXACT_ROWS else None
        out["dup"] = _bottom(h, local)
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


def _tree(parts: list, fan_in: int = 8):
    import dask

    merge = dask.delayed(_merge_many, pure=True)
    while len(parts) > 1:
        parts = [merge(*parts[i : i + fan_in]) for i in range(0, len(parts), fan_in)]
    return parts[0]


def scan(
    df,
    *,
    schema: Schema | None = None,
    target: str | None = None,
    columns: list[str] | None = None,
    duplicates: bool = True,
) -> ScanResult:
    """Summarise every column of ``df`` (pandas or Dask) in one pass.

    Parameters
    ----------
    schema : ranges and allowed values to count violations of (optional).
    target : 0/1 label column; enables per-label counts for leakage hints.
    columns : restrict to these columns (column pruning: Parquet reads only these).
    duplicates : hash whole rows to count duplicates.
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
    if is_dask:
        parts = [dask.delayed(_summarize, pure=True)(p, plan) for p in df.to_delayed(optimize_graph=True)]
        (merged,) = dask.compute(_tree(parts))
        npart = df.npartitions
    else:
        chunks = [df.iloc[i : i + PANDAS_CHUNK_ROWS] for i in range(0, max(len(df), 1), PANDAS_CHUNK_ROWS)]
        merged = _merge_many(*[_summarize(c, plan) for c in chunks])
        npart = len(chunks)
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
