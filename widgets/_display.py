"""Show a plotly figure in an ``ipywidgets.Output`` without its capture context.

Setting ``Output.outputs`` directly syncs the figure through the widget model: it draws in
JupyterLab (plotly's JSON MIME type) and in exported HTML (the ``text/html`` form, with
plotly.js inlined by :mod:`mlkit.export`). It also avoids ``with output: display(...)``
during a cell's execution, which under nbclient/papermill can leave the cell waiting for
its timeout when another cell follows.
"""

from __future__ import annotations

import json

from mlkit.plotting import PLOTLY_MIME, figure_html

__all__ = ["show_figure"]


def show_figure(output, fig) -> None:
    """Replace what ``output`` (an ``ipywidgets.Output``) shows with ``fig``."""
    data = {
        PLOTLY_MIME: json.loads(fig.to_json()),
        "text/html": figure_html(fig),
        "text/plain": f"<plotly figure: {fig.layout.title.text or 'untitled'}>",
    }
    output.outputs = ({"output_type": "display_data", "data": data, "metadata": {}},)
