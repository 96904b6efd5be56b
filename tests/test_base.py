"""The shared detector contract of BaseDetector, exercised through AutoEncoderDetector."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from skanomaly import TrainingDivergedError
from skanomaly.detectors import AutoEncoderDetector

FAST = dict(max_epochs=2, hidden_layer_sizes=(8,), latent_dim=2, batch_size=32)


def test_fit_does_not_touch_global_random_state(blobs):
    X_train, _, _ = blobs
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    AutoEncoderDetector(random_state=0, **FAST).fit(X_train)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_same_random_state_same_scores_other_state_other_scores(blobs):
    X_train, X_test, _ = blobs
    first = AutoEncoderDetector(random_state=3, **FAST).fit(X_train).score_samples(X_test)
    again = AutoEncoderDetector(random_state=3, **FAST).fit(X_train).score_samples(X_test)
    other = AutoEncoderDetector(random_state=4, **FAST).fit(X_train).score_samples(X_test)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.parametrize("image_shape", [None, (1, 28, 28), (3, 32, 32)])
def test_scores_do_not_depend_on_batch_size(image_shape):
    rng = np.random.RandomState(0)
    n_features = 8 if image_shape is None else int(np.prod(image_shape))
    X = rng.rand(60, n_features)
    det = AutoEncoderDetector(random_state=0, image_shape=image_shape, **FAST).fit(X)
    reference = det.score_samples(X)
    for batch_size in (1, 7, 60, 500):
        det.set_params(batch_size=batch_size)
        np.testing.assert_allclose(det.score_samples(X), reference, rtol=1e-12, atol=1e-14)


def test_scores_are_float64_and_decision_is_shifted_score(blobs):
    X_train, X_test, _ = blobs
    det = AutoEncoderDetector(random_state=0, contamination=0.05, **FAST).fit(X_train)
    scores = det.score_samples(X_test)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(det.decision_function(X_test), scores - det.offset_)
    np.testing.assert_allclose(det.anomaly_score(X_test), -scores)
    labels = det.predict(X_test)
    assert set(np.unique(labels)) <= {-1, 1}
    assert np.array_equal(labels == -1, det.decision_function(X_test) < 0)


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.5])
def test_offset_flags_contamination_share_of_training_data(blobs, contamination):
    X_train, _, _ = blobs
    det = AutoEncoderDetector(random_state=0, contamination=contamination, **FAST).fit(X_train)
    share = np.mean(det.predict(X_train) == -1)
    assert share == pytest.approx(contamination, abs=1.0 / len(X_train))


def test_pickle_and_joblib_round_trip(blobs, tmp_path):
    X_train, X_test, _ = blobs
    det = AutoEncoderDetector(random_state=0, **FAST).fit(X_train)
    expected = det.score_samples(X_test)
    assert np.array_equal(pickle.loads(pickle.dumps(det)).score_samples(X_test), expected)
    joblib.dump(det, tmp_path / "det.joblib")
    assert np.array_equal(joblib.load(tmp_path / "det.joblib").score_samples(X_test), expected)


def test_history_records_each_epoch(blobs):
    X_train, _, _ = blobs
    det = AutoEncoderDetector(random_state=0, **{**FAST, "max_epochs": 5}).fit(X_train)
    assert det.n_epochs_ == 5
    assert list(det.history_.index) == [1, 2, 3, 4, 5]
    assert {"train_loss", "dur"} <= set(det.history_.columns)
    assert det.history_["train_loss"].iloc[-1] < det.history_["train_loss"].iloc[0]


def test_verbose_prints_the_epoch_table(blobs, capsys):
    X_train, _, _ = blobs
    AutoEncoderDetector(random_state=0, verbose=1, **FAST).fit(X_train)
    assert "train_loss" in capsys.readouterr().out
    AutoEncoderDetector(random_state=0, verbose=0, **FAST).fit(X_train)
    assert capsys.readouterr().out == ""


def test_dataframe_input_keeps_feature_names(blobs):
    X_train, X_test, _ = blobs
    columns = [f"f{i}" for i in range(X_train.shape[1])]
    det = AutoEncoderDetector(random_state=0, **FAST).fit(pd.DataFrame(X_train, columns=columns))
    assert list(det.feature_names_in_) == columns
    frame_scores = det.score_samples(pd.DataFrame(X_test, columns=columns))
    with pytest.warns(UserWarning, match="feature names"):
        array_scores = det.score_samples(X_test)
    np.testing.assert_allclose(frame_scores, array_scores)


def test_device_resolution():
    X = np.random.RandomState(0).rand(20, 3)
    assert AutoEncoderDetector(device="cpu", **FAST).fit(X).device_ == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert AutoEncoderDetector(device="auto", **FAST).fit(X).device_.type == expected
    with pytest.raises(ValueError, match="not a valid torch device"):
        AutoEncoderDetector(device="gpu0", **FAST).fit(X)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            AutoEncoderDetector(device="cuda", **FAST).fit(X)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
        (np.empty((0, 3)), "0 sample"),
        (np.ones((1, 3)), "1 sample"),
        (np.ones(5), "2D array"),
    ],
)
def test_bad_training_input_gives_clear_errors(X, message):
    with pytest.raises(ValueError, match=message):
        AutoEncoderDetector(**FAST).fit(X)


def test_bad_scoring_input_gives_clear_errors(blobs):
    X_train, _, _ = blobs
    det = AutoEncoderDetector(**FAST).fit(X_train)
    with pytest.raises(ValueError, match="expecting 8 features"):
        det.score_samples(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        det.predict(np.full((3, 8), np.nan))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"contamination": 0.7}, "contamination"),
        ({"batch_size": 0}, "batch_size"),
        ({"image_shape": (2, 2)}, "image_shape"),
        ({"image_shape": (1, 3, 3)}, "values per image"),
    ],
)
def test_bad_parameters_give_clear_errors(params, message):
    X = np.random.RandomState(0).rand(20, 8)
    with pytest.raises(ValueError, match=message):
        AutoEncoderDetector(**{**FAST, **params}).fit(X)


def test_image_arrays_are_flattened_and_shape_is_remembered():
    rng = np.random.RandomState(0)
    images = rng.rand(30, 28, 28)
    det = AutoEncoderDetector(random_state=0, **FAST).fit(images)
    assert det.image_shape_ == (1, 28, 28)
    assert det.n_features_in_ == 784
    np.testing.assert_array_equal(det.score_samples(images), det.score_samples(images.reshape(30, -1)))
    np.testing.assert_array_equal(det.score_samples(images[:, None]), det.score_samples(images))
    with pytest.raises(ValueError, match="image_shape"):
        det.score_samples(rng.rand(5, 1, 14, 56))
    with pytest.raises(ValueError, match="square"):
        AutoEncoderDetector(**FAST).fit(rng.rand(30, 1, 28, 32))


def test_tabular_rows_use_no_conv_net(blobs):
    X_train, _, _ = blobs
    det = AutoEncoderDetector(**FAST).fit(X_train)
    assert det.image_shape_ is None
    assert not any(isinstance(m, torch.nn.Conv2d) for m in det.net_.module_.modules())


def test_non_finite_training_loss_raises_instead_of_returning_nan():
    # An absurd learning rate blows the weights up to inf: training must stop with a clear error.
    X = np.random.RandomState(0).rand(40, 4)
    with pytest.raises(TrainingDivergedError, match="diverged in epoch"):
        AutoEncoderDetector(**{**FAST, "lr": 1e20, "max_epochs": 20}).fit(X)


def test_values_beyond_float32_range_are_rejected():
    X = np.random.RandomState(0).rand(40, 4)
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match="float32 range"):
        AutoEncoderDetector(**FAST).fit(X)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_scores_and_loads_on_cpu(blobs, tmp_path):
    X_train, X_test, _ = blobs
    det = AutoEncoderDetector(device="cuda", random_state=0, **FAST).fit(X_train)
    assert det.device_.type == "cuda"
    expected = det.score_samples(X_test)
    net = pickle.loads(pickle.dumps(det)).net_
    assert next(net.module_.parameters()).is_cuda
    cpu_copy = pickle.loads(pickle.dumps(det))
    cpu_copy.net_.set_params(device="cpu")
    cpu_copy.net_.module_.to("cpu")
    np.testing.assert_allclose(cpu_copy.score_samples(X_test), expected, rtol=1e-9)


@pytest.mark.parametrize("n_samples", [33, 65])
def test_batch_norm_nets_train_when_the_last_batch_has_one_sample(n_samples):
    # Conv nets hold BatchNorm layers; 33 = 32 + 1 and 65 = 2 * 32 + 1 leave a one-sample last batch.
    images = np.random.RandomState(0).rand(n_samples, 1, 28, 28)
    det = AutoEncoderDetector(random_state=0, **FAST).fit(images)
    assert np.all(np.isfinite(det.score_samples(images)))


def test_batch_norm_nets_refuse_batches_of_one():
    images = np.random.RandomState(0).rand(10, 1, 28, 28)
    with pytest.raises(ValueError, match="too small for networks with BatchNorm"):
        AutoEncoderDetector(**{**FAST, "batch_size": 1}).fit(images)


def test_spectral_norm_critics_pickle_after_fit():
    from skanomaly.nn import make_critic
    from skanomaly.nn.parametrizations import freeze_parametrizations

    critic = make_critic(4, spectral_norm=True).eval()
    x = torch.randn(5, 4)
    before = critic(x)
    with pytest.raises(RuntimeError):
        pickle.dumps(critic)
    frozen = pickle.loads(pickle.dumps(freeze_parametrizations(critic)))
    torch.testing.assert_close(frozen(x), before)


def test_freezing_spectral_norm_keeps_the_outputs_exactly():
    from skanomaly.nn import PairCritic
    from skanomaly.nn.parametrizations import freeze_parametrizations

    torch.manual_seed(0)
    critic = PairCritic(5, hidden_layer_sizes=(8, 8))
    x = torch.randn(10, 5)
    for _ in range(3):  # power iterations in training mode
        critic(x, x)
    critic.double().eval()
    x = x.double()
    before = critic(x, x + 1.0), critic.features(x, x)
    freeze_parametrizations(critic)
    assert not any("parametrizations" in name for name, _ in critic.named_parameters())
    assert torch.equal(critic(x, x + 1.0), before[0]) and torch.equal(critic.features(x, x), before[1])
