"""TabularPreprocessor (pandas vs Dask identical, sklearn oracles) and splitting."""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlkit.data as md


@pytest.fixture(scope="module")
def data():
    ddf, truth = md.make_tabular(30_000, seed=31, missing_mcar=0.05, npartitions=3)
    with dask.config.set(scheduler="sync"):
        return ddf.compute(), truth


def _prep(**kw):
    return md.TabularPreprocessor(exclude=["label", "time"], **kw)


def test_pandas_and_dask_fit_and_transform_identically(data, dask_client):
    df, _ = data
    ddf = dd.from_pandas(df, npartitions=4)
    p_pd = _prep().fit(df)
    p_dd = _prep().fit(ddf)
    assert p_pd.feature_names_out_ == p_dd.feature_names_out_
    for c in p_pd.numeric_:
        assert p_pd.centers_[c] == pytest.approx(p_dd.centers_[c], rel=1e-12, abs=1e-15)
        assert p_pd.scales_[c] == pytest.approx(p_dd.scales_[c], rel=1e-12)
    assert p_pd.categories_ == p_dd.categories_
    out_pd = p_pd.transform(df)
    out_dd = p_pd.transform(ddf).compute()
    pd.testing.assert_frame_equal(out_pd, out_dd)
    out_dd2 = p_dd.transform(ddf).compute()
    np.testing.assert_allclose(out_dd2.to_numpy(), out_pd.to_numpy(), rtol=1e-5, atol=1e-6)


def test_numeric_scaling_matches_sklearn(data):
    df, truth = data
    prep = _prep(add_missing_indicator=False).fit(df)
    out = prep.transform(df)
    cols = ["num_00", "num_05"]
    want = StandardScaler().fit_transform(df[cols])
    # sklearn uses the population std; ours the sample std (ddof=1)
    n = len(df)
    np.testing.assert_allclose(out[cols].to_numpy() * np.sqrt((n - 1) / n), want, rtol=1e-4, atol=1e-5)
    # missing values are imputed with the mean, i.e. 0 after scaling, and flagged
    prep2 = _prep().fit(df)
    out2 = prep2.transform(df)
    miss = df["num_02"].isna().to_numpy()
    assert np.allclose(out2.loc[miss, "num_02"], 0, atol=1e-6)
    assert (out2["num_02__missing"].to_numpy() == miss).all()


def test_rare_bucketing_and_onehot(data):
    df, _ = data
    prep = _prep(min_frequency=0.01).fit(df)
    counts = df["cat_3"].value_counts(normalize=True)
    assert prep.categories_["cat_3"] == sorted(str(k) for k in counts[counts >= 0.01].index)
    assert set(prep.rare_categories_["cat_3"]) == {str(k) for k in counts[(counts < 0.01) & (counts > 0)].index}
    out = prep.transform(df)
    block = out[[c for c in out.columns if c.startswith("cat_3=")]]
    assert (block.sum(axis=1) == 1).all()  # every row in exactly one bucket
    rare_rows = ~df["cat_3"].astype(str).isin(prep.categories_["cat_3"])
    assert (out.loc[rare_rows.to_numpy(), "cat_3=__rare__"] == 1).all()
    assert "cat_1=__missing__" in out.columns  # MCAR missing in cat_1 gets its own column


def test_unknown_categories(data):
    df, _ = data
    prep = _prep(handle_unknown="error").fit(df)
    new = df.iloc[:100].copy()
    new["cat_0"] = new["cat_0"].cat.add_categories(["NEW"])
    new.loc[new.index[7], "cat_0"] = "NEW"
    with pytest.raises(md.UnknownCategoryError, match=r"column 'cat_0' has 1 value\(s\) in categories not seen at fit: \['NEW'\] \(first at row 7\)"):
        prep.transform(new)
    with pytest.raises(md.UnknownCategoryError, match="column 'cat_0'"):
        prep.transform(dd.from_pandas(new, npartitions=2)).compute(scheduler="sync")
    rare = _prep(handle_unknown="rare").fit(df).transform(new)
    assert rare.loc[7, "cat_0=__rare__"] == 1
    ignore = _prep(handle_unknown="ignore", min_frequency=0).fit(df).transform(new)
    assert ignore.loc[7, [c for c in ignore.columns if c.startswith("cat_0=")]].sum() == 0


def test_bad_inputs(data):
    df, _ = data
    prep = _prep().fit(df)
    with pytest.raises(md.DataError, match=r"column 'num_03' has dtype str; expected numeric"):
        prep.transform(df.assign(num_03=df["num_03"].astype(str)))
    with pytest.raises(md.DataError, match=r"column\(s\) \['num_04'\] seen at fit are missing"):
        prep.transform(df.drop(columns=["num_04"]))
    with pytest.raises(md.EmptyDataError, match="empty frame: 0 rows"):
        _prep().fit(df.iloc[:0])
    with pytest.raises(md.EmptyDataError, match="empty frame: 0 rows"):
        _prep().fit(dd.from_pandas(df.iloc[:0], npartitions=1))
    dup = pd.concat([df[["num_00"]], df[["num_00"]]], axis=1)
    with pytest.raises(md.DataError, match=r"duplicate column names \['num_00'\]"):
        md.TabularPreprocessor().fit(dup)
    with pytest.raises(md.DataError, match=r"numeric column\(s\) \['nope'\] not in the frame"):
        md.TabularPreprocessor(numeric=["nope"]).fit(df)
    with pytest.raises(md.DataError, match="handle_unknown must be"):
        md.TabularPreprocessor(handle_unknown="drop").fit(df)


def test_sklearn_compatible(data):
    df, truth = data
    prep = _prep(min_frequency=0.02)
    assert clone(prep).get_params() == prep.get_params()
    pipe = make_pipeline(prep, LogisticRegression(max_iter=300)).fit(df, df["label"])
    assert pipe.score(df, df["label"]) > 0.75
    assert list(pipe[0].get_feature_names_out())[:2] == ["num_00", "num_01"]


def test_ordinal_encoding(data):
    df, _ = data
    out = _prep(encoding="ordinal", min_frequency=0).fit(df).transform(df)
    assert out["cat_0"].max() == df["cat_0"].cat.categories.size - 1
    assert (out.loc[df["cat_1"].isna().to_numpy(), "cat_1"] == -1).all()


# --------------------------------------------------------------------------- splitting


def test_stratified_split_proportions_at_rare_prevalence(dask_client):
    ddf, _ = md.make_tabular(200_000, seed=41, prevalence=0.002, npartitions=7)
    parts = md.train_valid_test_split(ddf, (0.7, 0.15, 0.15), stratify="label", seed=3)
    counts = [p["label"].value_counts().compute() for p in parts]
    total = sum(c.sum() for c in counts)
    assert total == 200_000
    positives = np.array([c.get(1, 0) for c in counts])
    n_pos = positives.sum()
    # each stratum is divided in the requested shares to within a few rows
    np.testing.assert_allclose(positives, n_pos * np.array([0.7, 0.15, 0.15]), atol=3)
    sizes = np.array([c.sum() for c in counts])
    np.testing.assert_allclose(sizes, 200_000 * np.array([0.7, 0.15, 0.15]), atol=6)
    again = md.train_valid_test_split(ddf, (0.7, 0.15, 0.15), stratify="label", seed=3)
    pd.testing.assert_index_equal(parts[1].index.compute(), again[1].index.compute())
    other = md.train_valid_test_split(ddf, (0.7, 0.15, 0.15), stratify="label", seed=4)
    assert not parts[1].index.compute().equals(other[1].index.compute())


def test_group_aware_split_keeps_groups_together(data):
    df, _ = data
    df = df.assign(customer=(np.arange(len(df)) // 7).astype(str))
    train, valid, test = md.train_valid_test_split(df, (0.6, 0.2, 0.2), groups="customer", seed=1)
    sets = [set(p["customer"]) for p in (train, valid, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(train) + len(valid) + len(test) == len(df)
    n_groups = df["customer"].nunique()
    assert abs(len(sets[0]) / n_groups - 0.6) < 0.03
    # independent of the partitioning
    d_train, _, _ = md.train_valid_test_split(dd.from_pandas(df, npartitions=5), (0.6, 0.2, 0.2),
                                              groups="customer", seed=1)
    with dask.config.set(scheduler="sync"):
        assert set(d_train["customer"].compute()) == sets[0]


def test_split_bad_arguments(data):
    df, _ = data
    with pytest.raises(md.DataError, match="sizes must be 2 or 3 positive shares summing to 1"):
        md.train_valid_test_split(df, (0.5, 0.3))
    with pytest.raises(md.DataError, match="stratify column 'nope' not in the frame"):
        md.train_valid_test_split(df, stratify="nope")
    with pytest.raises(md.EmptyDataError):
        md.train_valid_test_split(df.iloc[:0])


def test_split_randomness_is_independent_of_make_tabular_blocks():
    """The splitter must not replay the random stream that generated the rows it splits."""
    import numpy as np

    from mlkit.data import splitting

    # make_tabular draws block b from default_rng([seed, b]); the stratum shuffle of partition
    # b must use another stream (numpy ignores trailing zeros, so [seed, b] == [seed, b, 0]).
    gen = np.random.default_rng([3, 0]).permutation(1000)
    split = np.random.default_rng([3, 0, splitting._STRATUM_STREAM]).permutation(1000)
    assert not np.array_equal(gen, split)
    frame = __import__("pandas").DataFrame({"y": np.r_[np.zeros(500), np.ones(500)].astype(int)})
    cuts = np.cumsum([0.5, 0.5])[:-1]
    a = splitting._by_stratum(frame, "y", cuts, seed=3, part=0, offsets={})
    b = splitting._by_stratum(frame, "y", cuts, seed=3, part=0, offsets={})
    assert np.array_equal(a, b) and set(np.unique(a)) == {0, 1}  # still reproducible


def test_median_imputation_from_the_one_pass_sketch(data, dask_client):
    df, _ = data
    skewed = df.copy()
    rng = np.random.default_rng(0)
    skewed["num_02"] = np.where(skewed["num_02"].isna(), np.nan, rng.lognormal(2, 1.5, len(skewed)))
    p_pd = _prep(impute="median", scale=False).fit(skewed)
    p_dd = _prep(impute="median", scale=False).fit(dd.from_pandas(skewed, npartitions=5))
    for c in ["num_00", "num_02"]:
        want = float(np.nanmedian(skewed[c]))
        # 1 % relative (the sketch), plus the gap between the two middle order statistics
        assert p_pd.fill_values_[c] == pytest.approx(want, rel=0.011, abs=5e-4)
        assert p_dd.fill_values_[c] == p_pd.fill_values_[c]  # same bins merged: identical
    # a skewed column: the median is far from the mean, and that is what fills the gaps
    assert p_pd.fill_values_["num_02"] < 0.5 * float(skewed["num_02"].mean())
    out = p_pd.transform(skewed)
    miss = skewed["num_02"].isna().to_numpy()
    np.testing.assert_allclose(out.loc[miss, "num_02"], p_pd.fill_values_["num_02"], rtol=1e-6)
    with pytest.raises(md.DataError, match="impute must be 'mean', 'median' or 'zero'"):
        _prep(impute="mode").fit(df)
