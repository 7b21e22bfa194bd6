"""Synthetic tabular data with planted truth, generated lazily and reproducibly at any scale.

Rows are generated in fixed blocks of :data:`BLOCK_ROWS` rows; block ``b`` draws from
``numpy.random.default_rng([seed, b])``. Partitions are just row ranges mapped onto those
blocks, so the same seed gives the same rows whatever the number of partitions or
workers, and nothing is generated until a partition is computed.

The label follows a logistic model whose parts are known: per-feature effects, one
interaction, a categorical effect, per-group intercepts calibrated to hit chosen base
rates, optional label and feature bias against non-reference groups, missingness
(MCAR and MAR) and covariate and concept drift along a time column. Everything planted
is returned in a :class:`SyntheticTruth` so tests and notebooks can check that methods
recover it.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["BLOCK_ROWS", "SyntheticTruth", "make_tabular", "upsample"]

BLOCK_ROWS = 1 << 16  # rows per random block: the unit of reproducibility
_CALIBRATION_ROWS = 200_000
_CALIBRATION_BLOCK = 2**31 - 1  # rng stream for intercept calibration, distinct from data blocks


@dataclass
class SyntheticTruth:
    """What :func:`make_tabular` planted. All rates are expectations, not sample values.

    Attributes
    ----------
    feature_effects : logit coefficient of each numeric feature (0 for noise features),
        before concept drift. Features are standard normal, so coefficients are comparable.
    interaction : (feature_a, feature_b, coefficient) of the planted ``a * b`` term, or None.
    categorical_effects : logit effect of each level of each informative categorical.
    importance : variance of the logit due to each feature (the interaction variance split
        equally between its two features); noise features have 0.
    feature_ranking : informative features by decreasing importance, then noise features.
    group_base_rates : P(true label = 1 | group), as planted (calibrated intercepts).
    observed_group_base_rates : P(observed label = 1 | group), after ``label_bias``.
    drift_points : time (and row) at which each drift starts.
    """

    n_rows: int
    seed: int
    target: str
    sensitive: str | None
    time_column: str
    columns: list[str]
    numeric: list[str]
    categorical: list[str]
    informative: list[str]
    noise: list[str]
    feature_effects: dict[str, float]
    interaction: tuple[str, str, float] | None
    categorical_effects: dict[str, dict[str, float]]
    importance: dict[str, float]
    feature_ranking: list[str]
    prevalence: float
    group_sizes: dict[str, float]
    group_base_rates: dict[str, float]
    observed_group_base_rates: dict[str, float]
    reference_group: str | None
    intercepts: dict[str, float]
    label_bias: float
    feature_bias: dict[str, float]
    missing: dict[str, dict[str, Any]]
    drift: dict[str, dict[str, Any]]
    drift_points: dict[str, pd.Timestamp]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (timestamps as ISO strings)."""
        out = asdict(self)
        out["drift_points"] = {k: v.isoformat() for k, v in self.drift_points.items()}
        for d in out["drift"].values():
            if "at_time" in d:
                d["at_time"] = d["at_time"].isoformat()
        if out["interaction"] is not None:
            out["interaction"] = list(out["interaction"])
        return out


def _level_names(card: int) -> list[str]:
    if card <= 26:
        return list(string.ascii_uppercase[:card])
    width = len(str(card - 1))
    return [f"v{k:0{width}d}" for k in range(card)]


def _level_probs(card: int) -> np.ndarray:
    # Small categoricals are mildly skewed; large ones Zipf-like, so rare levels exist
    # (what rare-category bucketing is for).
    s = 0.5 if card <= 10 else 1.1
    w = 1.0 / np.arange(1, card + 1) ** s
    return w / w.sum()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


@dataclass
class _Plan:
    """Everything needed to generate any block: derived once, shipped to workers."""

    n_rows: int
    seed: int
    numeric: list[str]
    betas: np.ndarray
    betas_after: np.ndarray
    interaction: tuple[int, int, float] | None
    categorical: list[str]
    cards: list[int]
    cdfs: list[np.ndarray]
    levels: list[list[str]]
    cat_effects: dict[int, np.ndarray]
    groups: list[str]
    group_cdf: np.ndarray
    intercepts: np.ndarray
    sensitive: str | None
    feature_shift: dict[int, np.ndarray]  # numeric index -> per-group shift
    label_bias: float
    mcar: dict[str, float]
    mar: dict[str, tuple[str, float]]
    cov_at: int | None
    cov_shift: float
    cov_cols: list[int]
    concept_at: int | None
    time_column: str
    start: pd.Timestamp
    span: pd.Timedelta
    target: str
    include_true_label: bool

    def draw(self, rng: np.random.Generator, m: int, rows: np.ndarray | None) -> dict[str, Any]:
        """Draw ``m`` rows. ``rows`` (global row numbers) enables drift; None = pre-drift."""
        g = np.searchsorted(self.group_cdf, rng.random(m), side="right").astype(np.int8)
        g = np.minimum(g, len(self.groups) - 1)
        x = rng.standard_normal((len(self.numeric), m))
        for j, shift in self.feature_shift.items():
            x[j] += shift[g]
        codes = []
        for cdf in self.cdfs:
            c = np.searchsorted(cdf, rng.random(m), side="right")
            codes.append(np.minimum(c, len(cdf) - 1))
        u_label = rng.random(m)
        u_bias = rng.random(m)
        u_missing = rng.random((len(self.mcar) + len(self.mar), m))
        if rows is not None and self.cov_at is not None:
            after = rows >= self.cov_at
            for j in self.cov_cols:
                x[j] += self.cov_shift * after
        logit = self.intercepts[g] + self.betas @ x
        if rows is not None and self.concept_at is not None:
            after = rows >= self.concept_at
            logit += ((self.betas_after - self.betas) @ x) * after
        if self.interaction is not None:
            a, b, coef = self.interaction
            logit += coef * x[a] * x[b]
        for k, eff in self.cat_effects.items():
            logit += eff[codes[k]]
        y_true = (u_label < _sigmoid(logit)).astype(np.int8)
        y = y_true.copy()
        if self.label_bias > 0:
            flip = (g > 0) & (y_true == 1) & (u_bias < self.label_bias)
            y[flip] = 0
        return {"g": g, "x": x, "codes": codes, "y": y, "y_true": y_true, "u_missing": u_missing}

    def frame(self, start: int, stop: int) -> pd.DataFrame:
        """Rows ``start <= i < stop`` as a pandas DataFrame indexed by row number."""
        parts = []
        first, last = start // BLOCK_ROWS, max(start, stop - 1) // BLOCK_ROWS
        for b in range(first, last + 1):
            lo, hi = b * BLOCK_ROWS, (b + 1) * BLOCK_ROWS
            rows = np.arange(lo, hi, dtype=np.int64)
            d = self.draw(np.random.default_rng([self.seed, b]), BLOCK_ROWS, rows)
            sl = slice(max(start, lo) - lo, min(stop, hi) - lo)
            parts.append((rows[sl], {k: _slice(v, sl) for k, v in d.items()}))
        rows = np.concatenate([r for r, _ in parts])
        cat = {k: np.concatenate([p[k] for _, p in parts], axis=-1) for k in ("g", "x", "y", "y_true", "u_missing")}
        codes = [np.concatenate([p["codes"][i] for _, p in parts]) for i in range(len(self.categorical))]
        return self._assemble(rows, cat, codes)

    def _assemble(self, rows: np.ndarray, d: dict[str, np.ndarray], codes: list[np.ndarray]) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        x = d["x"]
        for j, name in enumerate(self.numeric):
            cols[name] = x[j].copy()
        for k, name in enumerate(self.categorical):
            cols[name] = pd.Categorical.from_codes(codes[k].astype(np.int16), categories=self.levels[k])
        if self.sensitive is not None:
            cols[self.sensitive] = pd.Categorical.from_codes(d["g"], categories=self.groups)
        # Missingness is applied after the label is drawn: the truth uses complete values.
        r = 0
        for name, rate in self.mcar.items():
            mask = d["u_missing"][r] < rate
            r += 1
            if name in self.numeric:
                cols[name][mask] = np.nan
            else:
                c = cols[name].codes.copy()
                c[mask] = -1
                cols[name] = pd.Categorical.from_codes(c, categories=cols[name].categories)
        for name, (driver, rate) in self.mar.items():
            j = self.numeric.index(driver)
            # Missing with probability 2*rate where the (always observed) driver is above 0.
            mask = (x[j] > 0) & (d["u_missing"][r] < 2 * rate)
            r += 1
            cols[name][mask] = np.nan
        frac = rows.astype(np.float64) / max(self.n_rows, 1)
        cols[self.time_column] = self.start + pd.to_timedelta(frac * self.span.value, unit="ns").round("s")
        cols[self.target] = d["y"]
        if self.include_true_label:
            cols[f"{self.target}_true"] = d["y_true"]
        return pd.DataFrame(cols, index=pd.Index(rows, name=None))


def _slice(v: Any, sl: slice) -> Any:
    if isinstance(v, list):
        return [a[sl] for a in v]
    return v[..., sl]


def _calibrate(plan: _Plan, targets: np.ndarray) -> np.ndarray:
    """Per-group intercepts so that E[sigmoid(logit)] hits each group's base rate (pre-drift).

    Group membership is drawn independently of everything but the group's feature shift, so
    each group is calibrated on the whole calibration sample with that group's shift applied
    (exact in distribution, and precise even for a tiny group).
    """
    rng = np.random.default_rng([plan.seed, _CALIBRATION_BLOCK])
    d = plan.draw(rng, _CALIBRATION_ROWS, None)
    base = d["x"] - _group_shift_matrix(plan, d["g"])
    out = np.zeros(len(plan.groups))
    for gi, rate in enumerate(targets):
        x = base + _group_shift_matrix(plan, np.full(len(d["g"]), gi))
        s = plan.betas @ x
        if plan.interaction is not None:
            a, b, coef = plan.interaction
            s = s + coef * x[a] * x[b]
        for k, eff in plan.cat_effects.items():
            s = s + eff[d["codes"][k]]
        lo, hi = -40.0, 40.0
        for _ in range(60):  # bisection: mean(sigmoid(b + s)) is increasing in b
            mid = 0.5 * (lo + hi)
            if _sigmoid(mid + s).mean() < rate:
                lo = mid
            else:
                hi = mid
        out[gi] = 0.5 * (lo + hi)
    return out


def _group_shift_matrix(plan: _Plan, g: np.ndarray) -> np.ndarray:
    shift = np.zeros((len(plan.numeric), len(g)))
    for j, per_group in plan.feature_shift.items():
        shift[j] = per_group[g]
    return shift


def _check_fraction(name: str, value: float | None, *, lo: float = 0.0, hi: float = 1.0, open_lo: bool = False) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float)) or not (lo < value if open_lo else lo <= value) or value > hi:
        raise DataError(f"{name} must be a number in {'(' if open_lo else '['}{lo}, {hi}], got {value!r}")


def make_tabular(
    n_rows: int,
    *,
    seed: int = 0,
    npartitions: int | None = None,
    partition_rows: int = 1_000_000,
    n_informative: int = 6,
    n_noise: int = 7,
    effects: Sequence[float] | None = None,
    interaction: float | None = 0.8,
    categorical_cardinalities: Sequence[int] = (5, 3, 30, 200),
    categorical_effect: float = 0.6,
    prevalence: float = 0.2,
    sensitive: str | None = "group",
    group_sizes: Mapping[str, float] | None = None,
    group_base_rates: Mapping[str, float] | None = None,
    label_bias: float = 0.0,
    feature_bias: float = 0.0,
    missing_mcar: float = 0.0,
    missing_mar: float = 0.0,
    covariate_drift: float | None = None,
    covariate_shift: float = 1.0,
    concept_drift: float | None = None,
    start: str = "2024-01-01",
    span_days: float = 365.0,
    target: str = "label",
    time_column: str = "time",
    include_true_label: bool = False,
):
    """A lazy Dask DataFrame of synthetic tabular data, and the truth planted in it.

    Parameters
    ----------
    n_rows : number of rows (any size: partitions are generated on demand).
    seed : the same seed gives the same rows for any ``npartitions`` and any cluster.
    npartitions : default ``ceil(n_rows / partition_rows)``.
    n_informative, n_noise : numeric features ``num_00 ...``: the first ``n_informative``
        drive the label with ``effects`` (default evenly from 1.0 down to 1/n), the rest are noise.
    interaction : coefficient of a planted product of the last two informative features
        (None for no interaction).
    categorical_cardinalities : one categorical ``cat_k`` per entry; ``cat_0`` is informative
        (level effects spread over ``±categorical_effect``), the others are noise; large
        cardinalities are Zipf-distributed so some levels are rare.
    prevalence : share of positive labels (0.001 to 0.5 and beyond), when ``group_base_rates``
        is not given.
    sensitive, group_sizes, group_base_rates : name of the sensitive attribute (None: none),
        its groups with their shares (default ``{"A": 0.7, "B": 0.3}``; the first is the
        reference group) and each group's true base rate (default: all equal to ``prevalence``).
    label_bias : share of true positives of non-reference groups recorded as 0 (historical bias).
    feature_bias : mean shift (in SD) of ``num_00`` in non-reference groups, with the label
        unchanged, so that a model ignoring the group under-predicts them (measurement bias).
    missing_mcar : missing completely at random in ``num_02`` and ``cat_1``.
    missing_mar : missing at random in ``num_03``, only where ``num_01 > 0`` (average rate as given).
    covariate_drift : fraction of the time span after which ``num_01`` and the last noise
        feature shift by ``covariate_shift`` SD (None: no covariate drift).
    concept_drift : fraction of the time span after which the effects of ``num_00`` and
        ``num_01`` swap (None: no concept drift).
    start, span_days : the ``time`` column runs evenly from ``start`` over ``span_days``.
    include_true_label : also return ``<target>_true`` (the label before ``label_bias``).

    Returns
    -------
    (dask.dataframe.DataFrame, SyntheticTruth)
    """
    import dask.dataframe as dd

    if not isinstance(n_rows, (int, np.integer)) or isinstance(n_rows, bool) or n_rows < 1:
        raise DataError(f"n_rows must be a positive integer, got {n_rows!r}")
    n_rows = int(n_rows)
    if n_informative < 2 or n_noise < 1:
        raise DataError(f"need n_informative >= 2 and n_noise >= 1, got {n_informative} and {n_noise}")
    if missing_mar and n_informative < 4:
        raise DataError("missing_mar needs n_informative >= 4 (num_03 goes missing depending on num_01)")
    if not categorical_cardinalities or min(categorical_cardinalities) < 2:
        raise DataError(f"categorical_cardinalities must be >= 2 each, got {list(categorical_cardinalities)}")
    _check_fraction("prevalence", prevalence, open_lo=True, hi=0.99)
    _check_fraction("label_bias", label_bias)
    _check_fraction("missing_mcar", missing_mcar, hi=0.99)
    _check_fraction("missing_mar", missing_mar, hi=0.5)
    _check_fraction("covariate_drift", covariate_drift)
    _check_fraction("concept_drift", concept_drift)
    if npartitions is not None and (npartitions < 1 or npartitions > n_rows):
        raise DataError(f"npartitions must be in [1, n_rows={n_rows}], got {npartitions}")

    n_num = n_informative + n_noise
    numeric = [f"num_{j:02d}" for j in range(n_num)]
    if effects is None:
        effects = [1.0 - j / n_informative for j in range(n_informative)]
    effects = [float(e) for e in effects]
    if len(effects) != n_informative:
        raise DataError(f"effects has {len(effects)} values; expected n_informative={n_informative}")
    betas = np.zeros(n_num)
    betas[:n_informative] = effects
    betas_after = betas.copy()
    if concept_drift is not None:
        betas_after[[0, 1]] = betas[[1, 0]]
    inter = None
    if interaction:
        inter = (n_informative - 2, n_informative - 1, float(interaction))

    cards = [int(c) for c in categorical_cardinalities]
    categorical = [f"cat_{k}" for k in range(len(cards))]
    levels = [_level_names(c) for c in cards]
    cdfs = [np.cumsum(_level_probs(c)) for c in cards]
    cat_eff0 = np.linspace(-categorical_effect, categorical_effect, cards[0]) if categorical_effect else np.zeros(cards[0])
    cat_effects = {0: cat_eff0} if categorical_effect else {}

    if sensitive is None:
        if group_sizes or group_base_rates or label_bias or feature_bias:
            raise DataError("group_sizes/group_base_rates/label_bias/feature_bias need a sensitive attribute")
        groups, sizes = ["all"], np.array([1.0])
    else:
        gs = dict(group_sizes) if group_sizes is not None else {"A": 0.7, "B": 0.3}
        if not gs or any(v <= 0 for v in gs.values()):
            raise DataError(f"group_sizes must be positive shares, got {gs}")
        groups = [str(k) for k in gs]
        sizes = np.array([float(v) for v in gs.values()])
        if abs(sizes.sum() - 1) > 1e-6:
            raise DataError(f"group_sizes must sum to 1, got {sizes.sum():.6g} from {gs}")
    if group_base_rates is not None:
        if sensitive is None or set(map(str, group_base_rates)) != set(groups):
            raise DataError(f"group_base_rates must give a rate for each group {groups}, got {dict(group_base_rates)}")
        rates = np.array([float(group_base_rates[g]) for g in groups])
        for g, r in zip(groups, rates):
            _check_fraction(f"group_base_rates[{g!r}]", r, open_lo=True, hi=0.99)
        prevalence = float(rates @ sizes)
    else:
        rates = np.full(len(groups), float(prevalence))
    feature_shift = {}
    if feature_bias:
        shift = np.full(len(groups), -float(feature_bias))
        shift[0] = 0.0
        feature_shift[0] = shift

    mcar = {numeric[2]: float(missing_mcar), categorical[min(1, len(categorical) - 1)]: float(missing_mcar)} if missing_mcar else {}
    mar = {numeric[3]: (numeric[1], float(missing_mar))} if missing_mar else {}
    cov_cols = [1, n_num - 1] if covariate_drift is not None else []
    cov_at = None if covariate_drift is None else int(math.ceil(covariate_drift * n_rows))
    concept_at = None if concept_drift is None else int(math.ceil(concept_drift * n_rows))
    for name in (target, time_column, sensitive):
        if name is not None and name in numeric + categorical:
            raise DataError(f"column name {name!r} clashes with a generated feature name")

    plan = _Plan(
        n_rows=n_rows, seed=int(seed), numeric=numeric, betas=betas, betas_after=betas_after,
        interaction=inter, categorical=categorical, cards=cards, cdfs=cdfs, levels=levels,
        cat_effects=cat_effects, groups=groups, group_cdf=np.cumsum(sizes), intercepts=np.zeros(len(groups)),
        sensitive=sensitive, feature_shift=feature_shift, label_bias=float(label_bias), mcar=mcar,
        mar=mar, cov_at=cov_at, cov_shift=float(covariate_shift), cov_cols=cov_cols,
        concept_at=concept_at, time_column=time_column, start=pd.Timestamp(start),
        span=pd.Timedelta(days=span_days), target=target, include_true_label=include_true_label,
    )
    plan.intercepts = _calibrate(plan, rates)

    # Partitions: whole blocks where possible (no wasted draws), otherwise even row ranges.
    n_blocks = -(-n_rows // BLOCK_ROWS)
    if npartitions is None:
        npartitions = max(1, -(-n_rows // max(1, partition_rows)))
    if npartitions <= n_blocks:
        bounds = np.minimum(np.round(np.linspace(0, n_blocks, npartitions + 1)).astype(np.int64) * BLOCK_ROWS, n_rows)
    else:
        bounds = np.round(np.linspace(0, n_rows, npartitions + 1)).astype(np.int64)
    bounds = np.unique(bounds)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    meta = plan.frame(0, 1).iloc[:0]
    divisions = [*bounds[:-1].tolist(), int(bounds[-1]) - 1]
    ddf = dd.from_map(_Generate(plan), ranges, meta=meta, divisions=divisions, label="make-tabular", enforce_metadata=False)

    # ----- the truth
    var = {name: float(betas[j] ** 2) for j, name in enumerate(numeric)}
    if inter is not None:
        a, b, coef = inter
        var[numeric[a]] += 0.5 * coef**2
        var[numeric[b]] += 0.5 * coef**2
    p0 = _level_probs(cards[0])
    cat_var = float(p0 @ cat_eff0**2 - (p0 @ cat_eff0) ** 2) if cat_effects else 0.0
    importance = {**var, categorical[0]: cat_var}
    for c in categorical[1:]:
        importance[c] = 0.0
    informative = [n for n, v in importance.items() if v > 0]
    noise = [n for n, v in importance.items() if v == 0]
    ranking = sorted(informative, key=lambda n: -importance[n]) + noise
    observed = {g: float(r * (1 - label_bias)) if i > 0 else float(r) for i, (g, r) in enumerate(zip(groups, rates))}
    span = plan.span
    drift: dict[str, dict[str, Any]] = {}
    points: dict[str, pd.Timestamp] = {}
    if cov_at is not None:
        t = (plan.start + pd.Timedelta(nanoseconds=int(cov_at / n_rows * span.value))).round("s")
        drift["covariate"] = {"at_row": cov_at, "at_time": t, "columns": [numeric[j] for j in cov_cols], "shift": float(covariate_shift)}
        points["covariate"] = t
    if concept_at is not None:
        t = (plan.start + pd.Timedelta(nanoseconds=int(concept_at / n_rows * span.value))).round("s")
        drift["concept"] = {
            "at_row": concept_at, "at_time": t,
            "effects_after": {numeric[j]: float(betas_after[j]) for j in range(n_informative)},
        }
        points["concept"] = t
    missing: dict[str, dict[str, Any]] = {}
    for name, rate in mcar.items():
        missing[name] = {"mechanism": "MCAR", "rate": rate}
    for name, (driver, rate) in mar.items():
        missing[name] = {"mechanism": "MAR", "rate": rate, "depends_on": driver, "rule": f"missing with prob {2 * rate:g} where {driver} > 0"}
    truth = SyntheticTruth(
        n_rows=n_rows, seed=int(seed), target=target, sensitive=sensitive, time_column=time_column,
        columns=list(meta.columns), numeric=numeric, categorical=categorical,
        informative=informative, noise=noise,
        feature_effects={n: float(betas[j]) for j, n in enumerate(numeric)},
        interaction=None if inter is None else (numeric[inter[0]], numeric[inter[1]], inter[2]),
        categorical_effects={categorical[0]: dict(zip(levels[0], map(float, cat_eff0)))} if cat_effects else {},
        importance=importance, feature_ranking=ranking, prevalence=float(prevalence),
        group_sizes=dict(zip(groups, map(float, sizes))) if sensitive else {},
        group_base_rates=dict(zip(groups, map(float, rates))) if sensitive else {},
        observed_group_base_rates=observed if sensitive else {},
        reference_group=groups[0] if sensitive else None,
        intercepts=dict(zip(groups, map(float, plan.intercepts))),
        label_bias=float(label_bias),
        feature_bias={numeric[0]: float(feature_bias)} if feature_bias else {},
        missing=missing, drift=drift, drift_points=points,
    )
    return ddf, truth


class _Generate:
    """Partition function for ``dd.from_map``: rows [start, stop) of the plan."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan

    def __call__(self, bounds: tuple[int, int]) -> pd.DataFrame:
        return self.plan.frame(*bounds)


# --------------------------------------------------------------------------- upsample


class _Upsample:
    def __init__(self, src: pd.DataFrame, seed: int, jitter: float, jitter_cols: list[str]) -> None:
        self.src = src
        self.seed = seed
        self.jitter = jitter
        self.jitter_cols = jitter_cols
        self.scale = {c: float(np.nanstd(src[c].to_numpy(dtype=float, na_value=np.nan))) for c in jitter_cols}
        self.bounds = {c: (src[c].min(), src[c].max()) for c in jitter_cols}

    def block(self, b: int) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, b])
        idx = rng.integers(0, len(self.src), BLOCK_ROWS)
        out = self.src.iloc[idx].reset_index(drop=True)
        for c in self.jitter_cols:
            noise = rng.standard_normal(BLOCK_ROWS) * (self.jitter * self.scale[c])
            values = out[c].to_numpy(dtype=float, na_value=np.nan) + noise
            lo, hi = self.bounds[c]
            values = np.clip(values, lo, hi)
            if pd.api.types.is_integer_dtype(out[c].dtype):
                if out[c].isna().any():
                    out[c] = pd.array(np.round(values), dtype="Int64").astype(out[c].dtype)
                else:
                    out[c] = np.round(values).astype(out[c].dtype)
            else:
                out[c] = values.astype(out[c].dtype)
        return out

    def __call__(self, bounds: tuple[int, int]) -> pd.DataFrame:
        start, stop = bounds
        parts = []
        for b in range(start // BLOCK_ROWS, (max(start, stop - 1)) // BLOCK_ROWS + 1):
            lo = b * BLOCK_ROWS
            frame = self.block(b)
            parts.append(frame.iloc[max(start, lo) - lo : min(stop, lo + BLOCK_ROWS) - lo])
        out = pd.concat(parts, ignore_index=True)
        out.index = pd.RangeIndex(start, stop)
        return out


def upsample(
    df,
    n_rows: int,
    *,
    seed: int = 0,
    npartitions: int | None = None,
    partition_rows: int = 1_000_000,
    jitter: float = 0.01,
    exclude: Sequence[str] = (),
):
    """Scale a real dataset up to ``n_rows`` by bootstrap, lazily, with jitter on numerics.

    Each output row is a random source row; numeric columns (except binary ones and those in
    ``exclude``, e.g. the target) get Gaussian jitter of ``jitter`` x their standard deviation,
    clipped to the source range and rounded for integer columns. Categories are kept.
    Reproducible per seed for any ``npartitions`` (the same block scheme as :func:`make_tabular`).

    Returns
    -------
    dask.dataframe.DataFrame with ``n_rows`` rows.
    """
    import dask.dataframe as dd

    from .errors import check_frame

    check_frame(df, where="upsample", allow_empty_rows=False)
    if hasattr(df, "dask"):
        df = df.compute()
    if len(df) == 0:
        from .errors import EmptyDataError

        raise EmptyDataError("upsample: empty frame: 0 rows; expected at least one row to resample")
    if not isinstance(n_rows, (int, np.integer)) or n_rows < 1:
        raise DataError(f"n_rows must be a positive integer, got {n_rows!r}")
    missing = [c for c in exclude if c not in df.columns]
    if missing:
        raise DataError(f"upsample: exclude names column(s) {missing} not in the frame")
    jitter_cols = [
        c for c in df.columns
        if c not in set(exclude)
        and pd.api.types.is_numeric_dtype(df[c].dtype)
        and not pd.api.types.is_bool_dtype(df[c].dtype)
        and df[c].nunique(dropna=True) > 2
    ]
    fn = _Upsample(df.reset_index(drop=True), int(seed), float(jitter), jitter_cols)
    n_rows = int(n_rows)
    if npartitions is None:
        npartitions = max(1, -(-n_rows // partition_rows))
    n_blocks = -(-n_rows // BLOCK_ROWS)
    if npartitions <= n_blocks:
        bounds = np.minimum(np.round(np.linspace(0, n_blocks, npartitions + 1)).astype(np.int64) * BLOCK_ROWS, n_rows)
    else:
        bounds = np.round(np.linspace(0, n_rows, npartitions + 1)).astype(np.int64)
    bounds = np.unique(bounds)
    ranges = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    meta = df.iloc[:0]
    divisions = [*bounds[:-1].tolist(), int(bounds[-1]) - 1]
    return dd.from_map(fn, ranges, meta=meta, divisions=divisions, label="upsample", enforce_metadata=False)
