"""MirroredAEDetector (mirrored autoencoder with simplex interpolation): it learns, its terms, switches and epochs.

The contract every detector shares (reproducibility, batch sizes, pickling, images, bad parameters) is checked in
tests/test_contract.py.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from skanomaly.detectors.mirrored_ae import MirroredAEDetector
from skanomaly.nn import ConvEncoder, ResidualCritic

# Small networks and few epochs: every fit below takes well under a few seconds on one core. The critic is
# spectrally normalised with one step per batch (cheaper than the default gradient penalty, tested separately).
TINY = dict(hidden_layer_sizes=(16,), critic_hidden_layer_sizes=(16, 16), latent_dim=4, max_epochs=4,
            selection_warmup_epochs=1, batch_size=32, lr=1e-3, lambda_gp=0.0, spectral_norm=True, n_critic=1,
            device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X_train = rng.normal(size=(160, 8))
    X_test = np.vstack([rng.normal(size=(40, 8)), rng.normal(loc=3.0, size=(40, 8))])
    y_test = np.r_[np.zeros(40), np.ones(40)].astype(int)
    return X_train, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    return MirroredAEDetector(**TINY).fit(data[0])


def _scores(data, **params):
    return MirroredAEDetector(**{**TINY, **params}).fit(data[0]).score_samples(data[1])


@pytest.mark.parametrize("critic", [{}, {"lambda_gp": 10.0, "spectral_norm": False, "n_critic": 3}])
def test_learns_shifted_gaussians(blobs, critic):
    X_train, X_test, y_test = blobs
    model = MirroredAEDetector(**{**TINY, "max_epochs": 8, "selection_warmup_epochs": 2, **critic}).fit(X_train)
    auroc = roc_auc_score(y_test, model.anomaly_score(X_test))
    assert auroc > 0.95
    assert model.predict(X_test).tolist().count(-1) > 50  # most shifted rows are flagged


def test_fitted_attributes_and_history(fitted):
    terms = {"train_loss", "critic_loss", "wasserstein", "gradient_penalty", "inter_critic_loss", "mirror_loss",
             "interp_loss", "latent_hinge", "feature_l1", "train_feature_l1"}
    assert terms <= set(fitted.history_.columns)
    assert fitted.n_epochs_ == 4 and len(fitted.history_) == 4
    assert 2 <= fitted.best_epoch_ <= 4
    assert fitted.latent_dim_ == 4
    assert np.all(np.isfinite(fitted.history_[sorted(terms)].to_numpy()))
    assert (fitted.history_["gradient_penalty"] == 0).all()  # lambda_gp=0: the penalty is not computed
    assert (fitted.history_["inter_critic_loss"] > 0).all()
    module = fitted.net_.module_
    assert {"encoder", "decoder", "recon_critic", "inter_critic"} <= set(dict(module.named_children()))


def test_score_is_negative_feature_l1(fitted, data):
    X = data[1][:10]
    with torch.no_grad():
        module = fitted.net_.module_
        x = torch.tensor(X, dtype=torch.float64)
        x_hat = module.decoder(module.encoder(x))
        critic = module.recon_critic
        expected = (critic.features(x, x) - critic.features(x, x_hat)).abs().sum(1).numpy()
    np.testing.assert_allclose(fitted.score_samples(X), -expected, rtol=1e-12)
    np.testing.assert_allclose(fitted.anomaly_score(X), expected, rtol=1e-12)


def test_no_interpolation_switches_off_the_inter_critic(fitted, data):
    model = MirroredAEDetector(**{**TINY, "n_interp": 1}).fit(data[0])
    assert (model.history_["interp_loss"] == 0).all()
    assert (model.history_["inter_critic_loss"] == 0).all()
    assert not np.allclose(model.score_samples(data[1]), fitted.score_samples(data[1]))


@pytest.mark.parametrize(
    "params",
    [
        {"n_interp": 2},
        {"lambda_inter": 0.0},
        {"lambda_inter": 2.0},
        {"simplex_sampling": "uniform"},
        {"lambda_gp": 10.0},
        {"spectral_norm": False},
        {"n_critic": 2},
        {"critic_lr": 1e-4},
        {"optimizer": "sgd", "lr": 1e-2, "momentum": 0.5},
        {"betas": (0.0, 0.9)},
        {"weight_decay": 1e-2},
    ],
)
def test_each_switch_changes_the_trained_model(params, fitted, data):
    scores = _scores(data, **params)
    assert np.all(np.isfinite(scores))
    assert not np.allclose(scores, fitted.score_samples(data[1]))


def test_default_critic_is_wgan_gp(data):
    model = MirroredAEDetector(**{**TINY, "lambda_gp": 10.0, "spectral_norm": False, "n_critic": 3,
                                  "max_epochs": 2}).fit(data[0])
    assert (model.history_["gradient_penalty"] > 0).all()
    defaults = MirroredAEDetector().get_params()
    assert defaults["lambda_gp"] == 10.0 and not defaults["spectral_norm"] and defaults["n_critic"] == 3
    # Pickling works with and without spectral norm (parametrized layers are frozen after fit).
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.score_samples(data[1]), model.score_samples(data[1]))


def test_latent_hinge(data):
    # A small radius makes the hinge active; switching its weight off then changes the trained model.
    active = MirroredAEDetector(**{**TINY, "latent_radius": 0.1}).fit(data[0])
    assert (active.history_["latent_hinge"] > 0).all()
    off = MirroredAEDetector(**{**TINY, "latent_radius": 0.1, "lambda_latent_hinge": 0.0}).fit(data[0])
    assert not np.allclose(active.score_samples(data[1]), off.score_samples(data[1]))
    # With the hinge on, codes are pulled towards the ball: their norms shrink compared with lambda_latent_hinge=0.
    with torch.no_grad():
        x = torch.tensor(data[0], dtype=torch.float64)
        norm_on = active.net_.module_.encoder(x).norm(dim=1).mean()
        norm_off = off.net_.module_.encoder(x).norm(dim=1).mean()
    assert norm_on < norm_off


def test_best_epoch_selection_restores_the_selected_weights(data):
    X_train = data[0]
    params = {**TINY, "max_epochs": 6, "selection_warmup_epochs": 2}
    model = MirroredAEDetector(**params).fit(X_train)
    curve = model.history_["train_feature_l1"].to_numpy()
    assert model.best_epoch_ == 3 + int(np.argmin(curve[2:]))
    # The kept networks are those of the best epoch: their mean training feature-L1 is the recorded value.
    np.testing.assert_allclose(model.anomaly_score(X_train).mean(), curve[model.best_epoch_ - 1], rtol=1e-4)

    last = MirroredAEDetector(**{**params, "select_best_epoch": False}).fit(X_train)
    assert last.best_epoch_ == last.n_epochs_ == 6
    np.testing.assert_allclose(last.history_["train_feature_l1"], curve, rtol=1e-12)  # same training run
    np.testing.assert_allclose(last.anomaly_score(X_train).mean(), curve[-1], rtol=1e-4)
    if model.best_epoch_ != 6:
        assert not np.allclose(model.score_samples(data[1]), last.score_samples(data[1]))


def test_selection_warmup_longer_than_training_keeps_last_epoch(data):
    model = MirroredAEDetector(**{**TINY, "max_epochs": 2, "selection_warmup_epochs": 5}).fit(data[0])
    assert model.best_epoch_ == 2


def test_asymmetric_decoder(data):
    model = MirroredAEDetector(**{**TINY, "max_epochs": 1, "decoder_hidden_layer_sizes": (8, 24)}).fit(data[0])
    widths = [layer.out_features for layer in model.net_.module_.decoder if hasattr(layer, "out_features")]
    assert widths == [8, 24, 8]


IMAGE = dict(max_epochs=1, batch_size=8, base_channels=4, critic_hidden_layer_sizes=(8,), latent_dim=4,
             selection_warmup_epochs=0, n_critic=1, device="cpu", random_state=0)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_the_pair_critic_sees_both_images_stacked_channel_wise(shape):
    images = np.random.RandomState(0).uniform(size=(16, *shape))
    model = MirroredAEDetector(out_activation="sigmoid", **IMAGE).fit(images)
    assert np.all(np.isfinite(model.score_samples(images)))
    critic = model.net_.module_.recon_critic.net
    expected = ResidualCritic if shape == (3, 32, 32) else ConvEncoder  # critic_architecture="auto"
    assert type(critic) is expected and critic.image_shape == (2 * shape[0], *shape[1:])


def test_batchnorm_nets_refuse_batches_of_one():
    images = np.random.RandomState(0).uniform(size=(17, 1, 8, 8))
    with pytest.raises(ValueError, match="batch_size"):
        MirroredAEDetector(**{**IMAGE, "batch_size": 1}).fit(images)


def test_decoder_sizes_are_listed_latent_side_first():
    X = np.random.RandomState(0).rand(40, 12)
    det = MirroredAEDetector(latent_dim=3, hidden_layer_sizes=(8,), decoder_hidden_layer_sizes=(5, 7),
                             max_epochs=1, n_critic=1, selection_warmup_epochs=0, random_state=0).fit(X)
    widths = [layer.out_features for layer in det.net_.module_.decoder if isinstance(layer, torch.nn.Linear)]
    assert widths == [5, 7, 12]


@pytest.mark.parametrize("sampling, high", [("dirichlet", 0.5), ("uniform", 0.5), ("uniform", 0.2)])
def test_simplex_weights_follow_simplex_sampling_and_interp_high(monkeypatch, data, sampling, high):
    from skanomaly.detectors import mirrored_ae

    calls = []
    original = mirrored_ae.simplex_interpolate
    monkeypatch.setattr(mirrored_ae, "simplex_interpolate", lambda *a, **k: calls.append(k) or original(*a, **k))
    MirroredAEDetector(**{**TINY, "max_epochs": 1, "simplex_sampling": sampling, "interp_high": high}).fit(data[0])
    assert calls and all(call == {"method": sampling, "high": high} for call in calls)
