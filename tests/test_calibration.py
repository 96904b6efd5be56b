"""CalibratedDetector: conformal p-values, their guarantee, the decisions built on them, and bad input.

The contract module (tests/test_contract.py) checks it like every detector (determinism, persistence, images,
bad parameters, far rows); scikit-learn's checks run in tests/test_common.py. Here: what is specific to it.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.ensemble import IsolationForest
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import OneClassSVM

from skanomaly import io, recommended_detector
from skanomaly.calibration import CalibratedDetector
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.ensemble import SeedEnsembleDetector
from skanomaly.metrics import ANOMALY_SCORERS
from skanomaly.model_selection import NoveltyKFold


class _DistanceDetector(OutlierMixin, BaseEstimator):
    """Minus the distance to the training mean: a detector fast enough to repeat a calibration thousands of times."""

    def fit(self, X, y=None):
        self.center_ = np.asarray(X, dtype=np.float64).mean(axis=0)
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -np.linalg.norm(np.asarray(X, dtype=np.float64) - self.center_, axis=1)


def _normal(n, seed, n_features=3):
    return np.random.RandomState(seed).normal(size=(n, n_features))


def _brute_force_p_values(detector, X):
    """p = (1 + sum over models of #{calibration scores of that model <= the row's score under it}) / (n + 1)."""
    counts = np.zeros(X.shape[0])
    for k, member in enumerate(detector.estimators_):
        scores = member.score_samples(X)
        calibration = detector.calibration_scores_[detector.calibration_folds_ == k]
        counts += (calibration[None, :] <= scores[:, None]).sum(axis=1)
    return (1 + counts) / (detector.n_calibration_ + 1)


@pytest.mark.parametrize("method", ["split", "cross"])
def test_p_values_count_the_calibration_rows_scoring_at_least_as_anomalous(method):
    X = _normal(200, 0)
    detector = CalibratedDetector(IsolationForest(n_estimators=20, random_state=0), method=method, n_folds=4,
                                  random_state=0).fit(X)
    X_new = np.vstack([_normal(50, 1), _normal(5, 2) * 5])
    np.testing.assert_array_equal(detector.p_values(X_new), _brute_force_p_values(detector, X_new))
    assert detector.n_calibration_ == (60 if method == "split" else 200)
    assert len(detector.estimators_) == (1 if method == "split" else 4)
    # every row of X calibrates exactly one model with method="cross", one the model was not fitted on
    if method == "cross":
        assert np.bincount(detector.calibration_folds_).tolist() == [50, 50, 50, 50]
    # ties with a calibration score count as "at least as anomalous"
    member = detector.estimators_[0]
    tied = X[np.argsort(member.score_samples(X))[:1]]
    assert detector.p_values(tied)[0] >= 1 / (detector.n_calibration_ + 1)


@pytest.mark.parametrize("method", ["split", "cross"])
def test_score_samples_decisions_and_p_values_agree(method):
    X = _normal(300, 0)
    detector = CalibratedDetector(_DistanceDetector(), method=method, false_alarm_rate=0.1, random_state=0).fit(X)
    X_new = np.vstack([_normal(400, 3), _normal(20, 4) * 4])
    scores, p_values = detector.score_samples(X_new), detector.p_values(X_new)
    n = detector.n_calibration_
    count = np.rint(p_values * (n + 1)) - 1
    assert np.all((scores * (n + 1) >= count - 1e-9) & (scores * (n + 1) < count + 1))
    assert np.all((scores >= 0) & (scores < 1)) and scores.dtype == np.float64
    # predict flags exactly the rows with p <= false_alarm_rate, and decision_function is negative there
    flagged = detector.predict(X_new) == -1
    np.testing.assert_array_equal(flagged, p_values <= 0.1)
    np.testing.assert_array_equal(flagged, detector.decision_function(X_new) < 0)
    np.testing.assert_allclose(detector.decision_function(X_new), scores - detector.offset_)
    # higher score = more normal: p-values never decrease with the score
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(p_values[order]) >= 0)


def test_split_scores_rank_rows_as_the_fitted_model_does():
    X = _normal(300, 0)
    detector = CalibratedDetector(IsolationForest(random_state=0), random_state=0).fit(X)
    X_new = np.vstack([_normal(200, 5), _normal(10, 6) * 10])
    base = detector.estimators_[0].score_samples(X_new)
    calibrated = detector.score_samples(X_new)
    np.testing.assert_array_equal(np.argsort(base, kind="stable"), np.argsort(calibrated, kind="stable"))
    assert len(np.unique(calibrated)) == len(np.unique(base))  # strictly increasing: no ties made


@pytest.mark.parametrize("method, bound", [("split", 1.0), ("cross", 2.0)])
def test_the_false_alarm_rate_over_many_calibrations_is_at_most_its_target(method, bound):
    """Over 300 independent draws of 40 normal rows, the share of new normal rows flagged at alpha = 0.1 averages
    at most alpha (split; the proven bound is 2 alpha for cross) within two standard errors, and at least
    alpha - 1 / (n + 1) for split: the p-values are neither too small nor wastefully large."""
    alpha, rates = 0.1, []
    for seed in range(300):
        detector = CalibratedDetector(_DistanceDetector(), method=method, calibration_size=20, n_folds=4,
                                      false_alarm_rate=alpha, random_state=seed).fit(_normal(40, seed))
        rates.append(np.mean(detector.predict(_normal(200, 10_000 + seed)) == -1))
    mean, error = np.mean(rates), np.std(rates) / np.sqrt(len(rates))
    assert mean <= bound * alpha + 2 * error, (mean, error)
    if method == "split":
        assert mean >= alpha - 1 / 21 - 2 * error, (mean, error)


def test_predict_fdr_is_benjamini_hochberg_on_the_p_values():
    X = _normal(1000, 0)
    detector = CalibratedDetector(_DistanceDetector(), random_state=0).fit(X)
    batch = np.vstack([_normal(200, 7), _normal(20, 8) * 6])
    adjusted = false_discovery_control(detector.p_values(batch), method="bh")
    for fdr in (0.05, 0.1, 0.3):
        labels = detector.predict_fdr(batch, fdr=fdr)
        np.testing.assert_array_equal(labels == -1, adjusted <= fdr)
        assert set(np.unique(labels)) <= {-1, 1}
    assert (detector.predict_fdr(batch, fdr=0.1)[200:] == -1).mean() > 0.9
    assert detector.predict_fdr(batch[:0]).shape == (0,)
    for fdr in (0.0, 1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="fdr must be a float in"):
            detector.predict_fdr(batch, fdr=fdr)


def test_a_frozen_model_calibrates_on_every_row_given_to_fit():
    fitted = IsolationForest(random_state=0).fit(_normal(300, 0))
    calibration = _normal(99, 1)
    detector = CalibratedDetector(FrozenEstimator(fitted), false_alarm_rate=0.01).fit(calibration)
    assert detector.n_calibration_ == 99
    np.testing.assert_array_equal(detector.calibration_scores_, np.sort(fitted.score_samples(calibration)))
    np.testing.assert_array_equal(detector.estimators_[0].score_samples(calibration), fitted.score_samples(calibration))
    with pytest.raises(ValueError, match="FrozenEstimator is never refitted"):
        CalibratedDetector(FrozenEstimator(fitted), method="cross").fit(calibration)


@pytest.mark.parametrize("make", [
    lambda: IsolationForest(n_estimators=20, random_state=0),
    lambda: LocalOutlierFactor(n_neighbors=10, novelty=True),
    lambda: OneClassSVM(gamma="scale", nu=0.1),
    lambda: make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=2, random_state=0)),
    lambda: SeedEnsembleDetector(AutoEncoderDetector(max_epochs=1), n_estimators=2, random_state=0),
    lambda: recommended_detector(random_state=0),
], ids=["iforest", "lof", "ocsvm", "pipeline", "seed-ensemble", "recommended"])
@pytest.mark.parametrize("method", ["split", "cross"])
def test_any_outlier_detector_can_be_calibrated(make, method):
    X = _normal(120, 0, n_features=4)
    detector = CalibratedDetector(make(), method=method, n_folds=3, random_state=0).fit(X)
    X_new = np.vstack([_normal(30, 1, n_features=4), _normal(5, 2, n_features=4) * 8])
    p_values = detector.p_values(X_new)
    assert p_values.dtype == np.float64 and np.all((p_values > 0) & (p_values <= 1))
    assert p_values[30:].max() < np.median(p_values[:30])
    np.testing.assert_array_equal(detector.p_values(X_new), p_values)


def test_it_goes_in_pipelines_and_searches():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(15, 3)) * 6])
    y = np.r_[np.zeros(150, dtype=int), np.ones(15, dtype=int)]
    pipeline = make_pipeline(MinMaxScaler(), CalibratedDetector(IsolationForest(random_state=0), random_state=0))
    assert (pipeline.fit(X[y == 0]).predict(X[y == 1]) == -1).mean() > 0.8
    search = GridSearchCV(CalibratedDetector(IsolationForest(random_state=0), random_state=0),
                          {"estimator__n_estimators": [5, 50]}, scoring=ANOMALY_SCORERS["roc_auc"],
                          cv=NoveltyKFold(n_splits=3, random_state=0)).fit(X, y)
    assert search.best_params_["estimator__n_estimators"] in (5, 50)
    cloned = clone(search.best_estimator_)
    assert not hasattr(cloned, "estimators_") and cloned.get_params()["estimator__n_estimators"] in (5, 50)


def test_random_state_draws_the_calibration_rows():
    X = _normal(100, 0)
    make = lambda seed: CalibratedDetector(_DistanceDetector(), random_state=seed).fit(X)  # noqa: E731
    np.testing.assert_array_equal(make(0).calibration_scores_, make(0).calibration_scores_)
    assert not np.array_equal(make(0).calibration_scores_, make(1).calibration_scores_)


def test_dataframes_keep_their_column_names():
    frame = pd.DataFrame(_normal(100, 0), columns=["a", "b", "c"])
    detector = CalibratedDetector(IsolationForest(random_state=0), random_state=0).fit(frame)
    assert list(detector.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names"):
        detector.p_values(frame.rename(columns={"a": "z"}))


@pytest.mark.parametrize("kwargs, n_rows, message", [
    ({"false_alarm_rate": 0.01}, 100, r"false_alarm_rate=0.01 is below the smallest p-value, 1 / \(n \+ 1\) = "
                                      r"0.03226 with n = 30 calibration rows.*at least 99 calibration rows"),
    ({"false_alarm_rate": 0.01, "method": "cross"}, 50, "at least 99 calibration rows"),
    ({"calibration_size": 99}, 100, "holds out 99 of 100 rows; the split needs at least 1 calibration row and 2"),
    ({"calibration_size": 0.999}, 100, "holds out 100 of 100 rows"),
    ({"method": "cross", "n_folds": 10}, 8, "n_folds=10 needs at least 10 rows, got 8"),
], ids=["unreachable-split", "unreachable-cross", "no-training-rows", "share-too-large", "too-few-for-folds"])
def test_impossible_calibrations_are_refused_and_leave_nothing_fitted(kwargs, n_rows, message):
    detector = CalibratedDetector(_DistanceDetector(), random_state=0, **kwargs)
    with pytest.raises(ValueError, match=message):
        detector.fit(_normal(n_rows, 0))
    assert not [name for name in vars(detector) if name.endswith("_")]


def test_nan_rows_are_refused_at_fit_and_at_scoring():
    X = _normal(100, 0)
    X[37, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        CalibratedDetector(_DistanceDetector()).fit(X)
    detector = CalibratedDetector(_DistanceDetector(), random_state=0).fit(_normal(100, 0))
    for method in (detector.p_values, detector.predict, detector.score_samples, detector.predict_fdr):
        with pytest.raises(ValueError, match="NaN or infinity"):
            method(X)


def test_p_values_are_bitwise_equal_after_saving_and_loading_in_a_fresh_process(tmp_path):
    X = _normal(120, 0, n_features=4)
    detector = CalibratedDetector(AutoEncoderDetector(max_epochs=2, random_state=0), method="cross", n_folds=3,
                                  random_state=0).fit(X)
    X_new = _normal(25, 1, n_features=4)
    io.save(detector, tmp_path / "calibrated.skan")
    np.save(tmp_path / "rows.npy", X_new)
    script = textwrap.dedent(f"""
        import numpy as np
        from skanomaly import io
        model = io.load({str(tmp_path / "calibrated.skan")!r})
        np.save({str(tmp_path / "p.npy")!r}, model.p_values(np.load({str(tmp_path / "rows.npy")!r})))
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), detector.p_values(X_new))
