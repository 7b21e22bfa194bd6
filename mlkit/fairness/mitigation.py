"""Mitigation before, during and after training, compared on the accuracy-fairness trade-off.

* **Before** - :func:`reweighing_weights` (Kamiran & Calders 2012): weight each (group, label)
  cell by ``P(group) P(label) / P(group, label)`` so that label and group are independent in
  the weighted training data. One counting pass; pandas or Dask.
* **After** - :func:`group_thresholds`: fairlearn's ``ThresholdOptimizer`` on a fitted model
  (group-specific, possibly randomised thresholds).
* **During** - :func:`reductions`: fairlearn's ``ExponentiatedGradient`` around any estimator
  taking ``sample_weight`` (scikit-learn, xgboost).
* :func:`compare_mitigations` fits them all and audits each on the same test data, with
  intervals, for the trade-off chart.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from .audit import FairnessAudit, FairnessWarning, audit
from .counts import CountSpec, FairnessInputError, _group_codes, compute_counts
from .policy import Policy

__all__ = [
    "MitigationComparison",
    "compare_mitigations",
    "group_thresholds",
    "reductions",
    "reweighing_weights",
]

METHODS = ("baseline", "reweighing", "thresholds", "reductions")
_CONSTRAINTS = {"demographic_parity": "DemographicParity", "equalized_odds": "EqualizedOdds",
                "equal_opportunity": "TruePositiveRateParity"}


def _as_frame(sensitive) -> pd.DataFrame:
    if isinstance(sensitive, pd.DataFrame):
        return sensitive.reset_index(drop=True)
    if isinstance(sensitive, pd.Series):
        return sensitive.reset_index(drop=True).to_frame(sensitive.name or "sensitive_feature_0")
    return pd.DataFrame({"sensitive_feature_0": np.asarray(sensitive)})


class _ReweighPartition:
    """Maps each row of a partition to its (group, label) cell's weight."""

    def __init__(self, y: str, sensitive: tuple[str, ...], table: dict[tuple, tuple[float, float]]) -> None:
        self.y, self.sensitive, self.table = y, sensitive, table

    def __call__(self, df: pd.DataFrame) -> pd.Series:
        g, keys = _group_codes(df, self.sensitive)
        w0 = np.array([self.table[k][0] for k in keys])
        w1 = np.array([self.table[k][1] for k in keys])
        y = df[self.y].to_numpy()
        return pd.Series(np.where(y == 1, w1[g], w0[g]) if len(df) else np.zeros(0), index=df.index, name="weight")


def reweighing_weights(y, sensitive=None, *, data=None, pos_label: Any = None):
    """Kamiran-Calders reweighing: one weight per row, ``P(g) P(y) / P(g, y)`` of its cell.

    Parameters
    ----------
    y : labels (or a column name with ``data=``).
    sensitive : sensitive column(s) (Series/DataFrame, or name(s) with ``data=``).
    data : pandas or Dask DataFrame.

    Returns
    -------
    numpy array (pandas input) or Dask Series (Dask input), aligned with the rows.
    The weighted data have the same total weight as rows, and equal base rates in every group.
    """
    import dask.dataframe as dd

    if data is None:
        frame = _as_frame(sensitive)
        names = tuple(frame.columns)
        frame["__y__"] = np.asarray(y)
        label = "__y__"
    else:
        frame, label = data, y
        names = (sensitive,) if isinstance(sensitive, str) else tuple(sensitive)
    spec = CountSpec(y_true=label, sensitive=names, y_pred=label, pos_label=pos_label)
    counts = compute_counts(frame, spec, progress=False)
    n_gy = np.stack([counts.counts_n[:, 0], counts.counts_n[:, 3]], axis=1).astype(float)  # (G, 2)
    n = n_gy.sum()
    expected = n_gy.sum(axis=1, keepdims=True) * n_gy.sum(axis=0, keepdims=True) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(n_gy > 0, expected / np.where(n_gy > 0, n_gy, 1.0), 0.0)
    table = {k: (float(w[i, 0]), float(w[i, 1])) for i, k in enumerate(counts.keys)}
    fn = _ReweighPartition(label, names, table)
    if isinstance(frame, dd.DataFrame):
        if pos_label is not None:
            raise FairnessInputError("reweighing_weights: pos_label is only supported for pandas input")
        return frame.map_partitions(fn, meta=pd.Series(dtype=float, name="weight"))
    work = frame if pos_label is None else frame.assign(**{label: (frame[label] == pos_label).astype(int)})
    return fn(work).to_numpy()


def _constraint(name: str):
    import fairlearn.reductions as red

    if name not in _CONSTRAINTS:
        raise FairnessInputError(f"constraint must be one of {sorted(_CONSTRAINTS)}, got {name!r}")
    return getattr(red, _CONSTRAINTS[name])()


class _Proba64(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose ``predict_proba`` returns float64.

    fairlearn's ThresholdOptimizer writes float64 values into a Series of the score dtype,
    which pandas 3 refuses for float32 scores (xgboost's).
    """

    def __init__(self, fitted=None) -> None:
        self.fitted = fitted
        self.estimator_ = fitted
        self.classes_ = getattr(fitted, "classes_", np.array([0, 1]))

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, X, y, **kwargs):  # pragma: no cover - prefit only
        raise RuntimeError("prefit wrapper: fit the underlying estimator instead")

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        return self.estimator_.predict(X)


def group_thresholds(fitted_estimator, X, y, sensitive, *, constraint: str = "demographic_parity",
                     objective: str = "accuracy_score", seed: int = 0):
    """fairlearn ``ThresholdOptimizer`` on an already fitted probabilistic classifier."""
    from fairlearn.postprocessing import ThresholdOptimizer

    constraints = {"demographic_parity": "demographic_parity", "equalized_odds": "equalized_odds",
                   "equal_opportunity": "true_positive_rate_parity"}
    if constraint not in constraints:
        raise FairnessInputError(f"constraint must be one of {sorted(constraints)}, got {constraint!r}")
    opt = ThresholdOptimizer(estimator=_Proba64(fitted_estimator), constraints=constraints[constraint], objective=objective,
                             prefit=True, predict_method="predict_proba")
    opt.fit(X, y, sensitive_features=_as_frame(sensitive))
    opt.random_state_ = seed
    return opt


def reductions(estimator, X, y, sensitive, *, constraint: str = "demographic_parity", eps: float = 0.01,
               max_iter: int = 30, seed: int = 0):
    """fairlearn ``ExponentiatedGradient`` around ``estimator`` (needs ``sample_weight`` in fit)."""
    from fairlearn.reductions import ExponentiatedGradient

    eg = ExponentiatedGradient(estimator, constraints=_constraint(constraint), eps=eps, max_iter=max_iter)
    eg.fit(X, y, sensitive_features=_as_frame(sensitive))
    eg.random_state_ = seed
    return eg


@dataclass
class MitigationComparison:
    """What :func:`compare_mitigations` returns: per-method audits and a summary table."""

    audits: dict[str, FairnessAudit]
    table: pd.DataFrame
    metric: str
    models: dict[str, Any] = field(default_factory=dict)

    def figure(self, title: str | None = None):
        """Accuracy vs disparity, one point per method with intervals, over the baseline's threshold curve."""
        from .sweep import tradeoff_figure

        base = self.audits.get("baseline")
        points = self.table.reset_index().rename(columns={"method": "name"})
        if base is not None and base.has_score:
            return tradeoff_figure(base, self.metric, points=points, title=title)
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_trace(go.Scatter(x=points["disparity"], y=points["accuracy"], mode="markers+text", text=points["name"]))
        fig.update_layout(title=title, xaxis_title=f"{self.metric} disparity", yaxis_title="accuracy")
        return fig


def compare_mitigations(
    estimator,
    X_train: pd.DataFrame,
    y_train,
    s_train,
    X_test: pd.DataFrame,
    y_test,
    s_test,
    *,
    methods: Sequence[str] = METHODS,
    constraint: str = "demographic_parity",
    metric: str = "selection_rate",
    policy: Policy | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    reductions_max_iter: int = 30,
) -> MitigationComparison:
    """Fit the baseline and each mitigation, audit each on the test set, tabulate the trade-off.

    The table has, per method: accuracy with its Wilson interval, the between-groups
    disparity of ``metric`` with its bootstrap interval, the policy verdict of the
    criterion matching ``constraint``, and the fit time.
    """
    from sklearn.base import clone

    unknown = set(methods) - set(METHODS)
    if unknown:
        raise FairnessInputError(f"unknown methods {sorted(unknown)}; expected some of {METHODS}")
    policy = policy or Policy(criteria=(constraint,))
    s_test_frame = _as_frame(s_test)
    preds: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    models: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    base = None
    if "baseline" in methods or "thresholds" in methods:
        t0 = time.perf_counter()
        base = clone(estimator).fit(X_train, y_train)
        seconds["baseline"] = time.perf_counter() - t0
        score = base.predict_proba(X_test)[:, 1]
        preds["baseline"] = ((score >= 0.5).astype(int), score)
        models["baseline"] = base
    if "reweighing" in methods:
        t0 = time.perf_counter()
        w = reweighing_weights(np.asarray(y_train), s_train)
        model = clone(estimator).fit(X_train, y_train, sample_weight=w)
        seconds["reweighing"] = time.perf_counter() - t0
        score = model.predict_proba(X_test)[:, 1]
        preds["reweighing"] = ((score >= 0.5).astype(int), score)
        models["reweighing"] = model
    if "thresholds" in methods:
        t0 = time.perf_counter()
        opt = group_thresholds(base, X_train, y_train, s_train, constraint=constraint, seed=seed)
        seconds["thresholds"] = time.perf_counter() - t0 + seconds.get("baseline", 0.0)
        preds["thresholds"] = (np.asarray(opt.predict(X_test, sensitive_features=s_test_frame, random_state=seed)), None)
        models["thresholds"] = opt
    if "reductions" in methods:
        t0 = time.perf_counter()
        eg = reductions(clone(estimator), X_train, y_train, s_train, constraint=constraint, seed=seed,
                        max_iter=reductions_max_iter)
        seconds["reductions"] = time.perf_counter() - t0
        preds["reductions"] = (np.asarray(eg.predict(X_test, random_state=seed)), None)
        models["reductions"] = eg
    audits = {}
    rows = []
    y_test = np.asarray(y_test)
    criterion = constraint if constraint in policy.criteria else policy.criteria[0]
    for name in [m for m in METHODS if m in preds]:
        y_pred, score = preds[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FairnessWarning)
            au = audit(y_test, y_pred, score, sensitive=s_test_frame, n_bootstrap=n_bootstrap, seed=seed,
                       policy=policy)
        audits[name] = au
        acc, acc_lo, acc_hi = au.overall_ci("accuracy")
        disp = au.disparity(metric)
        verdict = au.verdicts()[criterion]
        rows.append({"method": name, "accuracy": acc, "accuracy_low": acc_lo, "accuracy_high": acc_hi,
                     "disparity": disp["value"], "disparity_low": disp["low"], "disparity_high": disp["high"],
                     "verdict": verdict["verdict"], "fit_seconds": seconds.get(name, float("nan"))})
    table = pd.DataFrame(rows).set_index("method")
    table.attrs.update({"metric": metric, "criterion": criterion})
    return MitigationComparison(audits, table, metric, models)
