"""widgets.FairnessDashboard: interaction simulated by setting widget values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlkit.fairness import FairnessWarning


@pytest.fixture
def dash():
    from widgets import FairnessDashboard

    rng = np.random.default_rng(0)
    n = 20_000
    g = rng.choice(["A", "B"], n)
    r = rng.choice(["x", "y", "z"], n)
    y = (rng.random(n) < 0.3).astype(int)
    score = np.clip(0.3 + 0.35 * y - 0.15 * (g == "B") + rng.normal(0, 0.15, n), 0, 1)
    df = pd.DataFrame({"y": y, "score": score, "g": g, "r": r})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FairnessWarning)
        return FairnessDashboard(df, "y", y_score="score", sensitive=["g", "r"], n_bootstrap=100), df


def test_sliders_move_the_state(dash):
    d, df = dash
    assert set(d.sliders) == {"A", "B"}
    before = d.state_html.value
    st0 = d.state_at()
    d.sliders["B"].value = 0.3  # lower B's threshold: more of B selected, gap closes
    st1 = d.state_at()
    assert d.state_html.value != before
    exp = float((df.loc[df.g == "B", "score"] >= 0.3).mean())
    assert st1["by_group"]["B"]["selection_rate"] == pytest.approx(exp, abs=1e-3)
    assert st1["disparity"] < st0["disparity"]
    assert f"{st1['accuracy']:.3f}" in d.state_html.value


def test_metric_and_sensitive_selection(dash):
    d, _ = dash
    d.metric.value = "tpr"
    assert d.state_at()["metric"] == "tpr"
    assert "tpr disparity" in d.state_html.value
    d.sensitive.value = ("g", "r")
    assert len(d.sliders) == 6 and "A & x" in d.sliders
    assert len(d.current.keys) == 6
    assert "demographic_parity" in d.verdict_html.value
    assert any(v in d.verdict_html.value for v in ("pass", "fail", "inconclusive"))
    d.sensitive.value = ("g",)
    assert d.audit_for(("g",)) is d.current  # cached
