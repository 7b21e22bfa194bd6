"""Scored example data for fairness notebooks and the report: a dataset, a quick model, scores.

``scored_dataset("adult")`` trains a gradient-boosted model (without the sensitive columns:
"fairness through unawareness", which the audit then shows is not fairness) on the training
split and returns the test split with ``score`` and ``pred`` columns. ``"synthetic"`` plants
historical label bias and measurement bias against group ``B`` with a known size, so an
audit can be checked against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .counts import FairnessInputError

__all__ = ["DATASETS", "ScoredData", "planted_predictions", "scored_dataset"]

#: dataset name -> (label column, default sensitive columns)
DATASETS = {
    "adult": ("income", ["sex", "race"]),
    "german_credit": ("bad_credit", ["sex", "age_group"]),
    "synthetic": ("label", ["group"]),
}


@dataclass
class ScoredData:
    """A train split, a test split scored by ``model``, and what the columns mean."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame  # with "score" and "pred" columns
    label: str
    sensitive: list[str]
    features: list[str]
    model: Any
    truth: dict[str, Any] = field(default_factory=dict)


def _model(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, categorical_features="from_dtype",
                                          random_state=seed)


def scored_dataset(name: str, *, n_rows: int | None = None, seed: int = 0, bias: float = 0.3,
                   model=None) -> ScoredData:
    """Load ``name`` ("adult", "german_credit", "synthetic"), fit ``model``, score the test split.

    ``bias`` (synthetic only): share of group B's true positives recorded as negatives
    (label bias) and, times 2, the SD shift of ``num_00`` in group B (feature bias). 0 is fair.
    """
    from sklearn.model_selection import train_test_split

    from .. import data as mdata

    truth: dict[str, Any] = {}
    if name == "adult":
        train, test = mdata.load_adult("train"), mdata.load_adult("test")
    elif name == "german_credit":
        df = mdata.load_german_credit()
        train, test = train_test_split(df, test_size=0.3, random_state=seed, stratify=df["bad_credit"])
    elif name == "synthetic":
        n = int(n_rows or 100_000)
        ddf, t = mdata.make_tabular(n, seed=seed, label_bias=float(bias), feature_bias=2.0 * float(bias),
                                    group_sizes={"A": 0.7, "B": 0.3}, prevalence=0.3)
        df = ddf.compute(scheduler="sync").reset_index(drop=True)
        train, test = train_test_split(df, test_size=0.5, random_state=seed)
        truth = {"observed_group_base_rates": t.observed_group_base_rates,
                 "group_base_rates": t.group_base_rates, "label_bias": t.label_bias,
                 "feature_bias": t.feature_bias, "reference_group": t.reference_group}
    else:
        raise FairnessInputError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)} or a Parquet path")
    label, sensitive = DATASETS[name]
    drop = {label, *sensitive, "time", "personal_status_sex", "age", f"{label}_true"}
    features = [c for c in train.columns if c not in drop]
    if name == "synthetic":
        features = [c for c in features if c.startswith("num_") or c == "cat_0"]
    model = model if model is not None else _model(seed)
    model.fit(train[features], train[label])
    test = test.reset_index(drop=True).copy()
    test["score"] = model.predict_proba(test[features])[:, 1]
    test["pred"] = (test["score"] >= 0.5).astype(np.int8)
    return ScoredData(name, train.reset_index(drop=True), test, label, list(sensitive), features, model, truth)


def planted_predictions(n_rows: int, selection_rates: dict[str, float], *, group_sizes: dict[str, float] | None = None,
                        base_rate: float = 0.3, seed: int = 0, as_dask: bool = False,
                        partition_rows: int = 1_000_000):
    """Labels and predictions with *known* per-group selection rates (the planted disparity).

    Each row's group is drawn from ``group_sizes`` (default equal), its label is
    Bernoulli(``base_rate``) and its prediction Bernoulli(``selection_rates[group]``),
    independently, so the true selection-rate difference between groups is exactly the
    difference of the given rates. Rows come in blocks seeded by ``(seed, block)``: the same
    data for pandas and Dask, at any size.
    """
    groups = list(selection_rates)
    sizes = np.array([(group_sizes or {g: 1.0 / len(groups) for g in groups})[g] for g in groups], dtype=float)
    rates = np.array([selection_rates[g] for g in groups], dtype=float)
    cdf = np.cumsum(sizes / sizes.sum())

    def block(i: int, lo: int, hi: int) -> pd.DataFrame:
        rng = np.random.default_rng([seed, i])
        m = hi - lo
        g = np.minimum(np.searchsorted(cdf, rng.random(m), side="right"), len(groups) - 1)
        y = (rng.random(m) < base_rate).astype(np.int8)
        p = (rng.random(m) < rates[g]).astype(np.int8)
        return pd.DataFrame({"y": y, "pred": p, "group": pd.Categorical.from_codes(g, groups)})

    bounds = list(range(0, n_rows, partition_rows)) + [n_rows]
    spans = list(zip(range(len(bounds) - 1), bounds[:-1], bounds[1:]))
    if not as_dask:
        return pd.concat([block(*s) for s in spans], ignore_index=True)
    import dask.dataframe as dd

    return dd.from_map(_Block(block), spans, meta=block(0, 0, 1).iloc[:0], enforce_metadata=False)


class _Block:
    """Picklable wrapper so ``dd.from_map`` can ship the block function to workers."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, span) -> pd.DataFrame:
        return self.fn(*span)
