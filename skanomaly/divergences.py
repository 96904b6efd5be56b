r"""f-divergences in variational form, and the KL-Wasserstein GAN objective.

Variational f-divergences (Nowozin, Cseke and Tomioka, "f-GAN: Training Generative Neural Samplers using
Variational Divergence Minimization", NeurIPS 2016). For a convex generator function ``f`` (with
``f(1) = 0``, except f-GAN's ``"gan"`` row where ``f(1) = -log 4``),

.. math::

    D_f(P \,\|\, Q) = \int q(x)\, f\!\left(\frac{p(x)}{q(x)}\right) dx
    \;\ge\; \sup_T \; \mathbb{E}_P[T(x)] - \mathbb{E}_Q[f^*(T(x))],

with ``f*`` the convex conjugate of ``f``. The bound is tight at ``T*(x) = f'(p(x) / q(x))``. A critic
network returns a raw, unconstrained output ``v``; the output activation ``g_f`` (f-GAN, Table 2) maps it
into the domain of ``f*``, so ``T = g_f(v)``. Throughout this module **P is the "real"/"data" side and Q the
"fake"/"model" side**: the critic is trained to maximise ``E_P[g_f(v)] - E_Q[f*(g_f(v))]``.

=======================  ==================================  ========================  =================  =========
name                     f(u)                                g_f(v)                    f*(t)              dom f*
=======================  ==================================  ========================  =================  =========
``"kl"``                 u log u                             v                         exp(t - 1)         R
``"reverse_kl"``         -log u                              -exp(-v)                  -1 - log(-t)       t < 0
``"pearson"``            (u - 1)^2                           v                         t^2 / 4 + t        R
``"neyman"``             (1 - u)^2 / u                       1 - exp(-v)               2 - 2 sqrt(1 - t)  t < 1
``"squared_hellinger"``  (sqrt(u) - 1)^2                     1 - exp(-v)               t / (1 - t)        t < 1
``"js"``                 u log u - (u + 1) log((u + 1) / 2)  log 2 - log(1 + exp(-v))  -log(2 - exp(t))   t < log 2
``"gan"``                u log u - (u + 1) log(u + 1)        -log(1 + exp(-v))         -log(1 - exp(t))   t < 0
=======================  ==================================  ========================  =================  =========

Normalisation conventions (those of the f-GAN table, which this module follows exactly):

* ``"js"`` estimates ``2 * JS(P, Q)`` where ``JS`` is the usual Jensen-Shannon divergence
  (``JS <= log 2``), so its values lie in ``[0, log 4]``.
* ``"gan"`` estimates ``2 * JS(P, Q) - log 4`` (values in ``[-log 4, 0]``); its critic loss is exactly the
  binary cross-entropy of the original GAN (Goodfellow et al., 2014) with logits ``v``.
* ``"squared_hellinger"`` estimates ``int (sqrt(p) - sqrt(q))^2 = 2 (1 - BC(P, Q))`` (``BC`` the
  Bhattacharyya coefficient), i.e. twice the "1/2-normalised" squared Hellinger distance.
* ``"pearson"`` uses f extended to all of R (as f-GAN does), so ``t^2/4 + t`` is the conjugate on
  ``t >= -2`` and an upper bound of it below; the estimate stays a valid lower bound.

For every divergence, ``g_f`` is increasing and ``f'`` is increasing, so a larger raw output ``v`` always
means "more on the P (data) side", i.e. a larger implied density ratio ``p(x)/q(x)``. At the optimum the raw
output is an affine function of the log-ratio for all divergences except Pearson: ``v* = 1 + log r`` (KL),
``log r`` (reverse KL, JS, GAN), ``2 log r`` (Neyman), ``(1/2) log r`` (squared Hellinger), with
``r = p / q``; for Pearson ``v* = 2 (r - 1)``.

Numerical stability. The compositions ``f*(g_f(v))`` are computed from ``v`` in closed form (softplus /
log-sigmoid for ``"js"`` and ``"gan"``), not by composing the two functions. Exponentials that can overflow
(``"kl"``, ``"reverse_kl"``, ``"neyman"``, ``"squared_hellinger"``) are evaluated exactly while their
argument is at most 50 and continued *linearly* (value and slope matched, so C^1) above that. Every loss is
therefore finite, with finite gradients that keep their sign, even for raw outputs of ``|v| = 1e4`` in float32.
For ``|v| <= 50`` every formula is exact; beyond it ``conjugate_of_activation(v)`` and
``conjugate(activation(v))`` are two finite continuations and no longer agree. ``conjugate(t)`` itself is
the exact reference formula and returns ``+inf`` outside the domain of ``f*``.

KL-Wasserstein GAN (Song and Ermon, "Bridging the Gap Between f-GANs and Wasserstein GANs", ICML 2020):
see :class:`KLWGAN` and :func:`klwgan_weights`. OMASGAN (Dionelis, Yaghoobi and Tsaftaris, 2021) uses
these objectives to train its generator (Task 1) and, through :meth:`FDivergence.estimate`, for the term
``m(B, G)`` of its boundary generator (Task 2).
"""

import math
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

__all__ = [
    "DIVERGENCES",
    "FDivergence",
    "KullbackLeibler",
    "ReverseKullbackLeibler",
    "PearsonChiSquared",
    "NeymanChiSquared",
    "SquaredHellinger",
    "JensenShannon",
    "GANDivergence",
    "KLWGAN",
    "klwgan_weights",
    "get_divergence",
]

# Exponentials are exact up to this argument and continued linearly above it (value and slope matched).
_EXP_LINEAR_ABOVE = 50.0
_LOG2 = math.log(2.0)


def _exp_lin(x):
    """exp(x) for x <= 50, continued linearly (C^1) above: always finite, slope never zero."""
    return torch.exp(torch.clamp(x, max=_EXP_LINEAR_ABOVE)) * (1.0 + F.relu(x - _EXP_LINEAR_ABOVE))


def _log_exp_lin(x):
    """``log(_exp_lin(x))`` without forming the exponential."""
    return torch.clamp(x, max=_EXP_LINEAR_ABOVE) + torch.log1p(F.relu(x - _EXP_LINEAR_ABOVE))


def _check_tensor(v, name):
    """Validate a critic output: a non-empty floating-point torch tensor."""
    if not isinstance(v, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(v).__name__}.")
    if not v.is_floating_point():
        raise ValueError(f"{name} must have a floating-point dtype, got {v.dtype}.")
    if v.numel() == 0:
        raise ValueError(f"{name} is empty; at least one critic output is needed.")
    return v


def _outside_to_inf(t, inside, value_fn, safe_value):
    """Evaluate ``value_fn`` where ``inside`` holds and +inf elsewhere, without NaNs in either branch."""
    t_safe = torch.where(inside, t, torch.full_like(t, safe_value))
    return torch.where(inside, value_fn(t_safe), torch.full_like(t, math.inf))


class FDivergence(ABC):
    r"""Base class of the variational f-divergences of f-GAN (Nowozin et al., 2016, Table 2).

    Subclasses define the generator ``f``, its derivative, the output activation ``g_f``, its inverse, the
    conjugate ``f*`` and the composition ``f*(g_f(v))``. The shared methods turn raw critic outputs ``v``
    into the variational bound, the critic and generator losses and a per-sample score. Instances are
    stateless; obtain them with :func:`get_divergence`.

    Attributes
    ----------
    name : str
        Registry name (see :data:`DIVERGENCES`).
    domain_upper : float
        Supremum of the domain of ``f*``; ``activation`` maps every real ``v`` below it (``inf`` when the
        domain is all of R).

    Notes
    -----
    Convention: P is the data ("real") side and Q the model ("fake") side; ``estimate(v_p, v_q)`` is a lower
    bound on ``D_f(P || Q)``. Weighted mixtures (e.g. OMASGAN Task 3, where positives and negatives are
    mixtures with weights) can be built from the two per-sample terms :meth:`activation` (P side) and
    :meth:`conjugate_of_activation` (Q side).
    """

    name = ""
    domain_upper = math.inf

    @abstractmethod
    def f(self, u):
        """Generator function ``f(u)`` of the divergence, for density ratios ``u > 0``.

        Parameters
        ----------
        u : torch.Tensor
            Positive density ratios ``p(x) / q(x)``.

        Returns
        -------
        torch.Tensor
            ``f(u)``, same shape as ``u``; ``D_f(P || Q) = E_Q[f(p/q)]``.
        """

    @abstractmethod
    def f_prime(self, u):
        """Derivative ``f'(u)``: the optimal critic output ``T*(x) = f'(p(x) / q(x))``.

        Parameters
        ----------
        u : torch.Tensor
            Positive density ratios.

        Returns
        -------
        torch.Tensor
            ``f'(u)``, which lies in the domain of ``f*``.
        """

    @abstractmethod
    def activation(self, v):
        """Output activation ``g_f(v)``: raw critic output to the domain of ``f*``.

        Parameters
        ----------
        v : torch.Tensor
            Raw (unconstrained) critic outputs, any shape.

        Returns
        -------
        torch.Tensor
            ``T = g_f(v)``, same shape; increasing in ``v``.
        """

    @abstractmethod
    def inverse_activation(self, t):
        """Inverse of :meth:`activation`: the raw output ``v`` with ``g_f(v) = t``.

        Parameters
        ----------
        t : torch.Tensor
            Values strictly inside the domain of ``f*`` (``t < domain_upper``).

        Returns
        -------
        torch.Tensor
            Raw outputs ``v``. Use it to turn a known critic ``T`` (e.g. the optimum ``f'(p/q)``) into raw
            outputs for :meth:`estimate`.

        Raises
        ------
        ValueError
            If some ``t`` is outside the domain of ``f*``.
        """

    @abstractmethod
    def conjugate(self, t):
        """Convex conjugate ``f*(t) = sup_u (t u - f(u))``, exact reference formula.

        Parameters
        ----------
        t : torch.Tensor
            Arguments; values outside the domain of ``f*`` give ``+inf``.

        Returns
        -------
        torch.Tensor
            ``f*(t)``, same shape as ``t``.
        """

    @abstractmethod
    def conjugate_of_activation(self, v):
        """Per-sample Q-side term ``f*(g_f(v))``, computed stably from the raw output.

        Parameters
        ----------
        v : torch.Tensor
            Raw critic outputs, any shape.

        Returns
        -------
        torch.Tensor
            ``f*(g_f(v))``, same shape, finite for every finite ``v`` (see the module notes on the
            linear continuation of exponentials above 50).
        """

    def _check_domain(self, t):
        _check_tensor(t, "t")
        if bool((t >= self.domain_upper).any()) or bool(torch.isnan(t).any()):
            raise ValueError(
                f"{self.name}: every t must be below {self.domain_upper} (the domain of f*); "
                f"got max {float(torch.nan_to_num(t, nan=math.inf).max())}."
            )
        return t

    def estimate(self, v_p, v_q):
        """Variational lower bound ``E_P[T] - E_Q[f*(T)]`` on ``D_f(P || Q)``, with ``T = g_f(v)``.

        Parameters
        ----------
        v_p : torch.Tensor
            Raw critic outputs on samples of P (the data side), any shape.
        v_q : torch.Tensor
            Raw critic outputs on samples of Q (the model side), any shape.

        Returns
        -------
        torch.Tensor
            Scalar tensor (differentiable). Means are over all elements. For any critic it is (in
            expectation) at most ``D_f(P || Q)``; it equals it at ``T = f'(p/q)``. In OMASGAN's
            ``m(B, G)``, the frozen Task-1 critic is applied to G-samples (``v_p``, where the critic was
            trained on data) and to B-samples (``v_q``).
        """
        _check_tensor(v_p, "v_p")
        _check_tensor(v_q, "v_q")
        return self.activation(v_p).mean() - self.conjugate_of_activation(v_q).mean()

    def critic_loss(self, v_real, v_fake):
        """Critic loss ``-(E[g_f(v_real)] - E[f*(g_f(v_fake))])`` (to minimise).

        Parameters
        ----------
        v_real : torch.Tensor
            Raw critic outputs on data samples.
        v_fake : torch.Tensor
            Raw critic outputs on generated samples (detach the generator output before the critic).

        Returns
        -------
        torch.Tensor
            Scalar tensor; equal to ``-estimate(v_real, v_fake)``.
        """
        return -self.estimate(v_real, v_fake)

    def generator_loss(self, v_fake, nonsaturating=False):
        """Generator loss (to minimise).

        Parameters
        ----------
        v_fake : torch.Tensor
            Raw critic outputs on generated samples.
        nonsaturating : bool, default=False
            ``False``: the saddle-point objective of f-GAN, ``-E[f*(g_f(v_fake))]`` (the generator
            minimises the bound). ``True``: the alternative objective of f-GAN (Section 3.2),
            ``-E[g_f(v_fake)]``, which generalises the "-log D" trick of the original GAN and gives
            stronger gradients early in training. Both have the same fixed point.

        Returns
        -------
        torch.Tensor
            Scalar tensor.
        """
        _check_tensor(v_fake, "v_fake")
        if nonsaturating:
            return -self.activation(v_fake).mean()
        return -self.conjugate_of_activation(v_fake).mean()

    def per_sample_term(self, v):
        """Per-sample critic term ``T(x) = g_f(v(x))``: how far on the data (P) side the critic puts ``x``.

        Parameters
        ----------
        v : torch.Tensor
            Raw critic outputs, any shape.

        Returns
        -------
        torch.Tensor
            Same shape as ``v``. Higher means more data-like (more normal): ``T`` is increasing in ``v``
            and, at the optimal critic, ``T = f'(p/q)`` is increasing in the density ratio. Its negative
            is an anomaly term (OMASGAN's per-sample ``fD`` score). Values are on the scale of the chosen
            divergence; standardise before mixing with other scores.
        """
        _check_tensor(v, "v")
        return self.activation(v)

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self).__name__)


class KullbackLeibler(FDivergence):
    """Kullback-Leibler divergence ``KL(P || Q)``: ``f(u) = u log u``, ``g_f(v) = v``, ``f*(t) = exp(t - 1)``.

    Nowozin et al. (2016), Table 2. Optimal raw output ``v* = 1 + log(p/q)``.
    """

    name = "kl"

    def f(self, u):
        return torch.xlogy(u, u)

    def f_prime(self, u):
        return 1.0 + torch.log(u)

    def activation(self, v):
        return v

    def inverse_activation(self, t):
        return self._check_domain(t).clone()

    def conjugate(self, t):
        return torch.exp(t - 1.0)

    def conjugate_of_activation(self, v):
        return _exp_lin(v - 1.0)


class ReverseKullbackLeibler(FDivergence):
    """Reverse KL divergence ``KL(Q || P)``: ``f(u) = -log u``, ``g_f(v) = -exp(-v)``,
    ``f*(t) = -1 - log(-t)`` on ``t < 0``.

    Nowozin et al. (2016), Table 2. Optimal raw output ``v* = log(p/q)``.
    """

    name = "reverse_kl"
    domain_upper = 0.0

    def f(self, u):
        return -torch.log(u)

    def f_prime(self, u):
        return -1.0 / u

    def activation(self, v):
        return -_exp_lin(-v)

    def inverse_activation(self, t):
        return -torch.log(-self._check_domain(t))

    def conjugate(self, t):
        return _outside_to_inf(t, t < 0, lambda s: -1.0 - torch.log(-s), -1.0)

    def conjugate_of_activation(self, v):
        return -1.0 - _log_exp_lin(-v)


class PearsonChiSquared(FDivergence):
    """Pearson chi-squared divergence ``int (p - q)^2 / q``: ``f(u) = (u - 1)^2``, ``g_f(v) = v``,
    ``f*(t) = t^2 / 4 + t``.

    Nowozin et al. (2016), Table 2. As in f-GAN, ``f`` is taken on all of R, so ``f*`` is defined on R
    (for ``u >= 0`` only, the conjugate would be ``-1`` on ``t < -2``; using the larger value keeps the
    estimate a lower bound). A consequence: the critic loss pulls fake outputs towards ``v = -2`` rather
    than towards ``-inf``. Optimal raw output ``v* = 2 (p/q - 1)``.
    """

    name = "pearson"

    def f(self, u):
        return (u - 1.0) ** 2

    def f_prime(self, u):
        return 2.0 * (u - 1.0)

    def activation(self, v):
        return v

    def inverse_activation(self, t):
        return self._check_domain(t).clone()

    def conjugate(self, t):
        return 0.25 * t * t + t

    def conjugate_of_activation(self, v):
        return 0.25 * v * v + v


class NeymanChiSquared(FDivergence):
    """Neyman chi-squared divergence ``int (p - q)^2 / p``: ``f(u) = (1 - u)^2 / u``,
    ``g_f(v) = 1 - exp(-v)``, ``f*(t) = 2 - 2 sqrt(1 - t)`` on ``t < 1``.

    Nowozin et al. (2016), Table 2. Optimal raw output ``v* = 2 log(p/q)``.
    """

    name = "neyman"
    domain_upper = 1.0

    def f(self, u):
        return (1.0 - u) ** 2 / u

    def f_prime(self, u):
        return 1.0 - 1.0 / (u * u)

    def activation(self, v):
        return 1.0 - _exp_lin(-v)

    def inverse_activation(self, t):
        return -torch.log1p(-self._check_domain(t))

    def conjugate(self, t):
        return _outside_to_inf(t, t < 1, lambda s: 2.0 - 2.0 * torch.sqrt(1.0 - s), 0.0)

    def conjugate_of_activation(self, v):
        # 1 - g_f(v) = exp(-v), so f*(g_f(v)) = 2 - 2 exp(-v / 2).
        return 2.0 - 2.0 * torch.exp(0.5 * _log_exp_lin(-v))


class SquaredHellinger(FDivergence):
    """Squared Hellinger distance ``int (sqrt(p) - sqrt(q))^2``: ``f(u) = (sqrt(u) - 1)^2``,
    ``g_f(v) = 1 - exp(-v)``, ``f*(t) = t / (1 - t)`` on ``t < 1``.

    Nowozin et al. (2016), Table 2. The value is ``2 (1 - BC(P, Q))`` with ``BC`` the Bhattacharyya
    coefficient (twice the 1/2-normalised squared Hellinger distance). Optimal raw output
    ``v* = log(p/q) / 2``.
    """

    name = "squared_hellinger"
    domain_upper = 1.0

    def f(self, u):
        return (torch.sqrt(u) - 1.0) ** 2

    def f_prime(self, u):
        return 1.0 - 1.0 / torch.sqrt(u)

    def activation(self, v):
        return 1.0 - _exp_lin(-v)

    def inverse_activation(self, t):
        return -torch.log1p(-self._check_domain(t))

    def conjugate(self, t):
        return _outside_to_inf(t, t < 1, lambda s: s / (1.0 - s), 0.0)

    def conjugate_of_activation(self, v):
        # 1 - g_f(v) = exp(-v), so f*(g_f(v)) = exp(v) - 1; written through log(exp(-v)) so that both
        # the activation's and this term's linear continuations stay finite. (exp - 1 rather than expm1:
        # the backward of expm1 uses expm1(x) + 1, which rounds to 0 for x < -37 and kills the gradient.)
        return _exp_lin(-_log_exp_lin(-v)) - 1.0


class JensenShannon(FDivergence):
    """Jensen-Shannon divergence as in the f-GAN table: ``f(u) = u log u - (u + 1) log((u + 1) / 2)``,
    ``g_f(v) = log 2 - log(1 + exp(-v))``, ``f*(t) = -log(2 - exp(t))`` on ``t < log 2``.

    Nowozin et al. (2016), Table 2. The value is ``2 JS(P, Q)`` in ``[0, log 4]``, with ``JS`` the usual
    Jensen-Shannon divergence. ``f*(g_f(v)) = softplus(v) - log 2``. Optimal raw output ``v* = log(p/q)``.
    """

    name = "js"
    domain_upper = _LOG2

    def f(self, u):
        return torch.xlogy(u, u) - (u + 1.0) * torch.log((u + 1.0) / 2.0)

    def f_prime(self, u):
        return _LOG2 + torch.log(u) - torch.log1p(u)

    def activation(self, v):
        return _LOG2 - F.softplus(-v)

    def inverse_activation(self, t):
        return -torch.log(torch.expm1(_LOG2 - self._check_domain(t)))

    def conjugate(self, t):
        return _outside_to_inf(t, t < _LOG2, lambda s: -torch.log(2.0 - torch.exp(s)), 0.0)

    def conjugate_of_activation(self, v):
        return F.softplus(v) - _LOG2


class GANDivergence(FDivergence):
    """Divergence of the original GAN (f-GAN's "GAN" row): ``f(u) = u log u - (u + 1) log(u + 1)``,
    ``g_f(v) = -log(1 + exp(-v)) = log sigmoid(v)``, ``f*(t) = -log(1 - exp(t))`` on ``t < 0``.

    Nowozin et al. (2016), Table 2; Goodfellow et al. (2014). The value is ``2 JS(P, Q) - log 4``. The
    critic loss is the binary cross-entropy with logits ``v`` (data labelled 1, generated samples 0), and
    ``generator_loss(v, nonsaturating=True)`` is the usual ``-log D(G(z))`` loss.
    ``f*(g_f(v)) = softplus(v)``. Optimal raw output ``v* = log(p/q)``.
    """

    name = "gan"
    domain_upper = 0.0

    def f(self, u):
        return torch.xlogy(u, u) - (u + 1.0) * torch.log1p(u)

    def f_prime(self, u):
        return torch.log(u) - torch.log1p(u)

    def activation(self, v):
        return F.logsigmoid(v)

    def inverse_activation(self, t):
        return -torch.log(torch.expm1(-self._check_domain(t)))

    def conjugate(self, t):
        return _outside_to_inf(t, t < 0, lambda s: -torch.log(-torch.expm1(s)), -1.0)

    def conjugate_of_activation(self, v):
        return F.softplus(v)


def _check_batch_vector(v, name):
    _check_tensor(v, name)
    if not (v.ndim == 1 or (v.ndim == 2 and v.shape[1] == 1)):
        raise ValueError(
            f"{name} must have shape (n,) or (n, 1) (one critic output per sample), got {tuple(v.shape)}."
        )
    return v


def _check_tau(tau):
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a finite positive number, got {tau!r}.")
    return float(tau)


def klwgan_weights(v_fake, tau=1.0, detach=False):
    r"""Importance weights of KL-WGAN: ``r_i = n * softmax_i(v_fake / tau)`` over the batch.

    Song and Ermon, "Bridging the Gap Between f-GANs and Wasserstein GANs", ICML 2020: ``r`` estimates the
    density ratio ``p/q`` on the generated samples, normalised so that its batch **mean is 1** (its sum is
    the batch size ``n``), i.e. ``r_i = exp(v_i / tau) / mean_j exp(v_j / tau)``. Computed after subtracting
    the batch maximum (a max-shifted softmax), so it is invariant to adding a constant to ``v_fake`` and
    finite for any finite input.

    Parameters
    ----------
    v_fake : torch.Tensor of shape (n,) or (n, 1)
        Raw critic outputs on a batch of generated samples.
    tau : float, default=1.0
        Temperature (> 0). Song and Ermon use 1 on low-dimensional data and 5 on images; large ``tau``
        flattens the weights towards 1 (the hinge WGAN objective).
    detach : bool, default=False
        Whether to cut the gradient through the weights.

    Returns
    -------
    torch.Tensor
        Positive weights, same shape as ``v_fake``, with mean 1.

    Raises
    ------
    ValueError
        If ``v_fake`` is not a non-empty floating tensor of shape (n,) or (n, 1), or ``tau`` is not positive.
    """
    _check_batch_vector(v_fake, "v_fake")
    tau = _check_tau(tau)
    # softmax subtracts the batch maximum before exponentiating (log-space normalisation), so it is exact
    # for any finite input, including outputs of 1e4 in float32.
    weights = torch.softmax(v_fake / tau, dim=0) * v_fake.shape[0]
    return weights.detach() if detach else weights


class KLWGAN:
    r"""KL-Wasserstein GAN objective (Song and Ermon, ICML 2020), with the hinge of their released code.

    With ``r = klwgan_weights(v_fake, tau)`` (mean 1 over the fake batch):

    * critic loss: ``mean(relu(1 - v_real)) + mean(relu(1 + r * v_fake))``;
    * generator loss: ``-mean(r * v_fake)``.

    The temperature enters the weights only (``v_fake`` itself is not divided by ``tau``), as in the
    authors' code. The critic is normally Lipschitz-constrained (spectral norm), as in the paper.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature of the weights (> 0); 1 for low-dimensional data and 5 for images in the original.
    detach_weights : bool, default=False
        ``False`` (default) back-propagates through ``r`` in both losses, as the authors' released code
        does. ``True`` treats ``r`` as a constant: then the (pre-hinge) gradient of ``mean(r * v_fake)`` is
        exactly that of ``tau * log mean exp(v_fake / tau)``, the Donsker-Varadhan term whose optimal
        weights ``r`` are (envelope theorem).

    Notes
    -----
    Same interface as :class:`FDivergence` for the losses and scores, so detectors can take
    ``divergence="klwgan"``. :meth:`estimate` is the Donsker-Varadhan bound the KL-WGAN objective rests on,
    ``E_P[v] - tau * log E_Q[exp(v / tau)]``, a lower bound on ``tau * KL(P || Q)`` that is tight when
    ``v = tau * log(p/q) + const``; the per-sample term is the raw output ``v``.
    """

    name = "klwgan"

    def __init__(self, tau=1.0, detach_weights=False):
        self.tau = _check_tau(tau)
        self.detach_weights = bool(detach_weights)

    def weights(self, v_fake):
        """Importance weights ``r`` of a fake batch; see :func:`klwgan_weights`.

        Parameters
        ----------
        v_fake : torch.Tensor of shape (n,) or (n, 1)
            Raw critic outputs on generated samples.

        Returns
        -------
        torch.Tensor
            Weights with mean 1, same shape as ``v_fake``.
        """
        return klwgan_weights(v_fake, self.tau, detach=self.detach_weights)

    def critic_loss(self, v_real, v_fake):
        """Critic loss ``mean(relu(1 - v_real)) + mean(relu(1 + r * v_fake))`` (to minimise).

        Parameters
        ----------
        v_real : torch.Tensor
            Raw critic outputs on data samples (any shape).
        v_fake : torch.Tensor of shape (n,) or (n, 1)
            Raw critic outputs on generated samples (detach the generator output before the critic).

        Returns
        -------
        torch.Tensor
            Scalar tensor.
        """
        _check_tensor(v_real, "v_real")
        r = self.weights(v_fake)
        return F.relu(1.0 - v_real).mean() + F.relu(1.0 + r * v_fake).mean()

    def generator_loss(self, v_fake, nonsaturating=False):
        """Generator loss ``-mean(r * v_fake)`` (to minimise).

        Parameters
        ----------
        v_fake : torch.Tensor of shape (n,) or (n, 1)
            Raw critic outputs on generated samples.
        nonsaturating : bool, default=False
            Accepted for interface compatibility with :class:`FDivergence`; KL-WGAN has a single generator
            objective, so ``True`` raises.

        Returns
        -------
        torch.Tensor
            Scalar tensor.

        Raises
        ------
        ValueError
            If ``nonsaturating`` is true.
        """
        if nonsaturating:
            raise ValueError("KLWGAN has a single generator objective; nonsaturating=True is not defined.")
        r = self.weights(v_fake)
        return -(r * v_fake).mean()

    def estimate(self, v_p, v_q):
        """Donsker-Varadhan bound ``E_P[v] - tau * log E_Q[exp(v / tau)]`` (at most ``tau * KL(P || Q)``).

        Parameters
        ----------
        v_p : torch.Tensor
            Raw critic outputs on samples of P (data side), any shape.
        v_q : torch.Tensor
            Raw critic outputs on samples of Q (model side), any shape.

        Returns
        -------
        torch.Tensor
            Scalar tensor, computed with ``logsumexp`` (finite for any finite input).
        """
        _check_tensor(v_p, "v_p")
        _check_tensor(v_q, "v_q")
        flat = v_q.reshape(-1) / self.tau
        log_mean_exp = torch.logsumexp(flat, dim=0) - math.log(flat.shape[0])
        return v_p.mean() - self.tau * log_mean_exp

    def per_sample_term(self, v):
        """Per-sample critic term: the raw output ``v`` (higher = more on the data side, more normal).

        Parameters
        ----------
        v : torch.Tensor
            Raw critic outputs, any shape.

        Returns
        -------
        torch.Tensor
            ``v`` itself (same shape); ``exp(v / tau)`` is proportional to the estimated ratio ``p/q``.
        """
        _check_tensor(v, "v")
        return v

    def __repr__(self):
        return f"KLWGAN(tau={self.tau!r}, detach_weights={self.detach_weights!r})"

    def __eq__(self, other):
        return (
            isinstance(other, KLWGAN) and self.tau == other.tau and self.detach_weights == other.detach_weights
        )

    def __hash__(self):
        return hash(("KLWGAN", self.tau, self.detach_weights))


_REGISTRY = {
    cls.name: cls
    for cls in (
        KullbackLeibler,
        ReverseKullbackLeibler,
        PearsonChiSquared,
        NeymanChiSquared,
        SquaredHellinger,
        JensenShannon,
        GANDivergence,
        KLWGAN,
    )
}

#: Names accepted by :func:`get_divergence` (the f-divergences of f-GAN, then ``"klwgan"``).
DIVERGENCES = tuple(_REGISTRY)


def get_divergence(divergence, **params):
    """Return the divergence object for a name (or pass an instance through).

    Parameters
    ----------
    divergence : str or FDivergence or KLWGAN
        One of :data:`DIVERGENCES`: ``"kl"``, ``"reverse_kl"``, ``"pearson"``, ``"neyman"``,
        ``"squared_hellinger"``, ``"js"``, ``"gan"`` (f-divergences, returned as :class:`FDivergence`
        instances) or ``"klwgan"`` (a :class:`KLWGAN` instance). An instance is returned unchanged.
    **params
        Constructor parameters; only ``"klwgan"`` takes any (``tau``, ``detach_weights``).

    Returns
    -------
    FDivergence or KLWGAN

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones), or parameters the divergence does not take.
    """
    if isinstance(divergence, (FDivergence, KLWGAN)):
        if params:
            raise ValueError(f"Parameters {sorted(params)} cannot be applied to an existing {divergence!r}.")
        return divergence
    if not isinstance(divergence, str) or divergence not in _REGISTRY:
        raise ValueError(f"Unknown divergence {divergence!r}; valid names are {DIVERGENCES}.")
    cls = _REGISTRY[divergence]
    if cls is KLWGAN:
        unknown = sorted(set(params) - {"tau", "detach_weights"})
        if unknown:
            raise ValueError(f"'klwgan' takes only tau and detach_weights, got {unknown}.")
        return KLWGAN(**params)
    if params:
        raise ValueError(f"Divergence {divergence!r} takes no parameters, got {sorted(params)}.")
    return cls()
