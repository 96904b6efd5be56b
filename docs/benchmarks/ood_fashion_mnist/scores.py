"""Test scores of the best detector of the out-of-distribution study, for the page's score histogram.

The best detector is the row name with the highest mean AUROC over the seeds of ``results.csv`` (a score-only
ablation row such as ``"AMADetector[max_epochs=5][score_type=feature_l1]"`` counts as its own detector and is scored
from its entry's fit). Its study entry is built and fitted exactly as the benchmark runner does for seed 0: the same
dataset pair and split, IN's presets, ``image_shape`` from the data, one torch thread. The script checks that its
AUROC equals the committed seed-0 row (the study reproduces the row), then writes ``scores.csv``: one line per test
image, its label (0 Fashion-MNIST test image, 1 MNIST image) and its anomaly score (``-score_samples``), under a
comment line of JSON naming the detector and why it was chosen, the seed, the AUROC and the 5 % false-alarm
threshold (the 95th percentile of the training images' anomaly scores, the threshold of the
``false_alarm_rate_at_5pct`` column). The documentation build draws the histogram from it with
:func:`skanomaly.plotting.plot_score_histogram`.

Usage::

    python docs/benchmarks/ood_fashion_mnist/scores.py                   # the best detector of results.csv
    python docs/benchmarks/ood_fashion_mnist/scores.py --detector IsolationForest --output /tmp/scores
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 0
FALSE_ALARM = 0.05


def best_detector(results):
    """The detector name with the highest mean AUROC over seeds among the ``ok`` rows."""
    ok = results[results["status"] == "ok"]
    means = ok.groupby("detector")["roc_auc"].mean().sort_values(ascending=False)
    return means.index[0], means


def entry_of(study, name):
    """``(study entry, ablation column or None)`` that produce the rows named ``name``."""
    for entry in study.detectors:
        if name == entry.name:
            return entry, None
        if name.startswith(f"{entry.name}[") and name.endswith("]"):
            return entry, name[len(entry.name) + 1:-1]
    if name == "IsolationForest":
        from skanomaly.benchmarks.registry import get_detector_spec
        from skanomaly.benchmarks.study import StudyDetector

        return StudyDetector("IsolationForest", get_detector_spec("IsolationForest").name), None
    raise SystemExit(f"{name!r} is produced by no entry of {study.path}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=HERE / "study.toml", help="the study file")
    parser.add_argument("--results", type=Path, default=HERE / "results.csv", help="its committed results")
    parser.add_argument("--detector", default=None, help="a row name instead of the best one")
    parser.add_argument("--output", type=Path, default=HERE, help="folder of scores.csv")
    args = parser.parse_args(argv)

    from skanomaly.benchmarks.protocols import get_protocol
    from skanomaly.benchmarks.registry import get_dataset_spec
    from skanomaly.benchmarks.runner import _build_estimator, _set_thread_count, _thread_limit
    from skanomaly.benchmarks.study import load_study
    from skanomaly.metrics import anomaly_roc_auc

    study = load_study(args.study)
    results = pd.read_csv(args.results)
    if args.detector is None:
        name, means = best_detector(results)
        print("mean AUROC over seeds:\n" + means.round(4).to_string(), flush=True)
    else:
        name = args.detector
    entry, ablation = entry_of(study, name)
    dataset = get_dataset_spec(study.datasets[0])
    bunch = dataset.load()
    X_train, X_test, y_test = get_protocol(study.protocol).split(np.asarray(bunch.data), np.asarray(bunch.target),
                                                                 SEED, None)
    estimator = _build_estimator(entry.spec(), dataset.name, SEED, {}, dataset, bunch.get("image_shape"))
    _set_thread_count(estimator, 1)
    print(f"fitting {entry.name} (seed {SEED}) on {len(X_train):,} images", flush=True)
    with _thread_limit(1):
        cpu = time.process_time()
        estimator.fit(X_train)
        fit_cpu = time.process_time() - cpu
        if ablation is None:
            normality = estimator.score_samples(X_test)
            training = estimator.score_samples(X_train)
        else:
            final = estimator.steps[-1][1]
            prepared = [estimator[:-1].transform(X) if len(estimator.steps) > 1 else X for X in (X_test, X_train)]
            normality, training = (final.ablation_scores(X)[ablation].to_numpy() for X in prepared)
    anomaly = -np.asarray(normality, dtype=np.float64)
    threshold = float(np.percentile(-np.asarray(training, dtype=np.float64), 100 * (1 - FALSE_ALARM)))
    auroc = anomaly_roc_auc(y_test, anomaly)
    committed = results.loc[(results["detector"] == name) & (results["seed"] == SEED) & (results["status"] == "ok"),
                            "roc_auc"]
    print(f"{name}: AUROC {auroc:.6f} (committed seed-{SEED} row: "
          f"{committed.iloc[0] if len(committed) else 'none'}); fit {fit_cpu:.0f} CPU s", flush=True)
    if len(committed) and abs(float(committed.iloc[0]) - auroc) > 1e-9:
        print("the refitted detector does not reproduce the committed row; scores.csv is not written",
              file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    chosen = "the highest mean AUROC over seeds" if args.detector is None else "named on the command line"
    header = {"detector": name, "dataset": dataset.name, "seed": SEED, "roc_auc": round(auroc, 6),
              "threshold_5pct_false_alarms": threshold, "chosen": chosen}
    with open(args.output / "scores.csv", "w", encoding="utf-8") as handle:
        handle.write(f"# {json.dumps(header)}\n")
        frame = pd.DataFrame({"label": y_test.astype(int), "anomaly_score": anomaly.astype(np.float32)})
        frame.to_csv(handle, index=False, float_format="%.6g")
    print(f"wrote {args.output / 'scores.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
