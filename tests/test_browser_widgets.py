"""The suite's widgets as a learner meets them in its notebooks: JupyterLab in a real browser.

Each test copies one notebook with ``PROFILE = "ci"`` injected (papermill's parameterization,
kernel ``python3``), opens it in JupyterLab, runs all cells, then moves the widget's controls
with the mouse or keyboard and checks that the page shows what the widget's pure-Python state
method says for the new choice. The expected values are computed in the notebook's own kernel
(a cell appended and run as a learner would, printing JSON), from the same objects the
notebook built; the page is read before that cell runs.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.jupyterlab import (
    drag_slider,
    jupyterlab,
    lab_page,
    parameterized_copy,
    run_all,
    run_code,
    screenshot,
    set_slider_readout,
)

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIMEOUT = 30_000  # ms for the page to react to one interaction (kernel round trip + redraw)


def _expect():
    from playwright.sync_api import expect

    return expect


@contextlib.contextmanager
def notebook_in_lab(tmp_path: Path, name: str) -> Iterator:
    """``name`` in the ``ci`` profile, open in JupyterLab with every cell run."""
    nb = parameterized_copy(NOTEBOOKS / name, tmp_path, {"PROFILE": "ci"})
    with jupyterlab(tmp_path) as server, lab_page(server, nb.name) as page:
        run_all(page)
        yield page


def widget_output(page, marker: str):
    """The output area of the (last) code cell whose source contains ``marker``."""
    cell = page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(".jp-InputArea", has_text=marker)).last
    cell.scroll_into_view_if_needed()
    out = cell.locator(".jp-OutputArea").first
    out.locator(".jupyter-widgets").first.wait_for()
    return out


def kernel_json(page, expression: str, setup: str = "") -> Any:
    """Evaluate ``expression`` (after the one-line statements ``setup``) in the notebook's kernel
    through a new cell; its value, printed as JSON."""
    text = run_code(page, f"{setup}; import json as _json; print(_json.dumps({expression}, default=str))".lstrip("; "))
    return json.loads(text.strip().splitlines()[-1])


def text_of(locator) -> str:
    """The rendered text with whitespace collapsed (table cells come out tab-separated)."""
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


def plotly_view(locator) -> dict[str, Any]:
    """What the plotly figure in ``locator`` draws: title and each trace's name, x and y.

    Read from plotly.js's full (decoded) traces: the figure's JSON carries numpy arrays as
    base64 typed arrays, which ``el.data`` keeps encoded."""
    return locator.evaluate(
        """el => ({title: (el.layout.title || {}).text || '',
                   traces: el._fullData.map(t => ({name: t.name || '', x: Array.from(t.x || []), y: Array.from(t.y || [])}))})"""
    )


# ---------------------------------------------------------------- 02: ThresholdExplorer


def _threshold_table(name: str, s: dict[str, Any]) -> str:
    return (f"{name} at t = {s['threshold_used']:.4f} pred 0 pred 1 "
            f"true 0 {s['tn']:,} {s['fp']:,} true 1 {s['fn']:,} {s['tp']:,} "
            f"precision {s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f} "
            f"balanced accuracy {s['balanced_accuracy']:.3f} MCC {s['mcc']:.3f} "
            f"expected cost / row {s['expected_cost']:.4f}")


def test_threshold_explorer_follows_the_slider(tmp_path):
    expect = _expect()
    with notebook_in_lab(tmp_path, "02_class_imbalance.ipynb") as page:
        out = widget_output(page, "explorer = ThresholdExplorer(")
        slider = out.locator(".widget-slider").first
        readout = slider.locator(".widget-readout")
        tables = out.locator(".widget-hbox").nth(1).locator(".widget-html")
        expect(tables).to_have_count(2)
        expect(readout).to_have_text("0.167")  # the notebook starts at the Bayes threshold
        before = [text_of(t) for t in tables.all()]
        assert before[0].startswith("plain at t = 0.1670"), before[0]

        drag_slider(page, slider, 0.6)  # a learner drags the handle to the right
        expect(readout).not_to_have_text("0.167", timeout=TIMEOUT)
        expect(tables.first, "ThresholdExplorer: the slider moved but the confusion-matrix table did not follow it"
               ).not_to_contain_text("at t = 0.1670", timeout=TIMEOUT)
        page.wait_for_timeout(500)  # let the chart redraw too
        shown_readout = readout.inner_text()
        shown = [text_of(t) for t in tables.all()]
        chart = plotly_view(out.locator(".js-plotly-plot").first)
        screenshot(page, "widget_02_threshold_explorer")

        got = kernel_json(page, "{'value': explorer.slider.value, 'state': explorer.state_at(explorer.slider.value),"
                                " 'initial': explorer.state_at(round(GCOST.bayes_threshold, 3))}")
        t = got["value"]
        assert 0.45 <= t <= 0.75, f"the drag to 60 % of the track gave threshold {t}"
        assert shown_readout == f"{t:.3f}"
        names = list(got["state"]["models"])
        assert names == ["plain", "weighted + corrected"]
        for name, text in zip(names, shown):
            s = got["state"]["models"][name]
            assert text == _threshold_table(name, s), f"{name}: the page shows\n{text}\nthe state at t = {t} is\n{_threshold_table(name, s)}"
            assert s["tp"] + s["fp"] < got["initial"]["models"][name]["tp"] + got["initial"]["models"][name]["fp"], \
                "a higher threshold must predict fewer positives"
        assert shown != before
        # The PR chart's "@ t" markers sit at the new (recall, precision).
        markers = {tr["name"]: (tr["x"][0], tr["y"][0]) for tr in chart["traces"] if tr["name"].endswith(" @ t")}
        for name in names:
            s = got["state"]["models"][name]
            assert markers[f"{name} @ t"] == pytest.approx((s["recall"], s["precision"]), abs=1e-9)


# ---------------------------------------------------------------- 03: ShapExplorer


def test_shap_explorer_follows_row_and_feature(tmp_path):
    expect = _expect()
    with notebook_in_lab(tmp_path, "03_interpretability.ipynb") as page:
        out = widget_output(page, "explorer = ShapExplorer(a_res)")
        row_box = out.locator(".widget-text", has_text="row #").locator("input")
        feature = out.locator(".widget-dropdown select")
        status = out.locator(".widget-html").first
        plots = out.locator(".widget-output .js-plotly-plot")
        expect(plots).to_have_count(2)
        expect(status).to_contain_text("(#0)")
        first = kernel_json(page, "explorer.state_at(position=0)")
        first_title = plotly_view(plots.nth(0))["title"]
        assert first_title.startswith(f"Row {first['label']}: "), first_title

        # A learner types another row number.
        row_box.fill("5")
        row_box.press("Enter")
        expect(status, "ShapExplorer: row # set to 5 but the status line did not follow").to_contain_text("(#5)", timeout=TIMEOUT)
        expect(plots.nth(0)).not_to_contain_text(f"Row {first['label']}:", timeout=TIMEOUT)
        page.wait_for_timeout(500)
        status_5, waterfall_5 = text_of(status), plotly_view(plots.nth(0))
        screenshot(page, "widget_03_shap_row")

        # ... and picks another feature for the dependence plot.
        feature.select_option("age")
        expect(status).to_contain_text("age = ", timeout=TIMEOUT)
        expect(plots.nth(1), "ShapExplorer: feature 'age' picked but the dependence plot did not follow"
               ).to_contain_text("Dependence: age", timeout=TIMEOUT)
        page.wait_for_timeout(500)
        status_age, dependence_age = text_of(status), plotly_view(plots.nth(1))
        screenshot(page, "widget_03_shap_feature")

        got = kernel_json(page, (
            "{'row5': explorer.state_at(position=5, feature=first_f),"
            " 'age': explorer.state_at(position=5, feature='age'),"
            " 'waterfall': plots.waterfall(a_res, a_res.index[5]).layout.title.text,"
            " 'dependence': plots.dependence(a_res, 'age', highlight=a_res.index[5]).layout.title.text,"
            " 'output': a_res.output, 'widget_row': explorer.position.value, 'widget_feature': explorer.feature.value}"
        ).replace("first_f", repr(first["feature"])))
        r5, age = got["row5"], got["age"]
        assert (got["widget_row"], got["widget_feature"]) == (5, "age")
        assert r5["label"] != first["label"]
        assert status_5 == (f"row {r5['label']} (#5): {got['output']} = {r5['output']:.4g}; {r5['feature']} = "
                            f"{r5['feature_value']} contributes {r5['feature_shap']:+.4g}")
        assert waterfall_5["title"] == got["waterfall"]
        assert waterfall_5["title"].startswith(f"Row {r5['label']}: ")
        assert status_age == (f"row {age['label']} (#5): {got['output']} = {age['output']:.4g}; age = "
                              f"{age['feature_value']} contributes {age['feature_shap']:+.4g}")
        assert dependence_age["title"] == got["dependence"] == "Dependence: age"
        highlighted = [tr for tr in dependence_age["traces"] if tr["name"] == f"row {age['label']}"]
        assert len(highlighted) == 1, [tr["name"] for tr in dependence_age["traces"]]
        assert highlighted[0]["y"][0] == pytest.approx(age["feature_shap"], rel=1e-6, abs=1e-9)
        assert float(highlighted[0]["x"][0]) == pytest.approx(float(age["feature_value"]))


# ---------------------------------------------------------------- 04: FairnessDashboard


def _state_text(st: dict[str, Any]) -> str:
    lines = [f"accuracy {st['accuracy']:.3f}", f"{st['metric']} disparity (max - min) {st['disparity']:.3f}"]
    lines += [f"{g}: t = {m['threshold']:.2f}, {st['metric']} = {m[st['metric']]:.3f}" for g, m in st["by_group"].items()]
    return " ".join(lines)


def test_fairness_dashboard_follows_threshold_metric_and_column(tmp_path):
    expect = _expect()
    with notebook_in_lab(tmp_path, "04_fairness_audit.ipynb") as page:
        out = widget_output(page, "dashboard = FairnessDashboard(")
        sensitive = out.locator(".widget-select-multiple select")
        metric = out.locator(".widget-dropdown select")
        bars = out.locator(".widget-output").nth(0)
        verdicts = out.locator(".widget-html").nth(1)
        state = out.locator(".widget-hbox").nth(1).locator(".widget-html")
        female = out.locator(".widget-slider", has_text="Female")
        expect(state).to_contain_text("Female: t = 0.50, selection_rate = ", timeout=TIMEOUT)
        before = text_of(state)

        # Lower the threshold for women by typing into the slider's readout.
        set_slider_readout(page, female, "0.3")
        expect(state, "FairnessDashboard: the Female threshold slider moved but the trade-off text did not follow"
               ).to_contain_text("Female: t = 0.30", timeout=TIMEOUT)
        after_slider = text_of(state)
        # Then ask for another metric.
        metric.select_option("tpr")
        expect(bars, "FairnessDashboard: metric 'tpr' picked but the bars did not follow").to_contain_text("tpr by sex", timeout=TIMEOUT)
        expect(state).to_contain_text("tpr disparity", timeout=TIMEOUT)
        page.wait_for_timeout(500)
        after_metric, bars_tpr = text_of(state), plotly_view(bars.locator(".js-plotly-plot"))
        screenshot(page, "widget_04_fairness_sex_tpr")
        verdicts_sex = text_of(verdicts)
        # Then audit by race instead of sex.
        sensitive.select_option(["race"])
        expect(bars, "FairnessDashboard: sensitive column 'race' picked but the bars did not follow"
               ).to_contain_text("tpr by race", timeout=TIMEOUT)
        expect(out.locator(".widget-slider", has_text="Female")).to_have_count(0, timeout=TIMEOUT)
        page.wait_for_timeout(500)
        verdict_rows = [text_of(r) for r in verdicts.locator("tr").all()]
        slider_names = [text_of(s.locator(".widget-label")) for s in out.locator(".widget-slider").all()]
        after_race, bars_race = text_of(state), plotly_view(bars.locator(".js-plotly-plot"))
        screenshot(page, "widget_04_fairness_race")

        got = kernel_json(page, (
            "{'sex_sel': group_threshold_state(dashboard.audit_for(['sex']), {'Female': 0.3, 'Male': 0.5}, metric='selection_rate'),"
            " 'sex_tpr': group_threshold_state(dashboard.audit_for(['sex']), {'Female': 0.3, 'Male': 0.5}, metric='tpr'),"
            " 'race_tpr': group_threshold_state(dashboard.audit_for(['race']), 0.5, metric='tpr'),"
            " 'bars_sex': [list(map(str, _fs.data[0].x)) + [_fs.layout.title.text], _fs.data[0].y.tolist()],"
            " 'bars_race': [list(map(str, _fr.data[0].x)) + [_fr.layout.title.text], _fr.data[0].y.tolist()],"
            " 'verdicts_race': {k: v['verdict'] for k, v in dashboard.audit_for(['race']).verdicts().items()},"
            " 'widget': [list(dashboard.sensitive.value), dashboard.metric.value]}"
        ), setup="_fs = dashboard.audit_for(['sex']).plot('tpr'); _fr = dashboard.audit_for(['race']).plot('tpr')")
        assert got["widget"] == [["race"], "tpr"]
        assert after_slider == _state_text(got["sex_sel"]) != before
        assert after_metric == _state_text(got["sex_tpr"])
        assert after_race == _state_text(got["race_tpr"])
        # Lowering women's threshold selects more women.
        assert got["sex_sel"]["by_group"]["Female"]["selection_rate"] > float(re.search(r"Female: t = 0.50, selection_rate = ([\d.]+)", before)[1])
        for shown, (labels, ys) in ((bars_tpr, got["bars_sex"]), (bars_race, got["bars_race"])):
            assert [str(x) for x in shown["traces"][0]["x"]] + [shown["title"]] == labels
            assert shown["traces"][0]["y"] == pytest.approx(ys, abs=1e-9)
        assert slider_names == [g[:18] for g in got["race_tpr"]["by_group"]]
        assert [row.split(" ")[:2] for row in verdict_rows] == [[k, v] for k, v in got["verdicts_race"].items()]
        assert " ".join(verdict_rows) != verdicts_sex


# ---------------------------------------------------------------- 05: CarbonMeter

_SESSION = re.compile(r"Session (measured|estimated) ([\d.e+-]+ (?:J|Wh|kWh|MWh)), ([\d.e+-]+ (?:mg|g|kg|t)) CO2e"
                      r".* over \d+ s, (\d+) cells")
_LAST = re.compile(r"Last cell \[(\d+)\] (measured|estimated) ([\d.e+-]+ (?:J|Wh|kWh|MWh)) \(([^)]*)\), "
                   r"([\d.e+-]+ (?:mg|g|kg|t)) CO2e, ([\d.]+) s wall, ([\d.]+) s CPU (.*)")


def _joules(text: str) -> float:
    value, unit = text.split()
    return float(value) * {"J": 1.0, "Wh": 3600.0, "kWh": 3.6e6, "MWh": 3.6e9}[unit]


def test_carbon_meter_refreshes_after_a_cell(tmp_path):
    expect = _expect()
    with notebook_in_lab(tmp_path, "05_carbon_tracking.ipynb") as page:
        out = widget_output(page, "meter = CarbonMeter()")
        header, last = out.locator(".widget-html").nth(0), out.locator(".widget-html").nth(1)
        expect(header).to_contain_text("Session", timeout=TIMEOUT)
        s0 = _SESSION.search(text_of(header))
        l0 = _LAST.search(text_of(last))
        assert s0 and l0, (text_of(header), text_of(last))

        # The learner runs one more cell that does some work; the meter must pick it up.
        run_code(page, "carbon_probe = sum(i * i for i in range(2_000_000))")
        expect(last, "CarbonMeter: a new cell ran but the meter's last-cell line did not refresh"
               ).to_contain_text("carbon_probe", timeout=TIMEOUT)
        out.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        s1, l1 = _SESSION.search(text_of(header)), _LAST.search(text_of(last))
        assert s1 and l1, (text_of(header), text_of(last))
        bars = plotly_view(out.locator(".js-plotly-plot"))
        screenshot(page, "widget_05_carbon_meter")

        # In the check cell the ledger's last cell row is still the probe's (its own comes after it).
        got = kernel_json(page, (
            "{'row': _row, 'summary': _s, 'energy': _fe(_row['energy_j']), 'low': _fe(_row['energy_low_j']),"
            " 'high': _fe(_row['energy_high_j']), 'co2e': _fm(_row['co2e_g'])}"
        ), setup=("from mlkit.carbon.footprint import format_energy as _fe, format_mass as _fm; "
                  "_row = [r for r in mc.ledger().rows if r['kind'] == 'cell'][-1]; _s = mc.ledger().summary()"))
        row, summary = got["row"], got["summary"]
        # The new cell is the meter's last cell, with the ledger's own figures and method label.
        assert int(l1[1]) == row["execution_count"] > int(l0[1])
        assert l1[2] == row["method"] == summary["method"]
        assert (l1[3], l1[4], l1[5]) == (got["energy"], f"{got['low']}–{got['high']}", got["co2e"])
        assert l1[8].startswith("carbon_probe = sum(")
        assert float(l1[7]) > 0.0, "the probe cell used CPU time"
        # The session line counts it: one more cell, more energy than before.
        assert int(s1[4]) == int(s0[4]) + 1 == summary["n_cells"]
        assert s1[1] == summary["method"]
        assert _joules(s1[2]) > _joules(s0[2])
        assert _joules(s1[2]) <= summary["energy_j"] * 1.01  # the check cell ran later: the session only grew
        # The chart has a bar for it.
        assert bars["traces"][0]["x"][-1] == f"[{row['execution_count']}]"
        assert bars["traces"][0]["y"][-1] == pytest.approx(row["energy_j"], rel=1e-9)
