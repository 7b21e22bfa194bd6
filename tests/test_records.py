import math

import numpy as np
import pytest

from mlkit.records import RecordError, record, recorded, to_json_safe


def test_record_returns_json_safe_values(fresh_records):
    assert record("a", np.float64(0.25)) is None
    record("b", np.int64(3))
    record("c", {"x": (1, 2), "y": [np.bool_(True)]})
    assert isinstance(recorded()["b"], int)
    assert recorded() == {"a": 0.25, "b": 3, "c": {"x": [1, 2], "y": [True]}}


def test_duplicate_name_refused(fresh_records):
    record("dup", 1)
    with pytest.raises(RecordError, match="'dup' was already recorded"):
        record("dup", 2)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_non_finite_refused(fresh_records, bad):
    with pytest.raises(RecordError, match="non-finite"):
        record("x", bad)


@pytest.mark.parametrize(
    ("bad", "match"),
    [(object(), "object is not JSON-safe"), (np.zeros(3), "ndarray is not JSON-safe"), ({1: 2}, "keys must be str"), ({"a": [1, {2}]}, r"x\['a'\]\[1\]")],
)
def test_non_json_refused(fresh_records, bad, match):
    with pytest.raises(RecordError, match=match):
        record("x", bad)
    assert "x" not in recorded()


@pytest.mark.parametrize("name", ["", "1abc", "a b", None, 3])
def test_bad_names_refused(fresh_records, name):
    with pytest.raises(RecordError, match="record name"):
        record(name, 1)


def test_nested_non_finite_names_path():
    with pytest.raises(RecordError, match=r"m\['auc'\]\[0\]"):
        to_json_safe({"auc": [math.nan]}, name="m")
