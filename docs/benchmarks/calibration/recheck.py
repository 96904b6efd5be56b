"""Re-measure one cell of the calibration study on more seeds.

A cell whose mean false-alarm rate lies above ``alpha + 2 standard errors`` on the study's 20 seeds is either a
broken guarantee or one of the excursions that 140 reachable split-calibration cells make by chance (about 2 % of cells
land above two standard errors when the guarantee holds exactly). This script refits that cell's detector with
``CalibratedDetector(method="split")`` exactly as ``study.py`` does, on further seeds (new novelty splits and new
calibration draws), and writes the realized false-alarm rates to ``recheck.csv``.

Usage::

    OMP_NUM_THREADS=1 SKANOMALY_DATA=/path/to/data python docs/benchmarks/calibration/recheck.py \\
        --dataset adbench-dependency --detector AutoEncoderDetector --seeds 20-99
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import import_script  # noqa: E402

study = import_script("calibration/study.py")


def one_seed(name, X, y, detector_name, seed):
    study.torch.set_num_threads(1)
    X_train, X_test, _, y_test = study.novelty_train_test_split(X, y, random_state=seed)
    normal = np.asarray(y_test) == 0
    calibrated = study.CalibratedDetector(study._seeded(study.DETECTORS[detector_name], seed), method="split",
                                    false_alarm_rate=0.5, random_state=seed).fit(X_train)
    p_values = calibrated.p_values(X_test)[normal]
    return [{"dataset": name, "detector": detector_name, "way": "split", "seed": seed, "alpha": alpha,
             "n_calibration": calibrated.n_calibration_, "n_test_normal": int(normal.sum()),
             "false_alarm_rate": float(np.mean(p_values <= alpha))} for alpha in study.ALPHAS]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="adbench-dependency")
    parser.add_argument("--detector", default="AutoEncoderDetector")
    parser.add_argument("--seeds", default="20-99", help="first-last, inclusive")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output", default=str(HERE / "recheck.csv"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    first, last = map(int, args.seeds.split("-"))
    X, y = study.datasets()[args.dataset]
    rows = Parallel(n_jobs=args.n_jobs)(delayed(one_seed)(args.dataset, X, y, args.detector, seed)
                                        for seed in range(first, last + 1))
    frame = pd.DataFrame([row for chunk in rows for row in chunk])
    frame.to_csv(args.output, index=False, float_format="%.6g")
    summary = frame.groupby("alpha")["false_alarm_rate"].agg(["mean", "sem", "count"])
    print(summary.to_string())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
