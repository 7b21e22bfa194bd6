"""Compare imbalance strategies on the same splits over several seeds (what notebook 02 runs).

Every strategy trains the same model family on the same training rows and is scored on the
same test rows:

* ``baseline``: no rebalancing, decision threshold 0.5.
* ``weight``: class weights (balanced at ``ratio``), threshold 0.5 on the raw probabilities.
* ``under`` / ``over`` / ``smote``: resampled to ``ratio``, threshold 0.5.
* ``threshold``: the baseline model, threshold chosen on the validation rows for minimum
  expected cost (or the objective given).

Reported per strategy and seed: ranking quality (average precision = PR-AUC, ROC-AUC, which no
monotone correction changes), Brier score of the raw probabilities and after the prior-shift
correction, the expected cost of the strategy's own decision rule (``cost``), and the expected
cost when its corrected probabilities get a validation-tuned threshold too (``cost_tuned``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .checks import ImbalanceError
from .metrics import imbalance_metrics
from .sampling import SMOTE_METHODS, rebalance
from .threshold import choose_threshold

__all__ = ["STRATEGIES", "compare_strategies", "evaluate_strategy", "summarise"]

STRATEGIES = ("baseline", "weight", "under", "over", "smote", "threshold")


def _xy(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, np.ndarray]:
    return df.drop(columns=[target]), df[target].to_numpy().astype(int)


def evaluate_strategy(
    strategy: str,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    make_model: Callable[[int], Any],
    *,
    cost_matrix: Any,
    ratio: float = 1.0,
    seed: int = 0,
    smote_method: str | None = None,
    objective: str = "cost",
) -> dict[str, Any]:
    """Train one strategy and score it on ``test``; see the module docstring for the columns.

    ``make_model(seed)`` returns an unfitted classifier with ``fit(X, y, sample_weight=...)``
    and ``predict_proba``. ``smote_method`` defaults to ``"smotenc"`` when ``train`` has
    non-numeric features, else ``"smote"``.
    """
    if strategy not in STRATEGIES:
        raise ImbalanceError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    start = time.perf_counter()
    method = {"baseline": "none", "threshold": "none"}.get(strategy, strategy)
    if method == "smote":
        numeric = train.drop(columns=[target]).apply(lambda s: pd.api.types.is_numeric_dtype(s.dtype)).all()
        method = smote_method or ("smote" if numeric else "smotenc")
        if method not in SMOTE_METHODS:
            raise ImbalanceError(f"smote_method must be one of {SMOTE_METHODS}, got {method!r}")
    r = rebalance(train, target, method, ratio=ratio, seed=seed)
    X_tr, y_tr = _xy(r.frame, target)
    model = make_model(seed)
    if r.sample_weight is not None:
        model.fit(X_tr, y_tr, sample_weight=np.asarray(r.sample_weight))
    else:
        model.fit(X_tr, y_tr)
    X_va, y_va = _xy(valid, target)
    X_te, y_te = _xy(test, target)
    p_valid = model.predict_proba(X_va)[:, 1]
    p_test = model.predict_proba(X_te)[:, 1]
    p_valid_c, p_test_c = r.correct(p_valid), r.correct(p_test)
    tuned = choose_threshold(y_va, p_valid_c, objective, cost_matrix=cost_matrix)
    decision = tuned.threshold if strategy == "threshold" else 0.5
    own = imbalance_metrics(y_te, p_test, threshold=decision, cost_matrix=cost_matrix)
    corrected = imbalance_metrics(y_te, p_test_c, threshold=tuned.threshold, cost_matrix=cost_matrix)
    return {
        "strategy": strategy,
        "seed": seed,
        "method": method,
        "train_rows": len(r.frame),
        "odds_ratio": r.odds_ratio,
        "pr_auc": own.average_precision,
        "roc_auc": own.roc_auc,
        "brier_raw": own.brier,
        "brier": corrected.brier,
        "log_loss": corrected.log_loss,
        "mean_predicted_raw": float(np.mean(p_test)),
        "mean_predicted": float(np.mean(p_test_c)),
        "observed_rate": float(np.mean(y_te)),
        "threshold": float(decision),
        "cost": own.expected_cost,
        "cost_tuned": corrected.expected_cost,
        "recall": own.recall,
        "precision": own.precision,
        "seconds": time.perf_counter() - start,
    }


def compare_strategies(
    splits: Callable[[int], tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]],
    target: str,
    make_model: Callable[[int], Any],
    *,
    cost_matrix: Any,
    seeds: Sequence[int] = (0, 1, 2),
    strategies: Sequence[str] = STRATEGIES,
    ratio: float = 1.0,
    progress: bool = True,
    **kwargs: Any,
) -> pd.DataFrame:
    """Every strategy on every seed's split (``splits(seed) -> (train, valid, test)``), one row each."""
    from ..progress import track

    rows = []
    jobs = [(s, st) for s in seeds for st in strategies]
    it = track(jobs, desc="strategies x seeds") if progress else jobs
    cache: dict[int, tuple] = {}
    for seed, strategy in it:
        if seed not in cache:
            cache.clear()
            cache[seed] = splits(seed)
        train, valid, test = cache[seed]
        rows.append(evaluate_strategy(strategy, train, valid, test, target, make_model,
                                      cost_matrix=cost_matrix, ratio=ratio, seed=seed, **kwargs))
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, columns: Sequence[str] = ("pr_auc", "brier_raw", "brier", "cost", "cost_tuned")) -> pd.DataFrame:
    """Mean and standard deviation over seeds per strategy (in the strategies' order)."""
    order = list(dict.fromkeys(results["strategy"]))
    agg = results.groupby("strategy")[list(columns)].agg(["mean", "std"]).reindex(order)
    return agg
