"""Preprocessing at scale: a scikit-learn transformer that fits on Dask in bounded memory.

:class:`TabularPreprocessor` learns everything it needs (means, standard deviations,
category frequencies) in one pass of mergeable per-partition statistics, so fitting on
50M rows needs memory for a few partitions, not the data. ``transform`` is one pure
per-partition function: pandas and Dask inputs give identical outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..compute import tree_reduce
from .errors import DataError, EmptyDataError, UnknownCategoryError, check_frame
from .scan import merge_sketches, value_sketch
from .schema import kind_of

__all__ = ["MISSING", "RARE", "TabularPreprocessor"]

RARE = "__rare__"
MISSING = "__missing__"


def _partition_stats(pdf: pd.DataFrame, numeric: list[str], categorical: list[str],
                     sketches: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(pdf), "num": {}, "cat": {}, "sketch": {}}
    for c in numeric:
        v = pdf[c].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(v)
        f = v[ok]
        mean = float(f.mean()) if len(f) else 0.0
        out["num"][c] = (len(f), mean, float(((f - mean) ** 2).sum()) if len(f) else 0.0, int((~ok).sum()))
        if sketches:  # for medians: quantiles within 1 % from one pass (see mlkit.data.scan)
            out["sketch"][c] = value_sketch(f)
    for c in categorical:
        s = pdf[c]
        vc = s.value_counts(dropna=False, sort=False)
        counts: dict[Any, int] = {}
        for key, cnt in vc.items():
            if cnt:
                counts[MISSING if pd.isna(key) else str(key)] = counts.get(MISSING if pd.isna(key) else str(key), 0) + int(cnt)
        out["cat"][c] = counts
    return out


def _merge_stats(*parts: dict[str, Any]) -> dict[str, Any]:
    out = {"n": 0, "num": {}, "cat": {}, "sketch": {}}
    for p in parts:
        out["n"] += p["n"]
        for c, sk in p["sketch"].items():
            out["sketch"][c] = merge_sketches(out["sketch"][c], sk) if c in out["sketch"] else sk
        for c, (n_b, m_b, s_b, miss_b) in p["num"].items():
            n_a, m_a, s_a, miss_a = out["num"].get(c, (0, 0.0, 0.0, 0))
            n = n_a + n_b
            delta = m_b - m_a
            mean = m_a + delta * n_b / n if n else 0.0
            m2 = s_a + s_b + (delta * delta * n_a * n_b / n if n else 0.0)
            out["num"][c] = (n, mean, m2, miss_a + miss_b)
        for c, counts in p["cat"].items():
            acc = out["cat"].setdefault(c, {})
            for k, v in counts.items():
                acc[k] = acc.get(k, 0) + v
    return out


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Encode categoricals and impute/scale numerics; fit on pandas or Dask, transform either.

    Parameters
    ----------
    categorical, numeric : column lists; default: by dtype (category/string vs int/float/bool).
        Datetime columns and columns in ``exclude`` are dropped.
    exclude : columns to leave out (e.g. the target, ids).
    min_frequency : categories rarer than this share (float < 1) or count (int) of non-missing
        rows are bucketed into ``"__rare__"``.
    max_categories : keep at most this many (most frequent) categories per column.
    handle_unknown : {"rare", "ignore", "error"} for categories not seen at fit time: map to the
        rare bucket, encode as all zeros, or raise :class:`UnknownCategoryError`.
    encoding : {"onehot", "ordinal"}.
    impute : {"mean", "median", "zero"} for missing numerics (after which ``scale`` standardises).
        The median comes from the same one pass, through a quantile sketch: within 1 % of the
        exact median (relative), on pandas and Dask alike.
    add_missing_indicator : add ``<col>__missing`` for numerics that had missing values at fit.
    dtype : output dtype (float32 halves memory for downstream training).
    """

    def __init__(
        self,
        categorical: Sequence[str] | None = None,
        numeric: Sequence[str] | None = None,
        *,
        exclude: Sequence[str] = (),
        min_frequency: float | int = 0.01,
        max_categories: int | None = None,
        handle_unknown: str = "rare",
        encoding: str = "onehot",
        impute: str = "mean",
        scale: bool = True,
        add_missing_indicator: bool = True,
        dtype: str = "float32",
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.exclude = exclude
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.handle_unknown = handle_unknown
        self.encoding = encoding
        self.impute = impute
        self.scale = scale
        self.add_missing_indicator = add_missing_indicator
        self.dtype = dtype

    # ------------------------------------------------------------------ fit

    def _check_params(self) -> None:
        if self.handle_unknown not in {"rare", "ignore", "error"}:
            raise DataError(f"handle_unknown must be 'rare', 'ignore' or 'error', got {self.handle_unknown!r}")
        if self.encoding not in {"onehot", "ordinal"}:
            raise DataError(f"encoding must be 'onehot' or 'ordinal', got {self.encoding!r}")
        if self.impute not in {"mean", "median", "zero"}:
            raise DataError(f"impute must be 'mean', 'median' or 'zero', got {self.impute!r}")
        mf = self.min_frequency
        if isinstance(mf, bool) or not isinstance(mf, (int, float)) or mf < 0 or (isinstance(mf, float) and mf >= 1):
            raise DataError(f"min_frequency must be a share in [0, 1) or a count >= 0, got {mf!r}")

    def _columns(self, X) -> tuple[list[str], list[str]]:
        cols = list(X.columns)
        excl = set(self.exclude)
        for arg in ("categorical", "numeric"):
            given = getattr(self, arg)
            if given is not None:
                missing = [c for c in given if c not in cols]
                if missing:
                    raise DataError(f"TabularPreprocessor: {arg} column(s) {missing} not in the frame; it has {cols}")
        missing = [c for c in excl if c not in cols]
        if missing:
            raise DataError(f"TabularPreprocessor: exclude names column(s) {missing} not in the frame")
        kinds = {c: kind_of(X.dtypes[c]) for c in cols}
        if self.numeric is not None:
            numeric = list(self.numeric)
            bad = [f"{c!r} ({X.dtypes[c]})" for c in numeric if kinds[c] not in {"int", "float", "bool"}]
            if bad:
                raise DataError(f"TabularPreprocessor: numeric column(s) {', '.join(bad)} are not numeric; "
                                "expected int, float or bool dtype")
        else:
            numeric = [c for c in cols if kinds[c] in {"int", "float", "bool"} and c not in excl]
        if self.categorical is not None:
            categorical = list(self.categorical)
        else:
            categorical = [c for c in cols if kinds[c] in {"category", "string"} and c not in excl]
        both = set(numeric) & set(categorical)
        if both:
            raise DataError(f"TabularPreprocessor: column(s) {sorted(both)} are both numeric and categorical")
        return numeric, categorical

    def fit(self, X, y=None):
        """Learn imputation values, scales and kept categories in one bounded-memory pass."""
        self._check_params()
        check_frame(X, where="TabularPreprocessor.fit")
        numeric, categorical = self._columns(X)
        if not numeric and not categorical:
            raise DataError("TabularPreprocessor.fit: no numeric or categorical columns to encode")
        used = numeric + categorical
        want_sketch = self.impute == "median"
        if hasattr(X, "dask"):
            import dask

            parts = [dask.delayed(_partition_stats, pure=True)(p, numeric, categorical, want_sketch)
                     for p in X[used].to_delayed(optimize_graph=True)]
            stats = tree_reduce(parts, _merge_stats, desc="TabularPreprocessor.fit")
        else:
            stats = _merge_stats(*[_partition_stats(X.iloc[i : i + 1_000_000], numeric, categorical, want_sketch)
                                   for i in range(0, max(len(X), 1), 1_000_000)])
        if stats["n"] == 0:
            raise EmptyDataError("TabularPreprocessor.fit: empty frame: 0 rows; expected at least one row")
        self.n_rows_seen_ = int(stats["n"])
        self.numeric_ = numeric
        self.categorical_ = categorical
        self.input_dtypes_ = {c: str(X.dtypes[c]) for c in used}
        self.fill_values_: dict[str, float] = {}
        self.scales_: dict[str, float] = {}
        self.centers_: dict[str, float] = {}
        self.missing_indicator_: list[str] = []
        for c in numeric:
            n, mean, m2, n_miss = stats["num"][c]
            fill = mean if (self.impute == "mean" and n) else 0.0
            if self.impute == "median" and n:
                fill = stats["sketch"][c].quantile(0.5)
            self.fill_values_[c] = float(fill)
            std = float(np.sqrt(m2 / (n - 1))) if n > 1 else 0.0
            self.centers_[c] = float(mean) if (self.scale and n) else 0.0
            self.scales_[c] = std if (self.scale and std > 0) else 1.0
            if self.add_missing_indicator and n_miss > 0:
                self.missing_indicator_.append(c)
        self.categories_: dict[str, list[str]] = {}
        self.rare_categories_: dict[str, list[str]] = {}
        self.has_missing_: dict[str, bool] = {}
        for c in categorical:
            counts = dict(stats["cat"][c])
            self.has_missing_[c] = counts.pop(MISSING, 0) > 0
            present = sum(counts.values())
            mf = self.min_frequency
            threshold = mf * present if isinstance(mf, float) else mf
            ordered = sorted(counts, key=lambda k: (-counts[k], k))
            kept = [k for k in ordered if counts[k] >= threshold and counts[k] > 0]
            if self.max_categories is not None:
                kept = kept[: self.max_categories]
            self.categories_[c] = sorted(kept)
            self.rare_categories_[c] = sorted(k for k in counts if k not in set(kept) and counts[k] > 0)
        self.feature_names_out_ = self._feature_names()
        self.n_features_in_ = len(used)
        self.feature_names_in_ = np.asarray(used, dtype=object)
        return self

    def _feature_names(self) -> list[str]:
        names: list[str] = []
        for c in self.numeric_:
            names.append(c)
        for c in self.missing_indicator_:
            names.append(f"{c}__missing")
        for c in self.categorical_:
            if self.encoding == "ordinal":
                names.append(c)
                continue
            names.extend(f"{c}={k}" for k in self.categories_[c])
            if self.rare_categories_[c] or self.handle_unknown == "rare":
                names.append(f"{c}={RARE}")
            if self.has_missing_[c]:
                names.append(f"{c}={MISSING}")
        return names

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    # ------------------------------------------------------------------ transform

    def _transform_part(self, pdf: pd.DataFrame) -> pd.DataFrame:
        n = len(pdf)
        names = self.feature_names_out_
        out = np.zeros((n, len(names)), dtype=self.dtype)
        pos = {name: i for i, name in enumerate(names)}
        for c in self.numeric_:
            s = pdf[c]
            if kind_of(s.dtype) not in {"int", "float", "bool"}:
                raise DataError(
                    f"TabularPreprocessor.transform: column {c!r} has dtype {s.dtype}; expected numeric "
                    f"(it was {self.input_dtypes_[c]} at fit)"
                )
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            miss = ~np.isfinite(v)
            v = np.where(miss, self.fill_values_[c], v)
            out[:, pos[c]] = (v - self.centers_[c]) / self.scales_[c]
            if c in self.missing_indicator_:
                out[:, pos[f"{c}__missing"]] = miss
        for c in self.categorical_:
            s = pdf[c]
            kept = self.categories_[c]
            rare = self.rare_categories_[c]
            vocab = kept + rare
            missing = s.isna().to_numpy()
            index = pd.Index(vocab, dtype=object)
            if isinstance(s.dtype, pd.CategoricalDtype):
                # Map the (few) categories, not the (many) rows.
                lookup = index.get_indexer(s.cat.categories.astype(str))
                raw = s.cat.codes.to_numpy()
                codes = np.where(raw >= 0, lookup[np.maximum(raw, 0)], -1).astype(np.int64)
            else:
                codes = index.get_indexer(s.astype(str).to_numpy(dtype=object)).astype(np.int64)
            codes[missing] = -1
            unknown = (codes < 0) & ~missing
            if unknown.any() and self.handle_unknown == "error":
                values = pd.unique(s[unknown].astype(str))
                first = pdf.index[np.flatnonzero(unknown)[0]]
                first = first.item() if isinstance(first, np.generic) else first
                raise UnknownCategoryError(
                    f"TabularPreprocessor.transform: column {c!r} has {int(unknown.sum())} value(s) in "
                    f"categories not seen at fit: {list(values[:5])} (first at row {first!r}); expected one of "
                    f"{len(vocab)} known categories, or use handle_unknown='rare'/'ignore'"
                )
            is_rare = (codes >= len(kept)) | (unknown & (self.handle_unknown == "rare"))
            if self.encoding == "ordinal":
                col = codes.astype(np.float64)
                col[is_rare] = len(kept)
                col[unknown & (self.handle_unknown == "ignore")] = -2
                col[missing] = -1
                out[:, pos[c]] = col
                continue
            base = pos[f"{c}={kept[0]}"] if kept else None
            hit = (codes >= 0) & (codes < len(kept))
            if base is not None and hit.any():
                out[np.flatnonzero(hit), base + codes[hit]] = 1
            rare_name = f"{c}={RARE}"
            if rare_name in pos:
                out[is_rare, pos[rare_name]] = 1
            miss_name = f"{c}={MISSING}"
            if miss_name in pos:
                out[missing, pos[miss_name]] = 1
        return pd.DataFrame(out, index=pdf.index, columns=names)

    def transform(self, X):
        """Encode ``X`` (pandas -> pandas, Dask -> lazy Dask) with the fitted state."""
        check_is_fitted(self, "feature_names_out_")
        check_frame(X, where="TabularPreprocessor.transform")
        used = self.numeric_ + self.categorical_
        missing = [c for c in used if c not in X.columns]
        if missing:
            raise DataError(f"TabularPreprocessor.transform: column(s) {missing} seen at fit are missing "
                            f"from the frame; it has {list(X.columns)}")
        if hasattr(X, "dask"):
            meta = pd.DataFrame(np.zeros((0, len(self.feature_names_out_)), dtype=self.dtype),
                                columns=self.feature_names_out_)
            return X[used].map_partitions(self._transform_part, meta=meta)
        if len(X) == 0:
            raise EmptyDataError("TabularPreprocessor.transform: empty frame: 0 rows; expected at least one row")
        return self._transform_part(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
