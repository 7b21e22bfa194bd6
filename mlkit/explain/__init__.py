"""Interpretability at scale: SHAP that finishes, with stated accuracy.

* :func:`explain` (:mod:`.router`) routes by model (xgboost native TreeSHAP on CPU/GPU/Dask,
  torch via shap's Gradient/Deep explainers, scikit-learn and others via shap's Tree and
  Permutation explainers), prices the work first (:mod:`.cost`) and samples when over budget.
* :class:`ShapResult` (:mod:`.result`): values, base value, feature names, data; ``to_shap()``.
* Global views: :func:`mean_abs_shap` / :func:`shap_by_group` (:mod:`.importance`),
  :func:`interactions` (:mod:`.interactions`), :func:`permutation_importance`
  (:mod:`.permutation`), :func:`surrogate_tree` (:mod:`.surrogate`).
* Plotly figures in :mod:`.plots`; the interactive explorer is ``widgets.ShapExplorer``.
"""

from __future__ import annotations

from .cost import CostEstimate, TreeShape, clear_calibration, tree_shape
from .errors import CostExceededError, ExplainError, FeatureMismatchError, UnsupportedModelError
from .importance import GroupShap, mean_abs_shap, ranking_agreement, shap_by_group
from .interactions import Interactions, interactions
from .permutation import permutation_importance
from .result import ShapResult
from .router import ROUTES, explain, model_route, sample_rows, select_rows
from .surrogate import Surrogate, surrogate_tree

__all__ = [
    "ROUTES",
    "CostEstimate",
    "CostExceededError",
    "ExplainError",
    "FeatureMismatchError",
    "GroupShap",
    "Interactions",
    "ShapResult",
    "Surrogate",
    "TreeShape",
    "UnsupportedModelError",
    "clear_calibration",
    "explain",
    "interactions",
    "mean_abs_shap",
    "model_route",
    "permutation_importance",
    "ranking_agreement",
    "sample_rows",
    "select_rows",
    "shap_by_group",
    "surrogate_tree",
    "tree_shape",
]
