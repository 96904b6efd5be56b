"""The pieces of a training step that every detector shares: frozen networks, optimizers, batched evaluation.

They live in :mod:`skanomaly.nn`, beside the networks they act on, rather than in :mod:`skanomaly.base`: they
need torch only (no estimator, no skorch), so the base, the detectors and the tests import them without
import cycles, and a detector's step reads ``with frozen(critic): ...`` instead of flag bookkeeping.
"""

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import gen_batches

__all__ = ["OPTIMIZERS", "frozen", "make_optimizer", "no_grad_batches"]

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


@contextmanager
def frozen(*modules):
    """Within the block, the parameters of ``modules`` take no gradients; inputs that require them still do.

    A generator step passes its samples through a critic that must not be updated by that step. Every
    parameter's ``requires_grad`` flag is restored on exit, also when the block raises.

    Parameters
    ----------
    *modules : torch.nn.Module
    """
    parameters = [parameter for module in modules for parameter in module.parameters()]
    flags = [parameter.requires_grad for parameter in parameters]
    for parameter in parameters:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, flags):
            parameter.requires_grad_(flag)


def make_optimizer(networks, name="adam", *, lr, betas=None, momentum=0.0, weight_decay=0.0):
    """An optimizer over the parameters of ``networks``, in their order.

    Parameters
    ----------
    networks : sequence of torch.nn.Module
    name : {"adam", "sgd"}, default="adam"
    lr : float
    betas : pair of float or None, default=None
        Adam's coefficients; ``None`` keeps torch's (0.9, 0.999).
    momentum : float, default=0.0
        SGD momentum.
    weight_decay : float, default=0.0
        L2 penalty.

    Returns
    -------
    optimizer : torch.optim.Optimizer
    """
    parameters = [parameter for network in networks for parameter in network.parameters()]
    if name == "adam":
        kwargs = {} if betas is None else {"betas": betas}
    elif name == "sgd":
        kwargs = {"momentum": momentum}
    else:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}.")
    return OPTIMIZERS[name](parameters, lr=lr, weight_decay=weight_decay, **kwargs)


def no_grad_batches(fn, X, batch_size, *, device, dtype=torch.float64):
    """Evaluate ``fn`` on ``X`` a batch of rows at a time, without gradients.

    Each batch is converted on its own (``X`` is never copied whole into ``dtype``), so scoring float32 input
    in float64 holds one float64 batch at a time.

    Parameters
    ----------
    fn : callable
        Maps a tensor batch to a tensor (per-row values, or one value per batch).
    X : ndarray or torch.Tensor of shape (n_samples, ...)
    batch_size : int
        Rows per batch; the last batch holds the remainder.
    device : torch.device or str
        Where the batches go.
    dtype : torch.dtype or None, default=torch.float64
        Type of the batches; ``None`` keeps that of ``X``.

    Yields
    ------
    rows : slice
        The rows of ``X`` in the batch.
    values : ndarray
        ``fn(batch)`` as float64 on the CPU.
    """
    for rows in gen_batches(X.shape[0], batch_size):
        with torch.no_grad():
            part = X[rows]
            if isinstance(part, torch.Tensor):
                batch = part.to(device=device, dtype=dtype)
            else:
                # A copy (fn may not alter the caller's X), in C order: column-major rows (a DataFrame's values)
                # would take another matmul path and change the last bits of the scores.
                batch = torch.tensor(np.ascontiguousarray(part), dtype=dtype, device=device)
            values = fn(batch).detach().to("cpu", torch.float64).numpy()
        yield rows, values
