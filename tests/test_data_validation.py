"""infer_schema / validate / profile: planted problems are found, stats match pandas."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mlkit.data as md
from mlkit.data.scan import N_SKETCH_BINS, Sketch, sketch_index


@pytest.fixture(scope="module")
def clean():
    ddf, truth = md.make_tabular(40_000, seed=21, missing_mcar=0.05, npartitions=4)
    with dask.config.set(scheduler="sync"):
        return ddf.compute(), truth


@pytest.fixture(scope="module")
def schema(clean):
    df, truth = clean
    return md.infer_schema(df, target=truth.target)


def _dirty(df):
    bad = df.copy()
    bad.loc[bad.index[:50], "num_06"] = 999.0  # sentinel out of range
    bad["cat_0"] = bad["cat_0"].cat.add_categories(["Z"])
    bad.loc[bad.index[100:120], "cat_0"] = "Z"  # unknown category
    bad.loc[bad.index[::4], "num_07"] = np.nan  # missing spike (25 % > allowed 0 %)
    bad["constant"] = 1.0
    bad["leak"] = bad["label"] * 2.0 + np.random.default_rng(0).normal(0, 0.05, len(bad))
    bad = pd.concat([bad, bad.iloc[:30]], ignore_index=True)  # 30 duplicate rows
    return bad


def test_clean_data_passes(clean, schema):
    df, _ = clean
    report = md.validate(df, schema)
    assert report.ok, report.table
    assert report.n_rows == len(df)
    assert set(report.leakage) >= {"num_00", "cat_0"} and max(report.leakage.values()) < 0.8


def test_planted_problems_are_each_found_with_their_column(clean, schema):
    df, truth = clean
    bad = _dirty(df)
    schema2 = md.Schema({**schema.columns, "constant": md.ColumnSpec("float"), "leak": md.ColumnSpec("float")},
                        target=truth.target)
    report = md.validate(bad, schema2)
    t = report.table
    assert not report.ok
    found = {(r.check, r.column) for r in t.itertuples()}
    assert ("range", "num_06") in found
    assert ("categories", "cat_0") in found
    assert ("missing", "num_07") in found
    assert ("constant", "constant") in found
    assert ("leakage", "leak") in found
    assert ("duplicates", "(frame)") in found
    assert t.loc[(t.check == "range") & (t.column == "num_06"), "value"].iloc[0] == 50 + 30  # the 30 duplicated rows repeat the sentinel
    assert t.loc[(t.check == "categories"), "value"].iloc[0] == 20
    assert t.loc[t.check == "duplicates", "value"].iloc[0] == pytest.approx(30 / len(bad), rel=1e-3)
    assert "'Z' (20)" in t.loc[t.check == "categories", "message"].iloc[0]
    # nothing else is flagged
    assert len(t) == 6, t
    fig = report.figure()
    assert len(fig.data) == 6


def test_strict_raises_listing_every_problem(clean, schema):
    df, _ = clean
    bad = _dirty(df).drop(columns=["constant", "leak"])
    with pytest.raises(md.DataValidationError) as e:
        md.validate(bad, schema, strict=True)
    msg = str(e.value)
    for needle in ["column 'num_06'", "column 'cat_0'", "column 'num_07'", "[duplicates] frame"]:
        assert needle in msg
    assert {p.check for p in e.value.problems} >= {"range", "categories", "missing", "duplicates"}


def test_wrong_dtype_and_schema_naming_a_missing_column(clean, schema):
    df, _ = clean
    bad = df.drop(columns=["num_12"]).assign(num_11=df["num_11"].astype(str))
    report = md.validate(bad, schema)
    t = report.table
    assert ("dtype", "num_11") in {(r.check, r.column) for r in t.itertuples()}
    assert "expected float, got string" in t.loc[t.column == "num_11", "message"].iloc[0]
    with pytest.raises(md.DataValidationError, match=r"\[columns\] column 'num_12': column named in the schema is missing"):
        md.validate(bad, schema, strict=True)


def test_empty_frame_and_duplicate_columns(clean, schema):
    df, _ = clean
    with pytest.raises(md.EmptyDataError, match="empty frame: 0 rows"):
        md.validate(df.iloc[:0], schema)
    with pytest.raises(md.EmptyDataError, match="empty frame: 0 rows"):
        md.profile(dd.from_pandas(df.iloc[:0], npartitions=1))
    with pytest.raises(md.EmptyDataError, match="empty frame"):
        md.infer_schema(df.iloc[:0])
    dup = pd.concat([df[["num_00", "num_01"]], df[["num_00"]]], axis=1)
    with pytest.raises(md.DataError, match=r"duplicate column names \['num_00'\]"):
        md.validate(dup, schema)
    with pytest.raises(md.DataError, match=r"duplicate column names \['num_00'\]"):
        md.profile(dup)


def test_pandas_and_dask_give_the_same_report(clean, schema, dask_client):
    df, _ = clean
    bad = _dirty(df).drop(columns=["constant", "leak"])
    a = md.validate(bad, schema).table
    b = md.validate(dd.from_pandas(bad, npartitions=5), schema).table
    pd.testing.assert_frame_equal(a, b)


def test_profile_matches_pandas_describe(clean):
    df, _ = clean
    with dask.config.set(scheduler="sync"):
        prof = md.profile(dd.from_pandas(df, npartitions=6))
    ours = prof.describe()
    theirs = df.describe()
    cols = [c for c in ours.columns if c != "label"]
    theirs = theirs[cols].astype(float)
    for stat in ["count", "mean", "std", "min", "max"]:
        np.testing.assert_allclose(ours.loc[stat, cols], theirs.loc[stat, cols], rtol=1e-9, atol=1e-12)
    # quantiles: relative error <= 1 % (sketch), plus the gap between neighbouring order statistics
    for q in ["25%", "50%", "75%"]:
        np.testing.assert_allclose(ours.loc[q, cols], theirs.loc[q, cols], rtol=0.011, atol=2e-3)
    t = prof.table
    assert t.loc["num_02", "missing"] == df["num_02"].isna().sum()
    assert t.loc["cat_3", "distinct"] == df["cat_3"].nunique()
    assert t.loc["cat_0", "top"] == df["cat_0"].value_counts().index[0]
    assert t.loc["num_00", "distinct"] == pytest.approx(df["num_00"].nunique(), rel=0.1)
    edges, counts = prof.histograms["num_00"]
    assert sum(counts) == df["num_00"].notna().sum() and len(edges) == 31
    assert len(prof.figure().data) == len(prof.histograms)
    assert len(prof.missing_figure().data) == 1


def test_validate_and_profile_in_one_pass_match_separate_calls(clean, schema):
    df, _ = clean
    report, prof = md.validate_and_profile(df, schema)
    assert report.ok
    pd.testing.assert_frame_equal(prof.describe(), md.profile(df).describe())


@pytest.mark.parametrize("seed", [0, 1])
def test_sketch_quantiles_against_numpy(seed):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.lognormal(3, 2, 50_000), -rng.exponential(5, 10_000), np.zeros(100)])
    counts = np.bincount(sketch_index(x), minlength=N_SKETCH_BINS)
    sk = Sketch(counts, x.min(), x.max())
    qs = np.array([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    got = sk.quantile(qs)
    want = np.quantile(x, qs, method="lower")
    np.testing.assert_allclose(got, want, rtol=0.0101)


def test_parquet_categoricals_with_unknown_categories(clean, schema, tmp_path):
    df, _ = clean
    bad = _dirty(df).drop(columns=["constant", "leak"])
    md.write_parquet(bad, tmp_path / "bad.parquet", partition_size="1MB")
    stored = dd.read_parquet(tmp_path / "bad.parquet")
    assert not stored["cat_0"].cat.known
    with dask.config.set(scheduler="sync"):
        a = md.validate(stored, schema).table
        prof = md.profile(stored)
    b = md.validate(bad.reset_index(drop=True), schema).table
    pd.testing.assert_frame_equal(a, b)
    assert prof.table.loc["cat_3", "distinct"] == bad["cat_3"].nunique()
    assert prof.table.loc["cat_0", "top"] == bad["cat_0"].value_counts().index[0]


def test_duplicate_estimate_beyond_the_exact_size(clean, monkeypatch):
    from mlkit.data import scan as scan_mod

    df, _ = clean
    dup = pd.concat([df, df.iloc[:8_000]], ignore_index=True)
    exact = md.profile(dup)  # profile skips duplicates; use scan directly
    monkeypatch.setattr(scan_mod, "DUPLICATE_EXACT_ROWS", 6_000)
    with dask.config.set(scheduler="sync"):  # the patch lives in this process only
        stats = scan_mod.scan(dd.from_pandas(dup, npartitions=4), duplicates=True)
    assert not stats.duplicates_exact
    assert stats.duplicate_rows == pytest.approx(8_000, rel=0.15)
    assert exact.n_rows == len(dup)
