"""Class imbalance at scale: diagnose, rebalance or weight, correct, threshold, measure.

Modules, by concern:

* :mod:`~mlkit.imbalance.diagnose` - ``class_balance`` (overall / by group / disparity)
* :mod:`~mlkit.imbalance.sampling` - ``rebalance`` (one interface), ``undersample``,
  ``oversample`` (out-of-core on Dask, reproducible per seed), ``smote`` (imbalanced-learn)
* :mod:`~mlkit.imbalance.weights` - class weights, ``scale_pos_weight``, cost-matrix weights,
  torch tensors, and ``correct_prior_shift`` (calibrated probabilities after rebalancing)
* :mod:`~mlkit.imbalance.costs` - ``CostMatrix`` (rows = true class, columns = predicted)
* :mod:`~mlkit.imbalance.threshold` - ``choose_threshold`` (exact or one-pass histogram),
  ``tune_threshold_cv`` (scikit-learn's ``TunedThresholdClassifierCV``)
* :mod:`~mlkit.imbalance.metrics` - ``imbalance_metrics``, ``calibration_curve``,
  ``ScoreHistogram`` (binned AP / ROC-AUC with a computed error bound)

Every public function takes pandas or Dask with the same call; labels are binary 0/1.
"""

from __future__ import annotations

from .checks import ImbalanceError
from .costs import CostMatrix, as_cost_matrix
from .diagnose import ClassBalance, class_balance
from .metrics import (
    ImbalanceMetrics,
    ScoreHistogram,
    binned_average_precision,
    calibration_curve,
    confusion_counts,
    imbalance_metrics,
    score_histogram,
)
from .sampling import Rebalanced, TooLargeForSmoteError, oversample, rebalance, smote, undersample
from .threshold import (
    ThresholdChoice,
    choose_threshold,
    cost_scorer,
    threshold_scorer,
    tune_threshold_cv,
)
from .weights import (
    class_counts,
    class_weights,
    correct_prior_shift,
    cost_weights,
    odds_ratio,
    sample_weights,
    scale_pos_weight,
    torch_class_weights,
    torch_pos_weight,
    xgboost_params,
)

__all__ = [
    "ClassBalance",
    "CostMatrix",
    "ImbalanceError",
    "ImbalanceMetrics",
    "Rebalanced",
    "ScoreHistogram",
    "ThresholdChoice",
    "TooLargeForSmoteError",
    "as_cost_matrix",
    "binned_average_precision",
    "calibration_curve",
    "choose_threshold",
    "class_balance",
    "class_counts",
    "class_weights",
    "confusion_counts",
    "correct_prior_shift",
    "cost_scorer",
    "cost_weights",
    "imbalance_metrics",
    "odds_ratio",
    "oversample",
    "rebalance",
    "sample_weights",
    "scale_pos_weight",
    "score_histogram",
    "smote",
    "threshold_scorer",
    "torch_class_weights",
    "torch_pos_weight",
    "tune_threshold_cv",
    "undersample",
    "xgboost_params",
]
