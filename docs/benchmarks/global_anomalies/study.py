"""Every detector at its class defaults on ADBench's global anomalies: which ones rank them below chance, and why?

Reproduces ``results.csv`` in this folder::

    OMP_NUM_THREADS=1 SKANOMALY_DATA=/path/to/data python docs/benchmarks/global_anomalies/study.py [--n-jobs 2]

Data: the five sets of normal rows of the recommendation study (``docs/benchmarks/recommendation/study.py``:
2,000 normal rows of Thyroid, the 386 of Arrhythmia, 2,000 of KDD Cup 99, two generated Gaussian mixtures of
8 and 32 features), min-max scaled, with ADBench's "global" anomalies (:func:`skanomaly.datasets.make_adbench_anomalies`,
each feature uniform on ``[1.1 * min, 1.1 * max]`` of the normal rows, generation seed 0, 10 % anomalies).

Protocol, seeds 0-4: ``novelty_train_test_split(X, y, random_state=seed)``, a ``MinMaxScaler`` fitted on the
training half, each detector at its class defaults with ``random_state=seed``, AUROC and F1 at the top 10 % of
the test half (anomaly score ``-score_samples``); ``roc_auc_networks`` is the AUROC of the networks' own score,
without the cap every detector puts on rows far outside its training data (``BaseDetector._guard_far_rows``; empty
for IsolationForest), so that the guard's part in the result is seen. Besides the metrics, each row records the
share of test
anomalies and of normal test rows whose distance from the training mean exceeds the largest distance of a
training row (``beyond_support``) and twice that (``beyond_guard``: where the far-row guard of the detectors
starts), and ``mean_margin``: the mean over test anomalies of their distance from the training mean minus the
largest training distance, in units of the latter. Rows with ``part`` other than ``"score"`` give the AUROC of a
part of a detector's score, before the cap (``roc_auc_networks``): AMA's feature-L1 score (``score_type=feature_l1``),
OMASGAN's score after Task 1 and Task 3 (``stop_after=...``), its J term alone (``lambda_fd=0.0``) and its fD term
alone.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import MinMaxScaler

from skanomaly.benchmarks import environment_info
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.metrics import anomaly_roc_auc, precision_recall_f1_at_k
from skanomaly.model_selection import novelty_train_test_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import import_script  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
DETECTORS = {
    "AutoEncoderDetector": AutoEncoderDetector(),
    "MirroredAEDetector": MirroredAEDetector(),
    "AMADetector": AMADetector(),
    "OMASGANDetector": OMASGANDetector(),
    "DeepSVDDDetector": DeepSVDDDetector(),
    "IsolationForest": IsolationForest(),
}


def global_datasets():
    """Name -> (X, y) of the five sets with global anomalies."""
    data = import_script("recommendation/study.py").development_datasets()
    return {name: (X, y) for name, (family, X, y, _) in data.items() if family == "global"}


def _distance_ratios(X_train, X):
    center = X_train.mean(axis=0)
    radius = np.linalg.norm(X_train - center, axis=1).max()
    return np.linalg.norm(X - center, axis=1) / radius


def run_split(name, X, y, seed):
    torch.set_num_threads(1)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=seed)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ratio = _distance_ratios(X_train, X_test)
    anomalies = y_test == 1
    geometry = {"beyond_support": float(np.mean(ratio[anomalies] > 1)),
                "beyond_guard": float(np.mean(ratio[anomalies] > 2)),
                "normal_beyond_support": float(np.mean(ratio[~anomalies] > 1)),
                "mean_margin": float(np.mean(ratio[anomalies] - 1))}
    rows = []
    for detector_name, template in DETECTORS.items():
        detector = clone(template).set_params(random_state=seed)
        start = time.perf_counter()
        detector.fit(X_train)
        seconds = time.perf_counter() - start
        anomaly_score = -detector.score_samples(X_test)
        networks = np.nan
        if hasattr(detector, "_guard_far_rows"):  # the networks' score, before the cap on far rows
            networks = anomaly_roc_auc(y_test, -detector._score_samples(detector._validate_X(X_test, reset=False)))
        common = {"dataset": name, "seed": seed, "n_train": X_train.shape[0], "n_features": X_train.shape[1],
                  "fit_seconds": seconds, **geometry}
        rows.append({**common, "detector": detector_name, "part": "score",
                     "roc_auc": anomaly_roc_auc(y_test, anomaly_score), "roc_auc_networks": networks,
                     "f1_at_k": precision_recall_f1_at_k(y_test, anomaly_score, 0.1)[2]})
        for part, networks_score in _parts(detector, X_test).items():
            rows.append({**common, "detector": detector_name, "part": part,
                         "roc_auc_networks": anomaly_roc_auc(y_test, -networks_score)})
    return rows


def _parts(detector, X_test):
    """Normality scores of the parts of a detector's score, before the cap on far rows: its score-only ablations
    (AMA's feature-L1 score, OMASGAN's earlier stages and its J term alone) and OMASGAN's fD term alone."""
    if not hasattr(detector, "_score_variants"):
        return {}
    X = detector._validate_X(X_test, reset=False)
    parts = {variant: score(X) for variant, score in detector._score_variants().items()}
    if isinstance(detector, OMASGANDetector) and detector.stop_after == "j":
        parts["fD term alone"] = -detector._standardised_terms(X)[:, 1]
    return parts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", default=str(HERE / "results.csv"))
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    parser.add_argument("--datasets", nargs="*", default=None, help="a subset of the five sets (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = global_datasets()
    names = args.datasets or list(data)
    tasks = [(name, *data[name], seed) for name in names for seed in args.seeds]
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(run_split)(*task) for task in tasks)
    frame = pd.DataFrame([row for rows in results for row in rows])
    environment = environment_info()
    frame["git_commit"], frame["git_dirty"] = environment["git_commit"], environment["git_dirty"]
    frame = frame.sort_values(["dataset", "detector", "part", "seed"]).reset_index(drop=True)
    frame.to_csv(args.output, index=False, float_format="%.6g")
    print(f"{len(frame)} rows written to {args.output}")


if __name__ == "__main__":
    main()
