"""Helpers that resolve a detector's run-time settings: the device, the seeding of torch, the latent size.

They sit outside :mod:`skanomaly.nn` (the torch building blocks) because they answer questions about a fit, not
about a network: :class:`~skanomaly.base.BaseDetector` resolves ``device`` and seeds torch with them, and every
autoencoder-family detector resolves ``latent_dim="auto"`` with :func:`resolve_latent_dim`.
"""

from contextlib import contextmanager

import torch

__all__ = ["resolve_device", "resolve_latent_dim", "seeded", "torch_threads"]


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


@contextmanager
def torch_threads(n_threads):
    """Run a block with ``n_threads`` torch intra-op threads, restoring the caller's count afterwards.

    The number of threads changes the order of floating-point reductions inside torch's CPU kernels, and
    adversarial training amplifies those last-bit differences into different models; a fixed count makes a fit
    and its scores depend on the parameters, the data and the library versions only, not on the machine's cores.

    Parameters
    ----------
    n_threads : int or None
        Threads inside the block; ``None`` leaves torch's current setting (which defaults to the number of
        cores) as it is.
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    if previous == n_threads:
        yield
        return
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def resolve_latent_dim(latent_dim, n_features, image_shape):
    """Latent size for a ``latent_dim`` parameter.

    Parameters
    ----------
    latent_dim : int or "auto"
        ``"auto"``: 32 for images, ``clip(n_features // 4, 2, 32)`` for tabular rows.
    n_features : int
        Width of a flat input row.
    image_shape : tuple of int or None
        ``(C, H, W)`` for images, ``None`` for tabular rows.

    Returns
    -------
    latent_dim : int
    """
    if latent_dim != "auto":
        return int(latent_dim)
    if image_shape is not None:
        return 32
    return int(min(32, max(2, n_features // 4)))
