"""Data sets for anomaly detection: embedded ODDS sets, KDD Cup 1999, MNIST-style images, 2-D toys.

Labels follow the package convention **1 = anomaly, 0 = normal** for the anomaly-detection
sets (Thyroid, Arrhythmia, KDD Cup 1999, the labelled 2-D set and grid). The image loaders return *class*
labels (0-9), from which a protocol derives anomaly labels.

Nothing is ever downloaded. Files that are not embedded are looked up in the data home:
see :func:`get_data_home` (argument, then the ``SKANOMALY_DATA`` environment variable,
then ``~/skanomaly_data``).
"""

import importlib

# public name -> private module that defines it; imported on first use (PEP 562), so that listing the datasets
# (``skanomaly datasets``) or reading the data home loads neither scikit-learn nor scipy.
_NAMES = {
    "ADBENCH_ANOMALY_KINDS": "_adbench",
    "make_adbench_anomalies": "_adbench",
    "DATA_HOME_ENV": "_base",
    "get_data_home": "_base",
    "load_fashion_mnist": "_images",
    "load_mnist": "_images",
    "fetch_kddcup99": "_kddcup99",
    "load_arrhythmia": "_odds",
    "load_thyroid": "_odds",
    "load_multimodal_2d": "_synthetic",
    "make_multimodal_2d": "_synthetic",
    "make_multimodal_2d_grid": "_synthetic",
    "make_synthetic_anomalies": "_synthetic",
    "multimodal_2d_support_distance": "_synthetic",
}

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


def __getattr__(name):
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
