"""mlkit.explain routes beyond xgboost: torch (shap Deep/Gradient), scikit-learn trees, permutation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

import mlkit.explain as mx
from mlkit.explain.errors import ExplainError, FeatureMismatchError

from ._explain_data import planted


@pytest.fixture(scope="module")
def mlp():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    X, y = planted(3_000, seed=1)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(X.to_numpy().copy()), torch.from_numpy(y.astype(np.float32))
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xt).squeeze(1), yt)
        loss.backward()
        opt.step()
    return model.eval(), X


def _torch_out(model, X):
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(X.to_numpy(np.float32))).numpy().ravel()


def test_torch_deep_explainer_is_complete(mlp):
    model, X = mlp
    bg = X.iloc[:100]
    res = mx.explain(model, X.iloc[100:300], background=bg, method="deep", budget_seconds=None, verbose=False)
    assert res.route == "shap DeepExplainer"
    fx = _torch_out(model, X.iloc[100:300])
    efx = _torch_out(model, bg).mean()
    assert res.base_value == pytest.approx(efx, abs=1e-5)
    # Completeness: attributions sum to f(x) - E[f(background)].
    np.testing.assert_allclose(res.values.sum(axis=1), fx - efx, atol=1e-4)
    assert res.importance().index[0] == "x0"


def test_torch_gradient_explainer_is_approximately_complete(mlp):
    model, X = mlp
    res = mx.explain(model, X.iloc[100:160], n_background=100, nsamples=100, budget_seconds=None, verbose=False)
    assert res.route == "shap GradientExplainer"
    fx = _torch_out(model, X.iloc[100:160]) - res.base_value
    total = res.values.sum(axis=1)
    # Expected gradients is a sampling estimate: close, not exact.
    assert np.corrcoef(total, fx)[0, 1] > 0.98
    assert np.abs(total - fx).mean() < 0.15 * np.abs(fx).mean()


def test_torch_feature_count_checked(mlp):
    model, X = mlp
    with pytest.raises(FeatureMismatchError, match="trained on 8 features"):
        mx.explain(model, X.iloc[:50, :5], verbose=False)
    with pytest.raises(ExplainError, match="gradient' or 'deep"):
        mx.explain(model, X.iloc[:50], method="lime", verbose=False)


def test_sklearn_forest_equals_shap_tree_explainer():
    from sklearn.ensemble import RandomForestClassifier

    X, y = planted(2_000, seed=2)
    model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0, n_jobs=1).fit(X, y)
    res = mx.explain(model, X.iloc[:300], budget_seconds=None, verbose=False)
    oracle = shap.TreeExplainer(model).shap_values(X.iloc[:300])[..., 1]
    assert res.route == "shap TreeExplainer"
    assert res.output == "probability of class 1"
    assert np.abs(res.values - oracle).max() <= 1e-6
    np.testing.assert_allclose(res.predictions(), model.predict_proba(X.iloc[:300])[:, 1], atol=1e-6)
    with pytest.raises(FeatureMismatchError, match=r"missing \['x1'\]"):
        mx.explain(model, X.drop(columns="x1"), verbose=False)


def test_permutation_route_is_efficient_and_samples_dask(dask_client):
    import dask.dataframe as dd
    from sklearn.linear_model import LogisticRegression

    X, y = planted(2_000, seed=3)
    model = LogisticRegression().fit(X, y)
    bg = X.iloc[:50]
    res = mx.explain(model, X.iloc[100:140], background=bg, budget_seconds=None, verbose=False)
    assert res.route == "shap PermutationExplainer"
    p = model.predict_proba(X.iloc[100:140])[:, 1]
    # Efficiency: attributions sum to f(x) minus the mean output over the background.
    np.testing.assert_allclose(res.values.sum(axis=1), p - res.base_value, atol=1e-6)
    np.testing.assert_allclose(res.base_value, model.predict_proba(bg)[:, 1].mean(), atol=1e-9)
    # Dask input, over budget: a sample, with the sample size stated.
    ddf = dd.from_pandas(X, npartitions=3)
    sampled = mx.explain(model, ddf, sample_size=30, n_background=30, verbose=False)
    assert sampled.sampled and sampled.n_rows == 30 and sampled.n_rows_total == 2_000


def test_plain_function_is_explained():
    X, _ = planted(500, seed=4)

    def f(frame: pd.DataFrame) -> np.ndarray:
        return 3.0 * frame["x0"].to_numpy() - frame["x1"].to_numpy()

    res = mx.explain(f, X.iloc[:20], background=X.iloc[:40], budget_seconds=None, verbose=False)
    bg_mean = X.iloc[:40][["x0", "x1"]].mean()
    # For a linear function, SHAP = coefficient x (x - background mean), exactly.
    np.testing.assert_allclose(res.values[:, 0], 3.0 * (X["x0"].iloc[:20] - bg_mean["x0"]), atol=1e-5)
    np.testing.assert_allclose(res.values[:, 1], -(X["x1"].iloc[:20] - bg_mean["x1"]), atol=1e-5)
    np.testing.assert_allclose(res.values[:, 2:], 0.0, atol=1e-6)
