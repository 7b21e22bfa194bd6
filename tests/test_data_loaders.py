"""Bundled datasets and the checked CSV reader, including every bad-input path."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

import mlkit.data as md
from mlkit.data import loaders


def test_adult_published_splits():
    train, test, both = md.load_adult("train"), md.load_adult("test"), md.load_adult("all")
    assert (len(train), len(test), len(both)) == (32_561, 16_281, 48_842)
    # 23.93 % positive over both splits (SOURCES.md); the test split's "." is gone.
    assert both["income"].mean() == pytest.approx(0.2393, abs=5e-5)
    assert set(test["income"].unique()) == {0, 1} and test["income"].dtype == np.int8
    # "?" read as missing in exactly the three documented columns.
    assert sorted(both.columns[both.isna().any()]) == ["native_country", "occupation", "workclass"]
    assert train["workclass"].isna().sum() == 1_836
    # One category set for both splits, so frames concatenate without losing categories.
    assert train["native_country"].dtype == test["native_country"].dtype
    assert "Holand-Netherlands" in train["native_country"].cat.categories
    assert train.iloc[0]["age"] == 39 and train.iloc[0]["workclass"] == "State-gov"
    assert test.iloc[0]["age"] == 25  # the header remark line was skipped


def test_adult_as_dask_and_bad_split():
    ddf = md.load_adult("test", as_dask=True, npartitions=4)
    assert ddf.npartitions == 4
    pd.testing.assert_frame_equal(ddf.compute(scheduler="sync"), md.load_adult("test"))
    with pytest.raises(md.DataError, match="split must be 'train', 'test' or 'all', got 'valid'"):
        md.load_adult("valid")


def test_german_credit_decoded_and_derived():
    df = md.load_german_credit()
    assert df.shape == (1_000, 23)
    assert df["bad_credit"].mean() == pytest.approx(0.30)
    assert df.loc[0, "checking_account"] == "< 0 DM" and df.loc[0, "purpose"] == "radio/TV"
    assert df["sex"].value_counts().to_dict() == {"male": 690, "female": 310}
    assert (df["age_group"] == "< 25").sum() == (df["age"] < 25).sum() == 149
    assert not any(str(v).startswith("A") and str(v)[1:].isdigit() for v in df.select_dtypes("category").stack())
    costs = md.GERMAN_CREDIT_COSTS
    assert costs.loc["bad", "good"] == 5 and costs.loc["good", "bad"] == 1
    assert df.attrs["cost_matrix"]["good"]["bad"] == 5  # predicted good, true bad


def test_corrupted_bundle_fails_checksum(tmp_path, monkeypatch):
    for name in loaders.BUNDLED_MD5:
        shutil.copy(loaders.data_dir() / name, tmp_path / name)
    raw = gzip.decompress((tmp_path / "german.data.gz").read_bytes())
    (tmp_path / "german.data.gz").write_bytes(gzip.compress(raw.replace(b"A11", b"A12", 1)))
    monkeypatch.setattr(loaders, "data_dir", lambda: tmp_path)
    with pytest.raises(md.ChecksumError, match=r"german\.data\.gz: md5 .* expected 6b94c2e3"):
        md.load_german_credit()


def test_attribution_ships_with_the_data():
    text = (loaders.data_dir() / "SOURCES.md").read_text()
    assert "CC BY 4.0" in text and "Kohavi" in text and "Hofmann" in text


# --------------------------------------------------------------------------- read_csv


def _write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_csv_reads_and_coerces(tmp_path):
    p = _write(tmp_path, "age,city\n30,Oslo\n41,Rome\n")
    df = md.read_csv(p, schema={"age": "int", "city": "category"})
    assert df["age"].dtype == np.int64 and isinstance(df["city"].dtype, pd.CategoricalDtype)


def test_malformed_row_too_many_fields(tmp_path):
    p = _write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    with pytest.raises(md.MalformedCSVError, match=r"data\.csv: line 4 is malformed: expected 3 fields, saw 4") as e:
        md.read_csv(p)
    assert e.value.line == 4


def test_malformed_row_too_few_fields(tmp_path):
    p = _write(tmp_path, "a,b,c\n1,2,3\n4,5\n7,8,9\n")
    with pytest.raises(md.MalformedCSVError, match=r"data\.csv: line 3 is malformed: expected 3 fields, saw 2"):
        md.read_csv(p)


def test_wrong_dtype_names_column_and_line(tmp_path):
    p = _write(tmp_path, "age,income\n30,1\n41,0\nforty,1\n")
    with pytest.raises(md.DataValidationError, match=r"column 'age'.*line 4 \(data row 2\): value 'forty' is not a valid int"):
        md.read_csv(p, schema={"age": "int", "income": "int"})


def test_schema_names_missing_column(tmp_path):
    p = _write(tmp_path, "age,income\n30,1\n")
    with pytest.raises(md.DataError, match=r"schema names column\(s\) \['salary'\] that the file does not have"):
        md.read_csv(p, schema={"age": "int", "salary": "float"})


def test_nonexistent_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such file: .*nope\.csv"):
        md.read_csv(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        md.read_csv(tmp_path / "nope.csv", as_dask=True)
    with pytest.raises(FileNotFoundError, match="no such Parquet dataset"):
        md.read_parquet(tmp_path / "nope.parquet")


def test_duplicate_column_names_in_header(tmp_path):
    p = _write(tmp_path, "a,b,a\n1,2,3\n")
    with pytest.raises(md.DataError, match=r"line 1 \(header\) has duplicate column names \['a'\]"):
        md.read_csv(p)


def test_empty_file(tmp_path):
    p = _write(tmp_path, "")
    with pytest.raises(md.MalformedCSVError, match="the file is empty"):
        md.read_csv(p)


# ----------------------------------------------------------------- the same reader on Dask


def _big_csv(tmp_path, n=20_000, bad_line=None, bad_text=None):
    """A CSV of n data rows (line = row + 2); optionally one line replaced."""
    rng = np.random.default_rng(0)
    lines = ["id,x,city"] + [f"{i},{v:.4f},{c}" for i, (v, c) in
                             enumerate(zip(rng.normal(size=n), rng.choice(["Oslo", "Rome", "Lima"], n)))]
    if bad_line is not None:
        lines[bad_line - 1] = bad_text
    return _write(tmp_path, "\n".join(lines) + "\n")


def test_dask_csv_reads_the_same_frame_in_pieces(tmp_path):
    p = _big_csv(tmp_path)
    want = md.read_csv(p, schema={"id": "int", "x": "float", "city": "category"})
    ddf = md.read_csv(p, schema={"id": "int", "x": "float", "city": "category"}, as_dask=True, blocksize=50_000)
    assert ddf.npartitions > 5
    got = ddf.compute().reset_index(drop=True)
    assert not ddf["city"].cat.known  # each piece finds its own categories
    pd.testing.assert_frame_equal(got.astype({"city": str}), want.astype({"city": str}))
    assert got["id"].dtype == np.int64 and got["x"].dtype == np.float64
    # without a schema, kinds come from the first rows: the same dtypes as pandas infers
    plain = md.read_csv(p, as_dask=True, blocksize=50_000).compute().reset_index(drop=True)
    assert plain["id"].dtype == np.int64 and plain["x"].dtype == np.float64
    assert plain["id"].tolist() == list(range(20_000))


@pytest.mark.parametrize("bad_text, message", [
    ("7,8,9,10", r"line 15001 is malformed: expected 3 fields, saw 4"),
    ("7,8", r"line 15001 is malformed: expected 3 fields, saw 2"),
])
def test_dask_csv_malformed_row_names_the_line_of_the_file(tmp_path, bad_text, message):
    p = _big_csv(tmp_path, bad_line=15_001, bad_text=bad_text)
    ddf = md.read_csv(p, as_dask=True, blocksize=50_000)  # lazy: nothing read yet
    with pytest.raises(md.MalformedCSVError, match=r"data\.csv: " + message) as e:
        ddf.compute(scheduler="sync")
    assert e.value.line == 15_001


def test_dask_csv_value_of_the_wrong_kind_names_column_line_and_row(tmp_path):
    p = _big_csv(tmp_path, bad_line=15_001, bad_text="14999,forty,Oslo")
    with pytest.raises(md.DataValidationError,
                       match=r"column 'x'.*line 15001 \(data row 14999\): value 'forty' is not a valid float.*"
                             r"as the schema says"):
        md.read_csv(p, schema={"x": "float"}, as_dask=True, blocksize=50_000).compute(scheduler="sync")
    with pytest.raises(md.DataValidationError, match=r"line 15001 .*first rows of the file suggested"):
        md.read_csv(p, as_dask=True, blocksize=50_000).compute(scheduler="sync")


def test_dask_csv_glob_and_gzip_name_the_file_with_the_problem(tmp_path):
    _write(tmp_path, "a,b\n1,2\n3,4\n", name="part1.csv")
    _write(tmp_path, "a,b\n5,6\n7,8,9\n", name="part2.csv")
    with pytest.raises(md.MalformedCSVError, match=r"part2\.csv: line 3 is malformed: expected 2 fields, saw 3"):
        md.read_csv(tmp_path / "part*.csv", as_dask=True).compute(scheduler="sync")
    gz = tmp_path / "g.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("a,b\n1,2\n3,4\n")
    got = md.read_csv(gz, schema={"a": "int", "b": "int"}, as_dask=True).compute()
    assert got["a"].tolist() == [1, 3] and got["b"].dtype == np.int64
    _write(tmp_path, "a,c\n1,2\n", name="part3.csv")
    with pytest.raises(md.DataError, match=r"part3\.csv: its columns differ"):
        md.read_csv(tmp_path / "part*.csv", as_dask=True)


def test_dask_csv_gap_in_an_int_column_is_named_not_silently_float(tmp_path):
    p = _big_csv(tmp_path, bad_line=15_001, bad_text=",0.5,Oslo")
    with pytest.raises(md.DataValidationError, match=r"column 'id'.*line 15001 \(data row 14999\): missing value "
                                                     r"in a column read as int.*declare it 'float'"):
        md.read_csv(p, as_dask=True, blocksize=50_000).compute(scheduler="sync")
    got = md.read_csv(p, schema={"id": "float"}, as_dask=True, blocksize=50_000).compute()
    assert got["id"].isna().sum() == 1 and got["id"].dtype == np.float64


def test_dask_csv_passes_pandas_options_through(tmp_path):
    p = _write(tmp_path, "id,when,x,city\n" + "".join(f"{i},2024-01-0{1 + i % 9},{i / 2},Oslo\n" for i in range(40)))
    ddf = md.read_csv(p, as_dask=True, usecols=["id", "when", "x"], parse_dates=["when"])
    got = ddf.compute()
    assert list(ddf.columns) == list(got.columns) == ["id", "when", "x"]
    assert got["when"].dtype.kind == "M" and got["x"].tolist() == [i / 2 for i in range(40)]
