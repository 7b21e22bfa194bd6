"""The fairness report as a CI gate: `mlkit report fairness_audit --fail-on violation`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlkit.data import write_parquet
from mlkit.fairness.examples import planted_predictions


def _report(tmp_path, rates: dict[str, float], name: str) -> tuple[int, dict, str]:
    data = planted_predictions(40_000, rates, seed=1)
    path = tmp_path / f"{name}.parquet"
    write_parquet(data, path, partition_size="200KB")  # several files: audited on Dask
    out = tmp_path / f"out_{name}"
    proc = subprocess.run(
        [sys.executable, "-m", "mlkit.cli", "report", "fairness_audit", "--profile", "ci",
         "-p", f"DATASET={path}", "-p", "LABEL=y", "-p", "PREDICTION=pred", "-p", "SENSITIVE=group",
         "-p", "N_BOOTSTRAP=400", "--fail-on", "violation", "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    summary = json.loads((out / "fairness_audit.json").read_text()) if (out / "fairness_audit.json").exists() else {}
    assert (out / "fairness_audit.html").exists(), proc.stderr[-2000:]
    return proc.returncode, summary, proc.stderr


@pytest.mark.notebook
def test_fail_on_violation_gates_planted_bias_and_passes_fair_data(tmp_path):
    rc, summary, err = _report(tmp_path, {"A": 0.5, "B": 0.3}, "biased")
    assert rc == 3, err[-2000:]
    assert "failing on violation" in err
    records = summary["records"]
    assert records["verdicts"]["demographic_parity"]["verdict"] == "fail"
    assert records["gates"]["violation"] is True
    # The planted ratio 0.3 / 0.5 = 0.6 lies in the interval behind the verdict.
    v = records["verdicts"]["demographic_parity"]
    assert v["ratio_low"] <= 0.6 <= v["ratio_high"]

    rc, summary, err = _report(tmp_path, {"A": 0.4, "B": 0.4}, "fair")
    assert rc == 0, err[-2000:]
    assert summary["records"]["verdicts"]["demographic_parity"]["verdict"] == "pass"
    assert summary["records"]["gates"]["violation"] is False
