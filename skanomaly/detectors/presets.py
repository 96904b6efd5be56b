"""Named per-dataset parameter presets of the detectors.

``PRESETS[detector_name][dataset_name]`` is a dict of constructor parameters; :func:`get_preset` returns a copy.
Every entry names its source: a paper's supplementary table, or (for the training budget of the baseline) a
choice made before looking at any test metric. None was tuned on test labels.

Examples
--------
>>> from skanomaly.detectors import AutoEncoderDetector
>>> from skanomaly.detectors.presets import get_preset
>>> AutoEncoderDetector(**get_preset("AutoEncoderDetector", "kddcup99"))
AutoEncoderDetector(batch_size=512, max_epochs=20)
"""

__all__ = ["PRESETS", "get_preset"]

PRESETS = {
    # Baseline: default architecture (hidden (64,), latent "auto"); only the training budget varies with the size
    # of the training set (about 1.8k rows Thyroid, 190 Arrhythmia, 198k KDD99, 4.5k MNIST-5k).
    "AutoEncoderDetector": {
        "thyroid": {"max_epochs": 50, "batch_size": 128},
        "arrhythmia": {"max_epochs": 50, "batch_size": 32},
        "kddcup99": {"max_epochs": 20, "batch_size": 512},
        "mnist": {"max_epochs": 20, "batch_size": 128},
        "fashion_mnist": {"max_epochs": 20, "batch_size": 128},
    },
}


def get_preset(detector, dataset):
    """Parameters of ``detector`` for ``dataset`` (a copy; empty when there is no preset).

    Parameters
    ----------
    detector : str
        Detector class name, e.g. ``"AMADetector"``.
    dataset : str
        Dataset name as in the benchmark registry, e.g. ``"thyroid"``, ``"kddcup99"``, ``"mnist"``.

    Returns
    -------
    params : dict
    """
    return dict(PRESETS.get(detector, {}).get(dataset, {}))
