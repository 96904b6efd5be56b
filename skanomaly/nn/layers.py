"""Small building blocks shared by every network: activations, device and seeding helpers."""

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["make_activation", "resolve_device", "seeded", "ACTIVATIONS"]

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


def resolve_device(device):
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA when it is available and the CPU otherwise. Any other value is passed to
        :class:`torch.device` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...).

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        If the string names no device, or names a CUDA device that this machine does not have.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available; use device='auto' or 'cpu'.")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found.")
    return resolved


@contextmanager
def seeded(seed, device):
    """Run a block with torch's random generators seeded, restoring their previous state afterwards.

    Network initialisation, data shuffling and noise sampling inside the block are reproducible, and the
    caller's global random state is left exactly as it was (no global seeding leaks out of ``fit``).

    Parameters
    ----------
    seed : int
    device : torch.device
        CUDA generator states are forked too when the device is a CUDA device.
    """
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
