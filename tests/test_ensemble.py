"""SeedEnsembleDetector: seeding of the members, score combination, parallel fits and errors."""

import copy

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.detectors import AutoEncoderDetector
from skanomaly.ensemble import SeedEnsembleDetector


def _tiny(**params):
    return AutoEncoderDetector(max_epochs=3, batch_size=64, hidden_layer_sizes=(8,), latent_dim=2, **params)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 6))
    return X, SeedEnsembleDetector(_tiny(), n_estimators=3, random_state=0).fit(X)


def test_members_are_seeded_clones_and_the_score_is_their_standardised_mean(fitted):
    X, ensemble = fitted
    assert len(ensemble.estimators_) == 3 and len(set(ensemble.seeds_)) == 3
    assert [member.random_state for member in ensemble.estimators_] == list(ensemble.seeds_)
    assert ensemble.estimator.random_state is None  # the template is not touched
    raw = np.column_stack([member.score_samples(X) for member in ensemble.estimators_])
    assert not np.allclose(raw[:, 0], raw[:, 1])  # different seeds, different fits
    standardised = ensemble.member_scores(X)
    np.testing.assert_allclose(standardised.mean(axis=0), 0.0, atol=1e-10)  # training data: mean 0, sd 1
    np.testing.assert_allclose(standardised.std(axis=0), 1.0)
    scores = ensemble.score_samples(X)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, standardised.mean(axis=1))
    median = copy.deepcopy(ensemble).set_params(combination="median").score_samples(X)  # the fixture stays as is
    np.testing.assert_allclose(median, np.median(standardised, axis=1))
    assert not np.allclose(median, scores)


def test_one_member_is_the_base_detector_with_its_seed(fitted):
    X, _ = fitted
    ensemble = SeedEnsembleDetector(_tiny(), n_estimators=1, random_state=5).fit(X)
    base = _tiny(random_state=int(ensemble.seeds_[0])).fit(X)
    expected = base.score_samples(X)
    np.testing.assert_allclose(ensemble.score_samples(X), (expected - expected.mean()) / expected.std())


def test_same_random_state_same_scores_and_parallel_fits_agree(fitted):
    X, ensemble = fitted
    again = SeedEnsembleDetector(_tiny(), n_estimators=3, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_array_equal(again.seeds_, ensemble.seeds_)
    np.testing.assert_allclose(again.score_samples(X), ensemble.score_samples(X), rtol=1e-6, atol=1e-9)
    other = SeedEnsembleDetector(_tiny(), n_estimators=3, random_state=1).fit(X)
    assert not np.array_equal(other.seeds_, ensemble.seeds_)


def test_predict_thresholds_at_the_contamination(fitted):
    X, ensemble = fitted
    outliers = np.mean(ensemble.predict(X) == -1)
    assert outliers == pytest.approx(ensemble.contamination, abs=0.01)
    np.testing.assert_allclose(ensemble.decision_function(X), ensemble.score_samples(X) - ensemble.offset_)


def test_nested_random_states_are_seeded_and_images_pass_through():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(120, 4))
    ensemble = SeedEnsembleDetector(make_pipeline(StandardScaler(), _tiny()), n_estimators=2, random_state=0)
    ensemble.fit(X)
    assert [pipe[-1].random_state for pipe in ensemble.estimators_] == list(ensemble.seeds_)
    assert ensemble.n_features_in_ == 4
    images = rng.uniform(size=(40, 28, 28))
    conv = SeedEnsembleDetector(AutoEncoderDetector(max_epochs=1, latent_dim=2), n_estimators=2, random_state=0)
    conv.fit(images)
    assert conv.estimators_[0].image_shape_ == (1, 28, 28)
    assert conv.score_samples(images[:5]).shape == (5,)


def test_learns(blobs):
    X_train, X_test, y_test = blobs
    ensemble = SeedEnsembleDetector(_tiny(), n_estimators=2, random_state=0).fit(X_train)
    assert roc_auc_score(y_test, -ensemble.score_samples(X_test)) > 0.9


def test_a_template_without_random_state_is_refused():
    X = np.random.RandomState(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="no random_state parameter"):
        SeedEnsembleDetector(LocalOutlierFactor(novelty=True)).fit(X)
