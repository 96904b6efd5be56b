"""Explanation study: do the attributions of ``skanomaly.explanations.explain`` name the features that made a row
anomalous?

Reproduces every row of ``results.csv`` in this folder, then ``summary.md`` (``summarize.py``)::

    OMP_NUM_THREADS=1 SKANOMALY_DATA=/path/to/data python docs/benchmarks/explanations/study.py [--n-jobs 2]

Anomalies with known causes. For each data set and seed, the normal rows are split 50/50 (``seed``) into
training rows and held-out rows. From held-out rows (10 per cell, each row used once), anomalies are made by
changing ``m`` in {1, 2, 3} randomly chosen features:

- ``shift``: the value moves by 5 training standard deviations, up or down at random (features with a training
  standard deviation of 0 are not chosen);
- ``dependence``: the value is taken from another held-out row (the donor), among the features where the two
  rows differ by more than one training standard deviation, so the marginal stays that of a normal row and
  only the dependence between features breaks (a row whose donor has fewer such features draws another donor).

The other held-out rows (at most 500) are the normal rows of the AUROC of each cell.

Data sets: Thyroid (6 features) and Arrhythmia (274), embedded; 2,000 normal rows of the KDD Cup 99 subsample of
the recommendation study (121 features; needs ``SKANOMALY_DATA``); and ADBench-style normal rows: the 1,500 normal
rows that ``make_adbench_anomalies`` draws from the Gaussian mixture fitted to the ``gmm8`` and ``gmm32`` sets of
the recommendation study (8 and 32 features). Seeds 0-4.

Detectors, each behind a ``MinMaxScaler`` fitted on the training rows (so the attributions are in the input
features), ``random_state=seed``, one torch thread: AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector and
OMASGANDetector at their class defaults, AMADetector at 30 of its 100 epochs (CPU budget), IsolationForest,
LocalOutlierFactor (``novelty=True``) and ``recommended_detector()``. Attribution methods (``ARMS``), at the
defaults of ``explain`` (64 integration steps, 8 permutations): for the networks, ``explain(model, rows)`` (the
reconstruction decomposition, or integrated gradients from the training mean; the autoencoder also by integrated
gradients from the training mean) and integrated gradients from each row's nearest training row
(``baseline=training rows``); for every detector, Shapley sampling and occlusion against each row's 5 nearest
training rows (``baseline=training rows``, ``n_neighbors="auto"``) and Shapley sampling against the same 5 random
training rows for every row (``n_neighbors=None``); PyOD's ECOD per-feature outlier scores (``ECOD().O`` of the
scored rows) as a reference, and the random ranking (``m / d``).

Hit rate: the share of the ``m`` changed features among the ``m`` features with the largest contributions (ties
broken at random), averaged over the rows of a cell. Costs are CPU seconds per 1,000 explained rows, measured with
``time.process_time`` in the worker process (one thread), beside the cost of ``score_samples`` on the same rows;
the networks' own methods are also timed on 5,000 rows (the normal test rows repeated), where fixed costs do not
count (median of 3 runs, beside the median of 3 runs of ``score_samples``; integrated gradients once).
The detector's own sensitivity, whatever the attribution: the share of a row's changed features whose
restoration alone (the value before the change) lowers the detector's anomaly score. The spread of the sampled
method: on seed 0, Shapley sampling is run again with another ``random_state`` on the
first 5 rows of each cell; the share of the top-``m`` features both runs agree on and the RMS difference relative
to the RMS contribution.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly import recommended_detector
from skanomaly.datasets import load_arrhythmia, load_thyroid
from skanomaly.detectors import (
    AMADetector,
    AutoEncoderDetector,
    DeepSVDDDetector,
    MirroredAEDetector,
    OMASGANDetector,
)
from skanomaly.benchmarks import environment_info
from skanomaly.explanations import explain

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summarize  # noqa: E402  (the tables of summary.md, in this folder)

HERE = Path(__file__).resolve().parent
from summarize import CHANGED, DATASETS, KINDS, SEEDS  # noqa: E402  (one place for the study's grid)

ROWS_PER_CELL = 10
SHIFT_SDS = 5.0
N_NORMAL_TEST = 500
N_BACKGROUND = 5
BULK_ROWS = 5_000  # rows the networks' own methods and score_samples are timed on
REPEATED_ROWS = 5  # rows per cell explained twice (seed 0) for the spread of Shapley sampling
NETWORK_DETECTORS = {
    "AutoEncoderDetector": AutoEncoderDetector(),
    "DeepSVDDDetector": DeepSVDDDetector(),
    "AMADetector": AMADetector(max_epochs=30),
    "MirroredAEDetector": MirroredAEDetector(),
    "OMASGANDetector": OMASGANDetector(),
}
OTHER_DETECTORS = {
    "IsolationForest": IsolationForest(),
    "LocalOutlierFactor": LocalOutlierFactor(novelty=True),
}
RECOMMENDED = "recommended_detector"
BLACK_BOX_METHODS = ("shapley_sampling", "occlusion")
NETWORK_METHODS = ("auto", "integrated_gradients")
# (method, reference rows) of every detector; the first two are the networks' own methods
ARMS = [
    ("auto", "training mean"),  # explain(model, rows): what a call with no reference rows gives
    ("integrated_gradients", "nearest training row"),
    ("shapley_sampling", "5 nearest training rows"),
    ("occlusion", "5 nearest training rows"),
    ("shapley_sampling", "5 random training rows"),
]


def load_normal_rows(data_home=None):
    """Name -> normal rows (raw features) of every data set of the study."""
    sys.path.insert(0, str(HERE.parent / "recommendation"))
    try:
        from study import development_datasets  # the recommendation study's data, generated the same way
    finally:
        sys.path.pop(0)
    developed = development_datasets()
    rows = {}
    X, y = load_thyroid(return_X_y=True)
    rows["thyroid"] = X[y == 0]
    X, y = load_arrhythmia(return_X_y=True)
    rows["arrhythmia"] = X[y == 0]
    _, X, y, _ = developed["kddcup99"]
    kdd = X[y == 0]
    rows["kddcup99"] = kdd[np.random.RandomState(0).choice(kdd.shape[0], size=2_000, replace=False)]
    for name in ("gmm8", "gmm32"):
        _, X, y, _ = developed[f"{name}-local"]
        rows[name] = X[y == 0]
    return {name: np.asarray(X, dtype=np.float64) for name, X in rows.items()}


def make_anomalies(held, donors, sd, kind, m, rng):
    """Anomalies made from the rows ``held`` by changing ``m`` features; returns them and the changed mask."""
    anomalies = held.copy()
    changed = np.zeros(held.shape, dtype=bool)
    movable = np.flatnonzero(sd > 0)
    for i, row in enumerate(held):
        if kind == "shift":
            features = rng.choice(movable, size=m, replace=False)
            anomalies[i, features] = row[features] + SHIFT_SDS * sd[features] * rng.choice([-1.0, 1.0], size=m)
        else:
            for _ in range(100):
                donor = donors[rng.randint(donors.shape[0])]
                different = np.flatnonzero((np.abs(donor - row) > sd) & (sd > 0))
                if different.size >= m:
                    break
            else:
                raise RuntimeError("no donor row differs in enough features")
            features = rng.choice(different, size=m, replace=False)
            anomalies[i, features] = donor[features]
        changed[i, features] = True
    return anomalies, changed


def hit_rates(contributions, changed, m, rng):
    """Per row, the share of the changed features among the ``m`` largest contributions (ties at random)."""
    hits = np.empty(contributions.shape[0])
    for i, (values, truth) in enumerate(zip(contributions, changed)):
        order = np.lexsort((rng.random_sample(values.shape[0]), -values))
        hits[i] = truth[order[:m]].sum() / m
    return hits


def top_m_agreement(first, second, m):
    return np.mean([np.intersect1d(np.argsort(-a)[:m], np.argsort(-b)[:m]).size / m for a, b in zip(first, second)])


def _seeded(estimator, seed):
    estimator = clone(estimator)
    names = [name for name in estimator.get_params() if name.split("__")[-1] == "random_state"]
    return estimator.set_params(**{name: seed for name in names})


def _models(seed):
    models = {name: make_pipeline(MinMaxScaler(), _seeded(detector, seed))
              for name, detector in {**NETWORK_DETECTORS, **OTHER_DETECTORS}.items()}
    models[RECOMMENDED] = recommended_detector(random_state=seed)
    return models


def _cpu(fn):
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def run_task(name, X_normal, seed):
    """Every detector and method on one data set and seed; returns result rows."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    rng = np.random.RandomState(seed)
    order = rng.permutation(X_normal.shape[0])
    half = X_normal.shape[0] // 2
    train, held = X_normal[order[:half]], X_normal[order[half:]]
    sd = train.std(axis=0)
    n_cells = len(KINDS) * len(CHANGED)
    sources, normal_test = held[:n_cells * ROWS_PER_CELL], held[n_cells * ROWS_PER_CELL:][:N_NORMAL_TEST]
    cells = []
    for c, (kind, m) in enumerate((kind, m) for kind in KINDS for m in CHANGED):
        rows = sources[c * ROWS_PER_CELL:(c + 1) * ROWS_PER_CELL]
        anomalies, changed = make_anomalies(rows, normal_test, sd, kind, m, rng)
        cells.append((kind, m, anomalies, changed))
    anomalies = np.concatenate([cell[2] for cell in cells])
    changed_mask = np.concatenate([cell[3] for cell in cells])
    # every anomaly with one of its changed features put back to its value before the change
    row_index, feature_index = np.nonzero(changed_mask)
    restored = anomalies[row_index].copy()
    restored[np.arange(row_index.shape[0]), feature_index] = sources[row_index, feature_index]
    background = train[rng.choice(train.shape[0], size=N_BACKGROUND, replace=False)]
    bulk_rows = np.resize(normal_test, (BULK_ROWS, X_normal.shape[1]))
    base = {"dataset": name, "seed": seed, "n_features": X_normal.shape[1], "n_train": train.shape[0],
            "n_normal_test": normal_test.shape[0], "rows_per_cell": ROWS_PER_CELL}
    results = []

    def record(detector, method, contributions, normal_scores, anomaly_scores, cost, score_cost, delta=None,
               repeat=None, fit_seconds=np.nan, bulk=None, sensitive=None):
        tie_rng = np.random.RandomState(seed)
        for c, (kind, m, _, changed) in enumerate(cells):
            rows = slice(c * ROWS_PER_CELL, (c + 1) * ROWS_PER_CELL)
            labels = np.r_[np.zeros(normal_scores.shape[0]), np.ones(ROWS_PER_CELL)]
            auroc = roc_auc_score(labels, np.r_[normal_scores, anomaly_scores[rows]])
            row = {**base, "detector": detector, "method": method, "kind": kind, "m": m, "auroc": auroc,
                   "hit_rate": float(np.mean(hit_rates(contributions[rows], changed, m, tie_rng))),
                   "random_hit_rate": m / X_normal.shape[1], "fit_seconds": fit_seconds,
                   "explain_cpu_per_1000": 1000 * cost / anomalies.shape[0],
                   "score_cpu_per_1000": 1000 * score_cost / anomalies.shape[0]}
            if bulk is not None:
                row.update(bulk_explain_cpu_per_1000=bulk[0], bulk_score_cpu_per_1000=bulk[1])
            if sensitive is not None:
                row["sensitive_share"] = float(np.mean(sensitive[rows]))
            if delta is not None:
                gap = np.abs(delta[0][rows]) / np.maximum(np.abs(delta[1][rows]), 1e-300)
                row.update(median_relative_delta=float(np.median(gap)), max_relative_delta=float(np.max(gap)))
            if repeat is not None:
                first, second = contributions[rows][:REPEATED_ROWS], repeat[rows][:REPEATED_ROWS]
                row.update(repeat_top_m_agreement=top_m_agreement(first, second, m),
                           repeat_relative_difference=float(np.sqrt(np.mean((first - second) ** 2))
                                                            / np.sqrt(np.mean(first ** 2))))
            results.append(row)

    for detector, model in _models(seed).items():
        _, fit_seconds = _cpu(lambda: model.fit(train))
        normal_scores = -model.score_samples(normal_test)
        anomaly_scores, score_cost = _cpu(lambda: -model.score_samples(anomalies))
        # the share of each row's changed features whose restoration alone lowers the detector's anomaly score
        lowered = anomaly_scores[row_index] - (-model.score_samples(restored)) > 1e-9 * (1 + np.abs(anomaly_scores).max())
        sensitive = np.bincount(row_index, weights=lowered, minlength=anomalies.shape[0]) / changed_mask.sum(axis=1)
        arms = [arm for arm in ARMS if detector in NETWORK_DETECTORS or arm[0] in BLACK_BOX_METHODS]
        if detector == "AutoEncoderDetector":  # its score is differentiable too: the input side of its error
            arms.insert(1, ("integrated_gradients", "training mean"))
        for method, references in arms:
            baseline, n_neighbors = {"training mean": (None, "auto"), "nearest training row": (train, "auto"),
                                     "5 nearest training rows": (train, "auto"),
                                     "5 random training rows": (background, None)}[references]

            def run(rows, random_state=0):
                return explain(model, rows, method=method, baseline=baseline, n_neighbors=n_neighbors,
                               random_state=random_state)

            result, cost = _cpu(lambda: run(anomalies))
            if not np.allclose(result.anomaly_scores, anomaly_scores, rtol=0,
                               atol=1e-9 * (1 + np.abs(anomaly_scores).max())):
                raise AssertionError(f"{detector} {method}: explained scores differ from -score_samples")
            repeat = None
            if method == "shapley_sampling" and references == "5 nearest training rows" and seed == 0:
                again = np.concatenate([np.arange(c * ROWS_PER_CELL, c * ROWS_PER_CELL + REPEATED_ROWS)
                                        for c in range(n_cells)])
                repeat = np.full_like(result.contributions, np.nan)
                repeat[again] = run(anomalies[again], random_state=1).contributions
            delta = (result.delta, result.anomaly_scores - result.baseline_scores - result.beyond_training)
            bulk = None
            if method in NETWORK_METHODS and references != "5 random training rows":  # on many rows
                bulk_score = np.median([_cpu(lambda: model.score_samples(bulk_rows))[1] for _ in range(3)])
                bulk_explain = np.median([_cpu(lambda: run(bulk_rows))[1]
                                          for _ in range(3 if method == "auto" else 1)])
                bulk = (1000 * bulk_explain / BULK_ROWS, 1000 * bulk_score / BULK_ROWS)
            described = "no reference" if result.method == "reconstruction" else references
            record(detector, f"{result.method} ({described})", result.contributions, normal_scores, anomaly_scores,
                   cost, score_cost, delta=delta, repeat=repeat, fit_seconds=fit_seconds, bulk=bulk,
                   sensitive=sensitive)

    from pyod.models.ecod import ECOD  # the reference of per-feature outlier scores

    ecod, fit_seconds = _cpu(lambda: ECOD().fit(train))
    normal_scores = ecod.decision_function(normal_test)
    anomaly_scores, score_cost = _cpu(lambda: ecod.decision_function(anomalies))
    per_feature = np.asarray(ecod.O[-anomalies.shape[0]:], dtype=np.float64)
    record("ECOD", "ecod_per_feature", per_feature, normal_scores, anomaly_scores, score_cost, score_cost,
           fit_seconds=fit_seconds)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--results", type=Path, default=HERE / "results.csv")
    parser.add_argument("--partial", type=Path, default=HERE / "partial",
                        help="folder of per-task results, so that an interrupted run resumes (deleted at the end)")
    parser.add_argument("--summary-only", action="store_true", help="rewrite summary.md from the results")
    args = parser.parse_args(argv)
    if not args.summary_only:
        data = load_normal_rows()
        args.partial.mkdir(exist_ok=True)
        tasks = [(name, seed) for name in args.datasets for seed in args.seeds
                 if not (args.partial / f"{name}_{seed}.csv").exists()]
        tasks.sort(key=lambda task: -data[task[0]].shape[1])  # the widest (slowest) first

        def task(name, seed):
            rows = pd.DataFrame(run_task(name, data[name], seed))
            rows["commit"] = environment_info()["git_commit"][:7]
            rows.to_csv(args.partial / f"{name}_{seed}.csv", index=False)
            print(f"done {name} seed {seed}", flush=True)

        Parallel(n_jobs=args.n_jobs)(delayed(task)(name, seed) for name, seed in tasks)
        parts = [pd.read_csv(args.partial / f"{name}_{seed}.csv") for name in args.datasets for seed in args.seeds]
        pd.concat(parts, ignore_index=True).to_csv(args.results, index=False)
    summarize.main(args.results)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
