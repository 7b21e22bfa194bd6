"""Notebook 00 against a real external cluster: `dask scheduler` + two `dask worker` processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlkit.notebook import run
from mlkit.paths import notebooks_dir

pytestmark = [pytest.mark.cluster, pytest.mark.notebook]

BIN = Path(sys.executable).parent


@pytest.fixture
def external_cluster(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    common = {"cwd": tmp_path, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [
        subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                          "--no-dashboard", "--scheduler-file", str(sched_file)], **common)
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            time.sleep(0.2)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", "--scheduler-file", str(sched_file), "--host", "127.0.0.1",
                 "--nworkers", "1", "--nthreads", "1", "--memory-limit", "2GiB", "--no-dashboard"], **common))
        from distributed import Client

        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def test_notebook_00_runs_on_external_cluster(external_cluster, tmp_path):
    result = run(
        notebooks_dir() / "00_setup_and_compute.ipynb",
        profile="ci",
        output=tmp_path / "00_external.ipynb",
        env={"MLKIT_SCHEDULER": external_cluster},
        timeout=300,
    )
    rec = result.records
    assert rec["cluster_kind"] == "external"
    assert rec["scheduler_address"] == external_cluster
    assert (rec["n_workers"], rec["total_threads"]) == (2, 2)
    assert rec["reproducible_across_workers"] is True and rec["tasks_run"] == 16
    assert abs(rec["pi_estimate"] - 3.14159) < 0.01
    assert "MLKIT_SCHEDULER" not in os.environ  # the runner restored the environment
