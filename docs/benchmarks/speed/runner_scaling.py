"""Wall time of one small study run three ways: n_jobs=1, n_jobs=2 and a two-worker Dask LocalCluster.

The study: IsolationForest and AutoEncoderDetector (5 epochs, batch 128) on the embedded Thyroid data, novelty
protocol, seeds 0-3 (8 runs), one torch thread per run. Each way runs the whole study into a fresh output folder
(nothing is skipped), one after the other in this process, and the rows of the three ways are compared (split
hashes and scores must be equal). The LocalCluster time includes starting and closing the cluster.

Run from the repository root::

    python docs/benchmarks/speed/runner_scaling.py > docs/benchmarks/speed/runner_scaling.md
"""

import os
import platform
import tempfile
import time

import pandas as pd

from skanomaly.benchmarks import run_benchmark

DETECTORS = ["AutoEncoderDetector"]  # IsolationForest, the reference, is always added
DATASETS = ["thyroid"]
SEEDS = [0, 1, 2, 3]
PARAMS = {"AutoEncoderDetector": {"max_epochs": 5, "batch_size": 128}}
SAME = ["detector", "seed", "split_hash", "roc_auc", "average_precision", "f1_at_k", "torch_threads"]


def main():
    load_before = os.getloadavg()
    ways = [("n_jobs=1", {"n_jobs": 1}), ("n_jobs=2", {"n_jobs": 2}),
            ("LocalCluster, 2 workers x 1 thread", {"scheduler": "local"})]
    timings, rows = [], {}
    for name, kwargs in ways:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            df = run_benchmark(DETECTORS, DATASETS, seeds=SEEDS, params=PARAMS, output_dir=folder, verbose=0,
                               **kwargs)
            wall = time.perf_counter() - start
        assert (df["status"] == "ok").all(), df["error"].tolist()
        timings.append((name, wall, df["fit_seconds"].sum()))
        rows[name] = df[SAME].sort_values(["detector", "seed"]).reset_index(drop=True)
    load_after = os.getloadavg()
    reference = rows["n_jobs=1"]
    identical = all(frame.equals(reference) for frame in rows.values())

    base = timings[0][1]
    print("# Runner scaling: n_jobs=1, n_jobs=2 and a Dask LocalCluster\n")
    print(f"Study: {', '.join(['IsolationForest'] + DETECTORS)} on {', '.join(DATASETS)}, novelty protocol, seeds "
          f"{SEEDS[0]}-{SEEDS[-1]} ({len(reference)} runs), parameters {PARAMS}, one torch thread per run.\n")
    print(f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}; 1-minute load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after (a shared machine: other work ran at the same time).\n")
    print("| Way | Wall time (s) | Sum of fit times (s) | Wall time / n_jobs=1 |")
    print("|:---|---:|---:|---:|")
    for name, wall, fit in timings:
        print(f"| {name} | {wall:.1f} | {fit:.1f} | {wall / base:.2f} |")
    print(f"\nRows (split hash, AUROC, AP, F1, thread count) identical across the three ways: {identical}.")


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
