"""Lipschitz control and regularisers for critics and latent codes."""

import torch

__all__ = ["gradient_penalty", "r1_penalty", "latent_norm_hinge"]


def _per_sample_grad_norm(outputs, inputs, eps=1e-12):
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return torch.sqrt(grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1) + eps)


def gradient_penalty(critic, real, fake, *, target=1.0, generator=None):
    """Two-sided gradient penalty of WGAN-GP (Gulrajani et al., 2017), per sample.

    ``mean((||grad critic(u)|| - target)^2)`` at random points ``u`` on the segments between ``real`` and
    ``fake`` rows. A pair critic is penalised in one argument by passing ``lambda u: D(x, u)``.

    Parameters
    ----------
    critic : callable
        Maps a tensor of shape (n, ...) to (n,) or (n, 1).
    real, fake : torch.Tensor of the same shape (n, ...)
        ``fake`` is detached inside.
    target : float, default=1.0
        Target gradient norm.
    generator : torch.Generator or None
        Source of the interpolation weights (default: torch's global generator).

    Returns
    -------
    penalty : torch.Tensor (scalar)
    """
    real = real.detach()
    fake = fake.detach()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    weight = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    mixed = (weight * real + (1 - weight) * fake).requires_grad_(True)
    norms = _per_sample_grad_norm(critic(mixed), mixed)
    return torch.mean((norms - target) ** 2)


def r1_penalty(critic, real):
    """R1 penalty (Mescheder et al., 2018): ``mean ||grad critic(x)||^2`` on real rows.

    Parameters
    ----------
    critic : callable
        Maps a tensor of shape (n, ...) to (n,) or (n, 1).
    real : torch.Tensor of shape (n, ...)

    Returns
    -------
    penalty : torch.Tensor (scalar)
    """
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1).mean()


def latent_norm_hinge(z, radius):
    """Hinge on latent norms, ``mean(max(||z_i|| - radius, 0))``: keeps codes inside a ball.

    The latent regulariser of the mirrored autoencoder (Wu et al.), with ``radius = sqrt(latent_dim)``.

    Parameters
    ----------
    z : torch.Tensor of shape (n, latent_dim)
    radius : float

    Returns
    -------
    penalty : torch.Tensor (scalar)
    """
    return torch.clamp(z.norm(dim=1) - radius, min=0).mean()
