"""Permutation importance with one Dask task per feature.

The procedure is scikit-learn's (``sklearn.inspection.permutation_importance``), reproduced
step for step (same seeds, same shuffles) so the numbers are identical to it for the same
``random_state``; what changes is where it runs: the rows (a sample of a Dask ``X`` when it is
large) and the model are sent to every worker once, and each feature is a task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .errors import ExplainError

__all__ = ["permutation_importance"]


def _feature_scores(model, X: pd.DataFrame, y: np.ndarray, col_idx: int, seed: int, n_repeats: int, scoring) -> list[float]:
    """Scores after permuting column ``col_idx`` ``n_repeats`` times (sklearn's exact procedure)."""
    from sklearn.metrics import check_scoring

    scorer = check_scoring(model, scoring=scoring)
    rs = np.random.RandomState(seed)
    X_permuted = X.copy()
    shuffling_idx = np.arange(X_permuted.shape[0])
    scores = []
    for _ in range(n_repeats):
        rs.shuffle(shuffling_idx)
        col = X_permuted.iloc[shuffling_idx, col_idx]
        col.index = X_permuted.index
        X_permuted[X_permuted.columns[col_idx]] = col
        scores.append(float(scorer(model, X_permuted, y)))
    return scores


def permutation_importance(
    model: Any,
    X,
    y: Any,
    *,
    scoring: Any = None,
    n_repeats: int = 5,
    n_rows: int | None = 50_000,
    random_state: int = 0,
    ci: float = 0.95,
    client: Any = None,
) -> pd.DataFrame:
    """Drop in score when each feature is shuffled, one Dask task per feature.

    Parameters
    ----------
    model : a fitted scikit-learn-compatible estimator (incl. ``XGBClassifier``).
    X : pandas or Dask DataFrame of features.
    y : labels aligned with ``X`` (array or Series), or the name of a column of ``X`` holding them
        (then it is not treated as a feature; the only form for a Dask ``X``).
    scoring : a scikit-learn scorer name or callable (default: the estimator's ``score``).
    n_rows : rows to use (a random sample when ``X`` is larger; None: all).
    random_state : int; with all rows used, results equal ``sklearn.inspection.permutation_importance``.
    client : Dask client (default :func:`mlkit.compute.client`).

    Returns
    -------
    DataFrame by feature: ``importance_mean``, ``importance_std``, ``ci_low``, ``ci_high`` (t
    interval over repeats), sorted; ``.attrs``: ``baseline_score``, ``n_rows``, ``scores``.
    """
    from sklearn.metrics import check_scoring

    from ..progress import track_futures
    from .router import _as_frame, _is_dask, _n_rows, sample_rows

    if not isinstance(n_repeats, int) or n_repeats < 1:
        raise ExplainError(f"n_repeats must be a positive integer, got {n_repeats!r}")
    if not hasattr(model, "predict"):
        raise ExplainError(f"permutation importance needs a fitted estimator with predict(), got {type(model).__name__}")
    X = _as_frame(X)
    target_col = y if isinstance(y, str) else None
    if target_col is not None and target_col not in X.columns:
        raise ExplainError(f"label column {target_col!r} is not a column of X")
    if _is_dask(X) and target_col is None:
        raise ExplainError("with a Dask X, pass y as the name of the label column of X")
    total = _n_rows(X)
    if n_rows is not None and n_rows < total:
        if target_col is None:
            X = X.assign(__y__=np.asarray(y))
            target_col = "__y__"
        rows = sample_rows(X, n_rows, seed=random_state)[0]
    else:
        rows = X.compute() if _is_dask(X) else X
        if target_col is None:
            if len(y) != len(rows):
                raise ExplainError(f"y has {len(y)} values for {len(rows)} rows of X")
            labels = np.asarray(y)
    if target_col is not None:
        labels = rows[target_col].to_numpy()
        rows = rows.drop(columns=[target_col])
    scorer = check_scoring(model, scoring=scoring)
    baseline = float(scorer(model, rows, labels))
    # sklearn draws one seed from random_state and reuses it for every feature.
    seed = int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max + 1))
    if client is None:
        from ..compute import client as get_client

        client = get_client()
    model_f, rows_f, y_f = (client.scatter(v, broadcast=True, hash=False) for v in (model, rows, labels))
    try:
        futures = [
            client.submit(_feature_scores, model_f, rows_f, y_f, j, seed, n_repeats, scoring, pure=False)
            for j in range(rows.shape[1])
        ]
        scores = np.array(track_futures(futures, desc="permutation importance"))
    finally:
        for f in (model_f, rows_f, y_f):
            f.release()
    imp = baseline - scores
    mean, std = imp.mean(axis=1), imp.std(axis=1)
    half = stats.t.ppf(0.5 + ci / 2, n_repeats - 1) * imp.std(axis=1, ddof=1) / np.sqrt(n_repeats) if n_repeats > 1 else 0.0
    out = pd.DataFrame(
        {"importance_mean": mean, "importance_std": std, "ci_low": mean - half, "ci_high": mean + half},
        index=pd.Index([str(c) for c in rows.columns], name="feature"),
    ).sort_values("importance_mean", ascending=False, kind="stable")
    out.attrs.update({"baseline_score": baseline, "n_rows": len(rows), "n_repeats": n_repeats, "scores": scores.tolist()})
    return out
