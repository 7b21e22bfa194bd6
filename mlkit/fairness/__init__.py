"""Fairness audits that scale: group metrics with confidence intervals and verdicts, in one
pass over pandas or Dask data.

Modules, by concern:

* :mod:`mlkit.fairness.counts` - the one-pass map-reduce of per-group confusion counts,
  score histograms and Poisson bootstrap counts
* :mod:`mlkit.fairness.audit` - ``audit()`` and :class:`FairnessAudit` (overall, by group,
  differences, ratios, named criteria)
* :mod:`mlkit.fairness.uncertainty` - Wilson and bootstrap intervals, multiple-comparison correction
* :mod:`mlkit.fairness.policy` - :class:`Policy` and pass / fail / inconclusive verdicts
* :mod:`mlkit.fairness.sweep` - per-group threshold sweeps, ROC, the accuracy-fairness trade-off
* :mod:`mlkit.fairness.mitigation` - reweighing, group thresholds, reductions, and their comparison
"""

from __future__ import annotations

from .audit import METRICS, FairnessAudit, FairnessWarning, audit
from .counts import MISSING, FairnessInputError
from .policy import CRITERIA, FAIL, INCONCLUSIVE, PASS, Policy
from .sweep import group_threshold_state, roc_curves, threshold_sweep, tradeoff, tradeoff_figure
from .uncertainty import adjusted_confidence, bootstrap_interval, wilson_interval

__all__ = [
    "CRITERIA",
    "FAIL",
    "INCONCLUSIVE",
    "METRICS",
    "MISSING",
    "PASS",
    "FairnessAudit",
    "FairnessInputError",
    "FairnessWarning",
    "Policy",
    "adjusted_confidence",
    "audit",
    "bootstrap_interval",
    "group_threshold_state",
    "roc_curves",
    "threshold_sweep",
    "tradeoff",
    "tradeoff_figure",
    "wilson_interval",
]
