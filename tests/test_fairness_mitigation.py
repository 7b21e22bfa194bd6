"""mlkit.fairness.mitigation: reweighing's known answer, and the comparison of mitigations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlkit.fairness.mitigation import compare_mitigations, reweighing_weights


def test_reweighing_known_answer_pandas_and_dask():
    import dask.dataframe as dd

    # 2 groups x 2 labels with counts: a0=30 a1=10 b0=50 b1=10 (n=100).
    df = pd.DataFrame({"y": [0] * 30 + [1] * 10 + [0] * 50 + [1] * 10, "g": ["a"] * 40 + ["b"] * 60})
    w = reweighing_weights("y", "g", data=df)
    # w(g, y) = n_g n_y / (n n_gy): a0 = 40*80/(100*30), a1 = 40*20/(100*10), ...
    expect = {("a", 0): 40 * 80 / 3000, ("a", 1): 40 * 20 / 1000, ("b", 0): 60 * 80 / 5000, ("b", 1): 60 * 20 / 1000}
    got = pd.Series(w).groupby([df["g"], df["y"]]).first().to_dict()
    assert got == pytest.approx(expect, abs=1e-12)
    assert w.sum() == pytest.approx(len(df))
    # After reweighing, the weighted base rate is the same in every group (the overall 0.2).
    rates = pd.Series(w * df["y"]).groupby(df["g"]).sum() / pd.Series(w).groupby(df["g"]).sum()
    np.testing.assert_allclose(rates, 0.2, atol=1e-12)
    wd = reweighing_weights("y", "g", data=dd.from_pandas(df, npartitions=3)).compute().to_numpy()
    np.testing.assert_allclose(wd, w, atol=1e-12)
    np.testing.assert_allclose(reweighing_weights(df["y"].to_numpy(), df["g"]), w, atol=1e-12)


def test_compare_mitigations_thresholds_close_the_gap():
    from sklearn.linear_model import LogisticRegression

    from mlkit.fairness.examples import scored_dataset

    sd = scored_dataset("synthetic", n_rows=20_000, bias=0.3, seed=1)
    feats = [f for f in sd.features if f.startswith("num_")]
    cmp = compare_mitigations(
        LogisticRegression(max_iter=500), sd.train[feats], sd.train[sd.label], sd.train["group"],
        sd.test[feats], sd.test[sd.label], sd.test["group"], n_bootstrap=200, reductions_max_iter=10,
    )
    t = cmp.table
    assert list(t.index) == ["baseline", "reweighing", "thresholds", "reductions"]
    assert (t["accuracy_low"] <= t["accuracy"]).all() and (t["accuracy"] <= t["accuracy_high"]).all()
    # The baseline under-selects group B; group thresholds for demographic parity remove most of it.
    assert t.loc["baseline", "verdict"] == "fail"
    assert t.loc["thresholds", "disparity"] < 0.5 * t.loc["baseline", "disparity"]
    assert t.loc["reductions", "disparity"] < t.loc["baseline", "disparity"]
    fig = cmp.figure()
    assert len(fig.data) == 2
