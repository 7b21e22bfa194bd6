"""Confidence intervals for group metrics and their disparities.

* Rates (selection rate, TPR, FPR, ...) get the Wilson score interval (Wilson 1927), which
  behaves at 0, 1 and small n where the normal interval does not. With sample weights the
  weighted proportion is used with Kish's effective sample size ``(sum w)^2 / sum w^2``.
* Differences and ratios between groups get percentile intervals from the Poisson
  bootstrap replicates computed in the counting pass (:mod:`mlkit.fairness.counts`).
* With many comparisons, each interval's confidence is raised so the family holds
  (Bonferroni, or Sidak), so that "the CI excludes the threshold" stays honest.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "adjusted_confidence",
    "bootstrap_interval",
    "mean_interval",
    "wilson_interval",
]

CORRECTIONS = ("bonferroni", "sidak", "none")


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(successes, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``successes / n`` (arrays broadcast); NaN where ``n == 0``.

    ``successes`` may be fractional (a weighted proportion times an effective ``n``).
    Matches ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")`` for integers.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # The exact ends: 0 successes has lower bound 0, all successes upper bound 1.
    low = np.where((n > 0) & (k <= 0), 0.0, low)
    high = np.where((n > 0) & (k >= n), 1.0, high)
    return low, high


def mean_interval(mean, variance, n_eff, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Normal interval ``mean ± z sqrt(variance / n_eff)`` (NaN where ``n_eff < 2``)."""
    z = _z(confidence)
    mean = np.asarray(mean, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.maximum(np.asarray(variance, dtype=np.float64), 0.0) / np.asarray(n_eff, dtype=np.float64))
    ok = np.asarray(n_eff) >= 2
    return np.where(ok, mean - z * se, np.nan), np.where(ok, mean + z * se, np.nan)


def bootstrap_interval(replicates: np.ndarray, confidence: float = 0.95, axis: int = 0,
                       max_undefined: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over bootstrap ``replicates`` (NaN replicates ignored).

    Where more than ``max_undefined`` of the replicates are undefined (a group with no
    positives in some resamples), the interval is NaN: too unstable to report.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.shape[axis] == 0:
        shape = np.delete(np.array(reps.shape), axis)
        nan = np.full(tuple(shape), np.nan)
        return nan, nan.copy()
    alpha = 1.0 - confidence
    undefined = np.mean(~np.isfinite(reps), axis=axis)
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(reps), reps, np.nan)
        all_nan = np.all(np.isnan(finite), axis=axis)
        safe = np.where(np.expand_dims(all_nan, axis), 0.0, finite)
        low = np.nanquantile(safe, alpha / 2.0, axis=axis)
        high = np.nanquantile(safe, 1.0 - alpha / 2.0, axis=axis)
    bad = all_nan | (undefined > max_undefined)
    return np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def adjusted_confidence(confidence: float, n_comparisons: int, method: str = "bonferroni") -> float:
    """Per-comparison confidence so that ``n_comparisons`` intervals hold jointly at ``confidence``."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    _z(confidence)
    m = max(int(n_comparisons), 1)
    if method == "none" or m == 1:
        return confidence
    alpha = 1.0 - confidence
    if method == "bonferroni":
        return 1.0 - alpha / m
    return (1.0 - alpha) ** (1.0 / m)  # sidak
