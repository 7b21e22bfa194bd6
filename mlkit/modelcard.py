"""What the model-card report needs: the data resolved from a name or a path, a model
trained on it (xgboost or the torch tabular MLP), behind one ``predict_proba`` interface.

The report notebook (``reports/model_card.ipynb``) orchestrates; profiling, imbalance
metrics, SHAP, fairness and the carbon ledger come from their own modules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BUNDLED", "CardData", "TorchTabularClassifier", "load_card_data", "numeric_view", "train_model"]

BUNDLED = ("adult", "german_credit")
MODELS = ("xgboost", "torch_mlp")
# Columns that directly encode a sensitive attribute: left out of the features with it.
_ENCODES = {"sex": ["personal_status_sex"]}


@dataclass
class CardData:
    """A dataset ready for a model card."""

    name: str
    frame: pd.DataFrame
    label: str
    sensitive: list[str]
    features: list[str]
    cost_matrix: Any  # mlkit.imbalance.CostMatrix
    cost_source: str
    source: str
    notes: list[str] = field(default_factory=list)


def _bundled(name: str) -> tuple[pd.DataFrame, str, Any, str, str]:
    from .data import GERMAN_CREDIT_COSTS, load_adult, load_german_credit

    if name == "adult":
        frame = load_adult("all")
        return frame, "income", [[0, 1], [1, 0]], "0/1 (no documented costs)", frame.attrs.get("source", "UCI Adult")
    frame = load_german_credit()
    return (frame, frame.attrs.get("target", "bad_credit"), GERMAN_CREDIT_COSTS,
            "the dataset's documented matrix (a bad credit rated good costs 5, the reverse 1)",
            frame.attrs.get("source", "UCI Statlog German Credit"))


def load_card_data(
    dataset: str,
    *,
    label: str | None = None,
    sensitive: list[str] | tuple[str, ...] = (),
    cost_matrix: Any = None,
    max_rows: int | None = None,
    seed: int = 0,
) -> CardData:
    """Resolve ``dataset`` (a bundled name or a Parquet path) for the model card.

    Parameters
    ----------
    dataset : ``"adult"``, ``"german_credit"``, or a Parquet file/folder.
    label : the binary label column (default: the bundled dataset's own; required for Parquet).
    sensitive : columns to audit; they (and columns that directly encode them) are not features.
    cost_matrix : ``[[TN, FP], [FN, TP]]`` costs (rows true class, columns predicted); default
        the dataset's documented matrix, else 0/1.
    max_rows : keep a stratified random sample of at most this many rows.
    """
    from .imbalance import as_cost_matrix

    if dataset in BUNDLED:
        frame, default_label, default_costs, cost_source, source = _bundled(dataset)
        label = label or default_label
    else:
        path = Path(dataset)
        if not path.exists():
            raise FileNotFoundError(
                f"dataset {dataset!r} is neither a bundled dataset ({', '.join(BUNDLED)}) nor an existing Parquet path"
            )
        if label is None:
            raise ValueError(f"dataset {dataset}: name the label column with label=...")
        from .data import read_parquet

        frame = read_parquet(path)
        if hasattr(frame, "compute"):
            frame = frame.compute()
        default_costs, cost_source, source = [[0, 1], [1, 0]], "0/1 (none given)", f"Parquet {path}"
    if label not in frame.columns:
        raise KeyError(f"label column {label!r} is not in the dataset; columns: {', '.join(map(str, frame.columns))}")
    values = set(pd.unique(frame[label].dropna()))
    if not values <= {0, 1}:
        raise ValueError(f"label column {label!r} must be binary 0/1, found values {sorted(map(str, values))[:10]}")
    sensitive = list(sensitive)
    missing = [c for c in sensitive if c not in frame.columns]
    if missing:
        raise KeyError(f"sensitive column(s) {missing} not in the dataset; columns: {', '.join(map(str, frame.columns))}")
    if label in sensitive:
        raise ValueError(f"the label {label!r} cannot also be a sensitive column")
    notes = []
    frame = frame.dropna(subset=[label]).reset_index(drop=True)
    frame[label] = frame[label].astype(np.int8)
    if max_rows is not None and len(frame) > max_rows:
        frame = (
            frame.groupby(label, group_keys=False, observed=True)
            .sample(frac=max_rows / len(frame), random_state=seed)
            .reset_index(drop=True)
        )
        notes.append(f"a stratified sample of {len(frame):,} rows was used (max_rows={max_rows:,})")
    excluded = set(sensitive) | {c for s in sensitive for c in _ENCODES.get(s, [])}
    features = [c for c in frame.columns if c != label and c not in excluded]
    if cost_matrix is not None:
        default_costs, cost_source = cost_matrix, "given as a parameter"
    return CardData(
        name=Path(dataset).stem if dataset not in BUNDLED else dataset,
        frame=frame,
        label=label,
        sensitive=sensitive,
        features=features,
        cost_matrix=as_cost_matrix(default_costs, name="cost_matrix"),
        cost_source=cost_source,
        source=source,
        notes=notes,
    )


class TorchTabularClassifier:
    """A scikit-learn-style wrapper of :class:`mlkit.deep.TabularMLP` for in-memory frames.

    Numeric columns are standardised, categorical ones embedded (codes from
    :func:`mlkit.deep.streaming.fit_spec`); training is :func:`mlkit.deep.train.fit`
    with early stopping on the validation frame.
    """

    def __init__(self, hidden: tuple[int, ...] = (128, 64), epochs: int = 10, batch_size: int = 512,
                 lr: float = 2e-3, patience: int = 2, class_weight: Any = None, random_state: int = 0) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.class_weight = class_weight
        self.random_state = random_state

    def _frame(self, X: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        frame = X[self.numeric_ + self.categorical_].copy()
        for c in self.categorical_:
            frame[c] = frame[c].astype("string")
        frame[self.target_] = 0 if y is None else np.asarray(y, dtype=np.float32)
        return frame

    def fit(self, X: pd.DataFrame, y: Any, X_valid: pd.DataFrame | None = None, y_valid: Any = None):
        import torch

        from .deep.model import TabularMLP
        from .deep.streaming import ParquetStream, fit_spec
        from .deep.train import fit

        torch.manual_seed(self.random_state)
        self.numeric_ = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c])]
        self.categorical_ = [c for c in X.columns if c not in self.numeric_]
        self.target_ = "__label__"
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        train = self._frame(X, y)
        self.spec_ = fit_spec(train, numeric=self.numeric_, categorical=self.categorical_, target=self.target_)
        self.model_ = TabularMLP(len(self.numeric_), self.spec_.cardinalities, hidden=self.hidden)
        valid = None
        if X_valid is not None:
            valid = ParquetStream(self._frame(X_valid, y_valid), self.spec_, batch_size=4096, shuffle=False)
        self.result_ = fit(
            self.model_,
            ParquetStream(train, self.spec_, batch_size=self.batch_size, seed=self.random_state),
            valid,
            epochs=self.epochs,
            lr=self.lr,
            patience=self.patience if valid is not None else None,
            class_weight=self.class_weight,
            seed=self.random_state,
            progress=False,
            carbon=False,  # the report's cell ledger already accounts for this cell
        )
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        from .deep.streaming import ParquetStream
        from .deep.train import predict_proba

        X = pd.DataFrame(X, columns=self.feature_names_in_) if not isinstance(X, pd.DataFrame) else X
        stream = ParquetStream(self._frame(X), self.spec_, batch_size=8192, shuffle=False)
        p = predict_proba(self.model_, stream).astype(np.float64)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def train_model(kind: str, data: CardData, train: pd.DataFrame, valid: pd.DataFrame, *,
                n_estimators: int = 300, epochs: int = 10, seed: int = 0):
    """Fit a ``"xgboost"`` or ``"torch_mlp"`` classifier on ``data.features`` of ``train``.

    xgboost uses its native categorical support (so SHAP values are per original column)
    and the device from :func:`mlkit.compute.device`; both stop early on ``valid``.
    """
    if kind not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {kind!r}")
    X_tr, y_tr = train[data.features], train[data.label]
    X_va, y_va = valid[data.features], valid[data.label]
    if kind == "xgboost":
        import xgboost as xgb

        from .compute import device

        model = xgb.XGBClassifier(
            n_estimators=n_estimators, max_depth=5, learning_rate=0.08, subsample=0.9,
            enable_categorical=True, max_cat_to_onehot=1, early_stopping_rounds=30,
            eval_metric="logloss", random_state=seed, n_jobs=os.cpu_count() or 1, **device().xgboost_params,
        )
        model.fit(X_tr, y_tr, eval_set=[(X_va, y_va)], verbose=False)
        return model
    return TorchTabularClassifier(epochs=epochs, random_state=seed).fit(X_tr, y_tr, X_va, y_va)


def numeric_view(model: Any, X: pd.DataFrame):
    """``(model_or_function, X_numeric)`` that SHAP's model-agnostic explainers can perturb.

    xgboost is returned unchanged (its TreeSHAP reads categoricals natively). For other
    models, categorical and string columns become integer codes (-1 for missing) and the
    returned function decodes them before calling ``model.predict_proba``: the permutation
    explainer can then mix rows without ever subtracting strings.
    """
    from .explain import model_route

    if model_route(model) == "xgboost":
        return model, X
    categories = {c: X[c].astype("category").cat.categories for c in X.columns
                  if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])}
    coded = X.copy()
    for c, cats in categories.items():
        coded[c] = pd.Categorical(X[c], categories=cats).codes.astype(np.float64)

    def predict_positive(Xc) -> np.ndarray:
        frame = pd.DataFrame(Xc, columns=X.columns).copy()
        for c, cats in categories.items():
            codes = np.asarray(frame[c], dtype=np.float64).round().astype(int)
            frame[c] = pd.Categorical.from_codes(np.where(codes < 0, -1, codes), categories=cats)
            if not isinstance(X[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].astype(X[c].dtype)
        return model.predict_proba(frame)[:, 1]

    return predict_positive, coded
