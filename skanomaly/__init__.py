"""skanomaly: scikit-learn compatible deep anomaly detectors.

Detectors follow scikit-learn's outlier-detector contract: ``fit(X)`` on (mostly) normal data,
``score_samples`` (higher = more normal), ``decision_function`` (negative = outlier) and ``predict``
(+1 inlier, -1 outlier). Datasets, metrics and protocols use 1 = anomaly, 0 = normal.
"""

__version__ = "0.1.0.dev0"

from .detectors import AMADetector, AutoEncoderDetector, MirroredAEDetector, OMASGANDetector  # noqa: E402
from .ensemble import SeedEnsembleDetector  # noqa: E402
from .exceptions import TrainingDivergedError  # noqa: E402

__all__ = ["AMADetector", "AutoEncoderDetector", "MirroredAEDetector", "OMASGANDetector", "SeedEnsembleDetector",
           "TrainingDivergedError", "__version__"]
