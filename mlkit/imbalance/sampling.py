"""Rebalancing strategies behind one interface: under-/over-sampling, SMOTE, class weights.

``rebalance(df, target, method, ratio=1.0, seed=0)`` returns a :class:`Rebalanced` holding
the training frame, the per-row weights (``method="weight"``) and the odds ratio ``w`` that
training will see, so that ``result.correct(proba)`` restores calibrated probabilities.

``ratio`` is always the minority:majority ratio after rebalancing, in (0, 1] (1.0 = balanced),
as ``sampling_strategy=<float>`` in imbalanced-learn.

Out-of-core on Dask
    Random under- and over-sampling run partition by partition after one cheap pass that
    counts the classes (only the target column is read). Partition ``i`` draws from
    ``numpy.random.default_rng([seed, i, _STREAM])``: the same seed gives the same sample. Each
    majority row is kept with probability ``q = (n_min / ratio) / n_maj`` (each minority row
    gets ``Poisson(lam)`` extra copies when over-sampling), so the target ratio is exact *in
    expectation* and the realised majority count is ``Binomial(n_maj, q)``.

In memory (pandas)
    The counts are exact, as in imbalanced-learn (``floor(n_min / ratio)`` majority rows kept;
    ``floor(n_maj * ratio) - n_min`` minority copies added), rows stay in their original order.

SMOTE family
    Through imbalanced-learn, in memory only; refused with a suggestion when the data is too
    large, and on categorical columns unless ``method="smotenc"`` (or ``"smoten"``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .checks import ImbalanceError, check_binary, check_ratio, is_dask
from .weights import class_counts, correct_prior_shift, sample_weights

__all__ = [
    "SMOTE_METHODS",
    "Rebalanced",
    "TooLargeForSmoteError",
    "oversample",
    "rebalance",
    "smote",
    "undersample",
]

SMOTE_METHODS = ("smote", "smotenc", "smoten", "borderline", "svm", "adasyn")
METHODS = ("none", "weight", "under", "over", *SMOTE_METHODS)
#: A third word in every RNG key, so sampling never replays another module's stream: numpy's
#: SeedSequence ignores trailing zeros, so ``default_rng([seed, 0])`` *is* ``default_rng(seed)``,
#: and ``make_tabular``/splits key their blocks ``[seed, block]``. Without it, undersampling data
#: generated with the same seed would keep rows by the very uniforms that drew their group.
_STREAM = 0x1BA1A

#: Default row limit for SMOTE (in memory, k-NN over the minority class, copies of the data).
SMOTE_MAX_ROWS = 2_000_000


class TooLargeForSmoteError(ImbalanceError, MemoryError):
    """The data is too large for in-memory SMOTE."""


def _check_frame(df: Any, target: str, where: str) -> None:
    if not hasattr(df, "columns"):
        raise ImbalanceError(f"{where}: expected a pandas or Dask DataFrame, got {type(df).__name__}")
    if target not in df.columns:
        raise ImbalanceError(f"{where}: target column {target!r} not in the frame; it has {list(map(str, df.columns))}")


def _classes(n_neg: int, n_pos: int) -> tuple[int, int, int, int]:
    """(minority label, n_min, majority label, n_maj); ties count 1 as the minority."""
    if n_pos <= n_neg:
        return 1, n_pos, 0, n_neg
    return 0, n_neg, 1, n_pos


def _labels(pdf: pd.DataFrame, target: str) -> np.ndarray:
    y = pdf[target]
    if isinstance(y.dtype, pd.CategoricalDtype):
        y = y.astype(y.cat.categories.dtype)
    return np.asarray(y.to_numpy(), dtype=np.float64)


# --------------------------------------------------------------------------- partition kernels


def _under_part(pdf: pd.DataFrame, target: str, minority: int, q: float, seed: int, partition_info=None) -> pd.DataFrame:
    part = (partition_info or {}).get("number", 0)
    u = np.random.default_rng([int(seed), int(part), _STREAM]).random(len(pdf))
    keep = (_labels(pdf, target) == minority) | (u < q)
    return pdf[keep]


def _over_part(pdf: pd.DataFrame, target: str, minority: int, lam: float, seed: int, partition_info=None) -> pd.DataFrame:
    part = (partition_info or {}).get("number", 0)
    extra = np.random.default_rng([int(seed), int(part), _STREAM]).poisson(lam, len(pdf))
    reps = 1 + np.where(_labels(pdf, target) == minority, extra, 0)
    return pdf.iloc[np.repeat(np.arange(len(pdf)), reps)]


# --------------------------------------------------------------------------- public samplers


def _counts(df: Any, target: str, where: str) -> tuple[int, int]:
    n_neg, n_pos = class_counts(df[target], name=f"{where}: target {target!r}")
    check_binary(n_neg, n_pos, name=f"{where}: target {target!r}")
    return n_neg, n_pos


def undersample(df, target: str, ratio: float = 1.0, *, seed: int = 0):
    """Randomly drop majority rows until minority/majority = ``ratio``.

    pandas: exact counts (as imbalanced-learn's ``RandomUnderSampler``); Dask: lazy, each
    majority row kept with probability ``q``, exact in expectation (see module docstring).
    Returns a frame of the same type; rows keep their order and index.
    """
    _check_frame(df, target, "undersample")
    ratio = check_ratio(ratio)
    n_neg, n_pos = _counts(df, target, "undersample")
    minority, n_min, _, n_maj = _classes(n_neg, n_pos)
    keep_maj = n_min / ratio
    if keep_maj > n_maj:
        raise ImbalanceError(
            f"undersample: ratio={ratio} needs {keep_maj:,.0f} majority rows but there are only {n_maj:,} "
            f"(current ratio {n_min / n_maj:.4g}); pick a ratio >= the current one, or oversample"
        )
    if is_dask(df):
        q = keep_maj / n_maj
        return df.map_partitions(_under_part, target, minority, q, int(seed), meta=df._meta)
    y = _labels(df, target)
    maj_idx = np.flatnonzero(y != minority)
    rng = np.random.default_rng([int(seed), 0, _STREAM])
    chosen = rng.choice(maj_idx, size=int(keep_maj), replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(y == minority), chosen]))
    return df.iloc[keep]  # positional take: cheaper than a boolean mask over every column


def oversample(df, target: str, ratio: float = 1.0, *, seed: int = 0):
    """Randomly repeat minority rows until minority/majority = ``ratio``.

    pandas: exact counts (as imbalanced-learn's ``RandomOverSampler``); Dask: lazy, each
    minority row gets ``Poisson(lam)`` extra copies, exact in expectation. Copies sit next to
    their original row (order and index kept, so indexes repeat).
    """
    _check_frame(df, target, "oversample")
    ratio = check_ratio(ratio)
    n_neg, n_pos = _counts(df, target, "oversample")
    minority, n_min, _, n_maj = _classes(n_neg, n_pos)
    want = n_maj * ratio
    if want < n_min:
        raise ImbalanceError(
            f"oversample: ratio={ratio} asks for {want:,.0f} minority rows but there are already {n_min:,} "
            f"(current ratio {n_min / n_maj:.4g}); pick a ratio >= the current one, or undersample"
        )
    if is_dask(df):
        lam = (want - n_min) / n_min
        return df.map_partitions(_over_part, target, minority, lam, int(seed), meta=df._meta)
    y = _labels(df, target)
    min_idx = np.flatnonzero(y == minority)
    n_extra = int(want) - n_min
    rng = np.random.default_rng([int(seed), 0, _STREAM])
    extra = np.bincount(rng.integers(0, len(min_idx), n_extra), minlength=len(min_idx))
    reps = np.ones(len(df), dtype=np.int64)
    reps[min_idx] += extra
    return df.iloc[np.repeat(np.arange(len(df)), reps)]


def _smote_class(method: str):
    from imblearn import over_sampling as os_

    return {
        "smote": os_.SMOTE,
        "smotenc": os_.SMOTENC,
        "smoten": os_.SMOTEN,
        "borderline": os_.BorderlineSMOTE,
        "svm": os_.SVMSMOTE,
        "adasyn": os_.ADASYN,
    }[method]


def smote(
    df,
    target: str,
    ratio: float = 1.0,
    *,
    seed: int = 0,
    method: str = "smote",
    categorical: list[str] | None = None,
    max_rows: int = SMOTE_MAX_ROWS,
    memory_fraction: float = 0.25,
    **kwargs: Any,
):
    """Synthesise minority rows with the SMOTE family (imbalanced-learn), in memory.

    Parameters
    ----------
    method : ``"smote"`` (numeric features only), ``"smotenc"`` (mixed numeric and categorical),
        ``"smoten"`` (categorical only), ``"borderline"``, ``"svm"``, ``"adasyn"``.
    categorical : categorical feature columns for ``smotenc`` (default: non-numeric dtypes).
    max_rows, memory_fraction : refuse (``TooLargeForSmoteError``) above ``max_rows`` rows or
        when ~3 float64 copies of the features would exceed this share of available memory.
    kwargs : passed to the imbalanced-learn class (e.g. ``k_neighbors=5``).

    Returns the original rows followed by the synthetic ones (fresh 0..n-1 index); a Dask
    input that is small enough is computed and the result returned as a Dask frame.
    """
    _check_frame(df, target, "smote")
    ratio = check_ratio(ratio)
    if method not in SMOTE_METHODS:
        raise ImbalanceError(f"smote: method must be one of {SMOTE_METHODS}, got {method!r}")
    n_neg, n_pos = _counts(df, target, "smote")
    n_rows = n_neg + n_pos
    features = [c for c in df.columns if c != target]
    est_bytes = 3 * 8 * n_rows * max(len(features), 1)
    from ..compute import machine_resources

    budget = memory_fraction * machine_resources()["memory_available"]
    if n_rows > max_rows or est_bytes > budget:
        raise TooLargeForSmoteError(
            f"smote: {n_rows:,} rows x {len(features)} features (~{est_bytes / 2**30:.1f} GiB working set) is too "
            f"large for in-memory SMOTE (limit {max_rows:,} rows and {budget / 2**30:.1f} GiB). Suggestions: "
            "undersample(df, target, ratio) out-of-core (then SMOTE the smaller frame if you still want it), "
            "or keep all rows and use class weights / xgboost's scale_pos_weight, then correct_prior_shift()"
        )
    was_dask = is_dask(df)
    npartitions = df.npartitions if was_dask else None
    pdf = df.compute() if was_dask else df
    X = pdf[features]
    y = pd.Series(_labels(pdf, target).astype(np.int64), name=target)
    non_numeric = [c for c in features if not (pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype))]
    if method in {"smote", "borderline", "svm", "adasyn"} and non_numeric:
        raise ImbalanceError(
            f"smote: method={method!r} interpolates numeric features, but column(s) {non_numeric[:8]} are "
            "categorical/non-numeric; use method='smotenc' (mixed features), method='smoten' "
            "(all categorical), or one-hot encode them first"
        )
    nan_cols = [c for c in features if X[c].isna().any()]
    if nan_cols:
        raise ImbalanceError(f"smote: column(s) {nan_cols[:8]} have missing values; impute them first (SMOTE needs distances)")
    cls = _smote_class(method)
    if method == "smotenc":
        cats = categorical if categorical is not None else non_numeric
        missing = [c for c in cats if c not in features]
        if missing:
            raise ImbalanceError(f"smote: categorical column(s) {missing} are not feature columns")
        if not cats:
            raise ImbalanceError("smote: method='smotenc' needs categorical columns; none found (use method='smote')")
        if len(cats) == len(features):
            raise ImbalanceError("smote: all features are categorical; use method='smoten'")
        sampler = cls(categorical_features=[features.index(c) for c in cats], sampling_strategy=ratio, random_state=int(seed), **kwargs)
    else:
        sampler = cls(sampling_strategy=ratio, random_state=int(seed), **kwargs)
    X_res, y_res = sampler.fit_resample(X.reset_index(drop=True), y)
    out = pd.DataFrame(X_res, columns=features)
    for c in features:  # imbalanced-learn may return object columns for categoricals
        if out[c].dtype != X[c].dtype:
            with contextlib.suppress(TypeError, ValueError):
                out[c] = out[c].astype(X[c].dtype)
    out[target] = np.asarray(y_res).astype(pdf[target].dtype if not isinstance(pdf[target].dtype, pd.CategoricalDtype) else np.int64)
    out = out[list(df.columns)]
    if was_dask:
        import dask.dataframe as dd

        return dd.from_pandas(out, npartitions=npartitions)
    return out


# --------------------------------------------------------------------------- one interface


@dataclass
class Rebalanced:
    """What :func:`rebalance` produced.

    Attributes
    ----------
    frame : the training frame (lazy for Dask).
    sample_weight : per-row weights for ``method="weight"`` (else None).
    odds_ratio : ``w``, how much training multiplies the positive-class odds; use
        :meth:`correct` (``p / (p + (1 - p) w)``) on the model's probabilities.
    counts_before, counts_after : ``{0: n_neg, 1: n_pos}``; after is the *expected* count
        on Dask, and the effective (weighted) mass for ``weight``.
    """

    method: str
    ratio: float
    frame: Any
    odds_ratio: float
    counts_before: dict[int, float]
    counts_after: dict[int, float]
    sample_weight: Any = None
    class_weight: dict[int, float] | None = None
    notes: list[str] = field(default_factory=list)

    def correct(self, proba: Any) -> Any:
        """Calibrated probabilities on the original class balance (see :func:`correct_prior_shift`)."""
        return correct_prior_shift(proba, self.odds_ratio)

    @property
    def xgboost_params(self) -> dict[str, float]:
        """``scale_pos_weight`` for xgboost when ``method="weight"`` (else empty)."""
        if self.class_weight is None:
            return {}
        return {"scale_pos_weight": self.class_weight[1] / self.class_weight[0]}


def rebalance(df, target: str, method: str = "under", ratio: float = 1.0, *, seed: int = 0, **kwargs: Any) -> Rebalanced:
    """Rebalance ``df`` for training with one call, whatever the strategy.

    Parameters
    ----------
    method : ``"none"``, ``"weight"`` (class weights: minority weighted ``ratio * n_maj / n_min``,
        majority 1), ``"under"``, ``"over"``, or a SMOTE method (see :data:`SMOTE_METHODS`).
    ratio : minority:majority after rebalancing, in (0, 1].
    kwargs : passed to :func:`smote`.
    """
    if method not in METHODS:
        raise ImbalanceError(f"rebalance: method must be one of {METHODS}, got {method!r}")
    _check_frame(df, target, "rebalance")
    ratio = check_ratio(ratio)
    n_neg, n_pos = _counts(df, target, "rebalance")
    before = {0: n_neg, 1: n_pos}
    minority, n_min, majority, n_maj = _classes(n_neg, n_pos)
    after = dict(before)
    cw = None
    weights = None
    if method == "none":
        frame = df
    elif method == "weight":
        w_min = ratio * n_maj / n_min
        cw = {minority: w_min, majority: 1.0}
        frame = df
        weights = sample_weights(df[target], cw)
        after = {minority: n_min * w_min, majority: float(n_maj)}
    elif method == "under":
        frame = undersample(df, target, ratio, seed=seed)
        after = {minority: n_min, majority: (n_min / ratio) if is_dask(df) else math.floor(n_min / ratio)}
    elif method == "over":
        frame = oversample(df, target, ratio, seed=seed)
        after = {minority: (n_maj * ratio) if is_dask(df) else math.floor(n_maj * ratio), majority: n_maj}
    else:
        frame = smote(df, target, ratio, seed=seed, method=method, **kwargs)
        # imbalanced-learn targets floor(n_maj * ratio) minority rows (ADASYN only roughly).
        after = {minority: math.floor(n_maj * ratio), majority: n_maj}
    if method in {"under", "over", *SMOTE_METHODS} and not is_dask(frame):
        # In memory, count what was produced (ADASYN only aims at the ratio).
        a_neg, a_pos = class_counts(frame[target])
        after = {0: a_neg, 1: a_pos}
    w = (after[1] / after[0]) / (before[1] / before[0])
    return Rebalanced(method=method, ratio=ratio, frame=frame, odds_ratio=float(w), counts_before=before,
                      counts_after=after, sample_weight=weights, class_weight=cw)
