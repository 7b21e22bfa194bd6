import nbformat
import pytest

from mlkit.notebook import (
    NotebookExecutionError,
    NotebookTimeoutError,
    ParameterError,
    coerce_parameter,
    notebook_parameters,
    read_records,
    run,
)
from mlkit.records import RECORD_MIME, RecordError
from tests.nbfactory import make_notebook

pytestmark = pytest.mark.notebook

PARAMS = 'PROFILE = "ci"\nN = 3\nRATE = 0.5\nFLAG = False\nNAME = "x"\nCOLS = ["a"]\nOPT = None'


@pytest.fixture
def ok_nb(tmp_path):
    return make_notebook(
        tmp_path / "ok.ipynb",
        [
            ("md", "# ok"),
            ("params", PARAMS),
            ("code", "import mlkit\nn2 = N * 2\nmlkit.record('n2', n2)\nmlkit.record('profile', PROFILE)"),
            ("code", "mlkit.record('types', [type(RATE).__name__, FLAG, NAME, COLS, OPT])"),
        ],
    )


def test_parameters_are_read_from_the_tagged_cell(ok_nb):
    assert notebook_parameters(ok_nb) == {
        "PROFILE": "ci", "N": 3, "RATE": 0.5, "FLAG": False, "NAME": "x", "COLS": ["a"], "OPT": None,
    }


def test_run_returns_records_and_derives_below_parameters(ok_nb, tmp_path):
    result = run(ok_nb, profile="smoke", parameters={"N": 21, "RATE": 2, "OPT": {"k": 1}}, output=tmp_path / "out.ipynb")
    assert result.records == {"n2": 42, "profile": "smoke", "types": ["float", False, "x", ["a"], {"k": 1}]}
    assert result.output_path == tmp_path / "out.ipynb" and result.output_path.is_file()
    assert result.parameters == {"N": 21, "RATE": 2.0, "OPT": {"k": 1}, "PROFILE": "smoke"}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"M": 1}, r"unknown parameter 'M'; it declares: COLS, FLAG, N, NAME, OPT, PROFILE, RATE"),
        ({"N": "3"}, r"parameter N expects int \(default 3\), got str '3'"),
        ({"N": 1.5}, r"parameter N expects int"),
        ({"N": True}, r"parameter N expects int"),
        ({"FLAG": 1}, r"parameter FLAG expects bool"),
        ({"NAME": 5}, r"parameter NAME expects str"),
        ({"COLS": "a"}, r"parameter COLS expects list"),
        ({"RATE": float("nan")}, r"non-finite"),
    ],
)
def test_bad_parameters_refused_before_any_kernel_starts(tmp_path, params, match):
    marker = tmp_path / "ran"
    nb = make_notebook(tmp_path / "p.ipynb", [("params", PARAMS), ("code", f"open({str(marker)!r}, 'w').close()")])
    out = tmp_path / "out.ipynb"
    with pytest.raises(ParameterError, match=match):
        run(nb, parameters=params, output=out)
    assert not marker.exists() and not out.exists()


def test_profile_checks(ok_nb, tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        run(ok_nb, profile="fast")
    with pytest.raises(ParameterError, match="conflicts"):
        run(ok_nb, profile="ci", parameters={"PROFILE": "smoke"})
    bare = make_notebook(tmp_path / "bare.ipynb", [("params", "N = 1")])
    with pytest.raises(ParameterError, match="has no PROFILE"):
        run(bare, profile="ci")


def test_non_literal_parameters_cell_refused(tmp_path):
    nb = make_notebook(tmp_path / "d.ipynb", [("params", "N = 10\nM = N * 2")])
    with pytest.raises(ParameterError, match=r"parameter M must be a plain literal.*'N \* 2'"):
        notebook_parameters(nb)


def test_missing_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ipynb does not exist"):
        run(tmp_path / "nope.ipynb")


def test_raising_cell_names_notebook_and_cell_and_keeps_partial(tmp_path):
    nb = make_notebook(
        tmp_path / "boom.ipynb",
        [
            ("md", "# boom"),
            ("params", "N = 1"),
            ("code", "import mlkit\nmlkit.record('before', N)"),
            ("code", "x = 1\nraise KeyError('no such column: age')"),
            ("code", "mlkit.record('after', 1)"),
        ],
    )
    out = tmp_path / "boom_out.ipynb"
    with pytest.raises(NotebookExecutionError) as info:
        run(nb, parameters={"N": 7}, output=out)
    err = info.value
    # Cell 4 as the user sees it, although papermill injected a parameters cell before it.
    assert (err.notebook, err.cell, err.ename) == ("boom.ipynb", 4, "KeyError")
    assert "boom.ipynb: cell 4" in str(err) and "no such column: age" in str(err)
    assert "cell starts: x = 1" in str(err) and str(out) in str(err)
    assert out.is_file() and read_records(out) == {"before": 7}


def test_hung_cell_is_cut_by_timeout_and_partial_kept(tmp_path):
    nb = make_notebook(
        tmp_path / "hang.ipynb",
        [("params", "N = 1"), ("code", "import mlkit\nmlkit.record('before', N)"), ("code", "import time\ntime.sleep(120)")],
    )
    out = tmp_path / "hang_out.ipynb"
    with pytest.raises(NotebookTimeoutError) as info:
        run(nb, output=out, timeout=3)
    assert info.value.cell == 3 and "3 s per-cell timeout" in str(info.value)
    assert "hang.ipynb: cell 3" in str(info.value)
    assert read_records(out) == {"before": 1}


def test_duplicate_record_in_notebook_is_an_error(tmp_path):
    nb = make_notebook(tmp_path / "dup.ipynb", [("params", "N = 1"), ("code", "import mlkit\nmlkit.record('a', 1)"), ("code", "mlkit.record('a', 2)")])
    with pytest.raises(NotebookExecutionError, match="RecordError: record 'a' was already recorded"):
        run(nb, output=tmp_path / "o.ipynb")


def test_read_records_refuses_duplicates_in_a_file():
    nb = nbformat.v4.new_notebook()
    for value in (1, 2):
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", data={RECORD_MIME: {"name": "a", "value": value}})]
        nb.cells.append(cell)
    with pytest.raises(RecordError, match="appears twice"):
        read_records(nb)


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [(3, 1.0, 3.0), (None, None, None), ([1], None, [1]), ("s", None, "s"), (True, False, True)],
)
def test_coerce_parameter_accepts(value, default, expected):
    assert coerce_parameter("p", value, default) == expected
