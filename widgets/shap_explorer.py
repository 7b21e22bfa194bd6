"""``ShapExplorer``: pick a row (by position, index label or a filter) to see its waterfall;
pick a feature to see its dependence plot with that row highlighted.

The logic lives in :meth:`ShapExplorer.state_at` (pure Python, what the tests call); the
ipywidgets observers only call it and redraw the two plotly figures.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ShapExplorer"]


class ShapExplorer:
    """Interactive view of a :class:`mlkit.explain.ShapResult` (needs its feature values).

    Parameters
    ----------
    result : the explanation (in memory, with ``data``).
    feature : the feature shown first (default: the most important).
    max_display : features in the waterfall.
    """

    def __init__(self, result, *, feature: str | None = None, max_display: int = 10) -> None:
        import ipywidgets as w

        if result.data is None:
            raise ValueError("ShapExplorer needs a result with feature values; explain a sample (not a streamed result)")
        self.result = result
        self.max_display = max_display
        order = result.importance(method="normal").index.tolist()
        first = feature or order[0]
        if first not in result.feature_names:
            raise ValueError(f"unknown feature {first!r}; features are {result.feature_names}")
        self.position = w.BoundedIntText(value=0, min=0, max=max(result.n_rows - 1, 0), description="row #")
        self.row_id = w.Text(value="", placeholder="index label", description="row id")
        self.query = w.Text(value="", placeholder="e.g. age > 60 and sex == 'Female'", description="filter")
        self.feature = w.Dropdown(options=order, value=first, description="feature")
        self.status = w.HTML()
        self.waterfall_out = w.Output()
        self.dependence_out = w.Output()
        self._state: dict[str, Any] = {}
        self._busy = False
        self.position.observe(self._on_position, names="value")
        self.row_id.observe(self._on_row_id, names="value")
        self.query.observe(self._on_query, names="value")
        self.feature.observe(self._on_feature, names="value")
        self.widget = w.VBox([
            w.HBox([self.position, self.row_id]),
            w.HBox([self.query, self.feature]),
            self.status,
            w.HBox([self.waterfall_out, self.dependence_out]),
        ])
        self._apply(self.state_at(position=0, feature=first))

    # ------------------------------------------------------------------ logic

    def state_at(
        self, *, position: int | None = None, row_id: str | None = None, query: str | None = None,
        feature: str | None = None,
    ) -> dict[str, Any]:
        """What the explorer shows for a choice of row (one of three ways) and feature.

        Returns a dict with ``position``, ``label``, ``output`` (model output of the row),
        ``top`` (its largest contributions), ``feature``, ``feature_value``, ``feature_shap``,
        ``matches`` (rows matching ``query``) and ``message`` (empty, or why a choice failed;
        the previous row is then kept).
        """
        r = self.result
        pos = self._state.get("position", 0)
        message = ""
        matches = None
        if query:
            try:
                hits = r.data.query(query)
            except Exception as exc:  # noqa: BLE001 - any bad filter is reported, not raised
                message = f"filter failed: {type(exc).__name__}: {exc}"
            else:
                matches = len(hits)
                if matches == 0:
                    message = f"no explained row matches {query!r}"
                else:
                    pos = r.position(hits.index[0])
        elif row_id not in (None, ""):
            label = _parse_label(row_id, r.index)
            loc = r.index.get_indexer([label])[0]
            if loc < 0:
                message = f"row id {row_id!r} is not among the {r.n_rows:,} explained rows"
            else:
                pos = int(loc)
        elif position is not None:
            if not 0 <= position < r.n_rows:
                message = f"row # must be in 0..{r.n_rows - 1}"
            else:
                pos = int(position)
        feat = feature or self._state.get("feature") or r.feature_names[0]
        if feat not in r.feature_names:
            message = f"unknown feature {feat!r}"
            feat = self._state.get("feature") or r.feature_names[0]
        v = r.values[pos].astype(np.float64)
        order = np.argsort(-np.abs(v))[: self.max_display]
        j = r.feature_names.index(feat)
        return {
            "position": pos,
            "label": r.index[pos],
            "output": float(r.base_value + v.sum()),
            "top": [(r.feature_names[k], float(v[k])) for k in order],
            "feature": feat,
            "feature_value": r.data[feat].iloc[pos],
            "feature_shap": float(v[j]),
            "matches": matches,
            "message": message,
        }

    # ------------------------------------------------------------------ widgets

    def _apply(self, state: dict[str, Any]) -> None:
        from mlkit.explain import plots

        from ._display import show_figure

        self._state = state
        r = self.result
        self._busy = True
        try:
            if self.position.value != state["position"]:
                self.position.value = state["position"]
            if self.feature.value != state["feature"]:
                self.feature.value = state["feature"]
        finally:
            self._busy = False
        found = f" ({state['matches']} rows match the filter; showing the first)" if state["matches"] else ""
        warn = f"<br><span style='color:#b00'>{escape(state['message'])}</span>" if state["message"] else ""
        self.status.value = (
            f"<b>row {escape(str(state['label']))}</b> (#{state['position']}){escape(found)}: "
            f"{escape(r.output)} = {state['output']:.4g}; {escape(state['feature'])} = "
            f"{escape(str(state['feature_value']))} contributes {state['feature_shap']:+.4g}{warn}"
        )
        # Kept as attributes: what is on screen, for tests and for saving.
        self.waterfall_fig = plots.waterfall(r, state["label"], max_display=self.max_display)
        self.dependence_fig = plots.dependence(r, state["feature"], highlight=state["label"])
        show_figure(self.waterfall_out, self.waterfall_fig)
        show_figure(self.dependence_out, self.dependence_fig)

    def _on_position(self, change) -> None:
        if not self._busy:
            self._apply(self.state_at(position=change["new"]))

    def _on_row_id(self, change) -> None:
        if not self._busy and change["new"]:
            self._apply(self.state_at(row_id=change["new"]))

    def _on_query(self, change) -> None:
        if not self._busy and change["new"]:
            self._apply(self.state_at(query=change["new"]))

    def _on_feature(self, change) -> None:
        if not self._busy:
            self._apply(self.state_at(position=self._state.get("position"), feature=change["new"]))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _parse_label(text: str, index: pd.Index) -> Any:
    """The index label typed as text, converted to the index's type."""
    text = text.strip()
    if pd.api.types.is_integer_dtype(index):
        try:
            return int(text)
        except ValueError:
            return text
    if pd.api.types.is_float_dtype(index):
        try:
            return float(text)
        except ValueError:
            return text
    return text
