"""Training cost of the convolutional detectors on 1x28x28 images, per epoch and per 10,000 images, on one thread.

Each detector is built as the benchmark runner builds it for Fashion-MNIST (its ``fashion_mnist`` preset, where it
has one, else its class defaults; ``image_shape=(1, 28, 28)``; ``n_threads=1``) and fitted on a class-stratified
sample of Fashion-MNIST training images (seed 0), twice: for 1 epoch and for 3 epochs. One epoch costs half the
difference of the two fits; what the 1-epoch fit costs beyond that epoch is the fit's fixed part (building the
networks, the scoring pass over the training images that sets ``offset_``, the A-score statistics of AMA). Scoring is
timed on as many test images. Every figure is given as CPU time of the process (``time.process_time``: robust to
other programs sharing the machine, since the process runs one thread) and as wall time, both scaled to 10,000
images.

OMASGAN trains in four stages with their own epoch counts (``task1_epochs``, ``task2_epochs``, ``task3_epochs``,
``j_epochs``): a fit with one epoch of each stage is the base, and each stage is timed by a fit with 3 epochs of
that stage and 1 of the others.

Usage::

    python docs/benchmarks/ood_fashion_mnist/timings.py              # writes timings.csv and timings.md here
    python docs/benchmarks/ood_fashion_mnist/timings.py --n-images 500 --output /tmp/timings
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
IMAGE_SHAPE = (1, 28, 28)
PER_10K = 10_000
#: The training size of the benchmark's committed rows and of the full Fashion-MNIST training part.
PLANNING_SIZES = (10_000, 60_000)
#: (detector, the epoch parameters timed). Every stage of OMASGAN is timed on its own.
DETECTORS = [
    ("AMADetector", ("max_epochs",)),
    ("MirroredAEDetector", ("max_epochs",)),
    ("AutoEncoderDetector", ("max_epochs",)),
    ("DeepSVDDDetector", ("max_epochs",)),
    ("OMASGANDetector", ("task1_epochs", "task2_epochs", "task3_epochs", "j_epochs")),
]
SHORT, LONG = 1, 3


def stratified_sample(X, y, n_images, seed=0):
    """``n_images`` rows, the same number from each class, drawn without replacement (file order kept)."""
    classes = np.unique(y)
    per_class = n_images // len(classes)
    rng = np.random.RandomState(seed)
    keep = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                                   for c in classes]))
    return X[keep]


def build(name, **params):
    """The detector as the runner builds it for Fashion-MNIST, with ``params`` on top."""
    from skanomaly.benchmarks import get_detector_spec

    detector = get_detector_spec(name).build("fashion_mnist", 0, image_shape=IMAGE_SHAPE, **params)
    detector.set_params(n_threads=1, device="cpu", verbose=0)
    return detector


def timed_fit(name, X, **params):
    """(CPU seconds, wall seconds, fitted detector) of one fit."""
    detector = build(name, **params)
    cpu, wall = time.process_time(), time.perf_counter()
    detector.fit(X)
    return time.process_time() - cpu, time.perf_counter() - wall, detector


def timed_score(detector, X):
    cpu, wall = time.process_time(), time.perf_counter()
    detector.score_samples(X)
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(X_train, X_test):
    """One record per detector and epoch parameter: per-epoch, fixed and scoring costs (seconds per 10,000)."""
    records = []
    scale = PER_10K / len(X_train)
    for name, epoch_params in DETECTORS:
        base = {param: SHORT for param in epoch_params}
        short_cpu, short_wall, detector = timed_fit(name, X_train, **base)
        score_cpu, score_wall = timed_score(detector, X_test)
        preset = build(name).get_params()
        per_epoch = {}
        for param in epoch_params:
            long_cpu, long_wall, _ = timed_fit(name, X_train, **{**base, param: LONG})
            per_epoch[param] = ((long_cpu - short_cpu) / (LONG - SHORT), (long_wall - short_wall) / (LONG - SHORT))
            print(f"{name} {param}: {per_epoch[param][0] * scale:.1f} CPU s per epoch per 10k", flush=True)
        fixed_cpu = short_cpu - sum(cpu for cpu, _ in per_epoch.values())
        fixed_wall = short_wall - sum(wall for _, wall in per_epoch.values())
        for param in epoch_params:
            records.append({
                "detector": name, "epochs_parameter": param, "preset_epochs": int(preset[param]),
                "batch_size": int(preset["batch_size"]),
                "cpu_s_per_epoch_per_10k": per_epoch[param][0] * scale,
                "wall_s_per_epoch_per_10k": per_epoch[param][1] * scale,
                "fixed_cpu_s_per_10k": fixed_cpu * scale, "fixed_wall_s_per_10k": fixed_wall * scale,
                "score_cpu_s_per_10k": score_cpu * PER_10K / len(X_test),
                "score_wall_s_per_10k": score_wall * PER_10K / len(X_test),
                "n_images": len(X_train),
            })
    return records


def _hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def markdown(records, meta):
    """The page's table: cost per epoch per 10,000 images, and what a fit at the preset costs."""
    lines = [
        "| detector | epochs (preset) | batch | CPU s / epoch / 10k | wall s / epoch / 10k | fixed CPU s / fit / 10k "
        "| score CPU s / 10k | preset fit, 10,000 images (CPU) | preset fit, 60,000 images (CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    by_detector = {}
    for record in records:
        by_detector.setdefault(record["detector"], []).append(record)
    for name, rows in by_detector.items():
        fixed = max(rows[0]["fixed_cpu_s_per_10k"], 0.0)
        full = [sum(r["cpu_s_per_epoch_per_10k"] * r["preset_epochs"] for r in rows) * n / PER_10K
                + fixed * n / PER_10K for n in PLANNING_SIZES]
        for i, row in enumerate(rows):
            first = i == 0
            lines.append(
                f"| {name if first else ''} | {row['epochs_parameter']} = {row['preset_epochs']} | {row['batch_size']} "
                f"| {row['cpu_s_per_epoch_per_10k']:.1f} | {row['wall_s_per_epoch_per_10k']:.1f} "
                f"| {fixed:.1f} | " + (f"{row['score_cpu_s_per_10k']:.1f} | {_hours(full[0])} | {_hours(full[1])} |"
                                       if first else "| | |"))
    lines += ["", f"Measured {meta['date']} with {meta['n_images']:,} Fashion-MNIST training images "
              f"({meta['n_images'] // 10:,} per class, seed 0), fits of {SHORT} and {LONG} epochs, scoring {meta['n_images']:,} test images; one torch "
              f"thread; {meta['machine']}; torch {meta['torch']}; load average {meta['load_before']} before and "
              f"{meta['load_after']} after. The preset-fit columns add the epochs of the preset (every stage for "
              "OMASGAN) and the fixed part, scaled linearly with the number of images."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=2000, help="training (and scored test) images")
    parser.add_argument("--output", type=Path, default=HERE, help="folder of timings.csv and timings.md")
    args = parser.parse_args(argv)
    from skanomaly.datasets import load_fashion_mnist

    torch.set_num_threads(1)
    train = load_fashion_mnist(subset="train")
    test = load_fashion_mnist(subset="test")
    X_train = stratified_sample(train.data, train.target, args.n_images)
    X_test = stratified_sample(test.data, test.target, args.n_images)
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    records = measure(X_train, X_test)
    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "n_images": len(X_train),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs",
            "torch": torch.__version__, "load_before": load_before,
            "load_after": ", ".join(f"{v:.1f}" for v in os.getloadavg())}
    args.output.mkdir(parents=True, exist_ok=True)
    with open(args.output / "timings.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows({key: f"{value:.4g}" if isinstance(value, float) else value
                          for key, value in record.items()} for record in records)
    (args.output / "timings.md").write_text(markdown(records, meta), encoding="utf-8")
    print(markdown(records, meta))


if __name__ == "__main__":
    main()
