"""nonconform side by side: its split and cross-validation conformal detectors on the calibration study's splits.

nonconform (Hennhoefer, https://github.com/OliverHennhoefer/nonconform) needs Python 3.12 or later and this
library runs on 3.10 and later, so the comparison runs in two steps, in two environments::

    SKANOMALY_DATA=/path/to/data python docs/benchmarks/calibration/nonconform_side.py dump SPLITS_DIR
    python3.12 -m pip install nonconform==2.0.0 scikit-learn pandas
    python3.12 docs/benchmarks/calibration/nonconform_side.py run SPLITS_DIR

``dump`` writes the min-max scaled training and test halves of every data set and seed of ``study.py`` (same
splits, same scaling); ``run`` needs only numpy, scikit-learn, pandas and nonconform, and writes
``nonconform_results.csv`` beside this file: for IsolationForest (100 trees, ``random_state=seed``) wrapped in
nonconform's ``ConformalDetector`` with ``Split(n_calib=0.3)`` and with ``CrossValidation(k=5, mode="plus")``
(``seed=seed``), the rows of ``results.csv``'s format: realized false-alarm and detection rates at 1, 5 and 10 %
(flagged when ``p <= alpha``), and Benjamini-Hochberg at ``q = 0.1``.
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALPHAS = (0.01, 0.05, 0.10)
FDR = 0.1


def dump(folder):
    from sklearn.preprocessing import MinMaxScaler

    sys.path.insert(0, str(HERE))
    from study import SEEDS, datasets

    from skanomaly.model_selection import novelty_train_test_split

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (X, y) in datasets().items():
        for seed in SEEDS:
            X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=seed)
            scaler = MinMaxScaler().fit(X_train)
            np.savez(folder / f"{name}_{seed}.npz", X_train=scaler.transform(X_train), X_test=scaler.transform(X_test),
                     y_test=np.asarray(y_test))


def run(folder):
    import pandas as pd
    from nonconform import ConformalDetector, CrossValidation, Split
    from scipy.stats import false_discovery_control
    from sklearn.ensemble import IsolationForest

    rows = []
    for path in sorted(Path(folder).glob("*.npz")):
        name, seed = path.stem.rsplit("_", 1)
        seed = int(seed)
        data = np.load(path)
        anomalous = data["y_test"] == 1
        for way, strategy in (("nonconform-split", lambda: Split(n_calib=0.3)),
                              ("nonconform-cross", lambda: CrossValidation(k=5, mode="plus"))):
            detector = ConformalDetector(detector=IsolationForest(n_estimators=100, random_state=seed),
                                         strategy=strategy(), seed=seed)
            detector.fit(data["X_train"])
            p_values = np.asarray(detector.compute_p_values(data["X_test"]), dtype=np.float64)
            common = {"dataset": name, "seed": seed, "detector": "IsolationForest", "way": way}
            for alpha in ALPHAS:
                flagged = p_values <= alpha
                rows.append({**common, "alpha": alpha, "false_alarm_rate": float(np.mean(flagged[~anomalous])),
                             "detection_rate": float(np.mean(flagged[anomalous]))})
            flagged = false_discovery_control(p_values, method="bh") <= FDR
            rows.append({**common, "fdr_target": FDR, "fdp": float(np.sum(flagged & ~anomalous) / max(1, flagged.sum())),
                         "power": float(np.mean(flagged[anomalous])), "n_flagged": int(flagged.sum())})
    frame = pd.DataFrame(rows).sort_values(["dataset", "way", "seed", "alpha"], na_position="last")
    frame.to_csv(HERE / "nonconform_results.csv", index=False, float_format="%.6g")
    print(f"{len(frame)} rows written to {HERE / 'nonconform_results.csv'}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "run"):
        sys.exit(__doc__)
    {"dump": dump, "run": run}[sys.argv[1]](sys.argv[2])
