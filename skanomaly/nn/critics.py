"""Critics: networks that score samples, or pairs of samples, with a scalar."""

import torch
from torch import nn

from .conv import ConvEncoder, ResidualCritic
from .mlp import MLP

__all__ = ["CRITIC_ARCHITECTURES", "critic_feature_l1", "make_critic", "PairCritic"]

CRITIC_ARCHITECTURES = ("auto", "dcgan", "resnet")


def resolve_critic_architecture(architecture, image_shape):
    """``"dcgan"`` or ``"resnet"`` for images (``"auto"``: ``"resnet"`` for 32x32, else ``"dcgan"``); None for rows."""
    if architecture not in CRITIC_ARCHITECTURES:
        raise ValueError(f"critic architecture must be one of {CRITIC_ARCHITECTURES}, got {architecture!r}.")
    if image_shape is None:
        return None
    if architecture == "auto":
        return "resnet" if tuple(image_shape[1:]) == (32, 32) else "dcgan"
    return architecture


def make_critic(n_features, *, image_shape=None, hidden_layer_sizes=(64,), base_channels=32,
                activation="leaky_relu", spectral_norm=True, architecture="auto"):
    """A critic ``x -> R`` without BatchNorm: an :class:`MLP`, or a conv net for images.

    Every critic exposes ``features(x)``, the penultimate activations.

    Parameters
    ----------
    n_features : int
        Width of a flat input row.
    image_shape : tuple of int or None, default=None
    hidden_layer_sizes : sequence of int, default=(64,)
    base_channels : int, default=32
    activation : str, default="leaky_relu"
    spectral_norm : bool, default=True
        Spectral normalisation of every layer (Lipschitz control).
    architecture : {"auto", "dcgan", "resnet"}, default="auto"
        Images only: the DCGAN-style strided :class:`ConvEncoder` (``base_channels`` doubling per stage) or the
        SN-GAN-style :class:`ResidualCritic` (``4 * base_channels`` channels: 128 by default, as in SN-GAN).
        ``"auto"`` takes the residual critic for 32x32 images (the AMA supplement's choice) and the DCGAN-style
        one otherwise.

    Returns
    -------
    critic : torch.nn.Module
    """
    architecture = resolve_critic_architecture(architecture, image_shape)
    if architecture == "resnet":
        return ResidualCritic(image_shape, 1, channels=4 * base_channels, activation=activation,
                              spectral_norm=spectral_norm)
    if architecture == "dcgan":
        return ConvEncoder(image_shape, 1, base_channels=base_channels, activation=activation,
                           batch_norm=False, spectral_norm=spectral_norm)
    return MLP(n_features, hidden_layer_sizes, 1, activation=activation, spectral_norm=spectral_norm)


class PairCritic(nn.Module):
    """Critic of a pair ``(x, x')``: the two inputs are stacked and scored by one network.

    Tabular rows are concatenated feature-wise (``2 * n_features`` inputs); images channel-wise
    (``2C x H x W``): for flat ``(C, H, W)`` rows both are the same concatenation of the flat vectors.
    Used by the mirrored autoencoders (AMA, Somepalli et al. 2021; Wu et al.), whose critic compares
    ``(x, x)`` with ``(x, G(E(x)))``. No BatchNorm, so a pair's score never depends on the rest of the batch.

    Parameters
    ----------
    n_features : int
        Width of one flat input row.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of one input; the critic sees ``(2C, H, W)``.
    hidden_layer_sizes, base_channels, activation, spectral_norm, architecture
        As in :func:`make_critic` (stacking changes the channels only, so ``"auto"`` decides on the image side).
    """

    def __init__(self, n_features, *, image_shape=None, hidden_layer_sizes=(64,), base_channels=32,
                 activation="leaky_relu", spectral_norm=True, architecture="auto"):
        super().__init__()
        pair_shape = None
        if image_shape is not None:
            channels, height, width = image_shape
            pair_shape = (2 * channels, height, width)
        self.net = make_critic(2 * n_features, image_shape=pair_shape, hidden_layer_sizes=hidden_layer_sizes,
                               base_channels=base_channels, activation=activation, spectral_norm=spectral_norm,
                               architecture=architecture)

    def features(self, x, x_other):
        """Penultimate features of the pair, shape (n, n_hidden)."""
        return self.net.features(torch.cat([x, x_other], dim=1))

    def forward(self, x, x_other):
        return self.net(torch.cat([x, x_other], dim=1)).squeeze(1)


def critic_feature_l1(critic, x, x_other):
    """Per-sample L1 distance between a pair critic's features of ``(x, x)`` and of ``(x, x_other)``.

    ``R(x) = || f(x, x) - f(x, x') ||_1`` with ``f`` the penultimate features (``critic.features``): with
    ``x' = G(E(x))`` the score of the mirrored autoencoders (the R-score of AMA, Somepalli et al. 2021, and the
    feature distance of the mirrored autoencoder, Wu et al.), named ``feature_l1`` in both detectors.

    Parameters
    ----------
    critic : PairCritic or any module with ``features(x, x_other)``
    x, x_other : torch.Tensor of shape (n, n_features)

    Returns
    -------
    distance : torch.Tensor of shape (n,)
    """
    difference = critic.features(x, x) - critic.features(x, x_other)
    return difference.abs().reshape(x.shape[0], -1).sum(dim=1)
