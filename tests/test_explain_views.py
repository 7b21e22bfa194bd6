"""mlkit.explain global views (interactions, permutation importance, surrogate), plots, ShapExplorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap

import mlkit.explain as mx
from mlkit.explain import plots

from ._explain_data import xgb_model


@pytest.fixture(scope="module")
def model_data():
    return xgb_model()


@pytest.fixture(scope="module")
def sample_result(model_data):
    model, X, _ = model_data
    return mx.explain(model, X, sample_size=1_500, seed=0, verbose=False)


def test_interactions_find_the_planted_pair_and_match_shap(model_data, sample_result):
    model, X, _ = model_data
    inter = mx.interactions(model, X, result=sample_result, top_k=4, n_rows=400, seed=0)
    assert set(inter.features) == {"x0", "x1", "x2", "x3"}
    top = inter.pairs().iloc[0]
    assert {top.feature_a, top.feature_b} == {"x2", "x3"}  # the planted x2*x3 term
    # Oracle: shap's interaction values on the same rows.
    rows = mx.sample_rows(X, 400, seed=0)[0]
    phi = shap.TreeExplainer(model).shap_interaction_values(rows)
    i, j = X.columns.get_loc("x2"), X.columns.get_loc("x3")
    expected = np.abs(phi[:, i, j] + phi[:, j, i]).mean()
    assert inter.strength.loc["x2", "x3"] == pytest.approx(expected, rel=1e-4)
    assert inter.strength.loc["x0", "x0"] == pytest.approx(np.abs(phi[:, 0, 0]).mean(), rel=1e-4)


def test_permutation_importance_equals_sklearn(model_data, dask_client):
    from sklearn.inspection import permutation_importance as sk_perm

    model, X, y = model_data
    rows, labels = X.iloc[:1_500], y[:1_500]
    ours = mx.permutation_importance(model, rows, labels, n_repeats=3, random_state=7, n_rows=None, client=dask_client)
    oracle = sk_perm(model, rows, labels, n_repeats=3, random_state=7)
    expected = pd.Series(oracle.importances_mean, index=rows.columns)
    np.testing.assert_allclose(ours["importance_mean"], expected[ours.index], atol=1e-12)
    assert ours.index[0] == "x0"
    assert (ours["ci_low"] <= ours["importance_mean"]).all()


def test_permutation_importance_on_dask_with_label_column(model_data, dask_client):
    import dask.dataframe as dd

    model, X, y = model_data
    ddf = dd.from_pandas(X.assign(label=y), npartitions=4)
    out = mx.permutation_importance(model, ddf, "label", n_repeats=2, n_rows=3_000, client=dask_client)
    assert out.attrs["n_rows"] == 3_000 and "label" not in out.index
    assert out.index[:2].tolist() == ["x0", "x1"]


def test_surrogate_fidelity(model_data):
    model, X, _ = model_data
    shallow = mx.surrogate_tree(model, X, max_depth=2, n_rows=5_000)
    deep = mx.surrogate_tree(model, X, max_depth=6, n_rows=5_000)
    assert 0 < shallow.fidelity_r2 < deep.fidelity_r2 <= 1
    assert deep.agreement is not None and 0.5 < shallow.agreement <= deep.agreement <= 1
    assert shallow.importance.index[0] in {"x0", "x1"}
    assert "x0" in shallow.rules and "fidelity R^2" in shallow.summary()


def test_plots_are_plotly_figures(sample_result):
    import plotly.graph_objects as go

    from mlkit.plotting import figure_html

    res = sample_result
    label = res.index[0]
    bee = plots.beeswarm(res, max_display=5, max_points=300)
    assert len(bee.data) == 5 and all(len(t.x) == 300 for t in bee.data)
    b = plots.bar(res.importance(), max_display=6)
    assert list(b.data[0].y)[::-1] == res.importance().index[:6].tolist()
    dep = plots.dependence(res, "x2", color="x3", highlight=label)
    assert len(dep.data) == 2 and dep.data[1].y[0] == pytest.approx(res.row(label)["x2"])
    wf = plots.waterfall(res, label, max_display=5)
    assert isinstance(wf.data[0], go.Waterfall)
    assert sum(wf.data[0].x[:-1]) == pytest.approx(res.predictions()[0], abs=1e-5)  # base + deltas = output
    assert wf.data[0].x[-1] == pytest.approx(res.predictions()[0], abs=1e-5)
    grp = plots.group_comparison(res.by_group(np.where(res.data["x0"] > 0, "pos", "neg")))
    assert len(grp.data) == 1
    for fig in (bee, b, dep, wf, grp):
        assert "Plotly.newPlot" in figure_html(fig)
    with pytest.raises(mx.ExplainError, match="unknown feature"):
        plots.dependence(res, "nope")


def test_shap_explorer_widget(sample_result):
    from widgets import ShapExplorer

    res = sample_result
    ex = ShapExplorer(res)
    assert ex.feature.value == res.importance(method="normal").index[0]
    first_html = ex.status.value
    # Pick by position.
    ex.position.value = 5
    assert ex._state["position"] == 5 and str(res.index[5]) in ex.status.value
    assert ex.status.value != first_html
    # Pick by index label.
    label = res.index[42]
    ex.row_id.value = str(label)
    assert ex._state["position"] == 42 and ex.position.value == 42
    # Pick by filter: the first row with x0 > 2.
    ex.query.value = "x0 > 2"
    first = res.data.index[res.data["x0"] > 2][0]
    assert ex._state["label"] == first and "match the filter" in ex.status.value
    # Pick a feature: the status names it and its contribution for the highlighted row.
    ex.feature.value = "x3"
    state = ex.state_at(position=ex._state["position"], feature="x3")
    assert state["feature_shap"] == pytest.approx(res.row(first)["x3"])
    assert "x3 = " in ex.status.value
    # Bad choices are reported, the row is kept.
    bad = ex.state_at(row_id="not-a-row")
    assert "not among" in bad["message"] and bad["position"] == ex._state["position"]
    assert "filter failed" in ex.state_at(query="x0 >>> 1")["message"]
    assert f"Row {first}" in ex.waterfall_fig.layout.title.text
    assert ex.dependence_fig.layout.xaxis.title.text == "x3"
    assert ex.dependence_fig.data[1].name == f"row {first}"
