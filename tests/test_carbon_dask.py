"""Dask plugins: each host counted once, per-prefix attribution sums to the host total."""

from __future__ import annotations

import time

import pytest

from mlkit.carbon.dask import NO_TASK, DaskCarbonTracker
from tests.test_carbon import make_rapl


def burn(seconds: float, tag: int = 0) -> float:
    start = time.process_time()
    x = 0
    while time.process_time() - start < seconds:
        x += 1
    return seconds


def n_workers(client) -> int:
    return len(client.scheduler_info()["workers"])


def test_host_counters_are_counted_once_however_many_workers(dask_client, tmp_path):
    if n_workers(dask_client) < 2:
        pytest.skip("needs a cluster with at least 2 workers on this host")
    zone = make_rapl(tmp_path / "powercap", pkg=1_000_000, dram=None)
    tracker = DaskCarbonTracker(dask_client, intensity=400, rapl_root=str(tmp_path / "powercap"), gpu=False)
    with tracker:
        futures = [dask_client.submit(burn, 0.2, i, pure=False) for i in range(4)]
        dask_client.gather(futures)
        (zone / "energy_uj").write_text("6000000\n")  # the package used 5 J on this host
    fp = tracker.last
    assert len(fp.by_host) == 1
    host = fp.by_host.iloc[0]
    assert host["n_workers"] == n_workers(dask_client)
    assert host["energy_cpu_j"] == pytest.approx(5.0)  # once, not once per worker
    assert "cpu=measured" in host["methods"] and "rapl:package-0" in host["sources"]
    assert fp.by_prefix["energy_j"].sum() == pytest.approx(fp.energy_j)
    burn_row = fp.by_prefix[fp.by_prefix["prefix"] == "burn"].iloc[0]
    assert burn_row["n_tasks"] == 4
    assert burn_row["compute_s"] >= 0.7
    assert fp.by_worker["energy_j"].sum() == pytest.approx(fp.energy_j)


def test_estimates_attribute_energy_to_task_prefixes(dask_client):
    tracker = DaskCarbonTracker(dask_client, intensity=400, gpu=False, rapl_root="/nonexistent/powercap")
    with tracker:
        a = [dask_client.submit(burn, 0.3, i, pure=False, key=f"heavy-{i}") for i in range(4)]
        b = [dask_client.submit(burn, 0.05, i, pure=False, key=f"light-{i}") for i in range(4)]
        dask_client.gather(a + b)
    fp = tracker.last
    assert fp.method == "estimated"
    rows = fp.by_prefix.set_index("prefix")
    assert rows.loc["heavy", "n_tasks"] == 4 and rows.loc["light", "n_tasks"] == 4
    assert rows.loc["heavy", "energy_j"] > 2 * rows.loc["light", "energy_j"]
    assert (rows["energy_low_j"] <= rows["energy_j"]).all() and (rows["energy_j"] <= rows["energy_high_j"]).all()
    assert fp.by_prefix["energy_j"].sum() == pytest.approx(fp.energy_j)
    assert fp.by_host["cpu_s"].sum() >= 1.2  # 4 × 0.3 s + 4 × 0.05 s of task CPU
    assert set(rows.index) <= {"heavy", "light", NO_TASK}
    # restartable: a second interval measures only its own work
    with tracker:
        dask_client.gather([dask_client.submit(burn, 0.1, 9, pure=False, key="again-0")])
    assert set(tracker.last.by_prefix["prefix"]) <= {"again", NO_TASK}
    assert len(tracker.intervals) == 2
