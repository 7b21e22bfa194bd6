"""``ThresholdExplorer``: move a decision threshold and watch the trade-offs, one or two models.

::

    from widgets import ThresholdExplorer
    ThresholdExplorer(y_test, {"xgboost": p1, "weighted": p2}, cost_matrix=[[0, 1], [5, 0]])

A slider sets the threshold (predict positive where ``score >= threshold``); for each model
the confusion matrix, precision, recall, F1 and expected cost per row update live, and the
precision-recall and calibration curves mark the current point. In-memory scores are exact
(sorted once, counts by binary search); Dask Series go through one
:class:`~mlkit.imbalance.ScoreHistogram` pass each (thresholds snapped to a bin edge).
All logic is in :meth:`ThresholdExplorer.state_at`, which the widget's observer calls.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlkit.imbalance.checks import ImbalanceError, is_dask
from mlkit.imbalance.costs import as_cost_matrix
from mlkit.imbalance.metrics import _as_arrays, _rates, calibration_curve, score_histogram
from mlkit.plotting import PLOTLY_MIME, figure_html

__all__ = ["ThresholdExplorer"]

_COLOURS = ("#1f77b4", "#d62728")


class _Scores:
    """Confusion counts at any threshold and the curves for one model."""

    def __init__(self, y_true: Any, y_score: Any, n_bins: int) -> None:
        if is_dask(y_true) or is_dask(y_score):
            self.hist = score_histogram(y_true, y_score, n_bins=n_bins)
            self.hist._need_both()
            self.exact = False
            self.n_pos, self.n_neg = self.hist.n_pos, self.hist.n_neg
            pr = self.hist.pr_curve()
            self.pr = (pr["recall"].to_numpy(), pr["precision"].to_numpy(), pr["threshold"].to_numpy())
            self.calibration = self.hist.calibration_curve()
            return
        y, s = _as_arrays(y_true, y_score)
        self.hist = None
        self.exact = True
        self.pos = np.sort(s[y == 1])
        self.neg = np.sort(s[y != 1])
        self.n_pos, self.n_neg = len(self.pos), len(self.neg)
        if self.n_pos == 0 or self.n_neg == 0:
            raise ImbalanceError("ThresholdExplorer: y_true has a single class; need both classes")
        grid = np.unique(np.r_[np.quantile(s, np.linspace(0, 1, 400)), np.linspace(0, 1, 201)])
        c = [self.confusion(t) for t in grid]
        r = _rates(*(np.array([d[k] for d in c]) for k in ("tn", "fp", "fn", "tp")))
        self.pr = (r["recall"], r["precision"], grid)
        self.calibration = calibration_curve(y, s)

    def confusion(self, t: float) -> dict[str, int]:
        if self.hist is not None:
            return self.hist.confusion(t)
        tp = self.n_pos - int(np.searchsorted(self.pos, t, side="left"))
        fp = self.n_neg - int(np.searchsorted(self.neg, t, side="left"))
        return {"tn": self.n_neg - fp, "fp": fp, "fn": self.n_pos - tp, "tp": tp}

    def snapped(self, t: float) -> float:
        return t if self.hist is None else float(np.floor(t * self.hist.n_bins) / self.hist.n_bins)


class ThresholdExplorer:
    """Threshold slider with live confusion matrix, precision, recall, expected cost and curves.

    Parameters
    ----------
    y_true : 0/1 labels (numpy, pandas, or a Dask Series aligned with Dask scores).
    scores : positive-class probabilities: one array, or ``{name: scores}`` for up to two
        models shown side by side.
    cost_matrix : optional, rows = true class, columns = predicted (as
        :mod:`mlkit.imbalance.costs`); adds the expected cost per row.
    threshold : initial threshold.
    n_bins : histogram bins for Dask input.
    """

    def __init__(self, y_true: Any, scores: Any, *, cost_matrix: Any = None, threshold: float = 0.5,
                 n_bins: int = 2**14, step: float = 0.005) -> None:
        import ipywidgets as w

        if not isinstance(scores, Mapping):
            scores = {"model": scores}
        if not 1 <= len(scores) <= 2:
            raise ImbalanceError(f"ThresholdExplorer shows one or two models, got {len(scores)}")
        if not 0.0 <= threshold <= 1.0:
            raise ImbalanceError(f"threshold must be in [0, 1], got {threshold!r}")
        self.cost = as_cost_matrix(cost_matrix) if cost_matrix is not None else None
        self.models = {str(name): _Scores(y_true, s, n_bins) for name, s in scores.items()}
        self.slider = w.FloatSlider(value=threshold, min=0.0, max=1.0, step=step, readout_format=".3f",
                                    description="threshold", continuous_update=False,
                                    layout=w.Layout(width="60%"))
        self.bayes = w.HTML()
        self.tables = {name: w.HTML() for name in self.models}
        self.chart = w.Output()
        self.widget = w.VBox([
            w.HBox([self.slider, self.bayes]),
            w.HBox(list(self.tables.values())),
            self.chart,
        ])
        self.figure = None
        self.slider.observe(self._on_change, names="value")
        self.refresh()

    # ------------------------------------------------------------------ logic

    def state_at(self, threshold: float) -> dict[str, Any]:
        """Everything shown at ``threshold``: per model counts, rates and expected cost."""
        if not 0.0 <= threshold <= 1.0:
            raise ImbalanceError(f"threshold must be in [0, 1], got {threshold!r}")
        out: dict[str, Any] = {"threshold": float(threshold), "models": {}}
        for name, m in self.models.items():
            cm = m.confusion(threshold)
            r = {k: float(v) for k, v in _rates(**cm).items()}
            n = sum(cm.values())
            out["models"][name] = {
                **cm, **r,
                "threshold_used": m.snapped(threshold),
                "predicted_positive_rate": (cm["tp"] + cm["fp"]) / n,
                "expected_cost": None if self.cost is None else float(self.cost.total(**cm) / n),
                "exact": m.exact,
            }
        return out

    # ------------------------------------------------------------------ views

    def table_html(self, name: str, s: dict[str, Any]) -> str:
        e = html.escape
        cost = "" if s["expected_cost"] is None else f"<tr><td>expected cost / row</td><td><b>{s['expected_cost']:.4f}</b></td></tr>"
        colour = _COLOURS[list(self.models).index(name)]
        return (
            f"<div style='font-family:sans-serif;margin-right:2em'>"
            f"<b style='color:{colour}'>{e(name)}</b> at t = {s['threshold_used']:.4f}"
            "<table style='border-collapse:collapse;margin:4px 0'>"
            "<tr><td></td><th>pred 0</th><th>pred 1</th></tr>"
            f"<tr><th>true 0</th><td>{s['tn']:,}</td><td>{s['fp']:,}</td></tr>"
            f"<tr><th>true 1</th><td>{s['fn']:,}</td><td>{s['tp']:,}</td></tr></table>"
            "<table>"
            f"<tr><td>precision</td><td>{s['precision']:.3f}</td></tr>"
            f"<tr><td>recall</td><td>{s['recall']:.3f}</td></tr>"
            f"<tr><td>F1</td><td>{s['f1']:.3f}</td></tr>"
            f"<tr><td>balanced accuracy</td><td>{s['balanced_accuracy']:.3f}</td></tr>"
            f"<tr><td>MCC</td><td>{s['mcc']:.3f}</td></tr>{cost}</table></div>"
        )

    def build_figure(self, state: dict[str, Any]):
        """PR curves and calibration curves, current point marked."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, subplot_titles=("Precision-recall", "Calibration"))
        for i, (name, m) in enumerate(self.models.items()):
            colour = _COLOURS[i]
            s = state["models"][name]
            rec, prec, _ = m.pr
            fig.add_trace(go.Scatter(x=rec, y=prec, mode="lines", name=f"{name} PR", line={"color": colour}), 1, 1)
            fig.add_trace(go.Scatter(x=[s["recall"]], y=[s["precision"]], mode="markers", name=f"{name} @ t",
                                     marker={"color": colour, "size": 11, "symbol": "circle-open", "line": {"width": 3}}), 1, 1)
            cal = m.calibration
            fig.add_trace(go.Scatter(x=cal["mean_predicted"], y=cal["fraction_positive"], mode="lines+markers",
                                     name=f"{name} calibration", line={"color": colour}), 1, 2)
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"color": "#999", "dash": "dot"}), 1, 2)
        fig.add_vline(x=state["threshold"], line={"color": "#444", "dash": "dash"}, row=1, col=2)
        fig.update_xaxes(title_text="recall", range=[0, 1], row=1, col=1)
        fig.update_yaxes(title_text="precision", range=[0, 1.02], row=1, col=1)
        fig.update_xaxes(title_text="mean predicted probability", range=[0, 1], row=1, col=2)
        fig.update_yaxes(title_text="fraction positive", range=[0, 1], row=1, col=2)
        fig.update_layout(height=360, margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend={"font": {"size": 10}})
        return fig

    def refresh(self) -> None:
        state = self.state_at(self.slider.value)
        self.state = state
        for name, box in self.tables.items():
            box.value = self.table_html(name, state["models"][name])
        if self.cost is not None:
            self.bayes.value = (f"<span style='font-family:sans-serif;color:#555'>Bayes threshold for calibrated "
                                f"probabilities: {self.cost.bayes_threshold:.3f}</span>")
        self.figure = self.build_figure(state)
        bundle = {PLOTLY_MIME: json.loads(self.figure.to_json()), "text/html": figure_html(self.figure)}
        self.chart.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _on_change(self, change: dict[str, Any]) -> None:
        self.refresh()

    def to_html(self) -> str:
        """A static HTML rendering at the current threshold (for exported reports)."""
        return "".join(self.table_html(n, s) for n, s in self.state["models"].items()) + figure_html(self.figure)

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)
