"""The one result type of :func:`mlkit.explain.explain`: values, base value, feature names, data.

A :class:`ShapResult` holds SHAP values for the rows that were explained (every row, or a
sample when the exact answer was over budget), either in memory or streamed to a Parquet
folder. It says how it was made (route, cost estimate, sample size), turns into a
``shap.Explanation`` so every shap plot works too, and gives the global views: mean |SHAP|
with bootstrap confidence intervals, SHAP by group, and exact SHAP for chosen rows on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cost import CostEstimate, format_bytes
from .errors import ExplainError

__all__ = ["ShapResult"]


@dataclass(eq=False)
class ShapResult:
    """SHAP values with everything needed to read them.

    Attributes
    ----------
    feature_names : the model's features, in column order of ``values``.
    base_value : the expected model output (``values`` of a row sum to its output minus this).
    output : what the values are in, e.g. ``"log-odds (margin)"`` or ``"probability of class 1"``.
    route : how they were computed (``"xgboost TreeSHAP"``, ``"shap GradientExplainer"``, ...).
    n_rows_total : rows of the data asked about; ``n_rows`` is how many were explained.
    sampled : True when global views come from a sample (see ``cost`` for why).
    strata : stratum of each explained row (for the stratified bootstrap), or None.
    path : the Parquet folder holding the values when they were streamed (``values`` then
        reads it on first access).
    """

    feature_names: list[str]
    base_value: float
    output: str
    route: str
    n_rows_total: int
    index: pd.Index
    _values: np.ndarray | None = None
    data: pd.DataFrame | None = None
    sampled: bool = False
    strata: np.ndarray | None = None
    cost: CostEstimate | None = None
    path: Path | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    _source: Any = field(default=None, repr=False)  # (model, X, kwargs) for explain_rows

    # ------------------------------------------------------------------ basics

    @property
    def n_rows(self) -> int:
        return len(self.index)

    def __len__(self) -> int:
        return self.n_rows

    @property
    def values(self) -> np.ndarray:
        """SHAP values, rows x features (read from ``path`` on first access if streamed)."""
        if self._values is None:
            if self.path is None:
                raise ExplainError("this result holds no values")
            frame = pd.read_parquet(self.path, columns=self.feature_names)
            self._values = frame.to_numpy(dtype=np.float32)
        return self._values

    @property
    def in_memory(self) -> bool:
        return self._values is not None

    def predictions(self) -> np.ndarray:
        """Model output of each explained row, rebuilt from the values (base + sum)."""
        return self.base_value + self.values.sum(axis=1, dtype=np.float64)

    def to_frame(self) -> pd.DataFrame:
        """SHAP values as a DataFrame indexed like the explained rows."""
        return pd.DataFrame(self.values, index=self.index, columns=self.feature_names)

    def to_dask(self):
        """SHAP values as a Dask DataFrame (read lazily from Parquet when streamed)."""
        import dask.dataframe as dd

        if self.path is not None and not self.in_memory:
            return dd.read_parquet(str(self.path), columns=self.feature_names)
        return dd.from_pandas(self.to_frame(), chunksize=100_000)

    def to_shap(self):
        """A ``shap.Explanation``, so that any shap plot works on this result."""
        import shap

        data = display = None
        if self.data is not None:
            display = self.data[self.feature_names]
            data = _numeric(display)
        return shap.Explanation(
            values=self.values,
            base_values=np.full(self.n_rows, self.base_value),
            data=data,
            display_data=None if display is None else display.to_numpy(),
            feature_names=list(self.feature_names),
        )

    def row(self, label: Any) -> pd.Series:
        """SHAP values of the row with index label ``label``."""
        pos = self.position(label)
        return pd.Series(self.values[pos], index=self.feature_names, name=label)

    def position(self, label: Any) -> int:
        """Position (0-based) of index label ``label`` among the explained rows."""
        loc = self.index.get_indexer([label])[0]
        if loc < 0:
            raise ExplainError(
                f"row {label!r} was not explained (this result holds {self.n_rows:,} rows"
                + (", a sample: use explain_rows([...]) for exact values of any row" if self.sampled else "")
                + ")"
            )
        return int(loc)

    # ------------------------------------------------------------------ global views

    def importance(
        self, *, ci: float = 0.95, n_boot: int = 200, seed: int | None = None, method: str = "auto"
    ) -> pd.DataFrame:
        """Mean |SHAP| per feature with a confidence interval, most important first.

        See :func:`mlkit.explain.importance.mean_abs_shap`.
        """
        from .importance import mean_abs_shap

        return mean_abs_shap(
            self.values, self.feature_names, ci=ci, n_boot=n_boot, strata=self.strata,
            seed=self.seed if seed is None else seed, method=method,
        )

    def top(self, k: int = 10) -> list[str]:
        """The ``k`` features with the largest mean |SHAP|."""
        return self.importance(method="normal").index[:k].tolist()

    def by_group(self, groups, *, reference: Any = None, ci: float = 0.95, n_boot: int = 200):
        """SHAP by group: which features drive the gap in model output between groups."""
        from .importance import shap_by_group

        if isinstance(groups, str):
            if self.data is None or groups not in self.data.columns:
                raise ExplainError(f"group column {groups!r} is not in the explained data; pass the group values")
            groups = self.data[groups]
        return shap_by_group(self, groups, reference=reference, ci=ci, n_boot=n_boot, seed=self.seed)

    def explain_rows(self, rows: Sequence[Any]) -> ShapResult:
        """Exact SHAP for the rows with these index labels (any row of the data, sampled or not)."""
        if self._source is None:
            raise ExplainError("this result does not keep its model and data; call explain() on the rows")
        model, X, kwargs = self._source
        from .router import explain, select_rows

        part = select_rows(X, rows)
        return explain(model, part, mode="exact", verbose=False, **kwargs)

    # ------------------------------------------------------------------ display

    def summary(self) -> str:
        how = f"sample of {self.n_rows:,} / {self.n_rows_total:,} rows" if self.sampled else f"{self.n_rows:,} rows"
        where = f"streamed to {self.path}" if self.path is not None else format_bytes(self.n_rows * len(self.feature_names) * 4) + " in memory"
        return (
            f"ShapResult: {how} x {len(self.feature_names)} features ({self.route}, {self.output}); "
            f"base value {self.base_value:.4g}; {where}"
        )

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        imp = self.importance(method="normal").head(10)
        rows = "".join(
            f"<tr><td>{escape(str(f))}</td><td>{r.mean_abs:.4g}</td><td>[{r.ci_low:.4g}, {r.ci_high:.4g}]</td></tr>"
            for f, r in imp.iterrows()
        )
        cost = f"<p>{escape(self.cost.summary())}</p>" if self.cost is not None else ""
        return (
            f"<p><b>{escape(self.summary())}</b></p>{cost}<table><tr><th>feature</th>"
            f"<th>mean |SHAP|</th><th>95% CI</th></tr>{rows}</table>"
        )


def _numeric(frame: pd.DataFrame) -> np.ndarray:
    """Feature values as floats (categories as their codes) for shap's colouring."""
    cols = []
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cols.append(s.cat.codes.to_numpy(dtype=np.float64, copy=True))
            cols[-1][s.isna().to_numpy()] = np.nan
        else:
            cols.append(pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64))
    return np.column_stack(cols) if cols else np.empty((len(frame), 0))
