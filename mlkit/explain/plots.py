"""Plotly figures for SHAP results: beeswarm, bar with CIs, dependence, waterfall, group comparison.

Plain ``plotly.graph_objects`` figures (SVG scatter, not WebGL, and a capped number of points),
so they stay readable and light in exported offline HTML.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import ExplainError

__all__ = ["bar", "beeswarm", "dependence", "group_comparison", "waterfall"]

_COLORSCALE = [[0.0, "#1f77b4"], [0.5, "#c7c7c7"], [1.0, "#d62728"]]  # low -> high feature value


def _go():
    import plotly.graph_objects as go

    return go


def _feature(result, feature: str) -> int:
    if feature not in result.feature_names:
        raise ExplainError(f"unknown feature {feature!r}; features are {result.feature_names}")
    return result.feature_names.index(feature)


def _color_values(s: pd.Series) -> np.ndarray:
    """Feature values as percentile ranks in [0, 1] (NaN stays NaN), comparable across features."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.astype(float).where(s.cat.codes >= 0)
        s = codes
    s = pd.to_numeric(s, errors="coerce")
    return s.rank(pct=True).to_numpy()


def bar(importance: pd.DataFrame | Any, *, max_display: int = 15, title: str | None = None):
    """Horizontal bars of mean |SHAP| with confidence-interval whiskers.

    ``importance``: the table of :meth:`ShapResult.importance` (or a ShapResult).
    """
    go = _go()
    imp = importance.importance() if hasattr(importance, "importance") and not isinstance(importance, pd.DataFrame) else importance
    top = imp.head(max_display).iloc[::-1]
    ci = imp.attrs.get("ci", 0.95)
    n = imp.attrs.get("n_rows")
    fig = go.Figure(
        go.Bar(
            x=top["mean_abs"], y=top.index.astype(str), orientation="h", marker_color="#1f77b4",
            error_x={"type": "data", "symmetric": False, "array": top["ci_high"] - top["mean_abs"],
                     "arrayminus": top["mean_abs"] - top["ci_low"], "color": "#444"},
            hovertemplate="%{y}: %{x:.4g}<extra></extra>",
        )
    )
    sub = f" ({ci:.0%} CI over {n:,} rows)" if n else ""
    fig.update_layout(
        title=title or f"Mean |SHAP value|{sub}", xaxis_title="mean |SHAP value|",
        height=max(260, 28 * len(top) + 120), margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def beeswarm(result, *, max_display: int = 12, max_points: int = 1_000, seed: int = 0, title: str | None = None):
    """One row of dots per feature: SHAP value (x) coloured by the feature's value (low blue, high red)."""
    go = _go()
    if result.data is None:
        raise ExplainError("this result holds no feature values (streamed?); explain a sample to plot it")
    imp = result.importance(method="normal")
    feats = imp.index[:max_display].tolist()[::-1]
    n = result.n_rows
    pos = np.arange(n)
    if n > max_points:
        pos = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    values = result.values[pos]
    rng = np.random.default_rng(seed)
    fig = go.Figure()
    for k, f in enumerate(feats):
        j = result.feature_names.index(f)
        v = values[:, j]
        raw = result.data[f].iloc[pos]
        # Jitter grows with local density so that piles of dots spread out, as in shap's beeswarm.
        hist, edges = np.histogram(v, bins=50)
        dens = hist[np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(hist) - 1)] / max(hist.max(), 1)
        y = k + (rng.random(len(v)) - 0.5) * 0.8 * np.sqrt(dens)
        fig.add_trace(
            go.Scatter(
                x=v, y=y, mode="markers", name=f, showlegend=False,
                marker={"size": 4, "color": _color_values(raw), "colorscale": _COLORSCALE, "cmin": 0, "cmax": 1,
                        "showscale": k == 0, "colorbar": {"title": "feature value", "tickvals": [0, 1], "ticktext": ["low", "high"]}},
                text=[f"{f} = {x}" for x in raw.astype(str)],
                hovertemplate="%{text}<br>SHAP %{x:.4g}<extra></extra>",
            )
        )
    sub = f"{len(pos):,} of {n:,} explained rows" + (f" (sample of {result.n_rows_total:,})" if result.sampled else "")
    fig.update_layout(
        title=title or f"SHAP values ({result.output}): {sub}",
        xaxis_title=f"SHAP value ({result.output})",
        yaxis={"tickvals": list(range(len(feats))), "ticktext": feats, "range": [-0.7, len(feats) - 0.3]},
        height=max(300, 32 * len(feats) + 120), margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    fig.add_vline(x=0, line_color="#888", line_width=1)
    return fig


def dependence(
    result, feature: str, *, color: str | None = None, highlight: Any = None, max_points: int = 2_000,
    seed: int = 0, title: str | None = None,
):
    """SHAP value of ``feature`` against its value; ``highlight`` (an index label) marks one row."""
    go = _go()
    if result.data is None:
        raise ExplainError("this result holds no feature values (streamed?); explain a sample to plot it")
    j = _feature(result, feature)
    n = result.n_rows
    pos = np.arange(n)
    if n > max_points:
        pos = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
    x = result.data[feature].iloc[pos]
    y = result.values[pos, j]
    marker: dict[str, Any] = {"size": 5, "color": "#1f77b4", "opacity": 0.6}
    if color is not None:
        if color not in result.data.columns:
            raise ExplainError(f"colour feature {color!r} is not in the explained data")
        marker.update(color=_color_values(result.data[color].iloc[pos]), colorscale=_COLORSCALE, cmin=0, cmax=1,
                      showscale=True, colorbar={"title": color, "tickvals": [0, 1], "ticktext": ["low", "high"]})
    xs = x.astype(str) if isinstance(x.dtype, pd.CategoricalDtype) or x.dtype == object else x
    fig = go.Figure(go.Scatter(x=xs, y=y, mode="markers", marker=marker, name="rows",
                               hovertemplate=f"{feature} = %{{x}}<br>SHAP %{{y:.4g}}<extra></extra>"))
    if highlight is not None:
        p = result.position(highlight)
        hx = result.data[feature].iloc[p]
        fig.add_trace(go.Scatter(
            x=[str(hx) if xs is not x else hx], y=[result.values[p, j]], mode="markers", name=f"row {highlight}",
            marker={"size": 14, "color": "#ff7f0e", "symbol": "diamond", "line": {"width": 1.5, "color": "#000"}},
        ))
    fig.update_layout(
        title=title or f"Dependence: {feature}", xaxis_title=feature, yaxis_title=f"SHAP value of {feature}",
        height=380, margin={"l": 10, "r": 10, "t": 50, "b": 40}, showlegend=highlight is not None,
    )
    return fig


def waterfall(result, row: Any, *, max_display: int = 10, title: str | None = None):
    """How one row's output is built from the base value, feature by feature (index label ``row``)."""
    go = _go()
    p = result.position(row)
    v = result.values[p].astype(np.float64)
    order = np.argsort(-np.abs(v))
    shown = order[: max_display - 1] if len(order) > max_display else order
    rest = order[len(shown):]
    labels, deltas = [], []
    for j in shown[::-1]:
        name = result.feature_names[j]
        val = result.data[name].iloc[p] if result.data is not None else None
        labels.append(f"{name} = {_short(val)}" if val is not None else name)
        deltas.append(float(v[j]))
    if len(rest):
        labels.insert(0, f"{len(rest)} other features")
        deltas.insert(0, float(v[rest].sum()))
    total = result.base_value + float(v.sum())
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute", *["relative"] * len(deltas), "total"],
        y=["base value", *labels, "model output"], x=[result.base_value, *deltas, total],
        increasing={"marker": {"color": "#d62728"}}, decreasing={"marker": {"color": "#1f77b4"}},
        totals={"marker": {"color": "#7f7f7f"}}, texttemplate="%{delta:+.3g}", textposition="outside",
        connector={"line": {"color": "#bbb"}},
    ))
    fig.update_layout(
        title=title or f"Row {row}: {result.output} {total:.4g} (base {result.base_value:.4g})",
        height=max(300, 30 * (len(labels) + 2) + 100), margin={"l": 10, "r": 40, "t": 50, "b": 40},
        xaxis_title=result.output,
    )
    return fig


def _short(val: Any) -> str:
    if isinstance(val, (float, np.floating)):
        return f"{val:.4g}"
    return str(val)


def group_comparison(group_shap, *, max_display: int = 10, title: str | None = None):
    """Per group, the features driving its gap in mean output to the reference group (with CIs)."""
    go = _go()
    c = group_shap.contributions
    groups = [g for g in c.columns if g != group_shap.reference]
    score = c[groups].abs().max(axis=1).sort_values(ascending=False)
    feats = score.index[:max_display].tolist()[::-1]
    fig = go.Figure()
    for g in groups:
        fig.add_trace(go.Bar(
            x=c.loc[feats, g], y=feats, orientation="h",
            name=f"{g} vs {group_shap.reference} (gap {group_shap.gap[g]:+.3g})",
            error_x={"type": "data", "symmetric": False,
                     "array": group_shap.contributions_high.loc[feats, g] - c.loc[feats, g],
                     "arrayminus": c.loc[feats, g] - group_shap.contributions_low.loc[feats, g]},
        ))
    fig.update_layout(
        title=title or f"What drives the gap in mean output between groups (reference: {group_shap.reference})",
        xaxis_title="difference in mean SHAP value (sums to the gap)", barmode="group",
        height=max(300, 30 * len(feats) * max(1, len(groups)) + 120), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.add_vline(x=0, line_color="#888", line_width=1)
    return fig
