"""Plotly set-up so figures show in JupyterLab *and* in exported HTML, offline.

The ``mlkit`` renderer emits plotly's JSON MIME type (rendered by JupyterLab's
plotly extension) plus a ``text/html`` div that calls ``Plotly.newPlot``. The
HTML exporter (:mod:`mlkit.export`) inlines plotly.js once per page, so the
figures render with no network.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PLOTLY_MIME", "figure_html", "plotly_js", "use_mlkit_renderer"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def figure_html(fig) -> str:
    """A ``<div>`` + script drawing ``fig`` (a figure or its dict) with a global ``Plotly``."""
    import plotly.io as pio

    return pio.to_html(
        fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False, "responsive": True}
    )


def plotly_js() -> str:
    """The minified plotly.js shipped inside the installed plotly package."""
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def use_mlkit_renderer() -> None:
    """Register and select the ``mlkit`` plotly renderer (idempotent)."""
    import plotly.io as pio
    from plotly.io._base_renderers import MimetypeRenderer

    class MlkitRenderer(MimetypeRenderer):
        def to_mimebundle(self, fig_dict):
            bundle = pio.renderers["plotly_mimetype"].to_mimebundle(fig_dict)
            bundle["text/html"] = figure_html(fig_dict)
            return bundle

    if "mlkit" not in pio.renderers:
        pio.renderers["mlkit"] = MlkitRenderer()
    pio.renderers.default = "mlkit"
