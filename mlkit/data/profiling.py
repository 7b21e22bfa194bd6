"""Profiling: per-column statistics, missingness, cardinality and histograms in one pass."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import check_frame
from .scan import SKETCH_ALPHA, ScanResult, scan

__all__ = ["Profile", "profile"]


@dataclass
class Profile:
    """Result of :func:`profile`.

    ``table``: one row per column (kind, count, missing, missing_rate, distinct, mean, std,
    min, 25%, 50%, 75%, max, top, top_freq). Quantiles come from a sketch with relative error
    at most ``SKETCH_ALPHA`` (1 %); counts, mean, std, min and max are exact.
    ``histograms``: column -> (edges, counts) for numeric columns, (labels, counts) for
    categorical ones (top ``max_categories``).
    """

    n_rows: int
    table: pd.DataFrame
    histograms: dict[str, tuple[list, list]]
    seconds: float = 0.0
    duplicate_rows: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_scan(cls, stats: ScanResult, *, bins: int = 30, max_categories: int = 20, seconds: float = 0.0) -> Profile:
        rows = []
        hists: dict[str, tuple[list, list]] = {}
        for name, cs in stats.columns.items():
            row: dict[str, Any] = {
                "column": name, "kind": cs.kind, "dtype": stats.dtypes[name], "count": cs.n_present,
                "missing": cs.n_missing, "missing_rate": cs.n_missing / max(cs.n, 1),
                "distinct": cs.distinct, "distinct_exact": cs.distinct_exact,
            }
            sk = cs.sketch_total()
            if cs.kind == "datetime":
                if cs.n_present:
                    row.update(min=pd.Timestamp(int(cs.vmin)), max=pd.Timestamp(int(cs.vmax)))
            elif sk is not None and cs.n_present:
                q = sk.quantile(np.array([0.25, 0.5, 0.75]))
                row.update(mean=cs.mean, std=cs.std, min=cs.vmin, **{"25%": q[0], "50%": q[1], "75%": q[2]},
                           max=cs.vmax, zeros=cs.n_zero)
                edges, counts = sk.histogram(bins)
                hists[name] = (edges.tolist(), counts.tolist())
            elif cs.cat_counts is not None or cs.values is not None:
                if cs.cat_counts is not None:
                    counts = pd.Series(cs.cat_counts[:, :-1].sum(axis=0), index=[str(c) for c in cs.categories])
                else:
                    counts = pd.Series({k: int(v.sum()) for k, v in cs.values.items()}, dtype="int64")
                counts = counts[counts > 0].sort_values(ascending=False, kind="stable")
                if len(counts):
                    row.update(top=counts.index[0], top_freq=int(counts.iloc[0]))
                top = counts.iloc[:max_categories]
                labels = top.index.tolist()
                values = top.to_numpy().tolist()
                if len(counts) > max_categories:
                    labels.append(f"(other {len(counts) - max_categories})")
                    values.append(int(counts.iloc[max_categories:].sum()))
                hists[name] = (labels, values)
            rows.append(row)
        cols = ["column", "kind", "dtype", "count", "missing", "missing_rate", "distinct", "distinct_exact",
                "mean", "std", "min", "25%", "50%", "75%", "max", "zeros", "top", "top_freq"]
        table = pd.DataFrame(rows).reindex(columns=cols).set_index("column")
        return cls(stats.n_rows, table, hists, seconds, stats.duplicate_rows,
                   {"sketch_alpha": SKETCH_ALPHA, "npartitions": stats.npartitions})

    def describe(self) -> pd.DataFrame:
        """Numeric statistics laid out like ``pandas.DataFrame.describe()``."""
        num = self.table[self.table["kind"].isin(["int", "float", "bool"])]
        out = num[["count", "mean", "std", "min", "25%", "50%", "75%", "max"]].T
        return out.astype(float)

    def figure(self, columns: list[str] | None = None, *, n_cols: int = 4):
        """Plotly grid of histograms (numeric) and bar charts (categorical)."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        names = [c for c in (columns or list(self.histograms)) if c in self.histograms]
        if not names:
            return go.Figure()
        n_rows = -(-len(names) // n_cols)
        fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=names,
                            vertical_spacing=min(0.12, 0.6 / max(n_rows, 1)))
        for i, name in enumerate(names):
            xs, ys = self.histograms[name]
            r, c = divmod(i, n_cols)
            if self.table.loc[name, "kind"] in {"int", "float", "bool"}:
                edges = np.asarray(xs, dtype=float)
                fig.add_bar(x=((edges[:-1] + edges[1:]) / 2).tolist(), y=ys, width=np.diff(edges).tolist(),
                            row=r + 1, col=c + 1, showlegend=False, marker_color="#4C78A8")
            else:
                fig.add_bar(x=[str(x) for x in xs], y=ys, row=r + 1, col=c + 1, showlegend=False,
                            marker_color="#F58518")
        fig.update_layout(height=max(260, 220 * n_rows), title=f"Profile of {self.n_rows:,} rows",
                          template="plotly_white", margin={"t": 70})
        return fig

    def missing_figure(self):
        """Plotly bar chart of the missing rate per column."""
        import plotly.graph_objects as go

        rates = self.table["missing_rate"].astype(float)
        fig = go.Figure(go.Bar(x=rates.index.tolist(), y=(rates * 100).round(3).tolist(), marker_color="#E45756"))
        fig.update_layout(title="Missing values per column (%)", yaxis_title="% missing", height=320,
                          template="plotly_white")
        return fig

    def _repr_html_(self) -> str:
        return f"<p>Profile: {self.n_rows:,} rows, {len(self.table)} columns, {self.seconds:.2f} s</p>" + \
            self.table._repr_html_()


def profile(df, *, columns: list[str] | None = None, bins: int = 30, target: str | None = None) -> Profile:
    """Profile ``df`` (pandas or Dask) in a single pass.

    Parameters
    ----------
    columns : only these columns (Parquet then reads only them).
    bins : histogram bins for numeric columns.
    target : optional 0/1 label, kept in per-label counts (see :func:`mlkit.data.validate`).

    Returns
    -------
    Profile (``.table``, ``.histograms``, ``.figure()``, ``.missing_figure()``).
    """
    check_frame(df, where="profile")
    started = time.perf_counter()
    stats = scan(df, columns=columns, target=target, duplicates=False)
    return Profile.from_scan(stats, bins=bins, seconds=time.perf_counter() - started)
