"""The flagship report: a complete model card for both bundled datasets and both model kinds."""

import json

import numpy as np
import pandas as pd
import pytest

from mlkit.cli import main
from mlkit.export import network_resources
from mlkit.modelcard import load_card_data, numeric_view


def test_card_data_resolves_bundled_datasets():
    adult = load_card_data("adult", sensitive=["sex"], max_rows=5_000, seed=1)
    assert adult.label == "income" and "sex" not in adult.features and len(adult.frame) <= 5_000
    assert abs(adult.frame["income"].mean() - 0.2393) < 0.01  # stratified sample keeps the prevalence
    german = load_card_data("german_credit", sensitive=["sex"])
    # sex is audited, so neither it nor the column that encodes it is a feature.
    assert "sex" not in german.features and "personal_status_sex" not in german.features
    assert (german.cost_matrix.c10, german.cost_matrix.c01) == (5.0, 1.0)
    custom = load_card_data("german_credit", cost_matrix=[[0, 2], [3, 0]])
    assert (custom.cost_matrix.c01, custom.cost_matrix.c10) == (2.0, 3.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dataset": "no/such/file.parquet"}, FileNotFoundError, "neither a bundled dataset"),
        ({"dataset": "adult", "label": "salary"}, KeyError, "label column 'salary'"),
        ({"dataset": "adult", "sensitive": ["gender"]}, KeyError, r"\['gender'\] not in the dataset"),
        ({"dataset": "adult", "label": "age"}, ValueError, "must be binary"),
        ({"dataset": "adult", "sensitive": ["income"]}, ValueError, "cannot also be a sensitive"),
        ({"dataset": "adult", "cost_matrix": [[0, 1, 2]]}, ValueError, "cost_matrix"),
    ],
)
def test_card_data_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_card_data(**kwargs)


def test_card_data_from_parquet_needs_a_label(tmp_path):
    frame = pd.DataFrame({"x": np.arange(200.0), "g": ["a", "b"] * 100, "y": [0, 1] * 100})
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match="name the label column"):
        load_card_data(str(tmp_path / "d.parquet"))
    data = load_card_data(str(tmp_path / "d.parquet"), label="y", sensitive=["g"])
    assert data.features == ["x"] and data.name == "d"


def test_numeric_view_round_trips_categoricals():
    X = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": pd.Categorical(["a", None, "b"]), "s": ["u", "v", "u"]})
    seen = []

    class Model:
        def predict_proba(self, frame):
            seen.append(frame)
            return np.column_stack([np.zeros(len(frame)), np.arange(len(frame), dtype=float)])

    fn, coded = numeric_view(Model(), X)
    assert all(pd.api.types.is_numeric_dtype(coded[c]) for c in coded)
    assert list(fn(coded.to_numpy())) == [0.0, 1.0, 2.0]
    back = seen[-1]
    assert back["c"].isna().tolist() == [False, True, False] and back["c"].iloc[2] == "b"
    assert back["s"].tolist() == ["u", "v", "u"] and back["n"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("profile", "params", "expect"),
    [
        # (adult + xgboost in the ci profile is the manifest entry run by test_notebooks.py)
        ("ci", ["-p", "dataset=german_credit", "-p", "sensitive=sex,age_group"], {"dataset": "german_credit", "model": "xgboost"}),
        ("smoke", ["-p", "dataset=adult", "-p", "model=torch_mlp", "-p", "sensitive=sex"], {"dataset": "adult", "model": "torch_mlp"}),
    ],
    ids=["german_credit-xgboost", "adult-torch_mlp"],
)
def test_model_card_cli(tmp_path, profile, params, expect):
    assert main(["report", "model_card", "--profile", profile, "-o", str(tmp_path), *params]) == 0
    summary = json.loads((tmp_path / "model_card.json").read_text())["records"]["summary"]
    for key, value in expect.items():
        assert summary[key] == value
    assert 0.5 < summary["roc_auc"] <= 1 and 0 <= summary["threshold"] <= 1
    assert summary["expected_cost"] <= summary["expected_cost_at_0_5"] + 0.05  # tuned on validation, judged on test
    assert len(summary["top_features"]) == 5 and summary["features"] >= 5
    assert set(summary["fairness_verdicts"]) == {"demographic_parity", "equal_opportunity", "equalized_odds", "predictive_parity"}
    assert set(summary["fairness_verdicts"].values()) <= {"pass", "fail", "inconclusive"}
    assert summary["energy_j"] > 0 and summary["energy_method"] in {"measured", "estimated"}
    html = (tmp_path / "model_card.html").read_text()
    assert network_resources(html) == [] and html.count("Plotly.newPlot") >= 4 and "Carbon footprint" in html
