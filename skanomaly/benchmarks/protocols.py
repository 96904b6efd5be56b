"""The evaluation protocols of the benchmark runner, each with the function that builds its splits.

This module imports nothing heavy, so the command line can name the protocols without loading numpy's
neighbours; the split functions import :mod:`skanomaly.model_selection` when they are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["PROTOCOLS", "ProtocolSpec", "get_protocol", "protocol_mismatch"]


def _novelty_split(X, y, seed, cls):
    from ..model_selection import novelty_train_test_split

    X_train, X_test, _, y_test = novelty_train_test_split(X, y, test_size=0.5, random_state=seed)
    return X_train, X_test, y_test


def _one_class_split(X, y, seed, cls):
    from ..model_selection import one_class_split

    X_train, X_test, _, y_test = one_class_split(X, y, cls, random_state=seed)
    return X_train, X_test, y_test


def _leave_one_class_out_split(X, y, seed, cls):
    from ..model_selection import leave_one_class_out_split

    X_train, X_test, _, y_test = leave_one_class_out_split(X, y, cls, random_state=seed)
    return X_train, X_test, y_test


def _out_of_distribution_split(X, y, seed, cls):
    """The fixed split of a dataset pair (:func:`~skanomaly.benchmarks.registry.load_dataset_pair`).

    ``y`` holds each row's role: -1 training row, 0 normal test row, 1 anomalous test row. The split does not
    depend on ``seed``, which seeds the detector only.
    """
    import numpy as np

    y = np.asarray(y)
    if not np.isin(y, (-1, 0, 1)).all() or not (y == -1).any() or not (y >= 0).any():
        raise ValueError("the out-of-distribution protocol splits a dataset pair 'IN:OUT', whose target marks "
                         "training rows -1, normal test rows 0 and anomalous test rows 1.")
    train, test = y == -1, y >= 0
    return X[train], X[test], y[test]


@dataclass(frozen=True)
class ProtocolSpec:
    """An evaluation protocol of the runner.

    Parameters
    ----------
    name : str
        ``"novelty"``, ``"one-class"``, ``"leave-one-class-out"`` or ``"out-of-distribution"``.
    data_kind : {"tabular", "image", "image-pair"}
        The kind of dataset it applies to (``"image-pair"``: a pair ``"IN:OUT"`` of image datasets).
    per_class : bool
        Whether runs iterate over classes (the ``class`` column).
    description : str
        One sentence for the summary header.
    split : callable
        ``split(X, y, seed, cls) -> (X_train, X_test, y_test)``, deterministic in ``seed`` (``cls`` is ``None``
        for protocols that are not per class); ``y_test`` holds 1 for anomalies, 0 for normal samples.
    dataset_top_k : bool
        Whether top-k is the dataset's known anomaly ratio (``True``) or each test set's own anomaly ratio.
    """

    name: str
    data_kind: str
    per_class: bool
    description: str
    split: Callable
    dataset_top_k: bool = False


#: The protocols. ``novelty``: the DAGMM/ALAD tabular protocol, a random 50/50 split with the anomalies removed
#: from the training half, top-k = the dataset's known anomaly ratio. ``one-class``: one image class is normal,
#: the others are anomalies. ``leave-one-class-out``: one class is the anomaly, the other nine normal.
#: ``out-of-distribution``: a pair of image datasets ``"IN[n]:OUT"``; training on IN's official training images (or
#: ``n`` per class of them, drawn with seed 0 whatever the run seed), testing on IN's official test images (normal)
#: and every image of OUT (anomalies); the run seed seeds the detector only. For the image protocols top-k is the
#: test set's own anomaly ratio (precision = recall = F1 at k).
PROTOCOLS = {
    "novelty": ProtocolSpec(
        "novelty", "tabular", False,
        "random 50/50 train/test split, anomalies removed from the training half; top-k = the dataset's "
        "known anomaly ratio",
        _novelty_split, dataset_top_k=True,
    ),
    "one-class": ProtocolSpec(
        "one-class", "image", True,
        "class c is normal (train on it), all other classes are anomalies; top-k = the test anomaly ratio",
        _one_class_split,
    ),
    "leave-one-class-out": ProtocolSpec(
        "leave-one-class-out", "image", True,
        "class c is the anomaly (left out of training), all other classes are normal; top-k = the test "
        "anomaly ratio",
        _leave_one_class_out_split,
    ),
    "out-of-distribution": ProtocolSpec(
        "out-of-distribution", "image-pair", False,
        "a pair IN[n]:OUT of image datasets: train on IN's official training images (with [n], n per class of them, "
        "drawn with seed 0 for every run seed), test on IN's official test images (normal) followed by all of "
        "OUT's images (anomalies); the run seed seeds the detector only; top-k = the test anomaly ratio",
        _out_of_distribution_split,
    ),
}


def get_protocol(name):
    """Return the :class:`ProtocolSpec` called ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    spec : ProtocolSpec
    """
    if name not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {name!r}. Known protocols: {', '.join(PROTOCOLS)}.")
    return PROTOCOLS[name]


def protocol_mismatch(protocol, spec):
    """The message refusing a dataset whose kind ``protocol`` does not run.

    Parameters
    ----------
    protocol : str
        A key of :data:`PROTOCOLS`.
    spec : DatasetSpec
        The dataset (its ``name`` and ``kind``).

    Returns
    -------
    message : str
        Names the protocols that run the dataset; for the out-of-distribution protocol, how to name a pair.
    """
    proto = PROTOCOLS[protocol]
    suited = " or ".join(repr(p) for p, s in PROTOCOLS.items() if s.data_kind == spec.kind)
    message = (f"Protocol {protocol!r} applies to {proto.data_kind} datasets; {spec.name!r} is {spec.kind}"
               + (f" (use protocol {suited})" if suited else ""))
    if proto.data_kind == "image-pair":
        message += (". It trains on one image dataset and tests on its test images and those of another: name the "
                    "pair 'IN:OUT' or 'IN[n]:OUT', e.g. 'fashion_mnist[1000]:mnist'")
    return message + "."
