"""
Decisions at a false-alarm rate you choose: conformal calibration
=================================================================

A detector's ``predict`` flags the rows that score below a percentile of its *training* rows' scores
(``contamination``). A fitted network scores the rows it was trained on better than new ones, so on unseen
normal rows it flags more than it was asked to, and how much more depends on the model and the data.

:class:`~skanomaly.calibration.CalibratedDetector` scores rows the model was not fitted on instead and turns
scores into conformal p-values: ``predict`` then flags the rows with ``p <= false_alarm_rate``, and the
expected share of normal rows flagged stays at or below that rate. Here on Arrhythmia (about 190 normal
training rows, 274 features) with the plain autoencoder, three seeds of the benchmarks' novelty split:

- ``contamination=alpha``: the 100 * alpha percentile of the training scores (the default way);
- ``method="split"``: 30 % of the training rows held out to calibrate;
- ``method="cross"``: five folds, every training row calibrating the model fitted without it.

**Run time:** about 12 s of CPU time on one core (``SKANOMALY_SMOKE=1``: one seed, two epochs;
``SKANOMALY_FULL=1``: twenty seeds, as in the calibration study).
"""

# %%
# Three ways to threshold the same detector
# -----------------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.calibration import CalibratedDetector
from skanomaly.datasets import load_arrhythmia
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.model_selection import novelty_train_test_split
from skanomaly.plotting import save_example_figures

FULL = os.environ.get("SKANOMALY_FULL") == "1"  # the calibration study's twenty seeds
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # a few epochs: checks that the script runs
SEEDS = [0] if SMOKE else list(range(20)) if FULL else [0, 1, 2]
TARGETS = np.array([0.02, 0.05, 0.10, 0.20])


def autoencoder(seed):
    epochs = 2 if SMOKE else 50
    return make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=epochs, random_state=seed))


X, y = load_arrhythmia(return_X_y=True)
realized = {way: [] for way in ("contamination", "split", "cross")}
detected = {way: [] for way in realized}
for seed in SEEDS:
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=seed)
    normal, anomalous = y_test == 0, y_test == 1
    model = autoencoder(seed).fit(X_train)
    thresholds = np.percentile(model.score_samples(X_train), 100 * TARGETS)
    flagged = model.score_samples(X_test)[:, None] < thresholds[None, :]
    realized["contamination"].append(flagged[normal].mean(axis=0))
    detected["contamination"].append(flagged[anomalous].mean(axis=0))
    for method in ("split", "cross"):
        calibrated = CalibratedDetector(autoencoder(seed), method=method, random_state=seed).fit(X_train)
        p_values = calibrated.p_values(X_test)
        flagged = p_values[:, None] <= TARGETS[None, :]
        realized[method].append(flagged[normal].mean(axis=0))
        detected[method].append(flagged[anomalous].mean(axis=0))
    if seed == 0:
        example = (calibrated, p_values, normal, anomalous, X_test)

print(f"{'target':>8}" + "".join(f"{way:>16}" for way in realized))
for i, target in enumerate(TARGETS):
    cells = "".join(f"{np.mean(realized[way], axis=0)[i]:>9.1%} / {np.mean(detected[way], axis=0)[i]:>4.0%}"
                    for way in realized)
    print(f"{target:>8.0%}{cells}")
print("(false-alarm rate on the unseen normal rows / share of the anomalies flagged, mean over the seeds)")

# %%
# Asked for against got
# ---------------------
# The percentile of the training scores flags far more unseen normal rows than asked; both calibrations stay
# at or below the diagonal. The split one holds out 58 rows, so its smallest p-value is 1/59: it cannot
# flag anything below 1.7 %, and it moves in steps of that size.
fig, ax = plt.subplots(figsize=(5.5, 4.5))
for way, marker in zip(realized, ("o", "s", "^")):
    ax.plot(100 * TARGETS, 100 * np.mean(realized[way], axis=0), marker=marker, label=way)
ax.plot([0, 100 * TARGETS[-1]], [0, 100 * TARGETS[-1]], color="grey", linestyle="--", label="asked = got")
ax.set_xlabel("false-alarm rate asked for (%)")
ax.set_ylabel("share of unseen normal rows flagged (%)")
ax.set_title(f"Arrhythmia, AutoEncoderDetector, mean of {len(SEEDS)} seed(s)")
ax.legend()
fig.tight_layout()

# %%
# p-values of normal and anomalous test rows
# ------------------------------------------
# For normal rows the p-values are close to uniform; anomalies pile up near the smallest value, 1/(n+1)
# with the n = 193 cross-fitted calibration rows.
calibrated, p_values, normal, anomalous, X_test = example
fig, ax = plt.subplots(figsize=(5.5, 3.8))
bins = np.linspace(0, 1, 21)
ax.hist(p_values[normal], bins=bins, alpha=0.6, label=f"normal ({normal.sum()})")
ax.hist(p_values[anomalous], bins=bins, alpha=0.6, label=f"anomalous ({anomalous.sum()})")
ax.axvline(calibrated.false_alarm_rate, color="black", linestyle=":", label="false_alarm_rate = 0.05")
ax.set_xlabel("conformal p-value (method='cross', seed 0)")
ax.set_ylabel("test rows")
ax.legend()
fig.tight_layout()

# %%
# A batch with its false discovery rate controlled
# ------------------------------------------------
# ``predict_fdr`` applies Benjamini-Hochberg to the p-values of a batch: among the rows it flags, the expected
# share of normal ones is at most ``fdr``. It flags rows only when enough of the batch have p-values near the
# smallest possible one, 1/(n+1): with 193 calibration rows and a detector that ranks Arrhythmia's anomalies
# only moderately well, it finds few or none here. The calibration benchmark measures its power on larger sets.
labels = calibrated.predict_fdr(X_test, fdr=0.1)
flagged = labels == -1
print(f"predict_fdr(fdr=0.1): {flagged.sum()} rows flagged, of which {np.sum(flagged & normal)} normal "
      f"({np.sum(flagged & normal) / max(1, flagged.sum()):.0%}); {np.mean(flagged[anomalous]):.0%} of the "
      "anomalies found")

# %%
save_example_figures()
plt.show()
