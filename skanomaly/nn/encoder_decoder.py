"""Encoder/decoder pairs for tabular rows (MLP) and images (conv), shared by the autoencoder family."""

from torch import nn

from .conv import ConvDecoder, ConvEncoder
from .mlp import MLP

__all__ = ["EncoderDecoder", "make_encoder", "make_decoder"]


def make_encoder(n_features, latent_dim, *, image_shape=None, hidden_layer_sizes=(64,), base_channels=32,
                 activation="leaky_relu", batch_norm=False, dropout=0.0):
    """Encoder ``x -> z``: an :class:`MLP` for tabular rows, a :class:`ConvEncoder` when ``image_shape`` is set.

    Parameters
    ----------
    n_features : int
        Width of a flat input row.
    latent_dim : int
    image_shape : tuple of int or None, default=None
        ``(C, H, W)``; ``None`` for tabular data.
    hidden_layer_sizes : sequence of int, default=(64,)
        MLP hidden widths, input side first (ignored for images).
    base_channels : int, default=32
        Channels of the first conv stage (ignored for tabular data).
    activation : str, default="leaky_relu"
    batch_norm : bool, default=False
        BatchNorm in the MLP hidden layers; conv encoders always use it after the first stage.
    dropout : float, default=0.0
        Dropout in the MLP hidden layers.

    Returns
    -------
    encoder : torch.nn.Module
    """
    if image_shape is not None:
        return ConvEncoder(image_shape, latent_dim, base_channels=base_channels, activation=activation)
    return MLP(n_features, hidden_layer_sizes, latent_dim, activation=activation, batch_norm=batch_norm,
               dropout=dropout)


def make_decoder(latent_dim, n_features, *, image_shape=None, hidden_layer_sizes=(64,), base_channels=32,
                 activation="leaky_relu", batch_norm=False, dropout=0.0, out_activation=None):
    """Decoder (generator) ``z -> x``, mirroring :func:`make_encoder` with the same arguments.

    ``hidden_layer_sizes`` is given input side first, as for the encoder, and used in reverse order.
    ``out_activation`` (e.g. ``"sigmoid"`` or ``"tanh"``) bounds the output; ``None`` keeps it linear.

    Returns
    -------
    decoder : torch.nn.Module
    """
    if image_shape is not None:
        return ConvDecoder(latent_dim, image_shape, base_channels=base_channels, out_activation=out_activation)
    return MLP(latent_dim, tuple(hidden_layer_sizes)[::-1], n_features, activation=activation,
               batch_norm=batch_norm, dropout=dropout, out_activation=out_activation)


class EncoderDecoder(nn.Module):
    """An encoder and a decoder; ``forward`` reconstructs its input.

    Parameters
    ----------
    encoder, decoder : torch.nn.Module
    """

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))
