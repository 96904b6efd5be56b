"""Reusable torch building blocks: MLPs, conv encoders/decoders, critics, penalties, training-step pieces.

Names are imported from their submodule on first use (PEP 562).
"""

import importlib

# public name -> submodule that defines it
_LAZY_NAMES = {
    "ACTIVATIONS": "layers",
    "CRITIC_ARCHITECTURES": "critics",
    "OPTIMIZERS": "training",
    "ConvDecoder": "conv",
    "ConvEncoder": "conv",
    "EncoderDecoder": "encoder_decoder",
    "MLP": "mlp",
    "PairCritic": "critics",
    "ResidualCritic": "conv",
    "conv_plan": "conv",
    "critic_feature_l1": "critics",
    "frozen": "training",
    "gradient_penalty": "penalties",
    "latent_norm_hinge": "penalties",
    "make_activation": "layers",
    "make_critic": "critics",
    "make_decoder": "encoder_decoder",
    "make_encoder": "encoder_decoder",
    "make_optimizer": "training",
    "no_grad_batches": "training",
    "r1_penalty": "penalties",
    "simplex_interpolate": "interpolation",
    "simplex_weights": "interpolation",
}

__all__ = list(_LAZY_NAMES)


def __getattr__(name):
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
