"""Calibration study: the false-alarm rate a user asks for against the one they get, for every detector.

Reproduces ``results.csv`` in this folder (and ``summary.md``, through ``summarize.py``)::

    OMP_NUM_THREADS=1 SKANOMALY_DATA=/path/to/data python docs/benchmarks/calibration/study.py [--n-jobs 2]

Data (``1 = anomaly``):

- ``thyroid``, ``arrhythmia``: the ODDS sets (embedded);
- ``kddcup99``: 5,000 normal and 1,250 anomalous rows of the KDD Cup 99 10 % file (seed 0), as in the
  recommendation study (``docs/benchmarks/recommendation/study.py``);
- ``adbench-local``, ``-global``, ``-dependency``, ``-clustered``: ADBench's four synthetic anomaly types
  (:func:`skanomaly.datasets.make_adbench_anomalies`, generation seed 0, 10 % anomalies, mixtures of 1 to 3
  components) on 2,000 normal rows of Thyroid (seed 0), min-max scaled first.

Protocol, for every data set and seeds 0-19: ``novelty_train_test_split(X, y, random_state=seed)`` (50/50, the
anomalies of the training half dropped). Every detector is a ``Pipeline`` of a ``MinMaxScaler`` and the detector
with ``random_state=seed``, and is used three ways on the training half:

- ``percentile``: fitted on every training row; a row is flagged at ``alpha`` when its score is below the
  ``100 * alpha`` percentile of the training rows' scores (what ``predict`` does with ``contamination=alpha``);
- ``split``: ``CalibratedDetector(method="split")`` (30 % of the training rows calibrate), flagged when
  ``p <= alpha``;
- ``cross``: ``CalibratedDetector(method="cross", n_folds=5)``, flagged when ``p <= alpha``.

For ``alpha`` in 0.01, 0.05, 0.10: the realized false-alarm rate (share of the normal test rows flagged) and the
detection rate (share of the test anomalies flagged); a rate the calibration cannot reach (``alpha < 1 / (n + 1)``)
is recorded as unreachable. For the two calibrations, Benjamini-Hochberg at ``q = 0.1`` on the whole test half:
the false discovery proportion (0 when nothing is flagged) and the power.

Detectors: IsolationForest (100 trees), ``recommended_detector()``, and the five detectors of this library at
their class defaults, except for the training budgets of the three adversarial ones, shortened so that the
6,860 fits (7 data sets x 20 seeds x 7 detectors x 7 fits) took 1.7 CPU hours of fitting in all (the
``fit_seconds`` column; 1 h 45 min wall on one core of the 2-core machine) (``STUDY_BUDGETS``: 4 epochs instead
of 50 or 100); the calibration's guarantee does not depend on how well a model
is trained.
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
from scipy.stats import false_discovery_control
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly import recommended_detector
from skanomaly.benchmarks import environment_info
from skanomaly.calibration import CalibratedDetector
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.model_selection import novelty_train_test_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import import_script  # noqa: E402

SEEDS = tuple(range(20))
ALPHAS = (0.01, 0.05, 0.10)
FDR = 0.1
KINDS = ("local", "global", "dependency", "clustered")
STUDY_BUDGETS = {
    "MirroredAEDetector": {"max_epochs": 4, "selection_warmup_epochs": 1},
    "AMADetector": {"max_epochs": 4},
    "OMASGANDetector": {"task1_epochs": 4, "task2_epochs": 2, "task3_epochs": 2, "j_epochs": 2},
}
DETECTORS = {
    "IsolationForest": lambda: IsolationForest(n_estimators=100),
    "recommended_detector": lambda: recommended_detector(),
    "AutoEncoderDetector": lambda: AutoEncoderDetector(),
    "DeepSVDDDetector": lambda: DeepSVDDDetector(),
    "MirroredAEDetector": lambda: MirroredAEDetector(**STUDY_BUDGETS["MirroredAEDetector"]),
    "AMADetector": lambda: AMADetector(**STUDY_BUDGETS["AMADetector"]),
    "OMASGANDetector": lambda: OMASGANDetector(**STUDY_BUDGETS["OMASGANDetector"]),
}


def datasets():
    """Name -> (X, y) of the seven data sets."""
    data = import_script("recommendation/study.py").development_datasets()
    chosen = {name: (X, y) for name, (_, X, y, _) in data.items() if name in ("thyroid", "arrhythmia", "kddcup99")}
    chosen.update({f"adbench-{kind}": data[f"thyroid-{kind}"][1:3] for kind in KINDS})
    return chosen


def _seeded(factory, seed):
    detector = factory()
    detector.set_params(**{key: seed for key in detector.get_params(deep=True)
                           if key == "random_state" or key.endswith("__random_state")})
    return make_pipeline(MinMaxScaler(), detector)


def _rates(flagged, anomalous):
    return float(np.mean(flagged[~anomalous])), float(np.mean(flagged[anomalous]))


def run_split(name, X, y, seed):
    """Every detector, three ways, on one data set and seed; returns result rows."""
    torch.set_num_threads(1)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=seed)
    anomalous = np.asarray(y_test) == 1
    base = {"dataset": name, "seed": seed, "n_train": X_train.shape[0], "n_test_normal": int((~anomalous).sum()),
            "n_test_anomalous": int(anomalous.sum())}
    rows = []
    for detector_name, factory in DETECTORS.items():
        common = {**base, "detector": detector_name}
        start = time.perf_counter()
        model = _seeded(factory, seed).fit(X_train)
        seconds = time.perf_counter() - start
        train_scores, test_scores = model.score_samples(X_train), model.score_samples(X_test)
        for alpha in ALPHAS:
            far, detection = _rates(test_scores < np.percentile(train_scores, 100 * alpha), anomalous)
            rows.append({**common, "way": "percentile", "alpha": alpha, "reachable": True, "false_alarm_rate": far,
                         "detection_rate": detection, "n_calibration": 0, "fit_seconds": seconds})
        for way, kwargs in (("split", {"method": "split"}), ("cross", {"method": "cross", "n_folds": 5})):
            start = time.perf_counter()
            calibrated = CalibratedDetector(_seeded(factory, seed), false_alarm_rate=0.5, random_state=seed,
                                            **kwargs).fit(X_train)
            seconds = time.perf_counter() - start
            p_values = calibrated.p_values(X_test)
            n_calibration = calibrated.n_calibration_
            for alpha in ALPHAS:
                reachable = alpha * (n_calibration + 1) >= 1
                far, detection = _rates(p_values <= alpha, anomalous) if reachable else (np.nan, np.nan)
                rows.append({**common, "way": way, "alpha": alpha, "reachable": reachable, "false_alarm_rate": far,
                             "detection_rate": detection, "n_calibration": n_calibration, "fit_seconds": seconds})
            flagged = false_discovery_control(p_values, method="bh") <= FDR
            rows.append({**common, "way": way, "alpha": np.nan, "fdr_target": FDR, "reachable": True,
                         "fdp": float(np.sum(flagged & ~anomalous) / max(1, flagged.sum())),
                         "power": float(np.mean(flagged[anomalous])), "n_flagged": int(flagged.sum()),
                         "n_calibration": n_calibration, "fit_seconds": seconds})
    return rows


def _cached(parts, name, X, y, seed):
    """``run_split``, its rows kept in ``parts/<name>-<seed>.csv`` (when ``parts`` is given) and reused."""
    path = parts / f"{name}-{seed}.csv" if parts is not None else None
    if path is not None and path.exists():
        return pd.read_csv(path).to_dict("records")
    rows = run_split(name, X, y, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(path.with_suffix(".tmp"), index=False)
        path.with_suffix(".tmp").replace(path)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--output", default=str(HERE / "results.csv"))
    parser.add_argument("--parts", default=None,
                        help="folder keeping each (data set, seed)'s rows as it finishes; a rerun reuses them")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    data = datasets()
    names = args.datasets or list(data)
    tasks = [(name, *data[name], seed) for seed in args.seeds for name in names]
    parts = Path(args.parts) if args.parts else None
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_cached)(parts, *task) for task in tasks)
    frame = pd.DataFrame([row for rows in results for row in rows])
    environment = environment_info()
    frame["git_commit"], frame["git_dirty"] = environment["git_commit"], environment["git_dirty"]
    frame = frame.sort_values(["dataset", "detector", "way", "seed", "alpha"], na_position="last")
    frame.to_csv(args.output, index=False, float_format="%.6g")
    print(f"{len(frame)} rows written to {args.output}")


if __name__ == "__main__":
    main()
