"""The evaluation protocols of the benchmark runner, each with the function that builds its splits.

This module imports nothing heavy, so the command line can name the protocols without loading numpy's
neighbours; the split functions import :mod:`skanomaly.model_selection` when they are called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["PROTOCOLS", "ProtocolSpec", "get_protocol"]


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


@dataclass(frozen=True)
class ProtocolSpec:
    """An evaluation protocol of the runner.

    Parameters
    ----------
    name : str
        ``"novelty"``, ``"one-class"`` or ``"leave-one-class-out"``.
    data_kind : {"tabular", "image"}
        The kind of dataset it applies to.
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
#: the others are anomalies. ``leave-one-class-out``: one class is the anomaly, the other nine normal. For the
#: image protocols top-k is the test set's own anomaly ratio (precision = recall = F1 at k).
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
