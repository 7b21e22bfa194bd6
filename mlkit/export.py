"""Export executed notebooks to self-contained HTML that opens offline.

Input cells can be hidden (reports), plotly figures are drawn from their JSON
with plotly.js inlined once per page, ipywidgets are rendered from their saved
state by the (inlined) widget manager, and nothing is loaded from the network:
:func:`network_resources` lists anything that would be, and :func:`export_html`
refuses to write such a page.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from pathlib import Path

import nbformat

from .atomic import atomic_write_text
from .plotting import PLOTLY_MIME, figure_html, plotly_js
from .records import RECORD_MIME

__all__ = ["OfflineExportError", "export_html", "network_resources", "widget_state_problems"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
# @jupyter-widgets/html-manager's non-AMD bundle: renders built-in widgets without require.js.
_WIDGETS_JS = _TEMPLATES / "mlkit_html" / "static" / "html-manager-embed.js"
_RESOURCE_RE = re.compile(
    r"""<(?:script|img|iframe|audio|video|source|embed)\b[^>]*?\bsrc\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?((?:https?:)?//[^"'\s>]+)"""
    # A commented-out "/* @import url(...) */" (as in the widget manager's CSS) loads nothing.
    r"""|(?<!/\*\s)@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""",
    re.IGNORECASE,
)


class OfflineExportError(RuntimeError):
    """The exported page would fetch something from the network."""


def network_resources(html: str) -> list[str]:
    """URLs the page would load from the network (scripts, styles, images, frames)."""
    return [next(g for g in m.groups() if g) for m in _RESOURCE_RE.finditer(html)]


_VIEW_RE = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)
_STATE_RE = re.compile(r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S)


def widget_state_problems(html: str) -> list[str]:
    """Why the page's widgets could not render offline; empty when every view has its state.

    Checks that each widget view's model, and every model it references
    (children, layout, style, links), is in the embedded widget state, and
    that the widget manager is inlined.
    """
    views = [json.loads(m.replace("\\/", "/")) for m in _VIEW_RE.findall(html)]
    if not views:
        return []
    states = _STATE_RE.findall(html)
    if not states:
        return [f"{len(views)} widget view(s) but no embedded widget state"]
    state = json.loads(states[0].replace("\\/", "/"))["state"]
    problems = []
    if 'src="data:text/javascript;base64,' not in html:
        problems.append("the widget manager script is not inlined")
    seen: set[str] = set()
    todo = [v["model_id"] for v in views]
    while todo:
        model_id = todo.pop()
        if model_id in seen:
            continue
        seen.add(model_id)
        if model_id not in state:
            problems.append(f"widget model {model_id} has no embedded state")
            continue
        # References look like "IPY_MODEL_<id>", alone, in lists, or in [model, attr] pairs.
        todo.extend(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id]["state"])))
    return problems


def _prepare(nb, *, show_records: bool) -> tuple[nbformat.NotebookNode, bool]:
    """Give every plotly output an HTML form; optionally drop record outputs."""
    nb = copy.deepcopy(nb)
    has_plotly = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RECORD_MIME in data and not show_records:
                continue
            if PLOTLY_MIME in data:
                has_plotly = True
                # Regenerate rather than trust whatever HTML a renderer wrote: it may
                # reference a CDN copy of plotly.js or none at all (plotly >= 6).
                data["text/html"] = figure_html(data[PLOTLY_MIME])
            kept.append(output)
        cell.outputs = kept
    return nb, has_plotly


def export_html(
    notebook: str | os.PathLike,
    html_path: str | os.PathLike | None = None,
    *,
    hide_input: bool = False,
    show_records: bool = True,
    title: str | None = None,
    footer: str | None = None,
) -> Path:
    """Write ``notebook`` (an executed ``.ipynb``) as one offline HTML file.

    Parameters
    ----------
    notebook : path of the executed notebook.
    html_path : path, optional
        Default: beside the notebook with ``.html``.
    hide_input : bool
        Hide code cells' input (reports), keep their outputs.
    show_records : bool
        Keep the ``mlkit.record`` lines in the page.
    title, footer : str, optional
        Page title, and a line of HTML at the bottom (e.g. run time, footprint).
    """
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {notebook} does not exist")
    html_path = Path(html_path) if html_path else notebook.with_suffix(".html")
    nb = nbformat.read(notebook, as_version=4)
    nb, has_plotly = _prepare(nb, show_records=show_records)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(
        template_name="mlkit_html",
        extra_template_basedirs=[str(_TEMPLATES)],
        exclude_input=hide_input,
        exclude_input_prompt=hide_input,
        exclude_output_prompt=hide_input,
    )
    has_widgets = bool(nb.metadata.get("widgets", {}).get(_WIDGET_STATE_MIME, {}).get("state"))
    resources = {
        "metadata": {"name": title or notebook.stem},
        "mlkit_plotly_js": plotly_js() if has_plotly or has_widgets else "",
        "mlkit_widgets_js_b64": base64.b64encode(_WIDGETS_JS.read_bytes()).decode("ascii") if has_widgets else "",
        "mlkit_footer": footer or "",
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    remote = network_resources(body)
    if remote:
        raise OfflineExportError(
            f"export of {notebook.name} would load from the network: {', '.join(sorted(set(remote)))}"
        )
    return atomic_write_text(html_path, body)
