"""Global importance from SHAP values: mean |SHAP| with confidence intervals, and SHAP by group.

Intervals come from a Poisson bootstrap over rows (each row weighted by a Poisson(1) draw,
which is the multinomial bootstrap's large-n limit and needs no n x n resampling), stratified
when the rows came from a stratified sample: each stratum is resampled separately and the
stratum means are combined with the stratum shares.

SHAP values are additive, so the difference in mean model output between two groups is
exactly the sum over features of the difference in their mean SHAP values; that split says
which features drive a gap between groups (:func:`shap_by_group`, the bridge to fairness).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ExplainError

__all__ = ["GroupShap", "mean_abs_shap", "ranking_agreement", "shap_by_group"]

_BOOT_BATCH = 16


def _z(ci: float) -> float:
    if not 0 < ci < 1:
        raise ExplainError(f"ci must be in (0, 1), got {ci!r}")
    return float(stats.norm.ppf(0.5 + ci / 2))


def _boot_means(a: np.ndarray, n_boot: int, strata: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, features) bootstrap replicates of the column means of ``a``."""
    n = a.shape[0]
    if strata is None:
        labels, inverse = np.zeros(1), np.zeros(n, dtype=np.int64)
    else:
        labels, inverse = np.unique(np.asarray(strata), return_inverse=True)
    shares = np.bincount(inverse, minlength=len(labels)) / n
    out = np.empty((n_boot, a.shape[1]))
    a64 = a.astype(np.float64, copy=False)
    for start in range(0, n_boot, _BOOT_BATCH):
        b = min(_BOOT_BATCH, n_boot - start)
        w = rng.poisson(1.0, size=(b, n)).astype(np.float64)
        acc = np.zeros((b, a.shape[1]))
        for h in range(len(labels)):
            rows = inverse == h if len(labels) > 1 else slice(None)
            wh = w[:, rows]
            tot = wh.sum(axis=1, keepdims=True)
            tot[tot == 0] = 1.0  # an all-zero draw for a tiny stratum: use its plain mean
            means = (wh @ a64[rows]) / tot
            empty = wh.sum(axis=1) == 0
            if empty.any():
                means[empty] = a64[rows].mean(axis=0)
            acc += shares[h] * means
        out[start : start + b] = acc
    return out


def mean_abs_shap(
    values: np.ndarray,
    feature_names: list[str],
    *,
    ci: float = 0.95,
    n_boot: int = 200,
    strata: np.ndarray | None = None,
    seed: int = 0,
    method: str = "auto",
) -> pd.DataFrame:
    """Mean |SHAP| per feature with a ``ci`` confidence interval, most important first.

    Parameters
    ----------
    values : rows x features SHAP values.
    method : ``"bootstrap"`` (Poisson bootstrap, percentile interval, stratified when
        ``strata`` is given), ``"normal"`` (mean +- z * standard error; cheap for millions of
        rows), or ``"auto"`` (bootstrap up to 500,000 rows).

    Returns
    -------
    DataFrame indexed by feature with ``mean_abs``, ``ci_low``, ``ci_high``, ``ci_width``,
    ``std_err`` and ``rank`` (1 = most important); ``.attrs`` holds ``n_rows``, ``ci``, ``method``.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(feature_names):
        raise ExplainError(f"values must be rows x {len(feature_names)} features, got shape {values.shape}")
    n = values.shape[0]
    if n == 0:
        raise ExplainError("no rows to compute importance from")
    if method not in {"auto", "bootstrap", "normal"}:
        raise ExplainError(f"method must be 'auto', 'bootstrap' or 'normal', got {method!r}")
    if method == "auto":
        method = "bootstrap" if n <= 500_000 else "normal"
    z = _z(ci)
    a = np.abs(values, dtype=np.float64) if values.dtype != np.float64 else np.abs(values)
    mean = a.mean(axis=0)
    se = a.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    if method == "bootstrap" and n > 1:
        if strata is not None and len(strata) != n:
            raise ExplainError(f"strata has {len(strata)} entries for {n} rows")
        reps = _boot_means(a, n_boot, strata, np.random.default_rng(seed))
        lo, hi = np.quantile(reps, [0.5 - ci / 2, 0.5 + ci / 2], axis=0)
        se = reps.std(axis=0, ddof=1)
    else:
        lo, hi = mean - z * se, mean + z * se
    out = pd.DataFrame(
        {"mean_abs": mean, "ci_low": lo, "ci_high": hi, "ci_width": hi - lo, "std_err": se},
        index=pd.Index(feature_names, name="feature"),
    )
    out = out.sort_values("mean_abs", ascending=False, kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs.update({"n_rows": int(n), "ci": ci, "method": method})
    return out


def ranking_agreement(sampled: pd.DataFrame, full: pd.DataFrame, k: int = 10) -> dict[str, Any]:
    """Compare a sampled importance table with a reference one (e.g. the full data's).

    Returns the top-``k`` lists, whether they are identical, Spearman's rho over all features,
    and for every feature of the union of top-``k`` whose rank differs, whether the
    disagreement is *inside the intervals*: its reference value lies in the sample's interval,
    or its interval overlaps the interval of the feature it swapped places with.
    """
    top_s = sampled.index[:k].tolist()
    top_f = full.index[:k].tolist()
    feats = list(full.index)
    rho = float(stats.spearmanr(sampled.loc[feats, "mean_abs"], full.loc[feats, "mean_abs"]).statistic)
    disagreements = []
    for pos in range(min(k, len(top_s), len(top_f))):
        fs, ff = top_s[pos], top_f[pos]
        if fs == ff:
            continue
        covered = bool(sampled.at[fs, "ci_low"] <= full.at[fs, "mean_abs"] <= sampled.at[fs, "ci_high"])
        overlap = bool(
            sampled.at[fs, "ci_low"] <= sampled.at[ff, "ci_high"] and sampled.at[ff, "ci_low"] <= sampled.at[fs, "ci_high"]
        )
        disagreements.append(
            {"rank": pos + 1, "sampled": fs, "full": ff, "full_value_in_ci": covered, "cis_overlap": overlap}
        )
    return {
        "top_sampled": top_s,
        "top_full": top_f,
        "identical": top_s == top_f,
        "spearman": rho,
        "disagreements": disagreements,
        "all_disagreements_within_ci": all(d["full_value_in_ci"] or d["cis_overlap"] for d in disagreements),
    }


# --------------------------------------------------------------------------- by group


@dataclass
class GroupShap:
    """SHAP by group, MetricFrame-style: ``overall``, ``by_group`` and the ``gap`` split by feature.

    Attributes
    ----------
    overall : mean |SHAP| per feature over all rows.
    by_group : groups x features, mean (signed) SHAP value in each group.
    mean_output : model output (base + mean of summed SHAP) per group.
    reference : the group gaps are measured against.
    gap : per group, mean output minus the reference group's (0 for the reference).
    contributions : features x groups, the part of each group's gap due to each feature
        (they sum to ``gap`` exactly); ``contributions_ci`` holds (low, high) per cell.
    """

    overall: pd.Series
    by_group: pd.DataFrame
    mean_abs_by_group: pd.DataFrame
    counts: pd.Series
    mean_output: pd.Series
    reference: Any
    gap: pd.Series
    contributions: pd.DataFrame
    contributions_low: pd.DataFrame
    contributions_high: pd.DataFrame
    ci: float

    def drivers(self, group: Any, k: int = 5) -> pd.DataFrame:
        """The ``k`` features contributing most (in absolute value) to ``group``'s gap."""
        if group not in self.contributions.columns:
            raise ExplainError(f"unknown group {group!r}; groups are {list(self.contributions.columns)}")
        c = self.contributions[group]
        order = c.abs().sort_values(ascending=False).index[:k]
        return pd.DataFrame(
            {
                "contribution": c[order],
                "ci_low": self.contributions_low.loc[order, group],
                "ci_high": self.contributions_high.loc[order, group],
                "share_of_gap": c[order] / self.gap[group] if self.gap[group] != 0 else np.nan,
            }
        )

    def difference(self) -> float:
        """Largest minus smallest mean output across groups (fairlearn's ``difference()``)."""
        return float(self.mean_output.max() - self.mean_output.min())


def shap_by_group(result, groups, *, reference: Any = None, ci: float = 0.95, n_boot: int = 200, seed: int = 0) -> GroupShap:
    """Which features drive the difference in model output between groups.

    Parameters
    ----------
    result : a :class:`~mlkit.explain.result.ShapResult`.
    groups : group of each explained row (Series aligned on the result's index, or an array).
    reference : the group to compare with (default: the largest).
    """
    z = _z(ci)
    if isinstance(groups, pd.Series):
        if groups.index.equals(result.index):
            g = groups.to_numpy()
        else:
            try:
                g = groups.reindex(result.index).to_numpy()
            except ValueError as exc:
                raise ExplainError(f"groups could not be aligned on the explained rows: {exc}") from None
    else:
        g = np.asarray(groups)
    if len(g) != result.n_rows:
        raise ExplainError(f"groups has {len(g)} entries for {result.n_rows} explained rows")
    g = pd.Series(g, dtype="object")
    if g.isna().any():
        raise ExplainError(f"groups has {int(g.isna().sum())} missing values among the explained rows")
    values = result.values.astype(np.float64)
    names = result.feature_names
    frame = pd.DataFrame(values, columns=names)
    grouped = frame.groupby(g.to_numpy(), sort=True)
    counts = grouped.size()
    if len(counts) < 2:
        raise ExplainError(f"need at least two groups, got {list(counts.index)}")
    mean = grouped.mean()
    var = grouped.var(ddof=1).fillna(0.0)
    mean_abs = frame.abs().groupby(g.to_numpy(), sort=True).mean()
    ref = counts.idxmax() if reference is None else reference
    if ref not in counts.index:
        raise ExplainError(f"reference group {ref!r} not found; groups are {list(counts.index)}")
    contributions = (mean - mean.loc[ref]).T
    se = np.sqrt((var / counts.to_numpy()[:, None]) + (var.loc[ref] / counts[ref]))
    se.loc[ref] = 0.0
    low = contributions - z * se.T
    high = contributions + z * se.T
    mean_output = result.base_value + mean.sum(axis=1)
    gap = mean_output - mean_output[ref]
    overall = pd.Series(np.abs(values).mean(axis=0), index=names).sort_values(ascending=False)
    return GroupShap(
        overall=overall,
        by_group=mean,
        mean_abs_by_group=mean_abs,
        counts=counts,
        mean_output=mean_output,
        reference=ref,
        gap=gap,
        contributions=contributions,
        contributions_low=low,
        contributions_high=high,
        ci=ci,
    )
