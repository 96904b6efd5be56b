"""Incremental training: ``partial_fit`` on the detectors whose training is a stream of mini-batch steps.

- ``k`` calls on the same rows give, to the bit, the model of ``fit`` with ``max_epochs=k`` (same
  ``random_state``): the optimizer, the shuffling generator and torch's random state continue across calls,
  also through pickle and :mod:`skanomaly.io` round trips between calls.
- ``n_features_in_`` is fixed by the first call; another width, NaN, a row too few, changed network
  parameters, a divergence or an interrupt raise and leave the previous model exactly as it was.
- ``offset_``, the support of the far-row guard and ``n_samples_seen_`` follow the documented updates;
  detectors that cannot train incrementally have no ``partial_fit`` and say why.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skanomaly import io
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.detectors.autoencoder import _AutoEncoderNet
from skanomaly.exceptions import TrainingDivergedError

TINY = {
    "autoencoder": lambda **p: AutoEncoderDetector(
        **{"batch_size": 32, "hidden_layer_sizes": (8,), "latent_dim": 2, "device": "cpu", **p}),
    "deep_svdd": lambda **p: DeepSVDDDetector(
        **{"batch_size": 32, "hidden_layer_sizes": (8,), "latent_dim": 2, "device": "cpu", **p}),
    "deep_svdd_soft_boundary": lambda **p: DeepSVDDDetector(
        **{"objective": "soft-boundary", "radius_warmup_epochs": 1, "batch_size": 32, "hidden_layer_sizes": (8,),
           "latent_dim": 2, "device": "cpu", **p}),
    "mirrored_ae": lambda **p: MirroredAEDetector(
        **{"select_best_epoch": False, "batch_size": 32, "hidden_layer_sizes": (8,), "critic_hidden_layer_sizes": (8,),
           "latent_dim": 2, "n_critic": 1, "device": "cpu", **p}),
    "autoencoder_dropout": lambda **p: AutoEncoderDetector(
        **{"dropout": 0.3, "batch_size": 32, "hidden_layer_sizes": (8,), "latent_dim": 2, "device": "cpu", **p}),
}
RNG = np.random.RandomState(0)
X = RNG.rand(150, 5)
CHUNKS = [RNG.rand(n, 5) for n in (70, 45, 90)]
X_TEST = np.vstack([RNG.rand(40, 5) * 1.5, RNG.rand(3, 5) * 40])


def _same_model(a, b):
    np.testing.assert_array_equal(a.score_samples(X_TEST), b.score_samples(X_TEST))
    for name in ("offset_", "support_center_", "support_radius_", "training_score_range_", "n_features_in_"):
        np.testing.assert_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("name", list(TINY))
def test_calls_on_the_same_rows_continue_the_training_of_fit_exactly(name):
    fitted = TINY[name](max_epochs=3, random_state=0).fit(X)
    incremental = TINY[name](random_state=0)
    for _ in range(3):
        incremental.partial_fit(X)
    _same_model(fitted, incremental)
    assert incremental.n_epochs_ == 3 and incremental.n_samples_seen_ == 3 * len(X)
    np.testing.assert_array_equal(fitted.history_["train_loss"], incremental.history_["train_loss"])


@pytest.mark.parametrize("name", ["autoencoder", "deep_svdd_soft_boundary", "mirrored_ae"])
def test_the_same_chunks_give_the_same_model_through_pickle_and_io_round_trips(name, tmp_path):
    straight = TINY[name](random_state=1)
    for chunk in CHUNKS:
        straight.partial_fit(chunk)
    resumed = TINY[name](random_state=1).partial_fit(CHUNKS[0])
    resumed = pickle.loads(pickle.dumps(resumed)).partial_fit(CHUNKS[1])
    io.save(resumed, tmp_path / "model.skan")
    resumed = io.load(tmp_path / "model.skan").partial_fit(CHUNKS[2])
    _same_model(straight, resumed)


def test_the_callers_random_state_and_thread_count_are_left_alone():
    detector = TINY["autoencoder_dropout"](random_state=0).partial_fit(X)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        seen = set()
        hook = torch.nn.modules.module.register_module_forward_pre_hook(
            lambda module, args: seen.add(torch.get_num_threads()))
        try:
            detector.partial_fit(X)
        finally:
            hook.remove()
        assert seen == {1}  # n_threads=1, the default
        assert torch.get_num_threads() == 3
        np.testing.assert_array_equal(torch.rand(3), expected)
    finally:
        torch.set_num_threads(previous)


def test_offset_support_and_counts_follow_the_documented_updates():
    detector = TINY["autoencoder"](random_state=0, contamination=0.2)
    for chunk in CHUNKS:
        detector.partial_fit(chunk)
    last = CHUNKS[-1]
    scores = detector.score_samples(last)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 20.0), abs=0, rel=1e-12)
    assert detector.training_score_range_["score_samples"] == pytest.approx((scores.min(), scores.max()), rel=1e-12)
    seen = np.vstack(CHUNKS)
    np.testing.assert_allclose(detector.support_center_, seen.mean(axis=0), rtol=1e-12)
    distances = np.linalg.norm(seen - detector.support_center_, axis=1)
    assert detector.support_radius_ >= distances.max()
    assert detector.n_samples_seen_ == len(seen) and detector.n_epochs_ == len(CHUNKS)
    assert list(detector.history_.index) == [1, 2, 3]
    # Rows far outside every chunk still score below every row seen in training.
    assert detector.score_samples(X_TEST[-3:]).max() < detector.score_samples(seen).min()


def test_partial_fit_after_fit_continues_from_the_fitted_networks():
    fitted = TINY["deep_svdd"](max_epochs=2, random_state=0).fit(X)
    center = fitted.center_.copy()
    before = fitted.score_samples(X_TEST)
    fitted.partial_fit(CHUNKS[0])
    assert fitted.n_epochs_ == 3 and list(fitted.history_.index) == [1, 2, 3]
    np.testing.assert_array_equal(fitted.center_, center)  # the centre of the first training is kept
    assert not np.array_equal(fitted.score_samples(X_TEST), before)
    assert fitted.n_samples_seen_ == len(CHUNKS[0])


def test_first_call_fixes_the_width_and_the_feature_names():
    columns = [f"f{i}" for i in range(5)]
    detector = TINY["autoencoder"](random_state=0).partial_fit(pd.DataFrame(CHUNKS[0], columns=columns))
    assert detector.n_features_in_ == 5 and list(detector.feature_names_in_) == columns
    with pytest.raises(ValueError, match="feature names"):
        detector.partial_fit(pd.DataFrame(CHUNKS[1][:, :4], columns=columns[:4]))
    with pytest.raises(ValueError, match="feature names"):
        detector.partial_fit(pd.DataFrame(CHUNKS[1], columns=[f"g{i}" for i in range(5)]))


def _state(detector):
    """Everything the detector holds, as comparable values."""
    return pickle.dumps({key: value for key, value in vars(detector).items() if key != "net_"}), \
        detector.score_samples(X_TEST)


def _assert_unchanged(detector, state):
    after = _state(detector)
    assert after[0] == state[0]
    np.testing.assert_array_equal(after[1], state[1])


@pytest.mark.parametrize("bad, message", [
    (CHUNKS[1][:, :4], "X has 4 features, but AutoEncoderDetector is expecting 5 features"),
    (np.where(np.eye(45, 5, dtype=bool), np.nan, CHUNKS[1]), "NaN"),
    (np.where(np.eye(45, 5, dtype=bool), np.inf, CHUNKS[1]), "infinity"),
    (CHUNKS[1][:1], "at least 2 rows"),
    (np.empty((0, 5)), "0 sample"),
])
def test_bad_chunks_raise_and_leave_the_previous_model(bad, message):
    detector = TINY["autoencoder"](random_state=0).partial_fit(CHUNKS[0])
    state = _state(detector)
    with pytest.raises(ValueError, match=message):
        detector.partial_fit(bad)
    _assert_unchanged(detector, state)
    detector.partial_fit(CHUNKS[1])  # and training goes on
    assert detector.n_epochs_ == 2


def test_a_failed_first_call_leaves_the_detector_unfitted():
    detector = TINY["autoencoder"](random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        detector.partial_fit(np.full((10, 5), np.nan))
    assert not [key for key in vars(detector) if key.endswith("_")]
    with pytest.raises(NotFittedError):
        detector.score_samples(X_TEST)
    _same_model(detector.partial_fit(X), TINY["autoencoder"](random_state=0).partial_fit(X))


@pytest.mark.parametrize("lr, message", [
    # The error term of the third call rises 1000-fold above its value on the first batch of the first call.
    (1.0, r"epoch 3: loss term 'train_loss' reached .* more than 1e\+03 x max\(its first batch's 0\.38"),
    (1e4, r"epoch 3: loss term 'train_loss' reached .* beyond the bound"),
])
def test_a_diverging_call_raises_and_leaves_the_previous_model(lr, message):
    detector = TINY["autoencoder"](random_state=0).partial_fit(CHUNKS[0]).partial_fit(CHUNKS[1])
    state = _state(detector)
    detector.set_params(lr=lr)  # the current parameters apply to each call
    with pytest.raises(TrainingDivergedError, match="AutoEncoderDetector training diverged in " + message):
        detector.partial_fit(X)
    detector.set_params(lr=1e-3)
    _assert_unchanged(detector, state)


def test_an_interrupted_call_leaves_the_previous_model(monkeypatch):
    detector = TINY["autoencoder"](random_state=0).partial_fit(CHUNKS[0])
    state = _state(detector)
    original = _AutoEncoderNet.train_step_terms
    steps = []

    def interrupted(self, X, y):
        steps.append(1)
        if len(steps) == 2:
            raise KeyboardInterrupt
        return original(self, X, y)

    monkeypatch.setattr(_AutoEncoderNet, "train_step_terms", interrupted)
    with pytest.raises(KeyboardInterrupt):
        detector.partial_fit(CHUNKS[2])
    _assert_unchanged(detector, state)


def test_changed_network_parameters_are_refused():
    detector = TINY["autoencoder"](random_state=0).partial_fit(CHUNKS[0])
    state = _state(detector)
    detector.set_params(hidden_layer_sizes=(6,))
    with pytest.raises(ValueError, match="parameter that shapes them changed"):
        detector.partial_fit(CHUNKS[1])
    detector.set_params(hidden_layer_sizes=(8,))
    _assert_unchanged(detector, state)


@pytest.mark.parametrize("detector, reason", [
    (OMASGANDetector(), "sequence of stages"),
    (AMADetector(), "fractions of max_epochs"),
    (MirroredAEDetector(), "select_best_epoch=False"),
    (MirroredAEDetector(select_best_epoch=False, spectral_norm=True), "spectral_norm=False"),
])
def test_detectors_that_cannot_train_incrementally_say_why(detector, reason):
    assert not hasattr(detector, "partial_fit")
    with pytest.raises(AttributeError, match=f"{type(detector).__name__} has no partial_fit: .*{reason}"):
        detector.partial_fit(X)
    assert hasattr(AutoEncoderDetector(), "partial_fit") and hasattr(MirroredAEDetector, "partial_fit")
    assert not hasattr(OMASGANDetector, "partial_fit") and not hasattr(AMADetector, "partial_fit")


def test_images_keep_their_shape_across_calls():
    rng = np.random.RandomState(0)
    detector = AutoEncoderDetector(base_channels=4, batch_size=16, random_state=0, device="cpu")
    detector.partial_fit(rng.rand(20, 1, 8, 8))
    detector.partial_fit(rng.rand(20, 64))  # flat rows of the same images
    assert detector.image_shape_ == (1, 8, 8) and detector.n_epochs_ == 2
    with pytest.raises(ValueError, match="images of shape"):
        detector.partial_fit(rng.rand(20, 4, 4, 4))


def test_the_offset_of_a_large_call_comes_from_evenly_spaced_rows(monkeypatch):
    monkeypatch.setattr(AutoEncoderDetector, "_PARTIAL_FIT_SCORED_ROWS", 40)
    detector = TINY["autoencoder"](random_state=0).partial_fit(CHUNKS[0]).partial_fit(CHUNKS[2])
    scored = CHUNKS[2][np.linspace(0, len(CHUNKS[2]) - 1, 40).astype(int)]
    assert len(np.unique(scored, axis=0)) == 40
    scores = detector.score_samples(scored)
    assert detector.offset_ == pytest.approx(np.percentile(scores, 10.0), rel=1e-12)
    assert detector.training_score_range_["score_samples"] == pytest.approx((scores.min(), scores.max()), rel=1e-12)
    seen = np.vstack([CHUNKS[0], CHUNKS[2]])  # the support still covers every row
    assert detector.support_radius_ >= np.linalg.norm(seen - detector.support_center_, axis=1).max()


@pytest.mark.parametrize("check", ["check_estimators_partial_fit_n_features", "check_n_features_in_after_fitting",
                                   "check_fit_score_takes_y", "check_dataframe_column_names_consistency"])
def test_scikit_learns_partial_fit_checks_pass_for_the_mirrored_ae_without_epoch_selection(check):
    # tests/test_common.py runs every check on the autoencoder and Deep SVDD; the Mirrored AE's default there
    # (select_best_epoch=True) has no partial_fit.
    from sklearn.utils import estimator_checks

    detector = TINY["mirrored_ae"](max_epochs=1)
    getattr(estimator_checks, check)(type(detector).__name__, detector)
