"""The building blocks of skanomaly.nn: critic architectures for images."""

import pickle

import numpy as np
import pytest
import torch

from skanomaly.detectors import AMADetector, MirroredAEDetector, OMASGANDetector
from skanomaly.nn import MLP, ConvEncoder, PairCritic, ResidualCritic, gradient_penalty, make_critic
from skanomaly.nn.parametrizations import freeze_parametrizations


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (6, 32, 32)])
def test_residual_critic_shapes(shape):
    torch.manual_seed(0)
    critic = ResidualCritic(shape, 1, channels=8, spectral_norm=False)  # no power iteration between calls
    x = torch.rand(5, int(np.prod(shape)))
    assert critic(x).shape == (5, 1)
    assert critic.features(x).shape == (5, 8) and critic.n_features == 8
    # Two poolings, then global sum pooling: the features are sums over the (side / 4)^2 positions.
    trunk = critic.blocks(x.reshape(5, *shape))
    assert trunk.shape[2:] == (shape[1] // 4, shape[2] // 4)
    torch.testing.assert_close(critic.features(x), trunk.sum(dim=(2, 3)))


def test_residual_critic_has_no_batch_norm_and_respects_spectral_norm():
    with_sn = ResidualCritic((3, 32, 32), channels=8)
    without = ResidualCritic((3, 32, 32), channels=8, spectral_norm=False)
    for critic in (with_sn, without):
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    convs = [m for m in with_sn.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    # 4 blocks of two 3x3 convolutions, 1x1 shortcuts on the two pooling blocks, the output layer.
    assert len(convs) == 4 * 2 + 2 + 1
    assert all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in without.modules())


def test_residual_critic_is_lipschitz_controlled_and_freezes_for_pickling():
    torch.manual_seed(0)
    critic = ResidualCritic((3, 32, 32), channels=8)
    x = torch.rand(6, 3 * 32 * 32)
    for _ in range(5):  # power iterations in training mode
        critic(x)
    critic.double().eval()
    x = x.double()
    before = critic(x)
    frozen = pickle.loads(pickle.dumps(freeze_parametrizations(critic)))
    assert torch.equal(frozen(x), before)


def test_gradient_penalty_runs_through_the_residual_critic():
    torch.manual_seed(0)
    critic = PairCritic(3 * 32 * 32, image_shape=(3, 32, 32), base_channels=2, spectral_norm=False)
    x, x_hat = torch.rand(4, 3 * 32 * 32), torch.rand(4, 3 * 32 * 32)
    penalty = gradient_penalty(lambda u: critic(x, u), x, x_hat)
    penalty.backward()
    # The input gradient does not depend on the biases (piecewise-linear activations): check the weights.
    grads = [p.grad for name, p in critic.named_parameters() if name.endswith("weight")]
    assert torch.isfinite(penalty) and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize(
    "image_shape, architecture, expected",
    [
        ((3, 32, 32), "auto", ResidualCritic),
        ((1, 32, 32), "auto", ResidualCritic),
        ((1, 28, 28), "auto", ConvEncoder),
        ((3, 32, 32), "dcgan", ConvEncoder),
        ((1, 28, 28), "resnet", ResidualCritic),
        (None, "auto", MLP),
        (None, "resnet", MLP),
    ],
)
def test_make_critic_picks_the_architecture(image_shape, architecture, expected):
    n_features = 10 if image_shape is None else int(np.prod(image_shape))
    critic = make_critic(n_features, image_shape=image_shape, base_channels=4, architecture=architecture)
    assert type(critic) is expected
    if expected is ResidualCritic:
        assert critic.n_features == 16  # 4 * base_channels
    pair = PairCritic(n_features, image_shape=image_shape, base_channels=4, architecture=architecture)
    assert type(pair.net) is expected


def test_bad_critic_architecture_and_shape_raise():
    with pytest.raises(ValueError, match="architecture"):
        make_critic(12, architecture="vgg")
    with pytest.raises(ValueError, match="odd"):
        ResidualCritic((1, 30, 30))
    with pytest.raises(ValueError, match="n_blocks"):
        ResidualCritic((1, 32, 32), n_blocks=1)


def _ama(**params):
    return AMADetector(max_epochs=1, base_channels=2, latent_dim=4, n_critic=1, lambda_gp=1.0, batch_size=8,
                       random_state=0, device="cpu", **params)


@pytest.mark.parametrize(
    "make, critic_of",
    [
        (_ama, lambda det: [det.net_.module_.critic.net]),
        (lambda **p: MirroredAEDetector(max_epochs=1, base_channels=2, latent_dim=4, selection_warmup_epochs=0,
                                        n_critic=1, batch_size=8, random_state=0, device="cpu", **p),
         lambda det: [det.net_.module_.recon_critic.net, det.net_.module_.inter_critic.net]),
        (lambda **p: OMASGANDetector(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, base_channels=2,
                                     latent_dim=4, batch_size=8, n_reference=8, random_state=0, device="cpu", **p),
         lambda det: [det.critic_, det.retrained_critic_, det.anomaly_discriminator_]),
    ],
    ids=["ama", "mirrored_ae", "omasgan"],
)
def test_detectors_use_the_chosen_critic_architecture(make, critic_of):
    images = np.random.RandomState(0).rand(12, 3, 32, 32)
    default = make().fit(images)
    assert all(type(c) is ResidualCritic for c in critic_of(default))
    dcgan = make(critic_architecture="dcgan").fit(images)
    assert all(type(c) is ConvEncoder for c in critic_of(dcgan))
    scores = default.score_samples(images)
    assert scores.dtype == np.float64 and np.all(np.isfinite(scores))
    default.set_params(batch_size=1)
    # float64 convolutions sum in a batch-size dependent order: equal up to rounding.
    np.testing.assert_allclose(default.score_samples(images), scores, rtol=1e-10)
    with pytest.raises(ValueError, match="critic_architecture"):
        make(critic_architecture="vgg").fit(images)
