"""A global surrogate: a shallow decision tree that imitates the model, with its fidelity.

The tree is fitted to the model's *output* (the scale SHAP explains: margin, probability or
prediction) on part of a sample and scored on the rest, so its fidelity is out-of-sample:
R^2 against the model's output, and for classifiers the share of rows where the surrogate
and the model pick the same class. A readable tree with low fidelity explains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._model_output import model_output, numeric_frame
from .errors import ExplainError

__all__ = ["Surrogate", "surrogate_tree"]


@dataclass
class Surrogate:
    """The fitted surrogate tree and how faithfully it imitates the model (on held-out rows)."""

    tree: Any
    feature_names: list[str]
    fidelity_r2: float
    agreement: float | None  # share of held-out rows with the same predicted class
    threshold: float | None  # the model-output threshold used for agreement
    max_depth: int
    n_train: int
    n_test: int
    rules: str
    importance: pd.Series

    def summary(self) -> str:
        agree = f", class agreement {self.agreement:.1%}" if self.agreement is not None else ""
        return (
            f"surrogate tree of depth {self.max_depth} ({self.tree.get_n_leaves()} leaves): "
            f"fidelity R^2 {self.fidelity_r2:.3f} on {self.n_test:,} held-out rows{agree}"
        )

    def __repr__(self) -> str:
        return self.summary()


def surrogate_tree(
    model: Any,
    X,
    *,
    max_depth: int = 3,
    n_rows: int = 20_000,
    test_size: float = 0.25,
    threshold: float | None = None,
    class_index: int | None = None,
    seed: int = 0,
) -> Surrogate:
    """Fit a depth-``max_depth`` regression tree to the model's output on a sample of ``X``.

    Parameters
    ----------
    threshold : model-output threshold for class agreement (default: 0 for log-odds margins of
        xgboost classifiers, 0.5 for probabilities; None for regressors).
    """
    from sklearn.tree import DecisionTreeRegressor, export_text

    from .router import _as_frame, _n_rows, model_route, sample_rows

    if not isinstance(max_depth, int) or max_depth < 1:
        raise ExplainError(f"max_depth must be a positive integer, got {max_depth!r}")
    if not 0 < test_size < 1:
        raise ExplainError(f"test_size must be in (0, 1), got {test_size!r}")
    X = _as_frame(X)
    total = _n_rows(X)
    rows = sample_rows(X, min(n_rows, total), seed=seed)[0] if total > n_rows or not isinstance(X, pd.DataFrame) else X
    if len(rows) < 20:
        raise ExplainError(f"a surrogate needs at least 20 rows, got {len(rows)}")
    target = model_output(model, rows, class_index=class_index)
    features = numeric_frame(rows)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(rows), dtype=bool)
    test[rng.choice(len(rows), size=max(1, int(len(rows) * test_size)), replace=False)] = True
    tree = DecisionTreeRegressor(max_depth=max_depth, random_state=seed)
    tree.fit(features[~test], target[~test])
    pred = tree.predict(features[test])
    resid = target[test] - pred
    ss_tot = float(((target[test] - target[test].mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    if threshold is None:
        route = model_route(model)
        is_clf = hasattr(model, "predict_proba") or (route == "xgboost" and _is_binary_xgb(model))
        if is_clf:
            threshold = 0.0 if route == "xgboost" else 0.5
    agreement = None
    if threshold is not None:
        agreement = float(np.mean((pred > threshold) == (target[test] > threshold)))
    names = [str(c) for c in features.columns]
    return Surrogate(
        tree=tree,
        feature_names=names,
        fidelity_r2=r2,
        agreement=agreement,
        threshold=threshold,
        max_depth=max_depth,
        n_train=int((~test).sum()),
        n_test=int(test.sum()),
        rules=export_text(tree, feature_names=names, decimals=3),
        importance=pd.Series(tree.feature_importances_, index=names).sort_values(ascending=False),
    )


def _is_binary_xgb(model) -> bool:
    import json

    from . import treeshap

    try:
        cfg = json.loads(treeshap.booster_of(model).save_config())
        return cfg["learner"]["objective"]["name"].startswith(("binary:", "reg:logistic"))
    except (KeyError, ValueError):
        return False
