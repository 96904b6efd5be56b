"""skanomaly: scikit-learn compatible deep anomaly detectors.

Detectors follow scikit-learn's outlier-detector contract: ``fit(X)`` on (mostly) normal data,
``score_samples`` (higher = more normal), ``decision_function`` (negative = outlier) and ``predict``
(+1 inlier, -1 outlier). Datasets, metrics and protocols use 1 = anomaly, 0 = normal.

The names below and the subpackages (``skanomaly.metrics``, ``skanomaly.datasets``, ...) are imported on first
use (PEP 562), so ``import skanomaly`` loads neither torch nor scikit-learn.
"""

import importlib
import pkgutil

__version__ = "0.1.0.dev0"

# public name -> module that defines it
_LAZY_NAMES = {
    "AMADetector": "skanomaly.detectors.ama",
    "AutoEncoderDetector": "skanomaly.detectors.autoencoder",
    "CalibratedDetector": "skanomaly.calibration",
    "DeepSVDDDetector": "skanomaly.detectors.deep_svdd",
    "MirroredAEDetector": "skanomaly.detectors.mirrored_ae",
    "OMASGANDetector": "skanomaly.detectors.omasgan",
    "ScoreCombinationDetector": "skanomaly.ensemble",
    "SeedEnsembleDetector": "skanomaly.ensemble",
    "TrainingDivergedError": "skanomaly.exceptions",
    "explain": "skanomaly.explanations",
    "recommended_detector": "skanomaly.recommend",
}

__all__ = [*_LAZY_NAMES, "__version__"]


def _submodules():
    """Names of the public modules and subpackages of this package (found on disk, none imported)."""
    return {info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")}


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    elif name in _submodules():
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__, *_submodules()})
