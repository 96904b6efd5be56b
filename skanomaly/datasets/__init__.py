"""Data sets for anomaly detection: embedded ODDS sets, KDD Cup 1999, MNIST-style images, 2-D toys.

Labels follow the package convention **1 = anomaly, 0 = normal** for the anomaly-detection
sets (Thyroid, Arrhythmia, KDD Cup 1999, the labelled 2-D set and grid). The image loaders return *class*
labels (0-9), from which a protocol derives anomaly labels.

Nothing is ever downloaded. Files that are not embedded are looked up in the data home:
see :func:`get_data_home` (argument, then the ``SKANOMALY_DATA`` environment variable,
then ``~/skanomaly_data``).
"""

from ._adbench import ADBENCH_ANOMALY_KINDS, make_adbench_anomalies
from ._base import DATA_HOME_ENV, get_data_home
from ._images import load_fashion_mnist, load_mnist
from ._kddcup99 import fetch_kddcup99
from ._odds import load_arrhythmia, load_thyroid
from ._synthetic import (
    load_multimodal_2d,
    make_multimodal_2d,
    make_multimodal_2d_grid,
    make_synthetic_anomalies,
    multimodal_2d_support_distance,
)

__all__ = [
    "ADBENCH_ANOMALY_KINDS",
    "DATA_HOME_ENV",
    "fetch_kddcup99",
    "get_data_home",
    "load_arrhythmia",
    "load_fashion_mnist",
    "load_mnist",
    "load_multimodal_2d",
    "load_thyroid",
    "make_adbench_anomalies",
    "make_multimodal_2d",
    "make_multimodal_2d_grid",
    "make_synthetic_anomalies",
    "multimodal_2d_support_distance",
]
