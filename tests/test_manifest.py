import pytest

from mlkit.manifest import ManifestError, check_expectations, load_manifest

RECORDS = {"n": 10, "auc": 0.91, "kind": "cpu", "flag": True, "top": ["a", "b"], "d": {"x": 1}}


@pytest.mark.parametrize(
    ("expect", "n_problems"),
    [
        ({"n": 10, "kind": "cpu", "flag": True}, 0),
        ({"n": 11}, 1),
        ({"auc": {"approx": 0.9, "abs": 0.02}}, 0),
        ({"auc": {"approx": 0.9, "abs": 0.005}}, 1),
        ({"auc": {"approx": 0.91}}, 0),
        ({"auc": {"approx": 0.9, "rel": 0.001}}, 1),
        ({"n": {"min": 10, "max": 10}}, 0),
        ({"n": {"min": 11}}, 1),
        ({"n": {"max": 9}}, 1),
        ({"kind": {"in": ["cpu", "cuda"]}}, 0),
        ({"kind": {"in": ["cuda"]}}, 1),
        ({"n": {"type": "int"}, "auc": {"type": "number"}, "d": {"type": "dict"}}, 0),
        ({"flag": {"type": "int"}}, 1),
        ({"top": {"contains": "a", "len": 2}}, 0),
        ({"top": {"min_len": 3}}, 1),
        ({"kind": {"approx": 1.0}}, 1),
        ({"missing": 1}, 1),
        ({"kind": {"min": 3}}, 1),
    ],
)
def test_check_expectations(expect, n_problems):
    assert len(check_expectations(RECORDS, expect)) == n_problems


def test_missing_record_message_lists_recorded():
    (msg,) = check_expectations({"a": 1}, {"b": 1})
    assert "b: not recorded" in msg and "a" in msg


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("notebooks:\n  - profiles: [ci]\n", "needs a 'path'"),
        ("notebooks:\n  - path: x.ipynb\n    profiles: [fast]\n", "unknown profiles"),
        ("notebooks:\n  - path: x.ipynb\n    expect: {a: {around: 1}}\n", "unknown keys"),
        ("notebooks:\n  - path: x.ipynb\n    expect: {a: {type: complex}}\n", "unknown type"),
        ("notebooks:\n  - path: x.ipynb\n    colour: red\n", "unknown keys"),
        ("notebooks:\n  - path: x.ipynb\n  - path: x.ipynb\n", "listed twice"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_malformed_manifest(tmp_path, text, match):
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=match):
        load_manifest(path)


def test_profile_specific_expectations(tmp_path):
    path = tmp_path / "manifest.yaml"
    path.write_text(
        "notebooks:\n  - path: nb.ipynb\n    expect: {a: 1}\n    expect_by_profile:\n      ci: {b: 2}\n"
        "reports:\n  - path: r.ipynb\n    parameters: {X: 1}\n"
    )
    nb, rep = load_manifest(path)
    assert nb.expectations("ci") == {"a": 1, "b": 2} and nb.expectations("workshop") == {"a": 1}
    assert (nb.kind, rep.kind, rep.parameters) == ("notebook", "report", {"X": 1})
    assert nb.path == (tmp_path / "nb.ipynb").resolve()
