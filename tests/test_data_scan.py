"""The one-pass scan kernel against pandas/numpy on value patterns that break cheap shortcuts.

The scan hashes float bits (distinct counts, duplicate rows), bins by exponent and mantissa
bits (quantiles), and takes fast paths for finite columns and sums of squares; each test
below plants a pattern where a careless shortcut would give a wrong answer.
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mlkit.data as md
from mlkit.data import scan as scan_mod

N = 60_000


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        # integer-valued floats: every low mantissa bit is zero
        "int_valued": rng.integers(0, 5_000, N).astype(np.float64),
        "small_ints": rng.integers(-3, 4, N).astype(np.int64),
        "halves": rng.integers(0, 400, N) / 2.0,
        "continuous": rng.normal(0, 1, N),
        "timestamps": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400 * 30, N), unit="s"),
        "label": (rng.random(N) < 0.2).astype(np.int8),
    })


@pytest.mark.parametrize("seed", [0, 1])
def test_distinct_counts_match_pandas_on_structured_values(seed):
    df = _frame(seed)
    prof = md.profile(df)
    for col in df.columns:
        want = df[col].nunique()
        got = prof.table.loc[col, "distinct"]
        # k = 2048 minimum values: standard error about 2.2 %; exact when fewer distinct values
        assert got == pytest.approx(want, rel=0.08), (col, got, want)
        if want <= scan_mod.KMV_K:
            assert got == want and prof.table.loc[col, "distinct_exact"]


def test_duplicate_rows_match_pandas_including_nan_and_signed_zero():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({
        "x": rng.integers(0, 50, 20_000).astype(np.float64),
        "y": rng.choice([0.0, 1.0, np.nan], 20_000),
        "c": pd.Categorical(rng.choice(["a", "b", "c"], 20_000)),
    })
    df.loc[df.index[::7], "y"] = -0.0  # -0.0 == 0.0: pandas counts them as the same value
    want = int(df.duplicated().sum())
    assert want > 1_000
    stats = scan_mod.scan(df, duplicates=True)
    assert stats.duplicates_exact and stats.duplicate_rows == want
    # Dask partitions see different category lists; rows must still hash by value.
    parts = [df.iloc[i:i + 5_000].copy() for i in range(0, len(df), 5_000)]
    for i, p in enumerate(parts):
        p["c"] = p["c"].cat.set_categories(sorted(set(p["c"].dropna()), reverse=bool(i % 2)))
    ddf = dd.from_pandas(pd.concat(parts).astype({"c": "object"}), npartitions=4)
    with dask.config.set(scheduler="sync"):
        stats_d = scan_mod.scan(ddf.astype({"c": "category"}), duplicates=True)
    assert stats_d.duplicate_rows == want


def test_moments_zeros_and_quantiles_on_awkward_magnitudes():
    rng = np.random.default_rng(5)
    big = 1e9 + rng.normal(0, 0.01, N)  # mean >> spread: a one-pass sum of squares would cancel
    mixed = np.concatenate([rng.normal(0, 1, N - 600), np.zeros(200), -np.zeros(100),
                            rng.choice([1e-12, -1e-12], 100), np.full(100, 1e15), np.full(100, -1e15)])
    rng.shuffle(mixed)
    label = (rng.random(N) < 0.3).astype(np.int64)
    df = pd.DataFrame({"big": big, "mixed": mixed, "label": label})
    stats = scan_mod.scan(df, target="label", duplicates=False)
    cb, cm = stats.columns["big"], stats.columns["mixed"]
    assert cb.std == pytest.approx(df["big"].std(), rel=1e-6)
    assert cm.std == pytest.approx(df["mixed"].std(), rel=1e-9)
    assert cm.n_zero == int((mixed == 0).sum()) == 300
    assert cm.sketch.sum() == N and cm.sketch.shape[0] == 2
    assert cb.sketch.shape[1] <= 2  # a column stores only the bins it uses: 1e9 +- 0.01 needs one or two
    np.testing.assert_array_equal(cm.sketch.sum(axis=1), np.bincount(label, minlength=2))
    qs = np.array([0.001, 0.003, 0.01, 0.25, 0.5, 0.75, 0.99, 0.997, 0.999])
    want = np.quantile(mixed, qs, method="lower")
    got = cm.sketch_total().quantile(qs)
    # within 1 % relative; values below 1e-9 in magnitude are reported as 0
    np.testing.assert_allclose(got, np.where(np.abs(want) < 1e-9, 0.0, want), rtol=0.0101, atol=1e-9)


def test_missing_and_infinite_values_are_counted_apart():
    v = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, np.nan, 3.0] * 1_000)
    stats = scan_mod.scan(pd.DataFrame({"v": v}), duplicates=False)
    cs = stats.columns["v"]
    assert (cs.n_missing, cs.n_nonfinite, cs.n_present) == (2_000, 2_000, 5_000)
    assert (cs.vmin, cs.vmax, cs.mean) == (1.0, 3.0, 2.0)
    assert cs.distinct == 3


def test_work_arrays_stay_within_the_per_process_budget(monkeypatch):
    import threading

    one = scan_mod._Scratch(5_000).nbytes
    monkeypatch.setattr(scan_mod, "KEEP_SCRATCH_BYTES", int(2.5 * one))  # room for two sets
    monkeypatch.setattr(scan_mod, "_POOL", {})
    allocated = threading.Barrier(4)

    def work():
        scan_mod._scratch(5_000)
        allocated.wait()  # all four threads alive at once: four distinct thread ids

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(scan_mod._POOL) == 2 and sum(s.nbytes for s in scan_mod._POOL.values()) <= 2.5 * one
    # a frame scanned on pandas leaves nothing behind in the calling thread
    scan_mod.scan(pd.DataFrame({"x": np.arange(10.0)}), duplicates=True)
    assert threading.get_ident() not in scan_mod._POOL


def test_text_columns_counted_like_pandas_value_counts():
    rng = np.random.default_rng(11)
    n = 30_000
    words = np.array(["Oslo", "Rome", "Lima", "Pune", "Kyiv"])
    city = pd.Series(rng.choice(words, n), dtype="str")
    city[rng.random(n) < 0.03] = None
    ids = pd.Series([f"id{i}" for i in rng.integers(0, 20_000, n)], dtype="str")
    mixed = pd.Series(rng.choice(np.array([1, "1", "a", None], dtype=object), n), dtype=object)
    label = (rng.random(n) < 0.25).astype(np.int64)
    df = pd.DataFrame({"city": city, "ids": ids, "mixed": mixed, "label": label})
    schema = md.Schema.from_kinds({"city": "string", "ids": "string", "mixed": "string", "label": "int"},
                                  target="label")
    schema.columns["city"].categories = ["Oslo", "Rome", "Lima"]  # Pune and Kyiv are not allowed
    stats = scan_mod.scan(df, schema=schema, target="label", duplicates=True)
    cs = stats.columns["city"]
    want = city.value_counts()
    assert {k: int(v.sum()) for k, v in cs.values.items()} == want.to_dict()
    assert cs.n_missing == int(city.isna().sum())
    pos = city[label == 1].value_counts()
    assert {k: int(v[1]) for k, v in cs.values.items()} == {k: int(pos.get(k, 0)) for k in want.index}
    assert cs.n_not_allowed == int(city.isin(["Pune", "Kyiv"]).sum())
    assert set(cs.not_allowed_examples) == {"Pune", "Kyiv"}
    # an id column: distinct count estimated (KMV), value table capped at MAX_STRING_VALUES
    ci = stats.columns["ids"]
    assert ci.values_truncated and len(ci.values) == scan_mod.MAX_STRING_VALUES
    assert ci.distinct == pytest.approx(ids.nunique(), rel=0.08)
    # 1 and "1" are one value once written as text, as the validator reports them
    cm = stats.columns["mixed"]
    assert {k: int(v.sum()) for k, v in cm.values.items()} == mixed.dropna().astype(str).value_counts().to_dict()
    assert stats.duplicate_rows == int(df.astype({"mixed": str}).duplicated().sum())


def test_cluster_path_with_progress_equals_the_local_one(dask_client, capsys):
    df = _frame(2)
    df["dup"] = np.arange(len(df)) % 5_000  # rows repeat across partitions
    df = pd.concat([df, df.iloc[:3_000]], ignore_index=True)
    ddf = dd.from_pandas(df, npartitions=20)
    with dask.config.set(scheduler="sync"):
        local = scan_mod.scan(ddf, target="label")
    remote = scan_mod.scan(ddf, target="label")  # on the cluster: groups of 8, progress bar
    assert remote.n_rows == local.n_rows == len(df)
    assert remote.duplicate_rows == local.duplicate_rows == int(df.duplicated().sum())
    for name in df.columns:
        a, b = local.columns[name], remote.columns[name]
        assert (a.n_missing, a.vmin, a.vmax, a.distinct) == (b.n_missing, b.vmin, b.vmax, b.distinct)
        if a.sketch is not None:
            assert a.sketch_lo == b.sketch_lo and np.array_equal(a.sketch, b.sketch)
    shown = capsys.readouterr()
    assert "scan: 20 partitions in groups of 8" in shown.out + shown.err
