"""widgets.ThresholdExplorer: state_at against scikit-learn, and the slider driving the view."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlkit.imbalance import ImbalanceError
from widgets import ThresholdExplorer


def _data(n=5_000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype(int)
    a = 1 / (1 + np.exp(-(rng.normal(-3.5, 1.2, n) + 2.5 * y)))
    b = 1 / (1 + np.exp(-(rng.normal(-3.0, 1.5, n) + 1.5 * y)))
    return y, a, b


def test_state_at_matches_sklearn_for_both_models():
    y, a, b = _data()
    ex = ThresholdExplorer(y, {"strong": a, "weak": b}, cost_matrix=[[0, 1], [5, 0]], threshold=0.3)
    s = ex.state_at(0.2)
    for name, p in (("strong", a), ("weak", b)):
        pred = (p >= 0.2).astype(int)
        tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
        m = s["models"][name]
        assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
        assert m["precision"] == pytest.approx(skm.precision_score(y, pred))
        assert m["recall"] == pytest.approx(skm.recall_score(y, pred))
        assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
        assert m["expected_cost"] == pytest.approx((fp + 5 * fn) / len(y))
        assert m["exact"] and m["threshold_used"] == 0.2


def test_moving_the_slider_updates_tables_and_figure():
    y, a, b = _data()
    ex = ThresholdExplorer(y, {"strong": a, "weak": b}, cost_matrix=[[0, 1], [5, 0]], threshold=0.5)
    before = {n: t.value for n, t in ex.tables.items()}
    marker_before = ex.figure.data[1].x[0]
    ex.slider.value = 0.1
    after = {n: t.value for n, t in ex.tables.items()}
    assert all(before[n] != after[n] for n in before)
    s = ex.state_at(0.1)["models"]["strong"]
    assert f"{s['tp']:,}" in after["strong"] and f"{s['expected_cost']:.4f}" in after["strong"]
    assert "t = 0.1000" in after["strong"]
    # the PR marker moved to the new recall (lower threshold -> higher recall)
    assert ex.figure.data[1].x[0] == pytest.approx(s["recall"]) and s["recall"] > marker_before
    assert "Bayes threshold" in ex.bayes.value and "0.167" in ex.bayes.value
    assert ex.chart.outputs and "text/html" in ex.chart.outputs[0]["data"]
    assert "<table" in ex.to_html()


def test_dask_scores_go_through_one_histogram_pass(dask_client):
    y, a, _ = _data(n=20_000)
    df = dd.from_pandas(pd.DataFrame({"y": y, "a": a}), npartitions=3)
    ex_d = ThresholdExplorer(df["y"], df["a"], threshold=0.25)
    ex_p = ThresholdExplorer(y, a, threshold=0.25)
    sd, sp = ex_d.state_at(0.25)["models"]["model"], ex_p.state_at(0.25)["models"]["model"]
    assert not sd["exact"]
    # 0.25 is a bin edge: identical counts
    assert (sd["tp"], sd["fp"], sd["fn"], sd["tn"]) == (sp["tp"], sp["fp"], sp["fn"], sp["tn"])


def test_bad_input():
    y, a, b = _data(n=200)
    with pytest.raises(ImbalanceError, match="one or two models"):
        ThresholdExplorer(y, {"a": a, "b": b, "c": a})
    with pytest.raises(ImbalanceError, match="single class"):
        ThresholdExplorer(np.zeros(200, int), a)
    with pytest.raises(ImbalanceError, match="2x2"):
        ThresholdExplorer(y, a, cost_matrix=[1, 5])
    with pytest.raises(ImbalanceError, match=r"threshold must be in \[0, 1\]"):
        ThresholdExplorer(y, a).state_at(1.5)
