"""mlkit.deep: streaming dataset, model, training loop, checkpoints, bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mlkit.deep import (
    CheckpointMismatchError,
    NonFiniteLossError,
    ParquetStream,
    PartitionSchemaError,
    TabularMLP,
    activation_memory,
    evaluate,
    fit,
    fit_spec,
    load_checkpoint,
    make_loader,
)

NUM = ["row_id", "x0", "x1", "x2"]
CAT = ["ca", "cb"]


def _frame(n: int, seed: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    ca = rng.choice(["a", "b", "c", "d"], size=n)
    cb = rng.integers(0, 5, size=n)
    z = 2.0 * x[:, 0] - 1.5 * x[:, 1] + np.where(ca == "a", 1.5, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("int8")
    df = pd.DataFrame({"row_id": np.arange(start, start + n, dtype="int64"), "x0": x[:, 0], "x1": x[:, 1],
                       "x2": x[:, 2], "ca": pd.Categorical(ca), "cb": cb, "label": y})
    df.loc[df.index[::97], "x2"] = np.nan
    return df


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """8 files x 500 rows, one row group each, with a planted signal."""
    root = tmp_path_factory.mktemp("deep_ds")
    frames = []
    for i in range(8):
        df = _frame(500, seed=i, start=500 * i)
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), root / f"part.{i}.parquet")
        frames.append(df)
    return root, pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def spec(dataset):
    return fit_spec(dataset[0], numeric=NUM, categorical=CAT, target="label")


def _ids(batches, spec) -> np.ndarray:
    return np.concatenate([b[0][:, 0].numpy() * spec.std["row_id"] + spec.mean["row_id"] for b in batches]).round().astype(int)


# --------------------------------------------------------------------------- streaming


def test_fit_spec_matches_pandas(dataset, spec):
    _, df = dataset
    for c in ["x0", "x2"]:
        assert spec.mean[c] == pytest.approx(df[c].mean(), rel=1e-9)
        assert spec.std[c] == pytest.approx(df[c].std(ddof=0), rel=1e-9)
    assert spec.levels["ca"] == ["a", "b", "c", "d"]
    assert spec.levels["cb"] == ["0", "1", "2", "3", "4"]
    assert spec.n_rows == 4000 and spec.n_pos == int(df["label"].sum())
    assert spec.cardinalities == [5, 6]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_every_row_once_per_epoch_and_codes_match_pandas(dataset, spec, num_workers):
    _, df = dataset
    stream = ParquetStream(dataset[0], spec, batch_size=128, buffer_rows=1000, drop_last=False, seed=3)
    batches = list(make_loader(stream, num_workers=num_workers))
    ids = _ids(batches, spec)
    assert sorted(ids.tolist()) == list(range(4000))
    # Codes against pandas Categorical codes (+1: 0 is missing/unseen).
    codes = np.concatenate([b[1].numpy() for b in batches])
    expected = pd.Categorical(df["ca"].astype(str), categories=spec.levels["ca"]).codes[ids] + 1
    np.testing.assert_array_equal(codes[:, 0], expected)
    y = np.concatenate([b[2].numpy() for b in batches])
    np.testing.assert_array_equal(y, df["label"].to_numpy()[ids])
    # Standardised numbers; missing x2 became 0 (the mean).
    x2 = np.concatenate([b[0][:, 3].numpy() for b in batches])
    assert np.all(x2[df["x2"].isna().to_numpy()[ids]] == 0.0)


def test_shuffle_is_deterministic_per_seed_and_epoch_and_mixes_partitions(dataset, spec):
    stream = ParquetStream(dataset[0], spec, batch_size=128, buffer_rows=1000, seed=7)
    first = _ids(list(make_loader(stream, num_workers=2)), spec)
    again = _ids(list(make_loader(stream, num_workers=2)), spec)
    np.testing.assert_array_equal(first, again)
    stream.set_epoch(1)
    other = _ids(list(make_loader(stream, num_workers=2)), spec)
    assert not np.array_equal(first, other)
    # The shuffle buffer mixes rows of several files (500 rows each) within one batch.
    one_batch = _ids([next(iter(stream))], spec)
    assert len(set(one_batch // 500)) >= 2
    assert len(first) == stream.n_batches(num_workers=2) * 128


def test_split_and_shard_are_disjoint_and_complete(dataset, spec):
    stream = ParquetStream(dataset[0], spec, batch_size=100, drop_last=False)
    train, valid = stream.split(0.25, seed=1)
    assert {p.source for p in train.partitions}.isdisjoint({p.source for p in valid.partitions})
    assert train.n_rows + valid.n_rows == 4000 and valid.n_rows == 1000 and not valid.shuffle
    shards = [_ids(list(train.shard(r, 2)), spec) for r in range(2)]
    assert set(shards[0]).isdisjoint(shards[1])
    assert len(shards[0]) + len(shards[1]) == 3000


def test_dask_and_pandas_sources_stream_the_same_rows(dataset, spec):
    import dask.dataframe as dd

    _, df = dataset
    ddf = dd.from_pandas(df, npartitions=4)
    ids = _ids(list(ParquetStream(ddf, spec, batch_size=256, drop_last=False)), spec)
    assert sorted(ids.tolist()) == list(range(4000))
    ids_pd = _ids(list(ParquetStream(df, spec, batch_size=256, shuffle=False)), spec)
    np.testing.assert_array_equal(ids_pd, np.arange(4000))


def test_missing_column_names_partition_file_and_column(dataset, spec, tmp_path):
    for i in range(3):
        df = _frame(100, seed=i)
        if i == 2:
            df = df.drop(columns=["x1"])
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / f"p{i}.parquet")
    with pytest.raises(PartitionSchemaError, match=r"p2\.parquet.*'x1' is missing"):
        ParquetStream(tmp_path, spec)


def test_wrong_dtype_and_bad_labels_are_named(dataset, spec, tmp_path):
    df = _frame(100, seed=0)
    df["x0"] = df["x0"].astype(str)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "bad.parquet")
    with pytest.raises(PartitionSchemaError, match=r"bad\.parquet.*'x0' has dtype (large_)?string"):
        ParquetStream(tmp_path / "bad.parquet", spec)
    df = _frame(100, seed=0)
    df["label"] = df["label"].astype(float) * 2
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "lab.parquet")
    stream = ParquetStream(tmp_path / "lab.parquet", spec)
    with pytest.raises(PartitionSchemaError, match=r"lab\.parquet \(row group 0\).*'label' holds 2\.0"):
        list(stream)


def test_dask_partition_with_wrong_dtype_is_named(spec):
    import dask.dataframe as dd

    good, bad = _frame(100, seed=0), _frame(100, seed=1)
    bad["x1"] = bad["x1"].astype(str)
    ddf = dd.from_delayed([__import__("dask").delayed(lambda d: d)(f) for f in (good, bad)], meta=good.iloc[:0], verify_meta=False)
    stream = ParquetStream(ddf, spec, shuffle=False)
    with pytest.raises(PartitionSchemaError, match=r"dask partition 1: column 'x1' has dtype"):
        list(stream)


# --------------------------------------------------------------------------- model


def test_gradient_checkpointing_same_gradients_less_activation_memory():
    torch.manual_seed(0)
    plain = TabularMLP(4, [5, 6], hidden=[64] * 6, dropout=0.0)
    ckpt = TabularMLP(4, [5, 6], hidden=[64] * 6, dropout=0.0, gradient_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    x, c = torch.randn(256, 4), torch.randint(0, 5, (256, 2))
    for m in (plain, ckpt):
        m(x, c).square().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    full = activation_memory(plain, x, c)["saved_bytes"]
    less = activation_memory(ckpt, x, c)["saved_bytes"]
    assert less <= 0.6 * full


def test_activation_memory_known_answer():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 16, bias=False)

        def forward(self, x_num, x_cat):
            return torch.relu(self.lin(x_num))

    # Linear saves its input (100 x 8 floats; the weight is a parameter, not counted),
    # ReLU saves its output (100 x 16 floats).
    out = activation_memory(Net(), torch.randn(100, 8), torch.zeros(100, 0, dtype=torch.long))
    assert out["saved_bytes"] == 100 * 8 * 4 + 100 * 16 * 4


# --------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def streams(dataset, spec):
    stream = ParquetStream(dataset[0], spec, batch_size=200, buffer_rows=1500, seed=0)
    return stream.split(0.25, seed=0)


def _model(spec, **kw):
    torch.manual_seed(0)
    return TabularMLP.for_spec(spec, hidden=(32, 16), dropout=0.0, **kw)


def test_training_learns_the_planted_signal_with_amp_and_weights(streams, spec):
    train, valid = streams
    model = _model(spec)
    res = fit(model, train, valid, epochs=4, lr=3e-3, class_weight="balanced", amp=True, progress=False)
    assert res.amp_dtype == "bfloat16" and res.device == "cpu"
    assert res.history[-1]["valid_auc"] > 0.8
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert res.energy_j is not None and res.energy_j > 0 and res.energy_method in {"measured", "estimated"}
    assert res.rows_seen == 4 * train.n_batches() * 200


def test_balanced_class_weight_is_n_neg_over_n_pos(spec):
    from mlkit.deep.train import resolve_pos_weight

    w = resolve_pos_weight("balanced", spec)
    assert float(w) == pytest.approx(spec.n_neg / spec.n_pos, rel=1e-6)
    with pytest.raises(ValueError, match="class_weight"):
        resolve_pos_weight("bogus", spec)


def test_gradient_accumulation_equals_a_bigger_batch(dataset, spec):
    stream = ParquetStream(dataset[0], spec, batch_size=100, shuffle=False, drop_last=True)
    a, b = _model(spec), _model(spec)
    fit(a, stream, epochs=1, lr=0.05, optimizer="sgd", amp=False, accumulation_steps=2, progress=False, carbon=False)
    fit(b, stream.with_options(batch_size=200), epochs=1, lr=0.05, optimizer="sgd", amp=False, progress=False, carbon=False)
    for pa_, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa_, pb, rtol=1e-4, atol=1e-5)


def test_resume_from_checkpoint_reproduces_uninterrupted_training(streams, spec, tmp_path):
    train, _ = streams
    straight = _model(spec, )
    fit(straight, train, epochs=2, amp=False, progress=False, carbon=False, seed=5)
    resumed = _model(spec)
    fit(resumed, train, epochs=1, amp=False, progress=False, carbon=False, seed=5, checkpoint_dir=tmp_path)
    fresh = _model(spec)
    res = fit(fresh, train, epochs=2, amp=False, progress=False, carbon=False, seed=5, checkpoint_dir=tmp_path, resume=True)
    assert res.epochs_run == 1 and len(res.history) == 2
    for p1, p2 in zip(straight.parameters(), fresh.parameters()):
        torch.testing.assert_close(p1, p2)
    # The file is a plain state dict: loadable with weights_only=True.
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    assert payload["meta"]["epoch"] == 1 and payload["config"]["hidden"] == [32, 16]


def test_checkpoint_from_another_architecture_is_refused(streams, spec, tmp_path):
    train, _ = streams
    fit(_model(spec), train, epochs=1, progress=False, carbon=False, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    other = TabularMLP.for_spec(spec, hidden=(64,))
    with pytest.raises(CheckpointMismatchError, match=r"hidden: checkpoint \[32, 16\] vs model \[64\]"):
        load_checkpoint(tmp_path / "last.pt", other)
    with pytest.raises(CheckpointMismatchError):
        fit(other, train, epochs=2, progress=False, carbon=False, checkpoint_dir=tmp_path, resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(streams, spec, tmp_path):
    train, _ = streams
    model = _model(spec)
    fit(model, train, epochs=1, progress=False, carbon=False, checkpoint_dir=tmp_path)
    before = hashlib.sha256((tmp_path / "last.pt").read_bytes()).hexdigest()
    good = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 1.*last good checkpoint .*last\.pt \(end of epoch 0\)") as info:
        fit(model, train, epochs=3, lr=1e30, progress=False, carbon=False, checkpoint_dir=tmp_path, resume=True)
    assert info.value.last_good_checkpoint.endswith("last.pt")
    assert hashlib.sha256((tmp_path / "last.pt").read_bytes()).hexdigest() == before
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, good[k])


def test_early_stopping_restores_best_weights(streams, spec, tmp_path):
    train, valid = streams
    model = _model(spec)
    # min_delta larger than any possible gain: epoch 0 is the best, epoch 1 does not improve.
    res = fit(model, train, valid, epochs=5, patience=1, min_delta=10.0, progress=False, carbon=False, checkpoint_dir=tmp_path)
    assert res.stopped_early and res.epochs_run == 2 and res.best_epoch == 0
    best = torch.load(tmp_path / "best.pt", weights_only=True)["model"]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, best[k])
    assert evaluate(model, valid)["loss"] == pytest.approx(res.history[0]["valid_loss"], rel=1e-6)
