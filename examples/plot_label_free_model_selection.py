"""
Choosing hyper-parameters without labelled anomalies
====================================================

A new data set rarely comes with labelled anomalies. This example cross-validates on the normal training rows
only: each candidate is fitted on part of them and judged by how well it separates the held-out normal rows from
synthetic anomalies made out of them (:func:`skanomaly.metrics.make_synthetic_anomaly_scorer`). No anomaly
label is read until the chosen model is evaluated on the test half of the Thyroid novelty split.

The search only ever sees normal rows, so refitting the best candidate on all of them is safe. When a search
*does* use labelled anomalies for scoring, it must still refit on the normal rows only (see
:doc:`/protocols`).

Synthetic anomalies are a proxy: the ranking they give need not match the ranking on real anomalies, which is
why the test AUROC of every candidate is printed beside its cross-validated score (for illustration; a real
search never sees it).

**Run time:** 11 s of CPU time on one core (measured with ``OMP_NUM_THREADS=1``; four candidates, three
folds, 20 epochs each). ``SKANOMALY_FULL=1`` searches a larger grid with the preset's 50 epochs.
"""

# %%
# A label-free grid search
# ------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.metrics import anomaly_report, make_synthetic_anomaly_scorer
from skanomaly.model_selection import novelty_train_test_split
from skanomaly.plotting import save_example_figures

FULL = os.environ.get("SKANOMALY_FULL") == "1"
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # one epoch: checks that the script runs

data = load_thyroid()
X_train, X_test, _, y_test = novelty_train_test_split(data.data, data.target, random_state=0)

epochs = 1 if SMOKE else (50 if FULL else 20)
pipeline = make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=epochs, random_state=0))
grid = {"autoencoderdetector__latent_dim": [1, 4, 8] if FULL else [1, 4],
        "autoencoderdetector__hidden_layer_sizes": [(8,), (64,)]}
search = GridSearchCV(pipeline, grid, cv=KFold(3, shuffle=True, random_state=0),
                      scoring=make_synthetic_anomaly_scorer("perturb", random_state=0))
search.fit(X_train)  # normal rows only, no y

# %%
# What the search saw, and what it could not see
# ----------------------------------------------
results = pd.DataFrame(search.cv_results_["params"]).rename(columns=lambda c: c.split("__")[1])
results["synthetic AUROC (CV)"] = search.cv_results_["mean_test_score"]
for i, params in enumerate(search.cv_results_["params"]):
    model = clone(pipeline).set_params(**params).fit(X_train)
    results.loc[i, "test AUROC"] = anomaly_report(y_test, -model.score_samples(X_test))["roc_auc"]
print(results.round(3).to_string(index=False))

report = anomaly_report(y_test, -search.score_samples(X_test), k=data.anomaly_ratio)
print(f"chosen: {search.best_params_}")
print(pd.DataFrame([report], index=["test half"]).round(3).to_string())

labels = [f"latent {row.latent_dim}, hidden {row.hidden_layer_sizes}"
          for row in results.itertuples()]
y = np.arange(len(labels))
fig, ax = plt.subplots(figsize=(8, 0.6 * len(labels) + 1.5))
ax.barh(y - 0.2, results["synthetic AUROC (CV)"], 0.4,
        label="synthetic anomalies, CV (what the search sees)")
ax.barh(y + 0.2, results["test AUROC"], 0.4,
        label="real anomalies, test half (hidden from the search)")
ax.set_yticks(y, labels)
ax.set_xlim(0.4, 1.0)
ax.set_xlabel("AUROC")
ax.legend(loc="lower right", fontsize=9)
ax.set_title("Thyroid: label-free search of the autoencoder's size")
fig.tight_layout()

# %%
# Keep the figures
# ----------------
# Run as a script, the example saves its figures (where: :func:`~skanomaly.plotting.save_example_figures`)
# and shows them when there is a display. In this gallery the figures are already on the page.
for path in save_example_figures():
    print(f"saved {path}")
plt.show()
