"""mlkit.fairness on Dask: same counts as pandas, and an audit that survives a killed worker."""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mlkit.fairness import FairnessWarning, audit

N_PARTS = 12
ROWS = 20_000


def _make(i: int) -> pd.DataFrame:
    """One deterministic partition."""
    rng = np.random.default_rng([11, i])
    g = rng.choice(["a", "b", "c"], ROWS, p=[0.5, 0.3, 0.2])
    y = (rng.random(ROWS) < 0.3).astype(np.int8)
    score = np.clip(0.25 + 0.3 * y - 0.1 * (g == "c") + rng.normal(0, 0.2, ROWS), 0, 1)
    return pd.DataFrame({"y": y, "score": score, "g": g, "w": rng.choice([0.5, 1.0, 2.0], ROWS)})


def _part(i: int) -> pd.DataFrame:
    """A partition slow enough that a worker can be killed mid-audit."""
    time.sleep(0.4)
    return _make(i)


def _frame():
    import dask.dataframe as dd

    meta = _make(0).iloc[:0]
    return dd.from_map(_part, list(range(N_PARTS)), meta=meta, enforce_metadata=False)


def _assert_same(a, b):
    for name in ("counts_w", "counts_n", "counts_w2", "hist_w", "hist_n", "boot"):
        np.testing.assert_array_equal(getattr(a.counts, name), getattr(b.counts, name), err_msg=name)
    assert a.keys == b.keys


def test_dask_equals_pandas(dask_client):
    import cloudpickle
    import dask.dataframe as dd

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    pdf = pd.concat([_make(i) for i in range(3)], ignore_index=True)
    ddf = dd.from_pandas(pdf, npartitions=3)
    kw = {"y_score": "score", "sensitive": "g", "sample_weight": "w", "n_bootstrap": 50}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FairnessWarning)
        a = audit("y", data=pdf, **kw)
        b = audit("y", data=ddf, **kw)
        c = audit(ddf["y"], y_score=ddf["score"], sensitive=ddf["g"], sample_weight=ddf["w"], n_bootstrap=50)
    np.testing.assert_array_equal(a.counts.counts_n, b.counts.counts_n)
    np.testing.assert_array_equal(a.counts.hist_n, b.counts.hist_n)
    cols = ["selection_rate", "tpr", "fpr", "precision", "accuracy", "auc"]
    pd.testing.assert_frame_equal(a.by_group[cols], b.by_group[cols], rtol=0, atol=1e-12)
    _assert_same(b, c)


@pytest.mark.cluster
def test_audit_survives_a_killed_worker():
    """Kill a worker process mid-audit: Dask recomputes its partitions, the result is identical."""
    import cloudpickle
    from distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    kw = {"y_score": "score", "sensitive": "g", "sample_weight": "w", "n_bootstrap": 200, "seed": 4,
          "progress": False}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster, Client(cluster) as client:
        reference = audit("y", data=_frame(), **kw)
        pids_before = set(client.run(os.getpid).values())
        result: dict = {}

        def run() -> None:
            try:
                result["audit"] = audit("y", data=_frame(), **kw)
            except BaseException as exc:  # noqa: BLE001 - reported below
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        # Wait until the audit's tasks are running, then kill one worker's process outright.
        deadline = time.time() + 30
        while time.time() < deadline and not any(client.processing().values()):
            time.sleep(0.05)
        time.sleep(0.6)
        still_running = thread.is_alive()
        victim = sorted(client.scheduler_info()["workers"])[0]
        with pytest.raises(Exception):  # noqa: B017 - the worker dies before it can answer
            client.run(os._exit, 1, workers=[victim])
        thread.join(timeout=120)
        assert still_running, "the audit finished before the worker was killed; the test proves nothing"
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
        client.wait_for_workers(2, timeout=60)
        pids_after = set(client.run(os.getpid).values())
        assert pids_after != pids_before, "no worker process was replaced"
    _assert_same(reference, result["audit"])
    pd.testing.assert_frame_equal(reference.criteria(), result["audit"].criteria())
