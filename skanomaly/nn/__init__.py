"""Reusable torch building blocks: MLPs, conv encoders/decoders, helpers for devices and seeding."""

from .autoencoder import EncoderDecoder, make_decoder, make_encoder
from .critics import CRITIC_ARCHITECTURES, PairCritic, make_critic
from .interpolation import simplex_interpolate, simplex_weights
from .conv import ConvDecoder, ConvEncoder, ResidualCritic, conv_plan
from .layers import ACTIVATIONS, make_activation, resolve_device, seeded
from .mlp import MLP
from .penalties import gradient_penalty, latent_norm_hinge, r1_penalty

__all__ = [
    "ACTIVATIONS",
    "CRITIC_ARCHITECTURES",
    "ConvDecoder",
    "ConvEncoder",
    "EncoderDecoder",
    "MLP",
    "PairCritic",
    "ResidualCritic",
    "conv_plan",
    "gradient_penalty",
    "latent_norm_hinge",
    "make_activation",
    "make_critic",
    "make_decoder",
    "make_encoder",
    "r1_penalty",
    "simplex_interpolate",
    "simplex_weights",
    "resolve_device",
    "seeded",
]
