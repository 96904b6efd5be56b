"""Data-parallel training study: AutoEncoderDetector on 1 and 2 CPU processes (DistributedDataParallel, gloo).

Data: the KDD Cup 99 (10 %) novelty split of the tabular benchmark (one-hot, min-max scaled on the training
half); the training half (198,528 rows) is written once to a ``.npy`` file that every process memory-maps.

- **Throughput**: ``fit`` in a freshly started process, and :func:`skanomaly.data_parallel.fit_data_parallel` with
  1 and 2 processes, at batch sizes 128 (the default) and 1024, ``max_epochs=3``, rounds alternating the order. Each
  process runs one torch thread. Throughput = rows x epochs / the summed epoch durations (``history_["dur"]``);
  the wall time of the call, which adds starting the processes, is reported beside it.
- **Quality**: AUROC on the test half for seeds 0-2, ``fit`` against 2 processes, ``max_epochs=5``.

Usage::

    SKANOMALY_DATA=/path/to/data python docs/benchmarks/speed/data_parallel_study.py
    python docs/benchmarks/speed/data_parallel_study.py --quick --output /tmp/ddp     # a smoke run
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import git_state  # noqa: E402  (docs/benchmarks/_scripts.py)


def kdd_split():
    from sklearn.preprocessing import MinMaxScaler

    from skanomaly.datasets import fetch_kddcup99
    from skanomaly.model_selection import novelty_train_test_split

    X, y = fetch_kddcup99(return_X_y=True)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    return scaler.transform(X_train).astype(np.float32), scaler.transform(X_test).astype(np.float32), y_test


def _fit_in_this_process(path, params):
    from skanomaly.detectors import AutoEncoderDetector

    return AutoEncoderDetector(**params).fit(np.load(path, mmap_mode="r"))


def train(way, path, params):
    """Fit one detector ``way`` ("fit", "1 process", "2 processes"), each in freshly started processes; returns it
    and the call's wall time (starting the processes included)."""
    from skanomaly.data_parallel import fit_data_parallel
    from skanomaly.detectors import AutoEncoderDetector

    start = time.perf_counter()
    if way == "fit":
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            detector = pool.submit(_fit_in_this_process, str(path), params).result()
    else:
        detector = fit_data_parallel(AutoEncoderDetector(**params), path, n_processes=int(way.split()[0]))
    return detector, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=HERE)
    parser.add_argument("--quick", action="store_true", help="fewer rows, epochs and rounds, for a smoke run")
    args = parser.parse_args(argv)
    import torch
    from sklearn.metrics import roc_auc_score

    torch.set_num_threads(1)
    rounds, speed_epochs, quality_epochs, seeds = (1, 1, 1, [0, 1]) if args.quick else (3, 3, 5, [0, 1, 2])
    load = [os.getloadavg()]
    X_train, X_test, y_test = kdd_split()
    if args.quick:
        X_train = X_train[:20_000]
    records = []
    with tempfile.TemporaryDirectory(prefix="skanomaly-ddp-study-") as folder:
        path = Path(folder) / "train.npy"
        np.save(path, X_train)
        n_rows = X_train.shape[0]
        ways = ["fit", "1 process", "2 processes"]
        for index in range(rounds):
            for batch_size in (128, 1024):
                for way in ways if index % 2 == 0 else ways[::-1]:
                    params = {"max_epochs": speed_epochs, "batch_size": batch_size, "random_state": 0}
                    detector, wall = train(way, path, params)
                    epochs = float(detector.history_["dur"].sum())
                    records.append({"study": "throughput", "round": index, "way": way, "batch_size": batch_size,
                                    "seed": 0, "epochs": speed_epochs, "epoch_seconds": epochs, "wall_seconds": wall,
                                    "rows_per_s": n_rows * speed_epochs / epochs,
                                    "auroc": roc_auc_score(y_test, -detector.score_samples(X_test))})
                    print(f"round {index} batch {batch_size} {way}: {n_rows * speed_epochs / epochs:,.0f} rows/s "
                          f"(epochs {epochs:.1f} s, call {wall:.1f} s)", flush=True)
        for seed in seeds:
            for way in ("fit", "2 processes"):
                params = {"max_epochs": quality_epochs, "random_state": seed}
                detector, wall = train(way, path, params)
                auroc = roc_auc_score(y_test, -detector.score_samples(X_test))
                records.append({"study": "quality", "round": 0, "way": way, "batch_size": 128, "seed": seed,
                                "epochs": quality_epochs, "epoch_seconds": float(detector.history_["dur"].sum()),
                                "wall_seconds": wall, "auroc": auroc})
                print(f"seed {seed} {way}: AUROC {auroc:.4f}", flush=True)
    load.append(os.getloadavg())
    write_report(args.output, records, load, git_state(), n_rows, rounds, speed_epochs, quality_epochs)


def write_report(output, records, load, commit, n_rows, rounds, speed_epochs, quality_epochs):
    import skorch
    import sklearn
    import torch

    output.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(key for record in records for key in record))
    with open(output / "data_parallel_study.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)
    lines = [
        "# Data-parallel training: one and two CPU processes",
        "",
        f"Generated by `data_parallel_study.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}. "
        f"Python {platform.python_version()}, torch {torch.__version__} (gloo), skorch {skorch.__version__}, "
        f"scikit-learn {sklearn.__version__}; {os.cpu_count()} CPU cores, one torch thread per process. The machine "
        f"is shared: load average {load[0][0]:.1f} / {load[0][1]:.1f} / {load[0][2]:.1f} at the start and "
        f"{load[1][0]:.1f} / {load[1][1]:.1f} / {load[1][2]:.1f} at the end (1 / 5 / 15 min).",
        "",
        f"`AutoEncoderDetector` (defaults otherwise) on the {n_rows:,} training rows of the KDD Cup 99 novelty split "
        "(seed 0, min-max scaled), AUROC on its test half. *fit*: `fit` in one freshly started process; *1 process* and "
        "*2 processes*: `fit_data_parallel(..., n_processes=1 or 2)`; every way reads the rows memory-mapped from "
        "a `.npy` file. Throughput = rows x epochs / the summed epoch durations; *call* is the wall time of the "
        "whole call (starting the processes, importing torch, joining the group, validating, the final scoring).",
        "",
        f"## Throughput ({speed_epochs} epochs, {rounds} round(s), order alternating)",
        "",
        "| batch | way | rows/s (median) | call seconds (median) | AUROC |",
        "|---:|---|---:|---:|---:|",
    ]
    speed = [r for r in records if r["study"] == "throughput"]
    for batch_size in (128, 1024):
        base = None
        for way in ("fit", "1 process", "2 processes"):
            runs = [r for r in speed if r["batch_size"] == batch_size and r["way"] == way]
            rate = float(np.median([r["rows_per_s"] for r in runs]))
            base = rate if way == "fit" else base
            relative = "" if way == "fit" else f" ({rate / base:.2f}x fit)"
            lines.append(f"| {batch_size} | {way} | {rate:,.0f}{relative} | "
                         f"{float(np.median([r['wall_seconds'] for r in runs])):.1f} | "
                         f"{', '.join('%.4f' % r['auroc'] for r in runs)} |")
    quality = [r for r in records if r["study"] == "quality"]
    lines += ["", f"## Quality: AUROC over seeds ({quality_epochs} epochs, batch 128)", "",
              "| way | AUROC per seed | mean | spread (max - min) |", "|---|---|---:|---:|"]
    for way in ("fit", "2 processes"):
        values = [r["auroc"] for r in quality if r["way"] == way]
        lines.append(f"| {way} | {', '.join(f'{v:.4f}' for v in values)} | {np.mean(values):.4f} | "
                     f"{max(values) - min(values):.4f} |")
    pairs = [(a["auroc"], b["auroc"]) for a in quality if a["way"] == "fit"
             for b in quality if b["way"] == "2 processes" and b["seed"] == a["seed"]]
    lines += ["", "Largest difference between the two ways for one seed: "
              f"{max(abs(a - b) for a, b in pairs):.2e}; spread of `fit` over the seeds: "
              f"{max(a for a, _ in pairs) - min(a for a, _ in pairs):.4f}."]
    (output / "data_parallel_study.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
