"""mlkit.explain, xgboost route: equal to shap, Dask and Parquet paths, cost model, sampling, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb

import mlkit.explain as mx
from mlkit.explain import treeshap
from mlkit.explain.errors import (
    CostExceededError,
    ExplainError,
    FeatureMismatchError,
    UnsupportedModelError,
)

from ._explain_data import PLANTED_RANKING, planted, xgb_model


@pytest.fixture(scope="module")
def model_data():
    return xgb_model()


@pytest.fixture(scope="module")
def shap_oracle(model_data):
    model, X, _ = model_data
    explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X)
    return values, float(explainer.expected_value)


def test_values_equal_shap_tree_explainer(model_data, shap_oracle):
    model, X, _ = model_data
    res = mx.explain(model, X, budget_seconds=None, verbose=False)
    values, base = shap_oracle
    assert not res.sampled and res.n_rows == len(X)
    assert np.abs(res.values - values).max() <= 1e-5
    assert res.base_value == pytest.approx(base, abs=1e-6)
    # Additivity: base + sum of SHAP = the model's margin.
    margin = model.get_booster().predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(res.predictions(), margin, atol=1e-4)
    assert res.output == "log-odds (margin)"


def test_booster_and_unnamed_numpy(model_data, shap_oracle):
    model, X, _ = model_data
    booster = xgb.train({"max_depth": 3, "objective": "reg:squarederror"}, xgb.DMatrix(X.to_numpy(), label=X["x0"].to_numpy()), 10)
    res = mx.explain(booster, X.to_numpy()[:500], budget_seconds=None, verbose=False)
    oracle = shap.TreeExplainer(booster).shap_values(X.to_numpy()[:500])
    assert np.abs(res.values - oracle).max() <= 1e-5
    assert res.feature_names == [f"f{i}" for i in range(X.shape[1])]


def test_dask_in_memory_and_streamed_equal_shap(model_data, shap_oracle, dask_client, tmp_path):
    import dask.dataframe as dd

    model, X, _ = model_data
    values, _ = shap_oracle
    ddf = dd.from_pandas(X, npartitions=4)
    res = mx.explain(model, ddf, budget_seconds=None, verbose=False, client=dask_client)
    assert "Dask" in res.route
    assert res.index.equals(X.index)
    assert np.abs(res.values - values).max() <= 1e-5
    # The booster was sent once per worker and cached there (one entry per worker process).
    caches = dask_client.run(lambda: [k[0] for k in treeshap._WORKER_BOOSTERS])
    raw = bytes(model.get_booster().save_raw("ubj"))
    token = treeshap.booster_token(raw)
    assert all(keys.count(token) <= 1 for keys in caches.values())
    assert any(token in keys for keys in caches.values())

    out = tmp_path / "shap.parquet"
    streamed = mx.explain(model, ddf, budget_seconds=None, verbose=False, output=out, client=dask_client)
    assert streamed.path == out.resolve() and not streamed.in_memory
    assert len(list(out.glob("part.*.parquet"))) == 4
    back = pd.read_parquet(out)
    assert back.index.equals(X.index)
    assert np.abs(back[streamed.feature_names].to_numpy() - values).max() <= 1e-5
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ExplainError, match="already exists"):
        mx.explain(model, ddf, budget_seconds=None, verbose=False, output=out, client=dask_client)


def test_pandas_streams_in_chunks_when_over_memory(model_data, shap_oracle, tmp_path, monkeypatch):
    model, X, _ = model_data
    values, _ = shap_oracle
    monkeypatch.setattr(treeshap, "DEFAULT_CHUNK_ROWS", 3_000)
    monkeypatch.setenv("MLKIT_SCRATCH", str(tmp_path))
    res = mx.explain(model, X, budget_seconds=None, verbose=False, max_memory=10_000)
    assert res.cost.streamed and res.path is not None and res.path.is_relative_to(tmp_path)
    assert len(list(res.path.glob("part.*.parquet"))) == 7  # 20,000 rows in chunks of 3,000
    assert np.abs(res.values - values).max() <= 1e-5
    imp = res.importance()
    assert imp.index[0] == "x0"


def test_cost_model_shape_and_cache(model_data):
    model, X, _ = model_data
    booster = model.get_booster()
    shape = mx.tree_shape(booster)
    df = booster.trees_to_dataframe()
    assert shape.n_trees == df["Tree"].nunique() == 60
    assert shape.n_leaves == int((df["Feature"] == "Leaf").sum())
    assert shape.max_depth == 4
    mx.clear_calibration()
    first = treeshap.estimate(booster, X.iloc[:5_000], rows=1_000_000, threads=2, device_kind="cpu")
    again = treeshap.estimate(booster, X.iloc[:5_000], rows=2_000_000, threads=2, device_kind="cpu")
    assert first.calibrated_rows > 0 and again.calibrated_rows == 0  # cached per booster shape
    assert again.seconds == pytest.approx(2 * first.seconds)
    assert first.value_bytes == 1_000_000 * (X.shape[1] + 1) * 4
    assert "1,000,000 rows" in first.summary() and "60 trees" in first.summary()


def test_disk_cache(model_data, tmp_path, monkeypatch):
    model, X, _ = model_data
    cache = tmp_path / "cost.json"
    monkeypatch.setenv("MLKIT_EXPLAIN_COST_CACHE", str(cache))
    mx.clear_calibration()
    treeshap.estimate(model.get_booster(), X.iloc[:2_000], rows=10, threads=1, device_kind="cpu")
    assert cache.is_file() and len(__import__("json").loads(cache.read_text())) == 1
    mx.clear_calibration()
    est = treeshap.estimate(model.get_booster(), X.iloc[:2_000], rows=10, threads=1, device_kind="cpu")
    assert est.calibrated_rows == 0


def test_budget_decides_sample_and_states_it(model_data, capsys):
    model, X, _ = model_data
    res = mx.explain(model, X, budget_seconds=1e-3, seed=1)
    printed = capsys.readouterr().out
    assert res.sampled and res.cost.decision == "sample"
    assert res.n_rows == res.cost.sample_rows == mx.router.MIN_SAMPLE_ROWS  # the budget affords fewer
    assert res.n_rows_total == len(X)
    assert "sample of 1,000 rows" in printed and "budget" in printed
    exact = mx.explain(model, X, mode="exact", budget_seconds=1e-3, verbose=False)
    assert not exact.sampled and exact.n_rows == len(X)
    chosen = mx.explain(model, X, sample_size=3_000, verbose=False)
    assert chosen.sampled and chosen.n_rows == 3_000 and chosen.index.is_unique


def test_explain_rows_on_demand_is_exact(model_data, shap_oracle):
    model, X, _ = model_data
    values, _ = shap_oracle
    res = mx.explain(model, X, sample_size=1_000, verbose=False)
    outside = [i for i in (3, 17, 19_999) if i not in res.index]
    with pytest.raises(ExplainError, match="explain_rows"):
        res.row(outside[0])
    exact = res.explain_rows(outside)
    assert list(exact.index) == outside
    assert np.abs(exact.values - values[outside]).max() <= 1e-5


def test_planted_ranking_recovered_from_a_sample(model_data):
    from scipy.stats import spearmanr

    model, X, _ = model_data
    res = mx.explain(model, X, sample_size=4_000, verbose=False)
    imp = res.importance()
    assert imp.index[:4].tolist() == PLANTED_RANKING
    planted_strength = [2.0, 1.5, 1.0, 0.5]
    assert spearmanr(imp.loc[PLANTED_RANKING, "mean_abs"], planted_strength).statistic == pytest.approx(1.0)
    # Noise features get far less than any planted one.
    assert imp.loc[["x4", "x5", "x6", "x7"], "mean_abs"].max() < 0.3 * imp.loc["x3", "mean_abs"]


def test_sample_cis_cover_full_data_and_narrow(model_data, shap_oracle):
    model, X, _ = model_data
    values, _ = shap_oracle
    full = np.abs(values).mean(axis=0)
    widths = []
    covered = 0
    for n in (1_000, 8_000):
        res = mx.explain(model, X, sample_size=n, seed=3, verbose=False)
        imp = res.importance(n_boot=300).loc[res.feature_names]
        covered += int(((imp["ci_low"] <= full) & (full <= imp["ci_high"])).sum())
        widths.append(imp["ci_width"].to_numpy())
        agreement = mx.ranking_agreement(res.importance(), mx.mean_abs_shap(values, res.feature_names), k=4)
        assert agreement["identical"]
    assert covered >= 14  # 95% intervals: at most a couple of 16 misses
    assert (widths[1] < widths[0]).all()
    # ~sqrt(8) narrower with 8x the rows
    assert np.median(widths[0] / widths[1]) == pytest.approx(np.sqrt(8), rel=0.3)


def test_bootstrap_matches_normal_theory():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((5_000, 3)) * [1.0, 2.0, 3.0]
    boot = mx.mean_abs_shap(values, ["a", "b", "c"], method="bootstrap", n_boot=400)
    normal = mx.mean_abs_shap(values, ["a", "b", "c"], method="normal")
    np.testing.assert_allclose(boot.loc[["a", "b", "c"], "std_err"], normal.loc[["a", "b", "c"], "std_err"], rtol=0.15)
    assert boot.index.tolist() == ["c", "b", "a"]


def test_stratified_sample_is_proportional(model_data):
    _, X, y = model_data
    frame = X.assign(label=y)
    sample, strata = mx.sample_rows(frame, 2_000, seed=0, stratify="label")
    share_pop = frame["label"].mean()
    assert len(sample) == 2_000
    assert abs(sample["label"].mean() - share_pop) <= 1 / 2_000
    assert set(strata) == {0, 1}
    res = mx.explain(xgb_model()[0], X, sample_size=2_000, stratify=pd.Series(y, index=X.index), verbose=False)
    assert res.strata is not None and len(res.strata) == 2_000
    assert res.importance().index[0] == "x0"


def test_group_gap_decomposes_exactly(model_data):
    model, X, _ = model_data
    res = mx.explain(model, X, sample_size=4_000, verbose=False)
    groups = np.where(res.data["x1"] > 0.5, "high_x1", "rest")
    by = res.by_group(groups)
    assert by.reference == "rest"
    gap = by.gap["high_x1"]
    assert by.contributions["high_x1"].sum() == pytest.approx(gap, rel=1e-6)
    # Direct: difference in mean model output between the groups.
    out = res.predictions()
    assert gap == pytest.approx(out[groups == "high_x1"].mean() - out[groups == "rest"].mean(), rel=1e-6)
    assert by.drivers("high_x1", k=1).index[0] == "x1"
    assert by.difference() == pytest.approx(abs(gap))


def test_to_shap_explanation_works_with_shap_plots(model_data):
    model, X, _ = model_data
    res = mx.explain(model, X.iloc[:300], budget_seconds=None, verbose=False)
    ex = res.to_shap()
    assert isinstance(ex, shap.Explanation)
    assert ex.values.shape == (300, X.shape[1])
    np.testing.assert_allclose(ex.base_values, res.base_value)
    # shap's own Explanation algebra works on it.
    np.testing.assert_allclose(ex.abs.mean(0).values, np.abs(res.values).mean(0), rtol=1e-6)
    np.testing.assert_allclose(ex[:, "x0"].values, res.values[:, 0])
    np.testing.assert_allclose(ex[:, "x0"].data, X["x0"].iloc[:300].to_numpy())
    matplotlib = pytest.importorskip("matplotlib")  # shap's plots need it; not a suite dependency
    matplotlib.use("Agg")
    shap.plots.beeswarm(ex, show=False)


# --------------------------------------------------------------------------- bad input


def test_feature_mismatch_is_named(model_data, shap_oracle):
    model, X, _ = model_data
    with pytest.raises(FeatureMismatchError, match=r"missing \['x3'\]"):
        mx.explain(model, X.drop(columns="x3"), verbose=False)
    with pytest.raises(FeatureMismatchError, match=r"not seen in training \['extra'\]"):
        mx.explain(model, X.assign(extra=1.0), verbose=False)
    renamed = X.rename(columns={"x0": "X0"})
    with pytest.raises(FeatureMismatchError, match="X0"):
        mx.explain(model, renamed, verbose=False)
    # Same features, another order: aligned by name, same values.
    shuffled = X[list(reversed(X.columns))].iloc[:200]
    res = mx.explain(model, shuffled, budget_seconds=None, verbose=False)
    assert res.feature_names == list(X.columns)
    assert np.abs(res.values - shap_oracle[0][:200]).max() <= 1e-5


def test_unsupported_model_lists_routes():
    with pytest.raises(UnsupportedModelError) as info:
        mx.explain(object(), pd.DataFrame({"a": [1.0]}))
    msg = str(info.value)
    for route in ("xgboost", "torch", "sklearn-tree", "permutation"):
        assert route in msg


def test_nan_only_column_is_refused(model_data):
    model, X, _ = model_data
    bad = X.iloc[:500].copy()
    bad["x5"] = np.nan
    with pytest.raises(ExplainError, match=r"\['x5'\] are entirely missing"):
        mx.explain(model, bad, verbose=False)
    res = mx.explain(model, bad, allow_all_nan=True, budget_seconds=None, verbose=False)
    assert np.isfinite(res.values).all()


def test_sample_size_larger_than_data(model_data):
    model, X, _ = model_data
    with pytest.raises(ExplainError, match=r"larger than the 20,000 rows"):
        mx.explain(model, X, sample_size=20_001, verbose=False)
    with pytest.raises(ExplainError, match="mode"):
        mx.explain(model, X, mode="fast", verbose=False)
    with pytest.raises(ExplainError, match="no rows"):
        mx.explain(model, X.iloc[:0], verbose=False)


def test_multiclass_needs_class_index():
    X, _ = planted(3_000)
    y = np.digitize(X["x0"], [-0.5, 0.5])
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=2).fit(X, y)
    with pytest.raises(ExplainError, match="class_index"):
        mx.explain(model, X, budget_seconds=None, verbose=False)
    res = mx.explain(model, X, class_index=2, budget_seconds=None, verbose=False)
    oracle = shap.TreeExplainer(model).shap_values(X)[..., 2]
    assert np.abs(res.values - oracle).max() <= 1e-5


@pytest.mark.filterwarnings("ignore:.*GPU.*:UserWarning")
def test_cuda_route_sets_the_device(model_data, monkeypatch):
    """With a GPU reported, the booster is switched to device=cuda (xgboost falls back on a CPU build)."""
    from mlkit import compute

    model, X, _ = model_data
    real = compute.device()
    fake = compute.DeviceInfo(
        kind="cuda", cuda_available=True, gpu_count=1, gpu_names=["fake"], gpu_memory=[1 << 34],
        torch_version=real.torch_version, cuda_version="12", reason="test",
    )
    monkeypatch.setattr(compute, "device", lambda prefer=None: fake)
    seen = []
    original = xgb.Booster.set_param

    def spy(self, params, value=None):
        if isinstance(params, dict):
            seen.append(dict(params))
        return original(self, params, value)

    monkeypatch.setattr(xgb.Booster, "set_param", spy)
    res = mx.explain(model, X.iloc[:200], budget_seconds=None, verbose=False)
    assert any(p.get("device") == "cuda" for p in seen)
    assert res.cost.device == "cuda"
    # The caller's booster keeps its own device setting (explain works on a copy).
    config = __import__("json").loads(model.get_booster().save_config())
    assert config["learner"]["generic_param"]["device"] == "cpu"


def test_interactions_refused_for_too_many_features(model_data):
    model, X, _ = model_data
    with pytest.raises(CostExceededError, match="refused") as info:
        mx.interactions(model, X, features=list(X.columns), max_features=4, n_rows=500)
    assert info.value.estimate is not None and info.value.estimate.seconds > 0
    with pytest.raises(CostExceededError, match="budget"):
        mx.interactions(model, X, features=["x0", "x1"], n_rows=20_000, budget_seconds=1e-6)
