"""Every notebook and report in the manifest, executed in the ``ci`` profile, records asserted."""

from __future__ import annotations

import nbformat
import pytest

from mlkit.export import export_html, network_resources, widget_state_problems
from mlkit.manifest import check_expectations, load_manifest
from mlkit.notebook import notebook_parameters, run
from mlkit.paths import project_root

ROOT = project_root()
ENTRIES = load_manifest(ROOT / "notebooks" / "manifest.yaml")
CI_ENTRIES = [e for e in ENTRIES if "ci" in e.profiles]


def test_every_notebook_and_report_is_in_the_manifest():
    on_disk = {p.resolve() for d in ("notebooks", "reports") for p in (ROOT / d).glob("*.ipynb")}
    listed = {e.path for e in ENTRIES}
    assert on_disk, "no notebooks found"
    assert not on_disk - listed, f"missing from notebooks/manifest.yaml: {sorted(on_disk - listed)}"
    assert not listed - on_disk, f"listed but not on disk: {sorted(listed - on_disk)}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_notebook_is_committed_clean(entry):
    nb = nbformat.read(entry.path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{entry.path.name}: cells {dirty} have outputs; strip them before committing"
    params = notebook_parameters(entry.path)
    assert "PROFILE" in params, f"{entry.path.name}: parameters cell needs PROFILE"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


@pytest.mark.notebook
@pytest.mark.parametrize("entry", CI_ENTRIES, ids=lambda e: e.name)
def test_notebook_ci_profile_records(entry, tmp_path):
    result = run(
        entry.path,
        profile="ci",
        parameters=entry.parameters,
        output=tmp_path / entry.path.name,
        timeout=entry.timeout or 300,
    )
    problems = check_expectations(result.records, entry.expectations("ci"))
    assert not problems, f"{entry.path.name} (ci): " + "; ".join(problems)
    # The exported page opens offline: nothing from the network, every widget view with its state.
    html = export_html(result.output_path, hide_input=entry.kind == "report").read_text()
    assert network_resources(html) == [], f"{entry.path.name}: page loads {network_resources(html)}"
    assert widget_state_problems(html) == [], f"{entry.path.name}: {widget_state_problems(html)}"
