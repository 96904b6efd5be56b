"""BaseDetector behaviour that tests/test_contract.py does not check for every detector, through AutoEncoderDetector.

The offset at several contamination levels, the epoch history and table, device resolution, BatchNorm's refusal
of batches of one, and the freezing of spectrally normalised critics for pickling.
"""

import pickle

import numpy as np
import pytest
import torch

from skanomaly.detectors import AutoEncoderDetector

FAST = dict(max_epochs=2, hidden_layer_sizes=(8,), latent_dim=2, batch_size=32)


@pytest.mark.parametrize("contamination", [0.01, 0.1, 0.5])
def test_offset_flags_contamination_share_of_training_data(blobs, contamination):
    X_train, _, _ = blobs
    det = AutoEncoderDetector(random_state=0, contamination=contamination, **FAST).fit(X_train)
    share = np.mean(det.predict(X_train) == -1)
    assert share == pytest.approx(contamination, abs=1.0 / len(X_train))


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
