"""Activations, by name, for every network of :mod:`skanomaly.nn`."""

from torch import nn

__all__ = ["make_activation", "ACTIVATIONS"]

ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "identity")


def make_activation(name):
    """Return a fresh activation module from its name.

    Parameters
    ----------
    name : {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu", "identity"} or None
        ``"leaky_relu"`` uses a negative slope of 0.2 (the DCGAN/WGAN convention). ``None`` means identity.

    Returns
    -------
    module : torch.nn.Module
    """
    if name is None or name == "identity":
        return nn.Identity()
    factories = {
        "relu": nn.ReLU,
        "leaky_relu": lambda: nn.LeakyReLU(0.2),
        "elu": nn.ELU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
    }
    if name not in factories:
        raise ValueError(f"Unknown activation {name!r}; expected one of {ACTIVATIONS}.")
    return factories[name]()
