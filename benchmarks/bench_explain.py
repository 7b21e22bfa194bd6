"""Benchmark mlkit.explain against shap on the same model and rows, in the same run.

Measures, for an xgboost model (default 100 trees of depth 6) on ``--rows`` rows:

1. ``shap.TreeExplainer(booster).shap_values(X)`` with the booster on ``--threads`` threads (the peer);
2. ``mlkit.explain.explain(mode="exact")`` in memory, same threads: throughput ratio and the
   largest absolute difference of the values (target <= 1e-5; both call xgboost's TreeSHAP);
3. the same, streamed to Parquet in chunks (memory stays bounded whatever the rows);
4. the Dask route (a LocalCluster of ``--threads`` workers x 1 thread, booster broadcast once),
   streamed to Parquet;
5. global importance from a sample (``--sample`` rows, default rows/100): its top-10 ranking vs
   the full data's (identical, or every disagreement inside the 95% CIs) and the compute saved;
6. the GPU route when ``mlkit.device()`` reports CUDA: its speed-up over the CPU route.

Peak RSS is the whole process tree (this process and any Dask worker), minus the baseline.
Run the 1M-row version under the team lock::

    flock /tmp/mlkit-heavy.lock .venv/bin/python benchmarks/bench_explain.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PeakRSS, Result, gib, print_table  # noqa: E402


@contextmanager
def timed(name: str, results: list[Result]):
    """Time a block; record its process-tree peak RSS and the growth over the RSS at its start."""
    res = Result(name, 0.0)
    with PeakRSS() as mem:
        start = time.perf_counter()
        try:
            yield res
        finally:
            res.seconds = time.perf_counter() - start
    res.peak_rss = mem.peak
    res.extra["rss_growth"] = mem.peak - mem.baseline
    results.append(res)


def planted_data(n: int, seed: int = 0, n_informative: int = 6, n_noise: int = 6) -> tuple[pd.DataFrame, np.ndarray]:
    """Standard-normal features; logit = sum of decreasing effects + one interaction."""
    rng = np.random.default_rng(seed)
    cols = [f"x{j:02d}" for j in range(n_informative + n_noise)]
    X = pd.DataFrame(rng.standard_normal((n, len(cols)), dtype=np.float32), columns=cols)
    effects = np.linspace(1.5, 0.25, n_informative)
    logit = X.iloc[:, :n_informative].to_numpy() @ effects + 0.5 * X["x04"].to_numpy() * X["x05"].to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return X, y


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to explain")
    p.add_argument("--train-rows", type=int, default=100_000)
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--depth", type=int, default=6)
    p.add_argument("--threads", type=int, default=2, help="threads for shap and mlkit (Dask: workers x 1 thread)")
    p.add_argument("--sample", type=int, default=None, help="rows for sampled importance (default rows/100)")
    p.add_argument("--quick", action="store_true", help="small smoke run (20,000 rows, 20 trees)")
    p.add_argument("--skip-dask", action="store_true")
    p.add_argument("--json", default=None, help="write the results here (default build/bench/bench_explain.json)")
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.train_rows, args.trees = 20_000, 10_000, 20
    sample = args.sample or max(1_000, args.rows // 100)

    import shap
    import xgboost as xgb

    import mlkit.explain as mx
    from mlkit.compute import device, machine_resources
    from mlkit.paths import build_dir

    os.environ.setdefault("MLKIT_PROGRESS", "off")
    T = args.threads
    X, y = planted_data(args.rows)
    Xtr, ytr = planted_data(args.train_rows, seed=1)
    t0 = time.perf_counter()
    booster = xgb.train(
        {"max_depth": args.depth, "eta": 0.3, "objective": "binary:logistic", "nthread": T, "tree_method": "hist"},
        xgb.DMatrix(Xtr, ytr, nthread=T), args.trees,
    )
    train_s = time.perf_counter() - t0
    shape = mx.tree_shape(booster)
    print(f"model: {shape.n_trees} trees, {shape.n_leaves / shape.n_trees:.1f} leaves/tree, depth {shape.max_depth}; "
          f"trained on {args.train_rows:,} rows in {train_s:.1f} s; explaining {args.rows:,} rows x {X.shape[1]} features "
          f"on {T} threads ({machine_resources()['usable_cores']} usable cores)")
    results = []
    rows: list[dict] = []
    scratch = Path(tempfile.mkdtemp(prefix="bench_explain_", dir=build_dir() if build_dir().exists() else None))
    try:
        # 1. the peer: shap.TreeExplainer (calls xgboost's TreeSHAP with the booster's nthread)
        with timed("shap.TreeExplainer", results) as r_shap:
            explainer = shap.TreeExplainer(booster)
            ref = explainer.shap_values(X)
        shap_rate = args.rows / r_shap.seconds

        # The cost model calibrates once per machine and model shape (cached); timed on its own.
        mx.clear_calibration()
        t0 = time.perf_counter()
        mx.explain(booster, X.iloc[:20_000], mode="sample", sample_size=1_000, nthread=T, verbose=False)
        calibration_s = time.perf_counter() - t0

        # 2. mlkit, in memory
        with timed("mlkit exact (in memory)", results) as r_mem:
            res = mx.explain(booster, X, mode="exact", nthread=T, verbose=True)
        diff = float(np.abs(res.values - ref).max())
        base_diff = abs(res.base_value - float(explainer.expected_value))
        full_imp = res.importance(method="normal")
        est = res.cost
        del res

        # 3. mlkit, streamed to Parquet in chunks
        out = scratch / "shap_values.parquet"
        with timed("mlkit exact (streamed to Parquet)", results) as r_stream:
            streamed = mx.explain(booster, X, mode="exact", nthread=T, output=out, verbose=False)
        back = pd.read_parquet(out, columns=streamed.feature_names).to_numpy()
        diff_stream = float(np.abs(back - ref).max())
        n_parts = len(list(out.glob("part.*.parquet")))
        del back
        shutil.rmtree(out, ignore_errors=True)

        # 4. Dask: workers x 1 thread, booster broadcast once, streamed to Parquet
        r_dask = None
        if not args.skip_dask:
            import dask.dataframe as dd
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=T, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, silence_logs=40) as cluster, Client(cluster) as client:
                ddf = dd.from_pandas(X, npartitions=max(2 * T, args.rows // 62_500))
                ddf = ddf.persist()  # data on the workers first: time the SHAP work, not the transfer
                client.wait_for_workers(T)
                out_d = scratch / "shap_dask.parquet"
                with timed("mlkit exact on Dask (streamed)", results) as r_dask:
                    dres = mx.explain(booster, ddf, mode="exact", output=out_d, client=client, verbose=False)
                back = pd.read_parquet(out_d, columns=dres.feature_names)
                diff_dask = float(np.abs(back.loc[X.index].to_numpy() - ref).max())
                del back
                shutil.rmtree(out_d, ignore_errors=True)

        # 5. sampled global importance (the calibration is cached by now: as a user's second call)
        with timed("mlkit sampled importance", results) as r_sample:
            sres = mx.explain(booster, X, sample_size=sample, nthread=T, seed=0, verbose=False)
            simp = sres.importance()
        agreement = mx.ranking_agreement(simp, full_imp, k=10)

        # 6. GPU
        gpu = None
        if device().kind == "cuda":
            with timed("mlkit exact (GPU)", results) as r_gpu:
                gres = mx.explain(booster, X, mode="exact", verbose=False)
            gpu = {"seconds": r_gpu.seconds, "speedup_vs_cpu": r_mem.seconds / r_gpu.seconds,
                   "max_abs_diff_vs_shap_cpu": float(np.abs(gres.values - ref).max())}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    for r in results:
        rows.append({"run": r.name, "seconds": r.seconds, "rows_per_s": args.rows / r.seconds
                     if "sampled" not in r.name else sample / r.seconds, "peak_rss_gib": gib(r.peak_rss),
                     "rss_growth_gib": gib(r.extra["rss_growth"])})
    print_table(f"bench_explain: {args.rows:,} rows, {args.trees} trees depth {args.depth}, {T} threads", rows)
    summary = {
        "rows": args.rows,
        "trees": shape.n_trees,
        "leaves_per_tree": shape.n_leaves / shape.n_trees,
        "depth": shape.max_depth,
        "threads": T,
        "train_seconds": train_s,
        "shap_rows_per_s": shap_rate,
        "mlkit_rows_per_s": args.rows / r_mem.seconds,
        "throughput_ratio_mlkit_vs_shap": r_shap.seconds / r_mem.seconds,
        "throughput_ratio_streamed_vs_shap": r_shap.seconds / r_stream.seconds,
        "throughput_ratio_dask_vs_shap": (r_shap.seconds / r_dask.seconds) if r_dask else None,
        "max_abs_diff_vs_shap": diff,
        "max_abs_diff_streamed_vs_shap": diff_stream,
        "max_abs_diff_dask_vs_shap": diff_dask if r_dask else None,
        "base_value_diff": base_diff,
        "calibration_seconds": calibration_s,
        "estimated_seconds": est.seconds,
        "estimate_over_measured": est.seconds / r_mem.seconds,
        "peak_rss_gib": {r.name: gib(r.peak_rss) for r in results},
        "rss_growth_gib": {r.name: gib(r.extra["rss_growth"]) for r in results},
        "streamed_parts": n_parts,
        "sample_rows": sample,
        "sampled_seconds": r_sample.seconds,
        "compute_saving_rows": args.rows / sample,
        "compute_saving_time": r_mem.seconds / r_sample.seconds,
        "top10_identical": agreement["identical"],
        "top10_disagreements_within_ci": agreement["all_disagreements_within_ci"],
        "top10_disagreements": agreement["disagreements"],
        "spearman_sample_vs_full": agreement["spearman"],
        "median_ci_width": float(simp["ci_width"].median()),
        "gpu": gpu or "no CUDA device: GPU path not run",
    }
    print(json.dumps(summary, indent=1, default=str))
    target = Path(args.json) if args.json else build_dir() / "bench" / "bench_explain.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"summary": summary, "runs": rows}, indent=1, default=str))
    checks = {
        "values equal shap (<= 1e-5)": max(diff, diff_stream) <= 1e-5,
        "throughput >= 0.95x shap": summary["throughput_ratio_mlkit_vs_shap"] >= 0.95,
        "top-10 equal or within CIs": agreement["identical"] or agreement["all_disagreements_within_ci"],
        ">= 50x less compute": summary["compute_saving_time"] >= 50,
    }
    for name, ok in checks.items():
        print(f"[{'PASS' if ok else 'FAIL'}] {name}")
    return summary


if __name__ == "__main__":
    main()
