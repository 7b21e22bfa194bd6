"""Benchmark mlkit.fairness against fairlearn's MetricFrame, and at scale on Dask.

Sections (``--only`` picks some):

* ``equality``  - Adult with a trained model, one and two sensitive columns: max |difference| from
  MetricFrame for selection rate, TPR, FPR, accuracy per group, and their differences/ratios.
* ``speed``     - ``--rows`` (1M) rows, 4 metrics, 2 sensitive columns: MetricFrame vs audit().
* ``fl_boot``   - fairlearn's own bootstrap (``MetricFrame(n_boot=100)``) on ``--fl-boot-rows`` (20k).
* ``bootstrap`` - 1,000 Poisson bootstrap replicates at ``--boot-rows`` (10M) rows (pandas and Dask).
* ``parquet``   - ``--parquet-rows`` (100M) rows written to build/scratch as Parquet, audited on Dask,
  peak RSS of the whole process tree (client + workers). The scratch data is deleted afterwards.
* ``kill``      - a Dask worker killed mid-audit: the audit completes with identical counts.

Run the full sizes under the team lock: ``flock /tmp/mlkit-heavy.lock python benchmarks/bench_fairness.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PeakRSS, gib, print_table  # noqa: E402

FOUR = ["selection_rate", "tpr", "fpr", "accuracy"]


def _metricframe(df, sensitive, **kw):
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    return MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                "fpr": false_positive_rate, "accuracy": accuracy_score},
                       y_true=df["income"], y_pred=df["pred"], sensitive_features=df[sensitive], **kw)


def bench_equality(rows: list[dict]) -> None:
    from mlkit.fairness import audit
    from mlkit.fairness.examples import scored_dataset

    adult = scored_dataset("adult")
    for sensitive in (["sex"], ["race"], ["sex", "race"]):
        mf = _metricframe(adult.test, sensitive[0] if len(sensitive) == 1 else sensitive)
        au = audit("income", "pred", sensitive=sensitive, data=adult.test, n_bootstrap=0)
        exp = mf.by_group.dropna(how="all")
        idx = [tuple(map(str, i)) if isinstance(i, tuple) else str(i) for i in exp.index]
        gaps = [float(np.abs(au.by_group.loc[idx, FOUR].to_numpy() - exp.to_numpy()).max())]
        for m in FOUR:
            gaps += [abs(au.disparity(m)["value"] - mf.difference()[m]),
                     abs(au.disparity(m, "ratio")["value"] - mf.ratio()[m]),
                     abs(au.disparity(m, "difference", "to_overall")["value"] - mf.difference(method="to_overall")[m]),
                     abs(au.disparity(m, "ratio", "to_overall")["value"] - mf.ratio(method="to_overall")[m])]
        rows.append({"check": f"equality {'+'.join(sensitive)}", "rows": len(adult.test),
                     "max_abs_diff": max(gaps), "ok (<=1e-12)": max(gaps) <= 1e-12})


def _upsampled_adult(n: int, seed: int = 0) -> pd.DataFrame:
    from mlkit.fairness.examples import scored_dataset

    adult = scored_dataset("adult")
    idx = np.random.default_rng(seed).integers(0, len(adult.test), n)
    return adult.test.iloc[idx][["income", "pred", "score", "sex", "race"]].reset_index(drop=True)


def bench_speed(n: int, rows: list[dict]) -> None:
    from mlkit.fairness import audit

    df = _upsampled_adult(n)
    # Warm both up on a few rows so neither pays first-call imports in the timing.
    _metricframe(df.iloc[:1000], ["sex", "race"]).difference()
    audit("income", "pred", "score", sensitive=["sex", "race"], data=df.iloc[:1000], n_bootstrap=10).criteria()
    t0 = time.perf_counter()
    mf = _metricframe(df, ["sex", "race"])
    _ = mf.difference(), mf.ratio()
    t_mf = time.perf_counter() - t0
    t0 = time.perf_counter()
    au = audit("income", "pred", sensitive=["sex", "race"], data=df, n_bootstrap=0)
    _ = [au.disparity(m) for m in FOUR], [au.disparity(m, "ratio") for m in FOUR]
    t_au = time.perf_counter() - t0
    t0 = time.perf_counter()
    au_b = audit("income", "pred", "score", sensitive=["sex", "race"], data=df, n_bootstrap=1000)
    _ = au_b.criteria()
    t_full = time.perf_counter() - t0
    rows.append({"check": "speed MetricFrame (4 metrics, 2 cols)", "rows": n, "seconds": t_mf})
    rows.append({"check": "speed audit, point values", "rows": n, "seconds": t_au, "ratio vs MetricFrame": t_mf / t_au})
    rows.append({"check": "speed audit + scores + 1000 boot + verdicts", "rows": n, "seconds": t_full,
                 "ratio vs MetricFrame": t_mf / t_full})


def bench_fairlearn_boot(n: int, rows: list[dict]) -> None:
    df = _upsampled_adult(n)
    t0 = time.perf_counter()
    try:
        mf = _metricframe(df, ["sex", "race"], n_boot=100, ci_quantiles=[0.025, 0.975], random_state=0)
        _ = mf.by_group_ci
        rows.append({"check": "fairlearn MetricFrame n_boot=100", "rows": n, "seconds": time.perf_counter() - t0})
    except TypeError as exc:  # pragma: no cover - older fairlearn
        rows.append({"check": f"fairlearn bootstrap unavailable: {exc}", "rows": n})


class _Blocks:
    """Deterministic synthetic partitions: label, score, 3 groups (B, C selected less)."""

    def __init__(self, seed: int = 0, slow: float = 0.0) -> None:
        self.seed, self.slow = seed, slow

    def __call__(self, span) -> pd.DataFrame:
        i, lo, hi = span
        if self.slow:
            time.sleep(self.slow)
        rng = np.random.default_rng([self.seed, i])
        m = hi - lo
        g = rng.choice(3, m, p=[0.5, 0.3, 0.2]).astype(np.int8)
        y = (rng.random(m) < 0.3).astype(np.int8)
        score = np.clip(0.3 + 0.35 * y - 0.05 * g + rng.normal(0, 0.15, m), 0.0, 1.0).astype(np.float32)
        return pd.DataFrame({"y": y, "score": score, "group": pd.Categorical.from_codes(g, ["A", "B", "C"])})


def _dask_frame(n: int, part: int, seed: int = 0, slow: float = 0.0):
    import dask.dataframe as dd

    bounds = list(range(0, n, part)) + [n]
    spans = list(zip(range(len(bounds) - 1), bounds[:-1], bounds[1:]))
    fn = _Blocks(seed, slow)
    return dd.from_map(fn, spans, meta=fn((0, 0, 1)).iloc[:0], enforce_metadata=False)


def bench_bootstrap(n: int, rows: list[dict]) -> None:
    import mlkit
    from mlkit.fairness import audit

    pdf = pd.concat([_Blocks()((i, lo, min(lo + 1_000_000, n))) for i, lo in enumerate(range(0, n, 1_000_000))],
                    ignore_index=True)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        au = audit("y", y_score="score", sensitive="group", data=pdf, n_bootstrap=1000)
        _ = au.criteria()
        t = time.perf_counter() - t0
    rows.append({"check": "1000 boot, pandas in memory", "rows": n, "seconds": t, "peak_rss_gib": gib(mem.peak),
                 "ok (<60 s)": t < 60})
    pdf["w"] = np.random.default_rng(1).choice([0.5, 1.0, 2.0], len(pdf))
    t0 = time.perf_counter()
    audit("y", y_score="score", sensitive="group", data=pdf, sample_weight="w", n_bootstrap=1000).criteria()
    rows.append({"check": "1000 boot, pandas, 3-valued weights", "rows": n, "seconds": time.perf_counter() - t0})
    small = pdf.iloc[:200_000].copy()
    small["w"] = np.random.default_rng(2).uniform(0.5, 2.0, len(small))
    t0 = time.perf_counter()
    audit("y", y_score="score", sensitive="group", data=small, sample_weight="w", n_bootstrap=1000).criteria()
    rows.append({"check": "1000 boot, pandas, continuous weights (row-level draws)", "rows": len(small),
                 "seconds": time.perf_counter() - t0})
    del pdf, small
    client = mlkit.client()
    ddf = _dask_frame(n, 1_000_000)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        audit("y", y_score="score", sensitive="group", data=ddf, n_bootstrap=1000, progress=False).criteria()
        t = time.perf_counter() - t0
    rows.append({"check": f"1000 boot, Dask incl. generation ({len(client.scheduler_info()['workers'])} workers)",
                 "rows": n, "seconds": t, "peak_rss_gib": gib(mem.peak), "ok (<60 s)": t < 60})


def bench_parquet(n: int, rows: list[dict], keep: bool = False) -> None:
    import dask.dataframe as dd

    import mlkit
    from mlkit.fairness import audit
    from mlkit.paths import scratch_dir

    client = mlkit.client()
    path = scratch_dir() / f"fairness_bench_{n}"
    free = shutil.disk_usage(scratch_dir().parent if not scratch_dir().exists() else scratch_dir()).free
    need = n * 8  # generous: ~6 bytes/row compressed
    if free < 2 * need:
        raise SystemExit(f"not enough disk for {n:,} rows at {path}: {gib(free):.1f} GiB free")
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            tmp = path.with_name(path.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            # Partition by partition on the cluster, straight to files: never the whole data in memory.
            _dask_frame(n, 2_000_000).to_parquet(tmp, write_index=False, compression="snappy",
                                                 write_metadata_file=False)
            os.rename(tmp, path)
            rows.append({"check": "write Parquet (generation)", "rows": n, "seconds": time.perf_counter() - t0,
                         "disk_gib": gib(sum(f.stat().st_size for f in path.glob("*.parquet")))})
        ddf = dd.read_parquet(str(path))
        client.run(lambda: __import__("gc").collect())
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            au = audit("y", y_score="score", sensitive="group", data=ddf, n_bootstrap=1000, progress=False)
            _ = au.criteria()
            t = time.perf_counter() - t0
        assert au.counts.n_rows == n, (au.counts.n_rows, n)
        rows.append({"check": f"audit from Parquet, {ddf.npartitions} files, 1000 boot", "rows": n, "seconds": t,
                     "peak_rss_gib": gib(mem.peak), "ok (<4 GiB)": mem.peak < 4 * 2**30})
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def bench_kill(n: int, rows: list[dict]) -> None:
    from distributed import Client, LocalCluster

    from mlkit.fairness import audit

    kw = {"y_score": "score", "sensitive": "group", "n_bootstrap": 1000, "seed": 3, "progress": False}
    part = max(n // 16, 1000)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        reference = audit("y", data=_dask_frame(n, part, slow=0.3), **kw)
        out: dict = {}
        th = threading.Thread(target=lambda: out.update(a=audit("y", data=_dask_frame(n, part, slow=0.3), **kw)))
        t0 = time.perf_counter()
        th.start()
        while not any(client.processing().values()) and time.perf_counter() - t0 < 30:
            time.sleep(0.05)
        time.sleep(1.0)
        alive_at_kill = th.is_alive()
        victim = sorted(client.scheduler_info()["workers"])[0]
        with contextlib.suppress(Exception):  # the worker dies before answering
            client.run(os._exit, 1, workers=[victim])
        th.join()
        got = out.get("a")
    same = got is not None and all(
        np.array_equal(getattr(reference.counts, k), getattr(got.counts, k))
        for k in ("counts_w", "counts_n", "hist_w", "boot"))
    rows.append({"check": "worker killed mid-audit: identical result", "rows": n,
                 "seconds": time.perf_counter() - t0, "killed_while_running": alive_at_kill, "same": same})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows for the speed comparison")
    p.add_argument("--fl-boot-rows", type=int, default=20_000)
    p.add_argument("--boot-rows", type=int, default=10_000_000)
    p.add_argument("--parquet-rows", type=int, default=100_000_000)
    p.add_argument("--kill-rows", type=int, default=2_000_000)
    p.add_argument("--only", default="equality,speed,fl_boot,bootstrap,parquet,kill")
    p.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    p.add_argument("--keep-scratch", action="store_true")
    p.add_argument("--json", help="also write the table as JSON")
    args = p.parse_args()
    if args.quick:
        args.rows, args.fl_boot_rows, args.boot_rows, args.parquet_rows, args.kill_rows = (
            50_000, 2_000, 200_000, 2_000_000, 200_000)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLKIT_PROGRESS", "off")
    only = set(args.only.split(","))
    rows: list[dict] = []
    steps = [("equality", lambda: bench_equality(rows)), ("speed", lambda: bench_speed(args.rows, rows)),
             ("fl_boot", lambda: bench_fairlearn_boot(args.fl_boot_rows, rows)),
             ("bootstrap", lambda: bench_bootstrap(args.boot_rows, rows)),
             ("parquet", lambda: bench_parquet(args.parquet_rows, rows, args.keep_scratch)),
             ("kill", lambda: bench_kill(args.kill_rows, rows))]
    for name, step in steps:
        if name in only:
            t0 = time.perf_counter()
            step()
            print(f"[{name} done in {time.perf_counter() - t0:.1f} s]", flush=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))  # print_table takes the first row's columns
    rows = [{k: r.get(k, "") for k in keys} for r in rows]
    print_table("mlkit.fairness vs fairlearn, and at scale", rows, json_path=args.json)


if __name__ == "__main__":
    main()
