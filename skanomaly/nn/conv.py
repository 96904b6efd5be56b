"""DCGAN-style convolutional encoders and decoders for square images (e.g. 1x28x28, 3x32x32).

Both take and return *flat* tensors of shape ``(n_samples, C * H * W)`` so that detectors handle tabular rows
and images through one code path; the reshaping to ``(n, C, H, W)`` happens inside.
"""

import math

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from .layers import make_activation

__all__ = ["ConvEncoder", "ConvDecoder", "ResidualCritic", "conv_plan"]


def conv_plan(image_shape, base_channels=32, max_channels=256):
    """Plan the stride-2 stages of a conv net for an image shape.

    The side is halved while it is even and larger than 7 (28 -> 14 -> 7, 32 -> 16 -> 8 -> 4), the channels
    double at each stage from ``base_channels`` up to ``max_channels``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` with ``H == W``.
    base_channels : int, default=32
    max_channels : int, default=256

    Returns
    -------
    plan : list of (side, channels)
        One entry per feature map, from the input image to the smallest map.

    Raises
    ------
    ValueError
        If the image is not square or cannot be halved at least once.
    """
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}.")
    channels, height, width = (int(s) for s in image_shape)
    if height != width:
        raise ValueError(f"Conv nets need square images, got image_shape={tuple(image_shape)!r}.")
    if height % 2 or height < 8:
        raise ValueError(
            f"Conv nets need an even image side of at least 8 (e.g. 28 or 32), got {height}; "
            "flatten the images and leave image_shape=None to use an MLP instead."
        )
    plan = [(height, channels)]
    side, width_c = height, base_channels
    while side % 2 == 0 and side > 7:
        side //= 2
        plan.append((side, width_c))
        width_c = min(width_c * 2, max_channels)
    return plan


class ConvEncoder(nn.Module):
    """Strided-convolution encoder: flat image -> ``out_features``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` of the input images (square, even side).
    out_features : int
        Width of the output (latent size for an encoder, 1 for a critic).
    base_channels : int, default=32
        Channels of the first stage; doubled at every stage.
    activation : str, default="leaky_relu"
    batch_norm : bool, default=True
        BatchNorm after each convolution except the first. Must be ``False`` in critics.
    spectral_norm : bool, default=False
        Spectral normalisation of every convolution and of the output layer.
    """

    def __init__(
        self,
        image_shape,
        out_features,
        *,
        base_channels=32,
        activation="leaky_relu",
        batch_norm=True,
        spectral_norm=False,
    ):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        wrap = _spectral_norm if spectral_norm else (lambda layer: layer)
        plan = conv_plan(self.image_shape, base_channels)
        layers = []
        for stage, ((_, c_in), (_, c_out)) in enumerate(zip(plan[:-1], plan[1:])):
            layers.append(wrap(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=not batch_norm)))
            if batch_norm and stage > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(make_activation(activation))
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        side, channels = plan[-1]
        self.n_features = side * side * channels
        self.head = wrap(nn.Linear(self.n_features, int(out_features)))

    def features(self, x):
        """Flattened feature map that feeds the output layer (penultimate features).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, C * H * W)

        Returns
        -------
        features : torch.Tensor of shape (n_samples, n_features)
        """
        return self.trunk(x.reshape(x.shape[0], *self.image_shape))

    def forward(self, x):
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """Transposed-convolution decoder (generator): ``in_features`` -> flat image.

    Mirrors :class:`ConvEncoder` with the same ``image_shape`` and ``base_channels``.

    Parameters
    ----------
    in_features : int
        Latent size.
    image_shape : tuple of int
        ``(C, H, W)`` of the generated images.
    base_channels : int, default=32
    activation : str, default="relu"
    batch_norm : bool, default=True
        BatchNorm after the projection and after every transposed convolution but the last.
    out_activation : str or None, default=None
        E.g. ``"sigmoid"`` for images in [0, 1], ``"tanh"`` for [-1, 1]; ``None`` for a linear output.
    """

    def __init__(
        self,
        in_features,
        image_shape,
        *,
        base_channels=32,
        activation="relu",
        batch_norm=True,
        out_activation=None,
    ):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        plan = conv_plan(self.image_shape, base_channels)[::-1]
        side, channels = plan[0]
        self._start = (channels, side, side)
        project = [nn.Linear(int(in_features), math.prod(self._start))]
        if batch_norm:
            project.append(nn.BatchNorm1d(math.prod(self._start)))
        project.append(make_activation(activation))
        self.project = nn.Sequential(*project)
        layers = []
        n_stages = len(plan) - 1
        for stage, ((_, c_in), (_, c_out)) in enumerate(zip(plan[:-1], plan[1:])):
            last = stage == n_stages - 1
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1, bias=last or not batch_norm))
            if not last:
                if batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(make_activation(activation))
        if out_activation is not None:
            layers.append(make_activation(out_activation))
        self.body = nn.Sequential(*layers, nn.Flatten())

    def forward(self, z):
        h = self.project(z).reshape(z.shape[0], *self._start)
        return self.body(h)


class _CriticBlock(nn.Module):
    """Pre-activation residual block of :class:`ResidualCritic`: two 3x3 convolutions, optional 2x2 average pooling.

    The first block of a critic (``first=True``) takes the image itself and so starts with a convolution, not an
    activation. The shortcut is a 1x1 convolution when the channels change or the block pools, else the identity.
    """

    def __init__(self, c_in, c_out, *, downsample, first, activation, wrap):
        super().__init__()
        pool = [nn.AvgPool2d(2)] if downsample else []
        body = [] if first else [make_activation(activation)]
        body += [wrap(nn.Conv2d(c_in, c_out, 3, padding=1)), make_activation(activation),
                 wrap(nn.Conv2d(c_out, c_out, 3, padding=1)), *pool]
        self.body = nn.Sequential(*body)
        if c_in == c_out and not downsample:
            self.shortcut = nn.Identity()
        elif first:  # pool the image first, then project: the cheaper order, as in SN-GAN's first block
            self.shortcut = nn.Sequential(*pool, wrap(nn.Conv2d(c_in, c_out, 1)))
        else:
            self.shortcut = nn.Sequential(wrap(nn.Conv2d(c_in, c_out, 1)), *pool)

    def forward(self, x):
        return self.body(x) + self.shortcut(x)


class ResidualCritic(nn.Module):
    """Residual critic in the style of SN-GAN's CIFAR discriminator: flat image -> ``out_features``.

    Four pre-activation residual blocks of ``channels`` channels (two 3x3 convolutions each); the first two halve
    the side with 2x2 average pooling (32 -> 16 -> 8). After a last activation, the feature map is summed over
    its positions (global sum pooling), which gives the ``channels``-wide penultimate features, and a linear
    layer makes the output. No BatchNorm. This is the critic architecture of Miyato, Kataoka, Koyama & Yoshida,
    "Spectral Normalization for Generative Adversarial Networks" (ICLR 2018), which the AMA supplement uses for
    32x32 images.

    It costs far more than :class:`ConvEncoder`: on a 6x32x32 pair, 276 million multiply-adds with 128 channels
    against 5 million for the DCGAN-style critic with ``base_channels=32`` (counted over the layers). Prefer a
    GPU.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` of the input images (square; the side must stay even through the two poolings, e.g. 32
        or 28).
    out_features : int, default=1
    channels : int, default=128
        Channels of every block (SN-GAN: 128).
    n_blocks : int, default=4
        Residual blocks; the first two pool. At least 2.
    activation : str, default="relu"
    spectral_norm : bool, default=True
        Spectral normalisation of every convolution and of the output layer.
    """

    def __init__(self, image_shape, out_features=1, *, channels=128, n_blocks=4, activation="relu",
                 spectral_norm=True):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        conv_plan(self.image_shape)  # the same shape checks as the DCGAN-style nets
        if int(n_blocks) < 2:
            raise ValueError(f"n_blocks must be at least 2, got {n_blocks}.")
        if (self.image_shape[1] // 2) % 2:
            raise ValueError(f"The residual critic halves the image side twice, and side {self.image_shape[1]} // 2 "
                             "is odd: use critic_architecture='dcgan' for this image size.")
        wrap = _spectral_norm if spectral_norm else (lambda layer: layer)
        blocks = []
        c_in = self.image_shape[0]
        for index in range(int(n_blocks)):
            blocks.append(_CriticBlock(c_in, int(channels), downsample=index < 2, first=index == 0,
                                       activation=activation, wrap=wrap))
            c_in = int(channels)
        self.blocks = nn.Sequential(*blocks, make_activation(activation))
        self.n_features = int(channels)
        self.head = wrap(nn.Linear(self.n_features, int(out_features)))

    def features(self, x):
        """Globally sum-pooled activations of the last block (penultimate features), shape (n, channels)."""
        return self.blocks(x.reshape(x.shape[0], *self.image_shape)).sum(dim=(2, 3))

    def forward(self, x):
        return self.head(self.features(x))
