import json

import nbformat
import pytest

from mlkit.cli import main, parse_parameters
from mlkit.export import OfflineExportError, export_html, network_resources
from mlkit.plotting import PLOTLY_MIME
from mlkit.site import build_demo
from tests.nbfactory import make_notebook


def _executed_with_figure(tmp_path):
    import plotly.express as px

    fig = px.bar(x=["a", "b"], y=[1, 2], title="A bar chart")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("fig")
    # As plotly >= 6 writes it in JupyterLab: JSON only, no HTML.
    cell.outputs = [nbformat.v4.new_output("display_data", data={PLOTLY_MIME: json.loads(fig.to_json())})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Figure"), cell]
    path = tmp_path / "fig.ipynb"
    nbformat.write(nb, path)
    return path


def test_export_draws_plotly_offline(tmp_path):
    path = _executed_with_figure(tmp_path)
    code = '<span class="n">fig</span>'
    assert code in export_html(path, tmp_path / "shown.html").read_text()
    html = export_html(path, hide_input=True).read_text()
    assert network_resources(html) == []
    assert "<script src" not in html.replace("<script src=\"data:", "")
    assert html.count("Plotly.newPlot") == 1
    assert html.count("plotly.js v") == 1  # the library, inlined once
    assert "A bar chart" in html and code not in html  # input hidden


def test_export_refuses_network_resources_and_leaves_nothing(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": '<script src="https://cdn.example.org/lib.js"></script>'})]
    nb.cells = [cell]
    path = tmp_path / "net.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(OfflineExportError, match="cdn.example.org/lib.js"):
        export_html(path)
    assert not path.with_suffix(".html").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".net.html")]


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<script src="https://cdn.x/a.js"></script>', ["https://cdn.x/a.js"]),
        ("<script type='text/javascript' src='//cdn.x/b.js'></script>", ["//cdn.x/b.js"]),
        ('<link rel="stylesheet" href="http://x/s.css">', ["http://x/s.css"]),
        ('<img src="https://x/i.png">', ["https://x/i.png"]),
        ("<style>@import url('https://fonts.x/f.css');</style>", ["https://fonts.x/f.css"]),
        ('<a href="https://example.org">a link is fine</a>', []),
        ("/* @import url('https://fonts.x/f.css'); */", []),
        ('<script>var s = "inline";</script>', []),
    ],
)
def test_network_resources(html, found):
    assert network_resources(html) == found


@pytest.mark.parametrize(
    ("pairs", "declared", "expected"),
    [
        (["N=5", "RATE=0.1", "FLAG=true", "NAME=007"], {"N": 1, "RATE": 1.0, "FLAG": False, "NAME": "x"}, {"N": 5, "RATE": 0.1, "FLAG": True, "NAME": "007"}),
        (["COLS=sex,race"], {"COLS": ["sex"]}, {"COLS": ["sex", "race"]}),
        (["COLS=[a, b]"], {"COLS": []}, {"COLS": ["a", "b"]}),
        (["X=a=b"], {"X": "s"}, {"X": "a=b"}),
    ],
)
def test_parse_parameters(pairs, declared, expected):
    assert parse_parameters(pairs, None, declared) == expected


def test_parse_parameters_file_and_errors(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("N: 2\nNAME: a\n")
    assert parse_parameters(["N=3"], str(f), {"N": 1, "NAME": "x"}) == {"N": 3, "NAME": "a"}
    with pytest.raises(ValueError, match="key=value"):
        parse_parameters(["N"], None, {})
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        parse_parameters([], str(tmp_path / "missing.yaml"), {})


def test_info_command(capsys):
    assert main(["info", "--no-cluster"]) == 0
    out = capsys.readouterr().out
    for word in ("cpu", "memory", "gpu", "device", "cluster", "pandas", "path bundled_data", "path outputs"):
        assert word in out
    assert main(["info", "--no-cluster", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cpu"]["usable_cores"] >= 1 and report["device"]["kind"] in {"cpu", "cuda"}


@pytest.mark.notebook
def test_report_cli_writes_html_json_and_gates(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", "environment_check", "--profile", "smoke", "-o", str(out), "--fail-on", "insufficient"]) == 0
    html = (out / "environment_check.html").read_text()
    summary = json.loads((out / "environment_check.json").read_text())
    assert network_resources(html) == [] and "Plotly.newPlot" in html and "plotly.js v" in html
    assert "PROFILE" not in html  # input cells hidden
    assert summary["records"]["gates"] == {"insufficient": False} and summary["parameters"]["PROFILE"] == "smoke"
    # A machine below the bar fails the gate: exit 3.
    assert main(["report", "environment_check", "--profile", "smoke", "-o", str(out), "-p", "MIN_CORES=4096", "--fail-on", "insufficient"]) == 3
    assert json.loads((out / "environment_check.json").read_text())["records"]["gates"] == {"insufficient": True}


def test_report_cli_bad_input(tmp_path, capsys):
    assert main(["report", "no_such_report"]) == 2
    assert "no report named 'no_such_report'" in capsys.readouterr().err
    assert main(["report", "environment_check", "-p", "MIN_CORE=2", "-o", str(tmp_path)]) == 2
    assert "unknown parameter 'MIN_CORE'" in capsys.readouterr().err
    assert main(["report", "environment_check", "-p", "MIN_CORES=many", "-o", str(tmp_path)]) == 2
    assert "MIN_CORES expects int" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # refused before anything ran or was written


@pytest.mark.notebook
def test_demo_writes_index_linking_pages(tmp_path):
    entries = build_demo(profile="smoke", out_dir=tmp_path, only=["00_setup_and_compute", "environment_check"])
    assert [(e.name, e.status) for e in entries] == [("00_setup_and_compute", "ok"), ("environment_check", "ok")]
    index = (tmp_path / "index.html").read_text()
    for e in entries:
        assert f'href="{e.html}"' in index and (tmp_path / e.html).is_file()
        assert network_resources((tmp_path / e.html).read_text()) == []
    assert "Run time" in index and " s</td>" in index
    for e in entries:
        # Footprint per notebook: the kernel's (and its Dask workers') CPU time, priced by mlkit.carbon.
        assert e.cpu_seconds > 0 and e.energy_j > 0 and e.co2e_g > 0
        assert e.screenshot and (tmp_path / e.screenshot).stat().st_size > 10_000
        assert f'src="{e.screenshot}"' in index and "mg CO2e" in index


@pytest.mark.notebook
def test_demo_accepts_a_relative_output_folder(tmp_path, monkeypatch):
    # `make demo` passes `--out build`: a relative folder.
    monkeypatch.chdir(tmp_path)
    (entry,) = build_demo(profile="smoke", out_dir="site", only=["00_setup_and_compute"])
    assert entry.status == "ok", entry.error
    assert (tmp_path / "site" / entry.html).is_file() and (tmp_path / "site" / "index.html").is_file()


@pytest.mark.notebook
def test_demo_reports_failures(tmp_path, monkeypatch):
    import mlkit.site as site
    from mlkit.manifest import ManifestEntry

    bad = make_notebook(tmp_path / "bad.ipynb", [("md", "# Bad one"), ("params", "PROFILE = 'ci'"), ("code", "1/0")])
    monkeypatch.setattr(site, "load_manifest", lambda: [ManifestEntry(bad, "notebook", ["smoke"])])
    (entry,) = build_demo(profile="smoke", out_dir=tmp_path / "site")
    assert entry.status == "failed" and "ZeroDivisionError" in entry.error
    assert "failed" in (tmp_path / "site" / "index.html").read_text()


WIDGET_CELL = """
import ipywidgets as w, plotly.express as px, mlkit
from IPython.display import display
slider = w.IntSlider(value=3, min=0, max=10, description="k")
label = w.HTML(value="<b>value is 3</b>")
out = w.Output()
with out:
    display(px.bar(x=["a", "b"], y=[1, 3], title="figure inside a widget"))
slider.observe(lambda ch: setattr(label, "value", f"<b>value is {ch['new']}</b>"), names="value")
w.VBox([slider, label, out])
"""


@pytest.mark.notebook
def test_widgets_render_offline_in_exported_html(tmp_path):
    from mlkit.export import widget_state_problems
    from mlkit.notebook import run
    from tests.browser import rendered_dom

    nb = make_notebook(tmp_path / "w.ipynb", [("md", "# Widgets"), ("params", "PROFILE = 'ci'"), ("code", WIDGET_CELL)])
    result = run(nb, output=tmp_path / "w_out.ipynb")
    html_path = export_html(result.output_path)
    html = html_path.read_text()
    assert network_resources(html) == [] and widget_state_problems(html) == []
    dom = rendered_dom(html_path)
    # The widget manager drew the slider and label from the saved state, and the plotly
    # figure inside the Output widget, with no kernel and no network.
    assert "widget-slider" in dom and "value is 3" in dom
    assert "figure inside a widget" in dom and 'class="main-svg"' in dom


def test_widget_state_problems_finds_missing_models():
    from mlkit.export import widget_state_problems

    view = '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "ab12", "version_major": 2}</script>'
    state = '<script type="application/vnd.jupyter.widget-state+json">{"state": {"ab12": {"state": {"children": ["IPY_MODEL_cd34"]}}}}</script>'
    inlined = '<script src="data:text/javascript;base64,AAAA"></script>'
    assert widget_state_problems(view) == ["1 widget view(s) but no embedded widget state"]
    assert widget_state_problems(inlined + view + state) == ["widget model cd34 has no embedded state"]
    assert widget_state_problems(view + state) == ["the widget manager script is not inlined", "widget model cd34 has no embedded state"]
    assert widget_state_problems("<p>no widgets</p>") == []
