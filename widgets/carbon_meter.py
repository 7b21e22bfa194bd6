"""``CarbonMeter``: live session and per-cell energy and CO2e in a notebook.

::

    %load_ext mlkit.carbon
    from widgets import CarbonMeter
    CarbonMeter()          # updates after every cell

Shows the session's energy and CO2e with its low-high range and method label
(measured / estimated), the last cell's figures, everyday equivalents (km by
car, phone charges) and a plotly bar chart of energy per cell with the range
as error bars. Built from ipywidgets ``HTML`` + ``Output`` (no anywidget).
"""

from __future__ import annotations

import html
import json
from typing import Any

from mlkit.carbon import CellLedger, ledger
from mlkit.carbon.footprint import equivalents, format_energy, format_mass
from mlkit.plotting import PLOTLY_MIME, figure_html

__all__ = ["CarbonMeter"]

_BADGE = {
    "measured": "background:#1b7f3b;color:white",
    "estimated": "background:#b26a00;color:white",
}


def _badge(method: str) -> str:
    style = _BADGE.get(method, "background:#555;color:white")
    return f'<span style="{style};padding:1px 6px;border-radius:8px;font-size:85%">{html.escape(method)}</span>'


class CarbonMeter:
    """Live energy/CO2e meter fed by the cell ledger.

    Parameters
    ----------
    source : CellLedger, optional
        Default: the session's ledger (:func:`mlkit.carbon.ledger`), started if needed.
    max_cells : int
        Cells shown in the chart (the most recent).
    """

    def __init__(self, source: CellLedger | None = None, *, max_cells: int = 40) -> None:
        import ipywidgets as w

        if max_cells < 1:
            raise ValueError(f"max_cells must be >= 1, got {max_cells!r}")
        self.ledger = source if source is not None else ledger()
        self.max_cells = int(max_cells)
        self.header = w.HTML()
        self.last_cell = w.HTML()
        self.chart = w.Output()
        self.widget = w.VBox([self.header, self.last_cell, self.chart])
        self.ledger.listeners.append(self._on_row)
        self.refresh()

    # ------------------------------------------------------------------ content
    def session_html(self) -> str:
        s = self.ledger.summary()
        eq = equivalents(s["co2e_g"], s["energy_j"] / 3.6e6 * s["pue"])
        rng = ""
        if s["co2e_high_g"] > s["co2e_low_g"]:
            rng = f" <span style='color:#666'>(range {format_mass(s['co2e_low_g'])}–{format_mass(s['co2e_high_g'])})</span>"
        return (
            f"<div style='font-family:sans-serif'><b>Session</b> {_badge(s['method'])} "
            f"<b>{format_energy(s['energy_j'])}</b>, <b>{format_mass(s['co2e_g'])} CO2e</b>{rng} "
            f"over {s['duration_s']:.0f} s, {s['n_cells']} cells<br>"
            f"<span style='color:#444'>≈ {eq['km_by_car']:.3g} km by car · {eq['phone_charges']:.3g} phone charges · "
            f"{s['intensity_g_per_kwh']:.0f} gCO2e/kWh ({html.escape(str(s['region']))}, "
            f"{s['factor_year'] or 'year n/a'}) · PUE {s['pue']:g}</span></div>"
        )

    def last_cell_html(self) -> str:
        cells = [r for r in self.ledger.rows if r["kind"] == "cell"]
        if not cells:
            return "<div style='font-family:sans-serif;color:#666'>No cell finished yet.</div>"
        r = cells[-1]
        return (
            f"<div style='font-family:sans-serif'><b>Last cell</b> [{r['execution_count']}] {_badge(r['method'])} "
            f"{format_energy(r['energy_j'])} ({format_energy(r['energy_low_j'])}–{format_energy(r['energy_high_j'])}), "
            f"{format_mass(r['co2e_g'])} CO2e, {r['duration_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU"
            f" <code>{html.escape(r['cell'])}</code></div>"
        )

    def figure(self):
        """Plotly bar chart: energy per recent cell, low-high range as error bars."""
        import plotly.graph_objects as go

        rows = [r for r in self.ledger.rows if r["kind"] == "cell"][-self.max_cells :]
        labels = [f"[{r['execution_count']}]" for r in rows]
        y = [r["energy_j"] for r in rows]
        fig = go.Figure(
            go.Bar(
                x=labels,
                y=y,
                marker_color=["#1b7f3b" if r["method"] == "measured" else "#b26a00" for r in rows],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [r["energy_high_j"] - r["energy_j"] for r in rows],
                    "arrayminus": [r["energy_j"] - r["energy_low_j"] for r in rows],
                },
                hovertext=[f"{r['cell']}<br>{format_mass(r['co2e_g'])} CO2e, {r['method']}" for r in rows],
            )
        )
        fig.update_layout(
            title="Energy per cell (J; bars: estimate, whiskers: low–high)",
            height=260, margin={"l": 40, "r": 10, "t": 40, "b": 30}, yaxis_title="J",
        )
        return fig

    def refresh(self) -> None:
        """Redraw from the ledger (called after every cell)."""
        self.header.value = self.session_html()
        self.last_cell.value = self.last_cell_html()
        outputs: tuple = ()
        if any(r["kind"] == "cell" for r in self.ledger.rows):
            fig = self.figure()
            # Plotly's JSON (rendered by JupyterLab) plus a self-contained div for HTML exports.
            bundle = {PLOTLY_MIME: json.loads(fig.to_json()), "text/html": figure_html(fig)}
            outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
        self.chart.outputs = outputs

    def _on_row(self, row: dict[str, Any]) -> None:
        self.refresh()

    def to_html(self) -> str:
        """A static HTML rendering (for exported reports)."""
        return self.session_html() + self.last_cell_html() + figure_html(self.figure())

    def close(self) -> None:
        """Stop updating and close the widgets."""
        if self._on_row in self.ledger.listeners:
            self.ledger.listeners.remove(self._on_row)
        self.widget.close()

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)
