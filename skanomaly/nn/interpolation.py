"""Simplex interpolation of latent codes (AMA, Somepalli et al. 2021; mirrored AE, Wu et al.)."""

import torch

__all__ = ["simplex_weights", "simplex_interpolate"]


def simplex_weights(n, k, *, method="uniform", high=0.5, generator=None, device=None, dtype=None):
    """Draw ``n`` weight vectors on the ``k``-simplex.

    Parameters
    ----------
    n, k : int
    method : {"uniform", "dirichlet"}, default="uniform"
        ``"uniform"``: ``alpha_j ~ U[0, high]`` normalised to sum 1 (AMA's recipe); ``"dirichlet"``: uniform on
        the simplex (Dirichlet(1, ..., 1)).
    high : float, default=0.5
        Upper bound of the uniform draws (``"uniform"`` only).
    generator : torch.Generator or None
    device, dtype : optional

    Returns
    -------
    weights : torch.Tensor of shape (n, k), rows summing to 1
    """
    if method == "uniform":
        raw = torch.rand((n, k), generator=generator, device=device, dtype=dtype) * high
        raw = raw + torch.finfo(raw.dtype).tiny  # an all-zero row would divide by zero
    elif method == "dirichlet":
        raw = -torch.log(torch.rand((n, k), generator=generator, device=device, dtype=dtype).clamp_min(1e-12))
    else:
        raise ValueError(f"method must be 'uniform' or 'dirichlet', got {method!r}.")
    return raw / raw.sum(dim=1, keepdim=True)


def simplex_interpolate(z, k, *, method="uniform", high=0.5, generator=None):
    """Mix every code of a batch with ``k - 1`` other codes of the batch, with weights on the simplex.

    Row ``i`` of the result is ``sum_j w[i, j] * z[idx[i, j]]`` with ``idx[i, 0] = i`` and the other columns
    drawn as random permutations of the batch.

    Parameters
    ----------
    z : torch.Tensor of shape (n, d)
    k : int
        Number of codes per mixture (``k = 1`` returns ``z`` itself).
    method, high, generator
        See :func:`simplex_weights`.

    Returns
    -------
    z_mix : torch.Tensor of shape (n, d)
    weights : torch.Tensor of shape (n, k)
    index : torch.LongTensor of shape (n, k)
        Batch rows mixed into each result row.
    """
    n = z.shape[0]
    columns = [torch.arange(n, device=z.device)]
    columns += [torch.randperm(n, generator=generator).to(z.device) for _ in range(k - 1)]
    index = torch.stack(columns, dim=1)
    weights = simplex_weights(n, k, method=method, high=high, generator=generator, dtype=z.dtype).to(z.device)
    z_mix = torch.einsum("nk,nkd->nd", weights, z[index])
    return z_mix, weights, index
