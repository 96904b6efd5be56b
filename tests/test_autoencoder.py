"""AutoEncoderDetector: it learns, on tabular rows and on images."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skanomaly.detectors import AutoEncoderDetector
from skanomaly.utils import resolve_latent_dim


def test_learns_to_separate_shifted_rows(blobs):
    X_train, X_test, y_test = blobs
    det = AutoEncoderDetector(max_epochs=30, random_state=0).fit(X_train)
    assert roc_auc_score(y_test, det.anomaly_score(X_test)) > 0.95


def test_learns_on_images():
    # Normal images: a bright square in the top-left corner; anomalies: in the bottom-right corner.
    rng = np.random.RandomState(0)

    def images(n, corner):
        out = rng.rand(n, 1, 28, 28) * 0.1
        rows = slice(2, 12) if corner == "top" else slice(16, 26)
        out[:, :, rows, rows] += 0.9
        return out

    det = AutoEncoderDetector(max_epochs=5, latent_dim=4, random_state=0).fit(images(200, "top"))
    X_test = np.concatenate([images(40, "top"), images(40, "bottom")])
    y_test = np.r_[np.zeros(40), np.ones(40)]
    assert roc_auc_score(y_test, det.anomaly_score(X_test)) > 0.95


def test_training_reduces_reconstruction_error(blobs):
    X_train, _, _ = blobs
    short = AutoEncoderDetector(max_epochs=1, random_state=0).fit(X_train)
    long = AutoEncoderDetector(max_epochs=30, random_state=0).fit(X_train)
    assert long.anomaly_score(X_train).mean() < short.anomaly_score(X_train).mean()


@pytest.mark.parametrize(
    "latent_dim, n_features, image_shape, expected",
    [("auto", 6, None, 2), ("auto", 121, None, 30), ("auto", 274, None, 32), ("auto", 784, (1, 28, 28), 32),
     (5, 6, None, 5)],
)
def test_latent_dim_auto(latent_dim, n_features, image_shape, expected):
    assert resolve_latent_dim(latent_dim, n_features, image_shape) == expected
