"""Development study behind ``skanomaly.recommended_detector``: which detector for tabular data never seen?

Reproduces every row of ``results.csv`` in this folder::

    OMP_NUM_THREADS=1 SKANOMALY_DATA=/path/to/data python docs/benchmarks/recommendation/study.py [--n-jobs 2]

Development data (nothing else is used to choose):

- ``real``: Thyroid and Arrhythmia (embedded) and KDD Cup 99 (10 % file, needs ``SKANOMALY_DATA``), with their
  own labels; KDD Cup 99 is subsampled to 5,000 normal and 1,250 anomalous rows (seed 0), its 20 % ratio.
- ``local`` / ``global`` / ``dependency`` / ``clustered``: ADBench's four anomaly types
  (:func:`skanomaly.datasets.make_adbench_anomalies`, generation seed 0, 10 % anomalies, normal rows drawn from
  the fitted model, mixtures of 1 to 3 components) on five sets of normal rows, min-max scaled to [0, 1]
  first: 2,000 normal rows of Thyroid, the 386 of Arrhythmia, 2,000 of KDD Cup 99, and two generated
  Gaussian mixtures (1,500 rows each, 8 features with 3 components and 32 features with 5 components).

Protocol, for every data set and seeds 0-4: ``novelty_train_test_split(X, y, random_state=seed)`` (50/50, the
anomalies of the training half dropped), a ``MinMaxScaler`` fitted on the training half, every detector fitted
on the training half with ``random_state=seed``, AUROC and F1@k of the test half (anomaly score =
``-score_samples``; k = 0.025 / 0.15 / 0.2 for Thyroid / Arrhythmia / KDD Cup 99 as in the tabular benchmark,
the anomaly ratio of the whole set for the synthetic sets).

Candidates: IsolationForest (100 trees), LocalOutlierFactor (``novelty=True``, 20 neighbours), an
AutoEncoderDetector (20 epochs, batch 128) and a MirroredAEDetector (10 epochs, 3 warm-up, batch 128), alone, and
ScoreCombinationDetector combinations of them with rank or standard normalisation and mean or max combination.
The members are fitted once per data set and seed; every combination is a ScoreCombinationDetector over those
fitted members (``sklearn.frozen.FrozenEstimator``), and the script checks on every split that the IF+LOF
(rank, mean) combination equals one fitted from scratch. A combination's ``fit_seconds`` is the sum of its members'.
"""

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import fetch_kddcup99, load_arrhythmia, load_thyroid, make_adbench_anomalies
from skanomaly.detectors import AutoEncoderDetector, MirroredAEDetector
from skanomaly.ensemble import ScoreCombinationDetector
from skanomaly.metrics import anomaly_roc_auc, precision_recall_f1_at_k
from skanomaly.model_selection import novelty_train_test_split

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2, 3, 4)
KINDS = ("local", "global", "dependency", "clustered")
REAL_K = {"thyroid": 0.025, "arrhythmia": 0.15, "kddcup99": 0.2}

# The members, by short name; each gets random_state=seed when it has one.
MEMBERS = {
    "IF": IsolationForest(n_estimators=100),
    "LOF": LocalOutlierFactor(n_neighbors=20, novelty=True),
    "AE": AutoEncoderDetector(max_epochs=20, batch_size=128),
    "MAE": MirroredAEDetector(max_epochs=10, selection_warmup_epochs=3, batch_size=128),
}
SINGLE_NAMES = {"IF": "IsolationForest", "LOF": "LOF", "AE": "AutoEncoder", "MAE": "MirroredAE"}
MEMBER_SETS = (("IF", "LOF"), ("IF", "AE"), ("LOF", "AE"), ("IF", "LOF", "AE"), ("IF", "LOF", "MAE"),
               ("IF", "LOF", "AE", "MAE"))
NORMALIZATIONS = ("rank", "standard")
COMBINATIONS = ("mean", "max")


def combination_name(members, normalization, combination):
    return f"{'+'.join(members)} ({normalization}, {combination})"


def _minmax(X):
    return MinMaxScaler().fit_transform(X)


def _gaussian_mixture_rows(n_samples, n_features, n_components, rng):
    """Normal rows of a random Gaussian mixture: uniform means in [0, 4]^d, random full covariances."""
    means = rng.uniform(0.0, 4.0, size=(n_components, n_features))
    labels = rng.randint(n_components, size=n_samples)
    X = np.empty((n_samples, n_features))
    for c in range(n_components):
        factor = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
        covariance = factor @ factor.T * rng.uniform(0.05, 0.3) + 1e-3 * np.eye(n_features)
        rows = labels == c
        X[rows] = rng.multivariate_normal(means[c], covariance, size=int(rows.sum()))
    return X


def development_datasets():
    """Name -> (family, X, y, k) of every development data set."""
    rng = np.random.RandomState(0)
    data = {}
    X, y = load_thyroid(return_X_y=True)
    data["thyroid"] = ("real", X, y, REAL_K["thyroid"])
    thyroid_normal = X[y == 0]
    X, y = load_arrhythmia(return_X_y=True)
    data["arrhythmia"] = ("real", X, y, REAL_K["arrhythmia"])
    arrhythmia_normal = X[y == 0]
    X, y = fetch_kddcup99(return_X_y=True)
    normal_rows = rng.choice(np.flatnonzero(y == 0), size=5_000, replace=False)
    anomaly_rows = rng.choice(np.flatnonzero(y == 1), size=1_250, replace=False)
    rows = np.sort(np.concatenate([normal_rows, anomaly_rows]))
    data["kddcup99"] = ("real", np.asarray(X[rows], dtype=np.float64), np.asarray(y[rows]), REAL_K["kddcup99"])
    kdd_normal = np.asarray(X[rng.choice(np.flatnonzero(y == 0), size=2_000, replace=False)], dtype=np.float64)
    bases = {
        "thyroid": thyroid_normal[rng.choice(thyroid_normal.shape[0], size=2_000, replace=False)],
        "arrhythmia": arrhythmia_normal,
        "kddcup99": kdd_normal,
        "gmm8": _gaussian_mixture_rows(1_500, 8, 3, rng),
        "gmm32": _gaussian_mixture_rows(1_500, 32, 5, rng),
    }
    for base, X_normal in bases.items():
        X_normal = _minmax(X_normal)
        for kind in KINDS:
            X, y = make_adbench_anomalies(X_normal, kind, max_components=3, random_state=0)
            data[f"{base}-{kind}"] = (kind, X, y, float(y.mean()))
    return data


def _with_seed(estimator, seed):
    estimator = clone(estimator)
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


def _metrics(y_test, normality, k):
    anomaly_score = -np.asarray(normality, dtype=np.float64)
    return anomaly_roc_auc(y_test, anomaly_score), precision_recall_f1_at_k(y_test, anomaly_score, k)[2]


def run_split(name, family, X, y, k, seed):
    """Every candidate on one data set and seed; returns a list of result rows."""
    torch.set_num_threads(1)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=seed)
    scaler = MinMaxScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    base = {"dataset": name, "family": family, "seed": seed, "k": k, "n_train": X_train.shape[0],
            "n_test": X_test.shape[0], "n_features": X_train.shape[1]}
    rows, fitted, seconds = [], {}, {}
    for short, template in MEMBERS.items():
        member = _with_seed(template, seed)
        start = time.perf_counter()
        member.fit(X_train)
        seconds[short] = time.perf_counter() - start
        fitted[short] = member
        auroc, f1 = _metrics(y_test, member.score_samples(X_test), k)
        rows.append({**base, "detector": SINGLE_NAMES[short], "members": short, "normalization": "",
                     "combination": "", "roc_auc": auroc, "f1_at_k": f1, "fit_seconds": seconds[short]})
    for members, normalization, combination in itertools.product(MEMBER_SETS, NORMALIZATIONS, COMBINATIONS):
        model = ScoreCombinationDetector([(m, FrozenEstimator(fitted[m])) for m in members],
                                         normalization=normalization, combination=combination).fit(X_train)
        scores = model.score_samples(X_test)
        if (members, normalization, combination) == (("IF", "LOF"), "rank", "mean"):  # equals a fresh fit
            fresh = ScoreCombinationDetector([(m, _with_seed(MEMBERS[m], seed)) for m in members],
                                             normalization=normalization, combination=combination).fit(X_train)
            np.testing.assert_allclose(fresh.score_samples(X_test), scores, rtol=1e-12, atol=1e-12)
        auroc, f1 = _metrics(y_test, scores, k)
        rows.append({**base, "detector": combination_name(members, normalization, combination),
                     "members": "+".join(members), "normalization": normalization, "combination": combination,
                     "roc_auc": auroc, "f1_at_k": f1, "fit_seconds": sum(seconds[m] for m in members)})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", default=str(HERE / "results.csv"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = development_datasets()
    tasks = [(name, *entry, seed) for name, entry in data.items() for seed in SEEDS]
    # the largest splits first, so that the two workers finish together
    tasks.sort(key=lambda task: -task[2].shape[0] * task[2].shape[1])
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(run_split)(*task) for task in tasks)
    frame = pd.DataFrame([row for rows in results for row in rows])
    frame = frame.sort_values(["family", "dataset", "detector", "seed"]).reset_index(drop=True)
    frame.to_csv(args.output, index=False, float_format="%.6g")
    print(f"{len(frame)} rows written to {args.output}")


if __name__ == "__main__":
    main()
