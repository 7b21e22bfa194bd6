"""``FairnessDashboard``: group metrics with intervals, verdicts, and per-group threshold sliders.

Pick the sensitive column(s) and a metric; see each group's bar with its confidence interval and
the policy verdicts; move one threshold slider per group and watch overall accuracy and the
between-group disparity move on the accuracy-fairness trade-off chart. All numbers come from
one audit pass per choice of sensitive columns (cached); the sliders only re-read the score
histograms, so they stay live on data of any size.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as W
from IPython.display import display

from mlkit.fairness import FairnessAudit, Policy, audit, group_threshold_state, tradeoff_figure

from ._display import show_figure

__all__ = ["FairnessDashboard"]

_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#b26a00"}
_METRICS = ("selection_rate", "tpr", "fpr", "precision", "accuracy")


class FairnessDashboard:
    """Interactive fairness audit of one model's predictions.

    Parameters
    ----------
    data : pandas or Dask DataFrame holding the columns below.
    y_true : label column.
    y_score : score column (enables the threshold sliders and the trade-off chart).
    y_pred : prediction column (default ``y_score >= 0.5``).
    sensitive : candidate sensitive columns; the first is selected initially.
    policy : verdict policy (default :class:`~mlkit.fairness.Policy`).
    audit_kwargs : passed to :func:`mlkit.fairness.audit` (e.g. ``n_bootstrap``, ``sample_weight``).
    """

    def __init__(self, data, y_true: str, *, y_score: str | None = None, y_pred: str | None = None,
                 sensitive: Sequence[str], policy: Policy | None = None, **audit_kwargs: Any) -> None:
        if isinstance(sensitive, str):
            sensitive = [sensitive]
        if not sensitive:
            raise ValueError("FairnessDashboard: give at least one sensitive column")
        self.data, self.y_true, self.y_score, self.y_pred = data, y_true, y_score, y_pred
        self.policy = policy or Policy()
        self.audit_kwargs = {"n_bootstrap": 500, **audit_kwargs}
        self._cache: dict[tuple[str, ...], FairnessAudit] = {}

        self.sensitive = W.SelectMultiple(options=list(sensitive), value=(sensitive[0],),
                                          description="Sensitive", rows=min(4, len(sensitive)))
        self.metric = W.Dropdown(options=list(_METRICS), value="selection_rate", description="Metric")
        self.bars = W.Output()
        self.verdict_html = W.HTML()
        self.state_html = W.HTML()
        self.tradeoff_out = W.Output()
        self.sliders_box = W.VBox()
        self.sliders: dict[str, W.FloatSlider] = {}
        self.sensitive.observe(self._on_sensitive, names="value")
        self.metric.observe(self._on_metric, names="value")
        self._set_audit()
        self.widget = W.VBox([
            W.HBox([self.sensitive, self.metric]),
            self.bars,
            W.HTML("<b>Verdicts</b>"), self.verdict_html,
            W.HTML("<b>Per-group thresholds</b>" if self.y_score else ""),
            W.HBox([self.sliders_box, self.state_html]),
            self.tradeoff_out,
        ])

    # ----- pure logic (tests call these directly)

    def audit_for(self, columns: Sequence[str]) -> FairnessAudit:
        """The audit for these sensitive columns (computed once, then cached)."""
        key = tuple(columns)
        if not key:
            raise ValueError("select at least one sensitive column")
        if key not in self._cache:
            self._cache[key] = audit(self.y_true, self.y_pred, self.y_score, sensitive=list(key), data=self.data,
                                     policy=self.policy, **self.audit_kwargs)
        return self._cache[key]

    @property
    def current(self) -> FairnessAudit:
        return self.audit_for(self.sensitive.value)

    def thresholds(self) -> dict[str, float]:
        return {g: s.value for g, s in self.sliders.items()}

    def state_at(self, thresholds: dict[str, float] | float | None = None) -> dict[str, Any]:
        """Per-group metrics, overall accuracy and the disparity of the chosen metric at these thresholds."""
        if not self.y_score:
            raise ValueError("threshold states need y_score")
        return group_threshold_state(self.current, self.thresholds() if thresholds is None else thresholds,
                                     metric=self.metric.value)

    def verdicts(self) -> dict[str, dict[str, Any]]:
        return self.current.verdicts()

    # ----- rendering

    def _render_bars(self) -> None:
        show_figure(self.bars, self.current.plot(self.metric.value))

    def _render_verdicts(self) -> None:
        rows = []
        for name, v in self.verdicts().items():
            colour = _COLOURS[v["verdict"]]
            rows.append(f"<tr><td>{name}</td><td style='color:{colour};font-weight:bold'>{v['verdict']}</td>"
                        f"<td>{html.escape(v['reason'])}</td></tr>")
        self.verdict_html.value = "<table>" + "".join(rows) + "</table>"

    def _render_state(self) -> None:
        if not self.y_score:
            self.state_html.value = ""
            return
        st = self.state_at()
        disp = st["disparity"]
        lines = [f"accuracy <b>{st['accuracy']:.3f}</b>",
                 f"{st['metric']} disparity (max - min) <b>{disp:.3f}</b>" if disp is not None else
                 f"{st['metric']} disparity: undefined"]
        for g, m in st["by_group"].items():
            val = m.get(st["metric"])
            lines.append(f"{html.escape(g)}: t = {m['threshold']:.2f}, {st['metric']} = "
                         f"{'undefined' if val is None else f'{val:.3f}'}")
        self.state_html.value = "<br>".join(lines)
        import pandas as pd

        point = pd.DataFrame([{"name": "sliders", "accuracy": st["accuracy"], "disparity": disp}])
        show_figure(self.tradeoff_out, tradeoff_figure(self.current, self.metric.value, points=point))

    def _build_sliders(self) -> None:
        for s in self.sliders.values():
            s.unobserve_all()
        self.sliders = {}
        if self.y_score:
            for g in self.current.labels:
                s = W.FloatSlider(value=self.current.threshold, min=0.0, max=1.0, step=0.01, description=g[:18],
                                  continuous_update=False, style={"description_width": "initial"})
                s.observe(self._on_slider, names="value")
                self.sliders[g] = s
        self.sliders_box.children = tuple(self.sliders.values())

    def _set_audit(self) -> None:
        self._build_sliders()
        self._render_bars()
        self._render_verdicts()
        self._render_state()

    # ----- observers

    def _on_sensitive(self, change) -> None:
        if change["new"]:
            self._set_audit()

    def _on_metric(self, change) -> None:
        self._render_bars()
        self._render_state()

    def _on_slider(self, change) -> None:
        self._render_state()

    def _ipython_display_(self) -> None:
        display(self.widget)
