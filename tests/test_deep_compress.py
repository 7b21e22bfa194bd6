"""mlkit.deep.compress and mlkit.deep.distributed: quantization, pruning, distillation, DDP over Dask."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlkit.deep import ParquetStream, TabularMLP, evaluate, fit, fit_spec
from mlkit.deep.compress import (
    XGBoostTeacher,
    fit_xgboost,
    model_size,
    prune_magnitude,
    quantize_dynamic,
    sparsity,
)
from tests.test_deep import CAT, NUM, _frame


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    root = tmp_path_factory.mktemp("deep_compress")
    for i in range(6):
        pq.write_table(pa.Table.from_pandas(_frame(500, seed=10 + i, start=500 * i), preserve_index=False),
                       root / f"part.{i}.parquet")
    spec = fit_spec(root, numeric=NUM, categorical=CAT, target="label")
    return ParquetStream(root, spec, batch_size=200, buffer_rows=1000).split(1 / 3, seed=0)


@pytest.fixture(scope="module")
def trained(streams):
    train, valid = streams
    torch.manual_seed(0)
    model = TabularMLP.for_spec(train.spec, hidden=(128, 64), dropout=0.0)
    fit(model, train, valid, epochs=3, lr=3e-3, progress=False, carbon=False)
    return model


def test_int8_quantization_keeps_predictions_and_shrinks(trained, streams):
    _, valid = streams
    q = quantize_dynamic(trained)
    assert "DynamicQuantizedLinear" in repr(q)
    x_num, x_cat, _ = next(iter(valid))
    with torch.no_grad():
        p_fp32 = torch.sigmoid(trained.eval()(x_num, x_cat))
        p_int8 = torch.sigmoid(q(x_num, x_cat))
    assert float((p_fp32 - p_int8).abs().max()) < 0.05
    assert model_size(q)["bytes"] < 0.5 * model_size(trained)["bytes"]
    assert abs(evaluate(q, valid)["accuracy"] - evaluate(trained, valid)["accuracy"]) < 0.02


def test_magnitude_pruning_zeroes_the_smallest_weights(trained):
    pruned = prune_magnitude(trained, 0.6)
    assert sparsity(pruned) == pytest.approx(0.6, abs=0.01)
    assert sparsity(trained) < 0.01  # the original is untouched
    # Global magnitude: every kept weight is at least as large as every removed one.
    w_old = torch.cat([m.weight.flatten() for m in trained.modules() if isinstance(m, torch.nn.Linear)]).abs()
    w_new = torch.cat([m.weight.flatten() for m in pruned.modules() if isinstance(m, torch.nn.Linear)])
    assert w_old[w_new != 0].min() >= w_old[w_new == 0].max()
    assert model_size(pruned)["compressed_bytes"] < model_size(trained)["compressed_bytes"]


def test_distillation_from_xgboost_teacher(streams):
    from sklearn.metrics import roc_auc_score

    train, valid = streams
    booster = fit_xgboost(train, valid=valid, num_boost_round=60)
    teacher = XGBoostTeacher(booster)
    p, y = teacher.predict_proba(valid, return_labels=True)
    assert roc_auc_score(y, p) > 0.8
    torch.manual_seed(0)
    student = TabularMLP.for_spec(train.spec, hidden=(8,), dropout=0.0)
    fit(student, train, epochs=3, lr=1e-2, soft_targets=teacher, distill_alpha=1.0, progress=False, carbon=False)
    # With alpha=1 the student learns only from the teacher: it must agree with it closely.
    x_num, x_cat, _ = next(iter(valid))
    with torch.no_grad():
        ps = torch.sigmoid(student.eval()(x_num, x_cat)).numpy()
    pt = torch.sigmoid(teacher(x_num, x_cat)).numpy()
    assert np.corrcoef(ps, pt)[0, 1] > 0.9


def test_ddp_on_two_dask_workers_ends_with_identical_parameters(streams, dask_client):
    from mlkit.deep.distributed import fit_distributed, parameter_digest

    train, valid = streams
    if len(dask_client.scheduler_info()["workers"]) < 2:
        pytest.skip("needs a cluster of 2 workers")
    config = TabularMLP.for_spec(train.spec, hidden=(32,), dropout=0.0).config
    res = fit_distributed(config, train, client=dask_client, n_workers=2, epochs=2, lr=3e-3, amp=False)
    assert res.backend == "gloo" and len(res.ranks) == 2
    assert res.identical_parameters and {r["rank"] for r in res.ranks} == {0, 1}
    assert parameter_digest(res.model) == res.ranks[0]["digest"]
    assert res.ranks[0]["steps_per_epoch"] == res.ranks[1]["steps_per_epoch"] > 0
    assert evaluate(res.model, valid)["auc"] > 0.75
