import socket
import time

import pytest

import mlkit.compute as mc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_machine_resources_are_consistent():
    res = mc.machine_resources()
    assert 1 <= res["usable_cores"] <= res["logical_cores"]
    assert 0 < res["memory_available"] <= res["memory_total"]


@pytest.mark.parametrize(
    ("cores", "expected_workers", "expected_threads"),
    [(1, 1, 1), (2, 2, 1), (8, 8, 1), (16, 8, 2), (64, 32, 2)],
)
def test_local_cluster_shape(cores, expected_workers, expected_threads):
    n, threads, memory = mc._local_cluster_shape({"usable_cores": cores, "memory_total": 16 * 2**30})
    assert (n, threads) == (expected_workers, expected_threads)
    assert memory == int(16 * 2**30 * 0.8 / expected_workers)


def test_client_is_started_once_on_loopback(dask_client):
    assert mc.client() is dask_client
    info = mc.cluster_info(dask_client)
    n, threads, _ = mc._local_cluster_shape(mc.machine_resources())
    assert info.kind == "local"
    assert (info.n_workers, info.total_threads) == (n, n * threads)
    assert info.scheduler_address.startswith("tcp://127.0.0.1:")
    assert all(w["host"] == "127.0.0.1" for w in info.workers)
    if info.dashboard_link:
        assert "127.0.0.1" in info.dashboard_link
    assert dask_client.submit(sum, [1, 2, 3]).result() == 6


def test_unreachable_scheduler_names_address_and_keeps_session(dask_client):
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(mc.SchedulerUnreachableError, match=address):
        mc.client(address, timeout=2)
    assert time.monotonic() - start < 30
    # A failed connect must not tear down the working local cluster.
    assert mc.client() is dask_client and dask_client.status == "running"


def test_unreachable_scheduler_from_env_within_30s(monkeypatch, dask_client):
    address = f"tcp://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLKIT_SCHEDULER", address)
    start = time.monotonic()
    with pytest.raises(mc.SchedulerUnreachableError, match=rf"{address}.*MLKIT_SCHEDULER"):
        mc.client()  # default timeout: the acceptance bound is 30 s
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("bad", ["", "   ", "tcp://no-port", "tcp://host:port", "http://a b:1"])
def test_malformed_address_refused(bad):
    with pytest.raises(ValueError, match="scheduler address"):
        mc.client(bad)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1000"])
def test_bad_connect_timeout_env(monkeypatch, value):
    monkeypatch.setenv("MLKIT_CONNECT_TIMEOUT", value)
    with pytest.raises(ValueError, match="MLKIT_CONNECT_TIMEOUT"):
        mc.client("tcp://127.0.0.1:1")


def test_device_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dev = mc.device()
    assert dev.kind == "cpu" and dev.gpu_count == 0 and not dev.cuda_available
    assert dev.xgboost_params == {"device": "cpu", "tree_method": "hist"}
    assert (dev.torch_device, dev.torch_amp_dtype) == ("cpu", "bfloat16")
    with pytest.raises(RuntimeError, match="CUDA was requested"):
        mc.device("cuda")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        mc.device("tpu")


def test_device_reports_gpus_and_respects_override(monkeypatch):
    import torch

    class Props:
        name = "Fake H100"
        total_memory = 80 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: Props())
    dev = mc.device()
    assert dev.kind == "cuda" and dev.gpu_count == 2
    assert dev.gpu_names == ["Fake H100"] * 2 and dev.gpu_memory == [80 * 2**30] * 2
    assert dev.xgboost_params["device"] == "cuda"
    assert (dev.torch_device, dev.torch_amp_dtype) == ("cuda", "float16")
    monkeypatch.setenv("MLKIT_DEVICE", "cpu")
    assert mc.device().kind == "cpu"


def test_device_matches_real_torch():
    import torch

    dev = mc.device()
    assert dev.cuda_available == torch.cuda.is_available()
    assert dev.kind == ("cuda" if torch.cuda.is_available() else "cpu")


def _concat(*parts):
    return [x for p in parts for x in p]


def test_tree_reduce_on_the_cluster_with_progress_and_locally(dask_client, capsys):
    import dask

    parts = [dask.delayed(lambda i: [i], pure=True)(i) for i in range(20)]
    # merge is associative but not commutative: the order of partitions must survive
    assert mc.tree_reduce(parts, _concat, desc="demo") == list(range(20))
    shown = capsys.readouterr()
    assert "demo: 20 partitions in groups of 8" in shown.out + shown.err
    with dask.config.set(scheduler="sync"):  # the caller's choice wins: no cluster, no bar
        assert mc.tree_reduce(parts, _concat, desc="demo") == list(range(20))
    shown = capsys.readouterr()
    assert "demo" not in shown.out + shown.err
    assert mc.tree_reduce(parts[:3], _concat, desc="demo", progress=False) == [0, 1, 2]
