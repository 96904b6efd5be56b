import os
import signal

import numpy as np
import pytest
import torch

# Two cores on CI: keep torch from oversubscribing when pytest-xdist runs workers side by side.
torch.set_num_threads(int(os.environ.get("SKANOMALY_TEST_THREADS", "1")))

# Several tests send SIGINT (Ctrl-C) to a fit. A suite started as a background job of a non-interactive shell
# inherits SIGINT ignored, and would pass the ignoring on to the processes it starts; restore Python's default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def blobs():
    """Normal training rows, and a test set whose second half is far from them (1 = anomaly)."""
    rng = np.random.RandomState(0)
    X_train = rng.normal(size=(400, 8))
    X_test = np.vstack([rng.normal(size=(100, 8)), rng.normal(loc=4.0, size=(100, 8))])
    y_test = np.r_[np.zeros(100), np.ones(100)].astype(int)
    return X_train, X_test, y_test
