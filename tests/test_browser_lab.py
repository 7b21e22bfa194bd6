"""Widgets as a learner meets them: JupyterLab in a real browser, cells run, controls moved."""

from __future__ import annotations

import pytest

from tests.jupyterlab import jupyterlab, lab_page, run_all, screenshot
from tests.nbfactory import make_notebook

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

SLIDER_NB = """
import ipywidgets as w
slider = w.IntSlider(value=3, min=0, max=10, description="k")
label = w.HTML(value="<b>value is 3</b>")
slider.observe(lambda ch: setattr(label, "value", f"<b>value is {ch['new']}</b>"), names="value")
w.VBox([slider, label])
"""


def test_lab_runs_a_widget_and_reacts_to_the_slider(tmp_path):
    make_notebook(tmp_path / "slider.ipynb", [("md", "# Slider"), ("params", "PROFILE = 'ci'"), ("code", SLIDER_NB)])
    with jupyterlab(tmp_path) as server, lab_page(server, "slider.ipynb") as page:
        run_all(page)
        label = page.locator(".widget-html-content", has_text="value is")
        label.wait_for()
        assert label.inner_text() == "value is 3"
        handle = page.locator(".widget-slider .noUi-handle").first
        handle.focus()
        for _ in range(4):
            handle.press("ArrowRight")
        page.wait_for_function("() => [...document.querySelectorAll('.widget-html-content')].some(e => e.innerText === 'value is 7')")
        screenshot(page, "harness_slider")
        assert label.inner_text() == "value is 7"
