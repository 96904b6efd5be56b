"""skanomaly.explanations.explain: exactness and completeness of each method, meta-estimators, far rows, bad input."""

import copy
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import skanomaly
from skanomaly import explanations, recommended_detector
from skanomaly.detectors import (
    AMADetector,
    AutoEncoderDetector,
    DeepSVDDDetector,
    MirroredAEDetector,
    OMASGANDetector,
)
from skanomaly.ensemble import ScoreCombinationDetector, SeedEnsembleDetector
from skanomaly.explanations import explain

RNG = np.random.RandomState(0)
_MIX = RNG.normal(size=(5, 5)) / 2 + np.eye(5)
X_TRAIN = RNG.normal(size=(240, 5)) @ _MIX
X_TEST = np.vstack([RNG.normal(size=(6, 5)) @ _MIX, RNG.normal(size=(6, 5)) @ _MIX + 3.0])
NAMES = [f"feature_{j}" for j in range(5)]


def _ae(**params):
    return AutoEncoderDetector(**{"hidden_layer_sizes": (8,), "latent_dim": 2, "max_epochs": 2, "batch_size": 32,
                                  "device": "cpu", "random_state": 0, **params})


NETWORKS = {
    "AutoEncoderDetector": _ae,
    "AMADetector": lambda **p: AMADetector(**{"hidden_layer_sizes": (8,), "critic_hidden_layer_sizes": (8,),
                                              "latent_dim": 2, "n_critic": 1, "max_epochs": 2, "batch_size": 32,
                                              "device": "cpu", "random_state": 0, **p}),
    "MirroredAEDetector": lambda **p: MirroredAEDetector(**{
        "hidden_layer_sizes": (8,), "critic_hidden_layer_sizes": (8,), "latent_dim": 2, "n_critic": 1,
        "selection_warmup_epochs": 0, "max_epochs": 2, "batch_size": 32, "device": "cpu", "random_state": 0, **p}),
    "OMASGANDetector": lambda **p: OMASGANDetector(**{
        "task1_epochs": 1, "task2_epochs": 1, "task3_epochs": 1, "j_epochs": 1, "critic_hidden_layer_sizes": (8,),
        "latent_dim": 2, "n_reference": 16, "batch_size": 32, "device": "cpu", "random_state": 0, **p}),
    "DeepSVDDDetector": lambda **p: DeepSVDDDetector(**{
        "objective": "soft-boundary", "radius_warmup_epochs": 1, "hidden_layer_sizes": (8,), "latent_dim": 2,
        "max_epochs": 2, "batch_size": 32, "device": "cpu", "random_state": 0, **p}),
}
# Every way a network detector computes its score: (detector, settings).
SCORE_VARIANTS = [
    ("AutoEncoderDetector", {}),
    ("AMADetector", {}),
    ("AMADetector", {"score_type": "feature_l1"}),
    ("MirroredAEDetector", {}),
    ("OMASGANDetector", {}),
    ("OMASGANDetector", {"stop_after": "task1"}),
    ("OMASGANDetector", {"stop_after": "task3"}),
    ("DeepSVDDDetector", {}),
    ("DeepSVDDDetector", {"objective": "one-class"}),
]
_FITTED = {}


def _fitted(name, **params):
    key = (name, tuple(sorted(params.items())))
    if key not in _FITTED:
        _FITTED[key] = NETWORKS[name](**params).fit(X_TRAIN)
    return _FITTED[key]


def _identity_gap(result):
    """How far the parts are from adding up to the explained anomaly score."""
    total = result.baseline_scores + result.contributions.sum(axis=1) + result.beyond_training + result.delta
    return np.abs(total - result.anomaly_scores).max()


class _AdditiveDetector(OutlierMixin, BaseEstimator):
    """Anomaly score sum_j w_j * x_j**2: its Shapley values are known in closed form."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        self.weights_ = np.arange(1.0, X.shape[1] + 1)
        return self

    def score_samples(self, X):
        return -np.asarray(X, dtype=float) ** 2 @ self.weights_


class _InteractingDetector(OutlierMixin, BaseEstimator):
    """An anomaly score with interactions between features (products and a maximum)."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def score_samples(self, X):
        X = np.asarray(X, dtype=float)
        return -(X[:, 0] * X[:, 1] + np.maximum(X[:, 2], X[:, 3]) ** 2 + np.sin(X[:, 0] + X[:, 3]))


def _exact_shapley(estimator, x, references):
    """Shapley values of the anomaly score of ``x``, features missing from a coalition set to each reference row."""
    d = x.shape[0]
    values = np.zeros(d)
    for size in range(d):
        weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
        for coalition in itertools.combinations(range(d), size):
            for j in set(range(d)) - set(coalition):
                without = references.copy()
                without[:, list(coalition)] = x[list(coalition)]
                with_j = without.copy()
                with_j[:, j] = x[j]
                gain = -estimator.score_samples(with_j) + estimator.score_samples(without)
                values[j] += weight * gain.mean()
    return values


# ------------------------------------------------------------------------------------------------ networks
@pytest.mark.parametrize("name, params", SCORE_VARIANTS, ids=[f"{n}{p}" for n, p in SCORE_VARIANTS])
def test_the_differentiated_score_is_the_detectors_score(name, params):
    detector = _fitted(name, **params)
    score = explanations._network_anomaly_score(detector)
    with torch.no_grad():
        mine = score(torch.as_tensor(X_TEST)).numpy()
    np.testing.assert_allclose(mine, -detector._score_samples(X_TEST), rtol=1e-12, atol=1e-12)


def test_reconstruction_decomposition_is_exact():
    detector = _fitted("AutoEncoderDetector")
    result = explain(detector, X_TEST)
    assert result.method == "reconstruction"
    with torch.no_grad():
        x = torch.as_tensor(X_TEST)
        expected = ((detector.net_.module_(x) - x) ** 2).numpy() / X_TEST.shape[1]
    np.testing.assert_allclose(result.contributions, expected, rtol=1e-14)
    np.testing.assert_array_equal(result.baseline_scores, 0.0)
    np.testing.assert_array_equal(result.anomaly_scores, -detector.score_samples(X_TEST))
    assert np.abs(result.delta).max() <= 1e-14 * np.abs(result.anomaly_scores).max()
    # the input side of the same error, by integrated gradients
    assert explain(detector, X_TEST, method="integrated_gradients").method == "integrated_gradients"


@pytest.mark.parametrize("name, params", SCORE_VARIANTS[1:], ids=[f"{n}{p}" for n, p in SCORE_VARIANTS[1:]])
def test_integrated_gradients_add_up_to_the_score_difference_to_the_training_mean(name, params):
    detector = _fitted(name, **params)
    coarse = explain(detector, X_TEST, n_steps=4)
    fine = explain(detector, X_TEST, n_steps=256)
    assert fine.method == "integrated_gradients"
    np.testing.assert_array_equal(fine.anomaly_scores, -detector.score_samples(X_TEST))
    reference = -detector._score_samples(detector.support_center_[None, :])
    np.testing.assert_allclose(fine.baseline_scores, reference[0], rtol=1e-12)
    assert _identity_gap(fine) <= 1e-12 * (1 + np.abs(fine.anomaly_scores).max())
    spread = np.abs(fine.anomaly_scores - fine.baseline_scores)
    assert np.median(np.abs(fine.delta) / spread) < 0.01
    assert np.abs(fine.delta).sum() <= np.abs(coarse.delta).sum() + 1e-12


def test_integrated_gradients_equal_captums():
    captum = pytest.importorskip("captum.attr")
    detector = _fitted("AMADetector")
    references = X_TRAIN[:2]
    mine = explain(detector, X_TEST, baseline=references, n_neighbors=None, n_steps=16)
    score = explanations._network_anomaly_score(detector)
    ig = captum.IntegratedGradients(score)
    theirs = np.mean([ig.attribute(torch.as_tensor(X_TEST), baselines=torch.as_tensor(np.tile(ref, (len(X_TEST), 1))),
                                   n_steps=16, method="gausslegendre").detach().numpy() for ref in references], axis=0)
    # captum weighs its quadrature points in float32
    np.testing.assert_allclose(mine.contributions, theirs, rtol=1e-5, atol=1e-7 * np.abs(theirs).max())


def test_network_explanations_run_on_the_detectors_thread_count():
    detector = _fitted("MirroredAEDetector")
    previous = torch.get_num_threads()
    seen = set()
    hook = torch.nn.modules.module.register_module_forward_pre_hook(lambda *args: seen.add(torch.get_num_threads()))
    try:
        torch.set_num_threads(3)
        explain(detector, X_TEST, n_steps=2)
        assert seen == {1} and torch.get_num_threads() == 3
    finally:
        hook.remove()
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------------------------- black boxes
def test_shapley_sampling_is_exact_for_an_additive_score():
    detector = _AdditiveDetector().fit(X_TRAIN)
    references = X_TRAIN[:3]
    result = explain(detector, X_TEST, baseline=references, n_permutations=1, random_state=0)
    expected = (X_TEST ** 2 - (references ** 2).mean(axis=0)) * detector.weights_
    np.testing.assert_allclose(result.contributions, expected, rtol=1e-10, atol=1e-12)
    assert result.method == "shapley_sampling"


def test_shapley_sampling_estimates_the_exact_shapley_values_and_adds_up_whatever_the_permutations():
    detector = _InteractingDetector().fit(X_TRAIN[:, :4])
    X, references = X_TEST[:4, :4], X_TRAIN[:3, :4]
    exact = np.array([_exact_shapley(detector, x, references) for x in X])
    for n_permutations, tolerance in ((1, None), (400, 0.05)):
        result = explain(detector, X, baseline=references, n_permutations=n_permutations, random_state=0)
        assert np.abs(result.delta).max() < 1e-12
        np.testing.assert_allclose(result.baseline_scores, np.mean(-detector.score_samples(references)))
        if tolerance is not None:
            assert np.abs(result.contributions - exact).max() < tolerance * np.abs(exact).max()


class _CountingDetector(_InteractingDetector):
    def score_samples(self, X):
        self.rows_scored_ = getattr(self, "rows_scored_", 0) + len(X)
        return super().score_samples(X)


def test_steps_that_change_nothing_are_not_scored_again():
    rng = np.random.RandomState(0)
    X, references = rng.randint(2, size=(6, 4)).astype(float), rng.randint(2, size=(3, 4)).astype(float)
    detector = _CountingDetector().fit(X)
    exact = np.array([_exact_shapley(detector, x, references) for x in X])
    detector.rows_scored_ = 0
    result = explain(detector, X, baseline=references, n_permutations=300, random_state=0)
    # every inner step of every walk would be 300 * 2 * 3 * 3 per row, plus the rows and the references
    assert detector.rows_scored_ < 0.75 * (len(X) * 300 * 2 * 3 * 3 + len(X) + len(references))
    assert np.abs(result.contributions - exact).max() < 0.05 * np.abs(exact).max()
    assert np.abs(result.delta).max() < 1e-12
    occluded = explain(detector, X, method="occlusion", baseline=references)
    anomaly = -detector.score_samples(X)
    for j in range(4):
        held = np.mean([-detector.score_samples(np.where(np.arange(4) == j, r, X)) for r in references], axis=0)
        np.testing.assert_allclose(occluded.contributions[:, j], anomaly - held, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["shapley_sampling", "occlusion", "integrated_gradients"])
def test_each_row_can_be_compared_with_its_nearest_reference_rows(method):
    detector = _fitted("DeepSVDDDetector")
    pool = X_TRAIN[:30]
    result = explain(detector, X_TEST, baseline=pool, n_neighbors=3, method=method, n_steps=8, random_state=0)
    for i in (0, 7):
        # the pool rows that agree with the row in the most features, a difference above one sd counting 1
        distance = np.minimum(np.abs(pool - X_TEST[i]) / pool.std(axis=0), 1.0).sum(axis=1)
        nearest = pool[np.argsort(distance, kind="stable")[:3]]
        alone = explain(detector, X_TEST, baseline=nearest, n_neighbors=None, method=method, n_steps=8,
                        random_state=0)
        np.testing.assert_allclose(result.contributions[i], alone.contributions[i], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(result.baseline_scores[i], alone.baseline_scores[i], rtol=1e-12)
    everyone = explain(detector, X_TEST, baseline=pool[:3], n_neighbors=3, method=method, n_steps=8, random_state=0)
    np.testing.assert_array_equal(everyone.contributions, explain(detector, X_TEST, baseline=pool[:3], method=method,
                                                                  n_neighbors=None, n_steps=8,
                                                                  random_state=0).contributions)
    # a feature far off counts 1 for every pool row, so the neighbours are those that agree in the other features
    shifted = X_TEST[:1].copy()
    shifted[0, 2] += 50 * X_TRAIN[:, 2].std()
    others = np.minimum(np.abs(np.delete(pool - shifted, 2, axis=1)) / np.delete(pool.std(axis=0), 2), 1.0).sum(axis=1)
    np.testing.assert_array_equal(explanations._References(pool, 3).indices(shifted)[0],
                                  np.argsort(others, kind="stable")[:3])


def test_a_reference_equal_to_the_row_gives_no_contribution():
    detector = _InteractingDetector().fit(X_TRAIN[:, :4])
    for method in ("shapley_sampling", "occlusion"):
        result = explain(detector, X_TEST[:2, :4], baseline=X_TEST[:1, :4], method=method, random_state=0)
        np.testing.assert_array_equal(result.contributions[0], 0.0)
        assert np.abs(result.contributions[1]).max() > 0


def test_a_rows_shapley_values_depend_on_the_seed_and_its_position_only():
    detector = _InteractingDetector().fit(X_TRAIN[:, :4])
    X = X_TEST[:, :4]
    whole = explain(detector, X, baseline=X_TRAIN[:4, :4], random_state=3).contributions
    first = explain(detector, X[:5], baseline=X_TRAIN[:4, :4], random_state=3).contributions
    np.testing.assert_array_equal(whole[:5], first)
    other = explain(detector, X, baseline=X_TRAIN[:4, :4], random_state=4).contributions
    assert not np.array_equal(whole, other)


def test_occlusion_replaces_one_feature_at_a_time():
    detector = _InteractingDetector().fit(X_TRAIN[:, :4])
    X, references = X_TEST[:, :4], X_TRAIN[:3, :4]
    result = explain(detector, X, method="occlusion", baseline=references)
    anomaly = -detector.score_samples(X)
    for j in range(4):
        held = np.mean([-detector.score_samples(np.where(np.arange(4) == j, r, X)) for r in references], axis=0)
        np.testing.assert_allclose(result.contributions[:, j], anomaly - held, rtol=1e-12)
    assert _identity_gap(result) < 1e-12


def test_results_do_not_depend_on_the_batching(monkeypatch):
    isolation = IsolationForest(n_estimators=10, random_state=0).fit(X_TRAIN)
    network = _fitted("DeepSVDDDetector")
    kwargs = {"baseline": X_TRAIN[:3], "random_state": 0}
    reference = [explain(isolation, X_TEST, **kwargs), explain(isolation, X_TEST, method="occlusion", **kwargs),
                 explain(network, X_TEST, n_steps=4)]
    monkeypatch.setattr(explanations, "_MAX_EVALUATION_VALUES", 7)
    monkeypatch.setattr(explanations, "_GRADIENT_BATCH_ROWS", 5)
    batched = [explain(isolation, X_TEST, **kwargs), explain(isolation, X_TEST, method="occlusion", **kwargs),
               explain(network, X_TEST, n_steps=4)]
    for before, after in zip(reference, batched):
        np.testing.assert_allclose(after.contributions, before.contributions, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------- meta-estimators
def test_a_pipeline_is_explained_in_its_input_features():
    frame = pd.DataFrame(X_TRAIN, columns=NAMES)
    model = make_pipeline(StandardScaler(), _ae()).fit(frame)
    result = explain(model, pd.DataFrame(X_TEST, columns=NAMES))
    inner = explain(model[-1], model[0].transform(pd.DataFrame(X_TEST, columns=NAMES)))
    np.testing.assert_array_equal(result.contributions, inner.contributions)
    assert list(result.feature_names) == NAMES
    np.testing.assert_allclose(result.anomaly_scores, -model.score_samples(pd.DataFrame(X_TEST, columns=NAMES)))
    # Shapley values do not change under a column-wise scaling of the reference rows and the row
    isolation = make_pipeline(MinMaxScaler(), IsolationForest(n_estimators=10, random_state=0)).fit(X_TRAIN)
    scaled = explain(isolation, X_TEST, baseline=X_TRAIN[:3], random_state=0)
    whole = explanations._black_box(isolation, X_TEST, X_TRAIN[:3], "shapley_sampling",
                                    explanations.Bunch(n_permutations=8, n_neighbors=None,
                                                       seed=scaled_seed(0)))
    np.testing.assert_allclose(scaled.contributions, whole.contributions, rtol=1e-12, atol=1e-12)


def scaled_seed(random_state):
    return int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max))


def test_a_pipeline_that_mixes_columns_is_a_black_box():
    model = make_pipeline(PCA(n_components=5), _ae()).fit(X_TRAIN)
    result = explain(model, X_TEST, baseline=X_TRAIN[:3], random_state=0)
    assert result.method == "shapley_sampling"
    assert _identity_gap(result) < 1e-12 and np.abs(result.delta).max() < 1e-10
    with pytest.raises(ValueError, match="PCA"):
        explain(model, X_TEST, method="integrated_gradients")


def test_linear_ensembles_add_their_members_explanations():
    combination = ScoreCombinationDetector([("ae", _ae()), ("iforest", IsolationForest(n_estimators=10,
                                                                                        random_state=0))])
    combination.fit(X_TRAIN)
    result = explain(combination, X_TEST, baseline=X_TRAIN[:3], random_state=0)
    assert result.method == "weighted_sum[reconstruction, shapley_sampling]"
    np.testing.assert_allclose(result.anomaly_scores, -combination.score_samples(X_TEST), rtol=1e-12)
    assert _identity_gap(result) < 1e-10 and np.abs(result.delta).max() < 1e-10
    members = [explain(m, X_TEST, baseline=X_TRAIN[:3], random_state=0) for m in combination.estimators_]
    coefficients = combination.weights_ / combination.score_scales_
    expected = sum(c * m.contributions for c, m in zip(coefficients, members))
    np.testing.assert_allclose(result.contributions, expected, rtol=1e-12)

    ensemble = SeedEnsembleDetector(_ae(), n_estimators=2, random_state=0).fit(X_TRAIN)
    result = explain(ensemble, X_TEST)
    assert result.method == "weighted_sum[reconstruction, reconstruction]"
    np.testing.assert_allclose(result.anomaly_scores, -ensemble.score_samples(X_TEST), rtol=1e-12)
    assert np.abs(result.delta).max() < 1e-10

    maximum = ScoreCombinationDetector([("ae", _ae()), ("svdd", NETWORKS["DeepSVDDDetector"]())], combination="max")
    maximum.fit(X_TRAIN)
    with pytest.raises(ValueError, match="baseline"):
        explain(maximum, X_TEST)
    assert explain(maximum, X_TEST, baseline=X_TRAIN[:2]).method == "shapley_sampling"


def test_recommended_detector_and_sklearn_detectors_need_reference_rows():
    frame = pd.DataFrame(X_TRAIN, columns=NAMES)
    model = recommended_detector(random_state=0).fit(frame)
    rows = pd.DataFrame(X_TEST, columns=NAMES)
    with pytest.raises(ValueError, match="baseline"):
        explain(model, rows)
    result = explain(model, rows, baseline=frame.iloc[:5], random_state=0)
    assert result.method == "weighted_sum[shapley_sampling, shapley_sampling]"
    np.testing.assert_allclose(result.anomaly_scores, -model.score_samples(rows), rtol=1e-12)
    assert np.abs(result.delta).max() < 1e-10 and list(result.feature_names) == NAMES
    lof = LocalOutlierFactor(novelty=True).fit(X_TRAIN)
    result = explain(lof, X_TEST, method="occlusion", baseline=X_TRAIN.mean(axis=0))
    assert result.method == "occlusion" and result.contributions.shape == X_TEST.shape
    frozen = explain(FrozenEstimator(lof), X_TEST, method="occlusion", baseline=X_TRAIN.mean(axis=0))
    np.testing.assert_array_equal(frozen.contributions, result.contributions)


def test_calibrated_detector_is_explained_through_its_models():
    calibration = pytest.importorskip("skanomaly.calibration")
    detector = calibration.CalibratedDetector(_ae(), method="cross", n_folds=2).fit(X_TRAIN)
    result = explain(detector, X_TEST)
    assert result.method == "weighted_sum[reconstruction, reconstruction]"
    expected = np.mean([-member.score_samples(X_TEST) for member in detector.estimators_], axis=0)
    np.testing.assert_allclose(result.anomaly_scores, expected, rtol=1e-12)
    assert np.abs(result.delta).max() < 1e-10


# ------------------------------------------------------------------------------------------- far rows
@pytest.mark.parametrize("name", ["AutoEncoderDetector", "DeepSVDDDetector"])
def test_the_far_row_guard_is_a_part_of_its_own(name):
    detector = copy.deepcopy(_fitted(name))
    direction = np.ones(X_TRAIN.shape[1]) / np.sqrt(X_TRAIN.shape[1])
    far = detector.support_center_ + np.outer([2.5, 6.0], detector.support_radius_ * direction)
    rows = np.vstack([X_TEST[:2], far])
    # These networks already score the far rows below the cap; a training score range far below their scores
    # makes the cap the score of every far row.
    low, high = detector.training_score_range_["score_samples"]
    detector.training_score_range_["score_samples"] = (low - 1e3, high - 1e3)
    result = explain(detector, rows, n_steps=8)
    np.testing.assert_array_equal(result.anomaly_scores, -detector.score_samples(rows))
    np.testing.assert_array_equal(result.beyond_training[:2], 0.0)
    assert (result.beyond_training[2:] > 0).all()
    uncapped = -detector._score_samples(rows)
    np.testing.assert_allclose(result.anomaly_scores - result.beyond_training, uncapped, rtol=1e-12)
    assert _identity_gap(result) <= 1e-12 * np.abs(result.anomaly_scores).max()
    # a black-box method explains the capped score itself
    boxed = explain(detector, rows, method="occlusion")
    np.testing.assert_array_equal(boxed.beyond_training, 0.0)
    np.testing.assert_array_equal(boxed.anomaly_scores, result.anomaly_scores)


# ------------------------------------------------------------------------------------------- images
def test_conv_detectors_give_per_pixel_maps():
    images = np.random.RandomState(0).uniform(size=(40, 1, 8, 8))
    for detector in (_ae(base_channels=4, latent_dim=2), NETWORKS["DeepSVDDDetector"](base_channels=4)):
        detector.fit(images)
        result = explain(detector, images[:3], n_steps=4)
        assert result.image_shape == (1, 8, 8) and result.contributions.shape == (3, 64)
        np.testing.assert_array_equal(explain(detector, images[:3].reshape(3, -1), n_steps=4).contributions,
                                      result.contributions)


# ---------------------------------------------------------------------------------------- input errors
def test_bad_input_gives_clear_errors():
    with pytest.raises(NotFittedError):
        explain(_ae(), X_TEST)
    with pytest.raises(NotFittedError):
        explain(make_pipeline(MinMaxScaler(), _ae()), X_TEST)
    detector = _fitted("AutoEncoderDetector")
    with pytest.raises(ValueError, match="features"):
        explain(detector, X_TEST[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        explain(detector, np.where(X_TEST > 2, np.nan, X_TEST))
    with pytest.raises(ValueError, match="method"):
        explain(detector, X_TEST, method="lime")
    with pytest.raises(ValueError, match="n_steps"):
        explain(detector, X_TEST, n_steps=0)
    with pytest.raises(ValueError, match="n_permutations"):
        explain(detector, X_TEST, n_permutations=1.5)
    with pytest.raises(ValueError, match="n_neighbors"):
        explain(detector, X_TEST, n_neighbors=0)
    with pytest.raises(ValueError, match="baseline"):
        explain(detector, X_TEST, baseline=np.zeros(4))
    with pytest.raises(ValueError, match="no rows"):
        explain(detector, X_TEST[:0])
    with pytest.raises(ValueError, match="reconstruction error"):
        explain(_fitted("DeepSVDDDetector"), X_TEST, method="reconstruction")
    with pytest.raises(ValueError, match="float32 range"):
        explain(detector, np.full((1, 5), 1e300))
    named = make_pipeline(MinMaxScaler(), _ae()).fit(pd.DataFrame(X_TRAIN, columns=NAMES))
    with pytest.raises(ValueError, match="feature names"):
        explain(named, pd.DataFrame(X_TEST, columns=NAMES[::-1]))
    with pytest.raises(ValueError, match="novelty=True"):
        explain(LocalOutlierFactor().fit(X_TRAIN), X_TEST, baseline=X_TRAIN[:2])
    isolation = IsolationForest(n_estimators=5, random_state=0).fit(X_TRAIN)
    with pytest.raises(ValueError, match="baseline"):
        explain(isolation, X_TEST)
    with pytest.raises(ValueError, match="network detector"):
        explain(isolation, X_TEST, method="integrated_gradients")


def test_results_are_finite_float64_for_rows_at_the_edge_of_float32():
    detector = _fitted("AMADetector")
    rows = np.vstack([X_TEST[:2], np.full((1, 5), 1e30), np.full((1, 5), -1e30)]).astype(np.float32)
    result = explain(detector, rows, n_steps=4)
    for key in ("contributions", "baseline_scores", "anomaly_scores", "beyond_training", "delta"):
        assert result[key].dtype == np.float64 and np.isfinite(result[key]).all(), key


def test_explain_is_a_top_level_name():
    assert skanomaly.explain is explain


# ------------------------------------------------------------------------------------------------- plots
def test_plots_of_an_explanation():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skanomaly.plotting import plot_contribution_map, plot_contributions

    model = make_pipeline(MinMaxScaler(), _ae()).fit(pd.DataFrame(X_TRAIN, columns=NAMES))
    result = explain(model, pd.DataFrame(X_TEST, columns=NAMES))
    try:
        ax = plot_contributions(result, row=-1, n_features=3)
        assert [label.get_text() for label in ax.get_yticklabels()][-1] == NAMES[np.argmax(np.abs(
            result.contributions[-1]))]
        with pytest.raises(ValueError, match="row"):
            plot_contributions(result, row=99)
        image = np.random.RandomState(0).uniform(size=(1, 8, 8))
        ax = plot_contribution_map(image.ravel(), np.linspace(-1, 1, 64), image_shape=(1, 8, 8))
        assert len(ax.images) == 2
        with pytest.raises(ValueError, match="values"):
            plot_contribution_map(image, np.zeros(10))
    finally:
        plt.close("all")


def test_the_a_scores_tail_derivative_stays_exact_and_finite():
    x = torch.tensor([2.0, -1.0, -30.0, -1e9, -1e33, -1e160], dtype=torch.float64, requires_grad=True)
    explanations._LogNdtr.apply(x).sum().backward()
    reference = torch.tensor([2.0, -1.0, -30.0], dtype=torch.float64, requires_grad=True)
    torch.special.log_ndtr(reference).sum().backward()
    np.testing.assert_allclose(x.grad[:3].numpy(), reference.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad[3:].numpy(), [1e9, 1e33, 1e160], rtol=1e-12)  # phi(x) / Phi(x) ~ -x
