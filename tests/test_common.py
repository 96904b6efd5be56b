"""scikit-learn's estimator checks on every detector, with tiny fast parameters."""

from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skanomaly.calibration import CalibratedDetector
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.ensemble import ScoreCombinationDetector, SeedEnsembleDetector

# Tiny networks and one or two epochs: these checks test the API contract, not the learning.
DETECTORS = [
    AMADetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,), latent_dim=2,
                n_critic=1),
    AutoEncoderDetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2),
    DeepSVDDDetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2),
    DeepSVDDDetector(objective="soft-boundary", radius_warmup_epochs=0, max_epochs=2, batch_size=32,
                     hidden_layer_sizes=(8,), latent_dim=2),
    MirroredAEDetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,),
                       latent_dim=2, selection_warmup_epochs=0, n_critic=1),
    OMASGANDetector(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, critic_hidden_layer_sizes=(8,),
                    latent_dim=2, batch_size=32, n_reference=16),
    SeedEnsembleDetector(AutoEncoderDetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2),
                         n_estimators=2),
    ScoreCombinationDetector([("iforest", IsolationForest(n_estimators=10, random_state=0)),
                              ("lof", LocalOutlierFactor(n_neighbors=5, novelty=True)),
                              ("ae", AutoEncoderDetector(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,),
                                                         latent_dim=2, random_state=0))]),
]

# The calibrated detectors: scikit-learn's checks fit on as few as 10 rows, where a 30 % split holds out 3; a
# false-alarm rate of 0.25 is reachable with them (the smallest p-value is 1 / 4).
DETECTORS += [
    CalibratedDetector(AutoEncoderDetector(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2,
                                           random_state=0), false_alarm_rate=0.25),
    CalibratedDetector(IsolationForest(n_estimators=10, random_state=0), method="cross", n_folds=3,
                       false_alarm_rate=0.25),
]

# check name -> reason; every entry must say why the check cannot pass. Aim: empty.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(DETECTORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}))
def test_sklearn_compatible_detector(estimator, check):
    check(estimator)
