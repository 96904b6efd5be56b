"""Tests of skanomaly.divergences: conjugates, tightness of the variational bound, losses, KL-WGAN weights.

The reference generator functions f(u), their derivatives and the reference divergence values are written
here independently of the module (numpy/scipy), so a wrong activation, conjugate or normalisation fails.
"""

import math
import pickle

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from skanomaly import divergences
from skanomaly.divergences import (
    DIVERGENCES,
    KLWGAN,
    FDivergence,
    get_divergence,
    klwgan_weights,
)

F_NAMES = ("kl", "reverse_kl", "pearson", "neyman", "squared_hellinger", "js", "gan")

# f(u) and f'(u) for u > 0, as in Nowozin et al. (2016), Tables 1-2.
REF_F = {
    "kl": lambda u: u * np.log(u),
    "reverse_kl": lambda u: -np.log(u),
    "pearson": lambda u: (u - 1.0) ** 2,
    "neyman": lambda u: (1.0 - u) ** 2 / u,
    "squared_hellinger": lambda u: (np.sqrt(u) - 1.0) ** 2,
    "js": lambda u: u * np.log(u) - (u + 1.0) * np.log((u + 1.0) / 2.0),
    "gan": lambda u: u * np.log(u) - (u + 1.0) * np.log(u + 1.0),
}
REF_F_PRIME = {
    "kl": lambda u: 1.0 + np.log(u),
    "reverse_kl": lambda u: -1.0 / u,
    "pearson": lambda u: 2.0 * (u - 1.0),
    "neyman": lambda u: 1.0 - 1.0 / u**2,
    "squared_hellinger": lambda u: 1.0 - 1.0 / np.sqrt(u),
    "js": lambda u: np.log(2.0 * u / (1.0 + u)),
    "gan": lambda u: np.log(u / (1.0 + u)),
}
DOMAIN_UPPER = {
    "kl": math.inf,
    "reverse_kl": 0.0,
    "pearson": math.inf,
    "neyman": 1.0,
    "squared_hellinger": 1.0,
    "js": math.log(2.0),
    "gan": 0.0,
}
# Points of dom f* whose maximiser u* = (f')^{-1}(t) lies well inside the grid below (Pearson: t >= -2,
# where the conjugate of f restricted to u >= 0 is t^2/4 + t).
T_VALUES = {
    "kl": [-1.0, 0.0, 1.0, 1.5],
    "reverse_kl": [-3.0, -1.0, -0.5],
    "pearson": [-1.5, 0.0, 2.0],
    "neyman": [-3.0, 0.0, 0.7],
    "squared_hellinger": [-1.0, 0.0, 0.5],
    "js": [-2.0, 0.0, 0.5],
    "gan": [-3.0, -1.0, -0.2],
}

# P = N(0, 1) (data side), Q = N(0.5, 1.1^2) (model side): unequal variances so that KL != reverse KL and
# Pearson != Neyman (a swapped argument fails).
MU_P, SD_P, MU_Q, SD_Q = 0.0, 1.0, 0.5, 1.1
N_MC = 200_000


def _log_ratio(x):
    return stats.norm.logpdf(x, MU_P, SD_P) - stats.norm.logpdf(x, MU_Q, SD_Q)


def _kl_gauss(m0, s0, m1, s1):
    return math.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - 0.5


def _closed_forms():
    var_sum = SD_P**2 + SD_Q**2
    bc = math.sqrt(2 * SD_P * SD_Q / var_sum) * math.exp(-((MU_P - MU_Q) ** 2) / (4 * var_sum))
    # int p^2 / q for Gaussians (needs 2 s_q^2 > s_p^2).
    denom = 2 * SD_Q**2 - SD_P**2
    int_p2_q = SD_Q**2 / (SD_P * math.sqrt(denom)) * math.exp((MU_P - MU_Q) ** 2 / denom)
    return {
        "kl": _kl_gauss(MU_P, SD_P, MU_Q, SD_Q),
        "reverse_kl": _kl_gauss(MU_Q, SD_Q, MU_P, SD_P),
        "pearson": int_p2_q - 1.0,
        "squared_hellinger": 2.0 * (1.0 - bc),
    }


def _quad_divergence(name):
    """D_f(P || Q) = int q f(p/q) by adaptive quadrature with the reference f."""

    def integrand(x):
        return stats.norm.pdf(x, MU_Q, SD_Q) * REF_F[name](math.exp(_log_ratio(x)))

    value, _ = integrate.quad(integrand, -30, 30, epsabs=1e-12, epsrel=1e-12, limit=200)
    return value


REFERENCE = {name: _quad_divergence(name) for name in F_NAMES}


@pytest.fixture(scope="module")
def gaussian_samples():
    gen = torch.Generator().manual_seed(0)
    x_p = MU_P + SD_P * torch.randn(N_MC, generator=gen, dtype=torch.float64)
    x_q = MU_Q + SD_Q * torch.randn(N_MC, generator=gen, dtype=torch.float64)
    return x_p, x_q


def _optimal_raw_output(div, name, x):
    """v* = g_f^{-1}(f'(p/q)) with the reference f'."""
    u = np.exp(_log_ratio(np.asarray(x)))
    return div.inverse_activation(torch.as_tensor(REF_F_PRIME[name](u), dtype=torch.float64))


def _quadrature_estimate(div, v_of_x):
    """E_P[g_f(v)] - E_Q[f*(g_f(v))] on a fine grid (deterministic, ~1e-10 accurate)."""
    x = np.linspace(-14.0, 14.0, 40_001)
    v = v_of_x(x)
    p = stats.norm.pdf(x, MU_P, SD_P)
    q = stats.norm.pdf(x, MU_Q, SD_Q)
    t = div.activation(v).numpy()
    c = div.conjugate_of_activation(v).numpy()
    return float(np.trapezoid(p * t, x) - np.trapezoid(q * c, x))


# ----------------------------------------------------------------------------------------------- registry


def test_all_and_registry():
    for name in divergences.__all__:
        assert hasattr(divergences, name)
    assert set(DIVERGENCES) == set(F_NAMES) | {"klwgan"}
    for name in F_NAMES:
        div = get_divergence(name)
        assert isinstance(div, FDivergence)
        assert div.name == name
        assert div.domain_upper == DOMAIN_UPPER[name]
        assert get_divergence(div) is div
        assert pickle.loads(pickle.dumps(div)) == div
    k = get_divergence("klwgan", tau=5)
    assert isinstance(k, KLWGAN) and k.tau == 5.0 and not k.detach_weights
    assert pickle.loads(pickle.dumps(k)) == k
    assert k != KLWGAN(tau=1.0)


@pytest.mark.parametrize("bad", ["KL", "wasserstein", "", None, 3])
def test_get_divergence_unknown_name(bad):
    with pytest.raises(ValueError, match="valid names are") as info:
        get_divergence(bad)
    assert "'squared_hellinger'" in str(info.value)


def test_get_divergence_bad_params():
    with pytest.raises(ValueError, match="takes no parameters"):
        get_divergence("kl", tau=2.0)
    with pytest.raises(ValueError, match="takes only"):
        get_divergence("klwgan", temperature=2.0)
    with pytest.raises(ValueError, match="existing"):
        get_divergence(get_divergence("gan"), tau=1.0)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_klwgan_bad_tau(bad):
    with pytest.raises(ValueError, match="tau"):
        KLWGAN(tau=bad)


def test_bad_inputs():
    div = get_divergence("kl")
    with pytest.raises(ValueError, match="torch.Tensor"):
        div.estimate(np.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        div.critic_loss(torch.zeros(3), torch.zeros(0))
    with pytest.raises(ValueError, match="floating"):
        div.generator_loss(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="domain"):
        get_divergence("gan").inverse_activation(torch.tensor([-1.0, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        klwgan_weights(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="nonsaturating"):
        KLWGAN().generator_loss(torch.zeros(3), nonsaturating=True)


# --------------------------------------------------------------------------- generator, activation, conjugate


@pytest.mark.parametrize("name", F_NAMES)
def test_conjugate_is_numerical_supremum(name):
    div = get_divergence(name)
    u = np.logspace(-5, 3, 800_001)
    fu = REF_F[name](u)
    for t in T_VALUES[name]:
        objective = t * u - fu
        i = int(np.argmax(objective))
        assert 0 < i < u.size - 1, "maximiser on the grid boundary: the check would be meaningless"
        got = float(div.conjugate(torch.tensor(t, dtype=torch.float64)))
        assert got == pytest.approx(objective[i], abs=1e-7, rel=1e-7)


@pytest.mark.parametrize("name", [n for n in F_NAMES if math.isfinite(DOMAIN_UPPER[n])])
def test_conjugate_is_infinite_outside_domain(name):
    div = get_divergence(name)
    t = torch.tensor([DOMAIN_UPPER[name] + 0.1, DOMAIN_UPPER[name] + 5.0], dtype=torch.float64)
    out = div.conjugate(t)
    assert torch.all(torch.isposinf(out))


@pytest.mark.parametrize("name", F_NAMES)
def test_generator_function_and_derivative(name):
    div = get_divergence(name)
    u = np.linspace(0.05, 20.0, 401)
    ut = torch.as_tensor(u, dtype=torch.float64)
    np.testing.assert_allclose(div.f(ut).numpy(), REF_F[name](u), rtol=1e-12, atol=1e-12)
    # f(1) = 0 for a divergence; f-GAN's "gan" row is shifted by -log 4 (its value is 2 JS - log 4).
    f_at_1 = -math.log(4.0) if name == "gan" else 0.0
    assert float(div.f(torch.tensor(1.0, dtype=torch.float64))) == pytest.approx(f_at_1, abs=1e-15)
    h = 1e-5
    numerical = (REF_F[name](u + h) - REF_F[name](u - h)) / (2 * h)
    np.testing.assert_allclose(div.f_prime(ut).numpy(), numerical, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", F_NAMES)
def test_activation_domain_inverse_and_composition(name):
    div = get_divergence(name)
    v = torch.linspace(-8.0, 8.0, 161, dtype=torch.float64)
    t = div.activation(v)
    assert torch.all(t < DOMAIN_UPPER[name])
    assert torch.all(torch.diff(t) > 0), "g_f must be increasing"
    torch.testing.assert_close(div.inverse_activation(t), v, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(div.conjugate_of_activation(v), div.conjugate(t), rtol=1e-9, atol=1e-12)
    # f*(g_f(v)) increasing too, so the critic loss pushes fake outputs down. Pearson is the exception
    # below t = -2, where f-GAN's conjugate t^2/4 + t (f extended to all of R) decreases.
    keep = t[:-1] > -1.99 if name == "pearson" else torch.ones(160, dtype=torch.bool)
    assert torch.all(torch.diff(div.conjugate_of_activation(v))[keep] > 0)
    if name == "pearson":
        assert torch.all(torch.diff(div.conjugate_of_activation(v))[t[1:] < -2.01] < 0)


# ------------------------------------------------------------------------------------- the variational bound


def test_reference_values_match_closed_forms():
    closed = _closed_forms()
    for name, value in closed.items():
        assert REFERENCE[name] == pytest.approx(value, rel=1e-8)
    assert REFERENCE["kl"] != pytest.approx(REFERENCE["reverse_kl"], rel=0.05)
    assert REFERENCE["pearson"] != pytest.approx(REFERENCE["neyman"], rel=0.05)

    # "js" is twice the usual Jensen-Shannon divergence; "gan" is 2 JS - log 4.
    def js_integrand(x):
        p, q = stats.norm.pdf(x, MU_P, SD_P), stats.norm.pdf(x, MU_Q, SD_Q)
        m = 0.5 * (p + q)
        return 0.5 * (p * np.log(p / m) + q * np.log(q / m))

    js = integrate.quad(js_integrand, -30, 30, epsabs=1e-13, limit=200)[0]
    assert REFERENCE["js"] == pytest.approx(2 * js, rel=1e-7)
    assert REFERENCE["gan"] == pytest.approx(2 * js - math.log(4.0), rel=1e-7)


@pytest.mark.parametrize("name", F_NAMES)
def test_bound_is_tight_at_optimal_critic_monte_carlo(name, gaussian_samples):
    div = get_divergence(name)
    x_p, x_q = gaussian_samples
    v_p = _optimal_raw_output(div, name, x_p)
    v_q = _optimal_raw_output(div, name, x_q)
    est = float(div.estimate(v_p, v_q))
    se = math.sqrt(
        float(div.activation(v_p).var()) / N_MC + float(div.conjugate_of_activation(v_q).var()) / N_MC
    )
    truth = REFERENCE[name]
    assert se < 0.05 * abs(truth), "Monte Carlo error too large for the test to discriminate"
    assert abs(est - truth) < 4 * se, (est, truth, se)


@pytest.mark.parametrize("name", F_NAMES)
def test_bound_is_tight_and_maximal_quadrature(name):
    div = get_divergence(name)

    def v_opt(x):
        return _optimal_raw_output(div, name, x)

    truth = REFERENCE[name]
    assert _quadrature_estimate(div, v_opt) == pytest.approx(truth, abs=1e-8)
    # Any other critic gives a strictly smaller value (lower-bound property).
    perturbed = {
        "shift up": lambda x: v_opt(x) + 0.3,
        "shift down": lambda x: v_opt(x) - 0.3,
        "scaled": lambda x: 0.7 * v_opt(x),
        "wiggle": lambda x: v_opt(x) + 0.2 * torch.sin(torch.as_tensor(x)),
        "constant": lambda x: torch.zeros(len(x), dtype=torch.float64),
    }
    for label, critic in perturbed.items():
        assert _quadrature_estimate(div, critic) < truth - 1e-4, label


@pytest.mark.parametrize("name", F_NAMES)
def test_nonoptimal_critic_smaller_monte_carlo(name, gaussian_samples):
    div = get_divergence(name)
    x_p, x_q = gaussian_samples
    v_p, v_q = _optimal_raw_output(div, name, x_p), _optimal_raw_output(div, name, x_q)
    best = float(div.estimate(v_p, v_q))
    for delta in (-0.5, 0.5):
        assert float(div.estimate(v_p + delta, v_q + delta)) < best
    assert float(div.estimate(torch.zeros_like(v_p), torch.zeros_like(v_q))) <= best


# ------------------------------------------------------------------------------------------------ losses


@pytest.mark.parametrize("name", F_NAMES)
def test_losses_and_per_sample_term(name):
    div = get_divergence(name)
    gen = torch.Generator().manual_seed(1)
    v_real = 2 * torch.randn(64, 1, generator=gen, dtype=torch.float64)
    v_fake = 2 * torch.randn(64, 1, generator=gen, dtype=torch.float64) - 1
    t_real, c_fake = div.activation(v_real), div.conjugate_of_activation(v_fake)
    torch.testing.assert_close(div.estimate(v_real, v_fake), t_real.mean() - c_fake.mean())
    torch.testing.assert_close(div.critic_loss(v_real, v_fake), -(t_real.mean() - c_fake.mean()))
    torch.testing.assert_close(div.generator_loss(v_fake), -c_fake.mean())
    torch.testing.assert_close(div.generator_loss(v_fake, nonsaturating=True), -div.activation(v_fake).mean())
    term = div.per_sample_term(v_real)
    assert term.shape == v_real.shape
    order = torch.argsort(v_real.ravel())
    assert torch.all(torch.diff(term.ravel()[order]) >= 0), "per-sample term must increase with v"


def test_gan_is_binary_cross_entropy_and_js_is_shifted_gan():
    gen = torch.Generator().manual_seed(2)
    v_real, v_fake = torch.randn(50, generator=gen), torch.randn(50, generator=gen)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    gan, js = get_divergence("gan"), get_divergence("js")
    torch.testing.assert_close(
        gan.critic_loss(v_real, v_fake), bce(v_real, torch.ones(50)) + bce(v_fake, torch.zeros(50))
    )
    torch.testing.assert_close(gan.generator_loss(v_fake, nonsaturating=True), bce(v_fake, torch.ones(50)))
    torch.testing.assert_close(js.estimate(v_real, v_fake), gan.estimate(v_real, v_fake) + math.log(4.0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", F_NAMES)
def test_extreme_outputs_finite_with_signed_gradients(name, dtype):
    div = get_divergence(name)
    values = [-1e4, -50.0, 0.0, 50.0, 1e4]
    v_real = torch.tensor(values, dtype=dtype, requires_grad=True)
    v_fake = torch.tensor(values, dtype=dtype, requires_grad=True)
    loss = div.critic_loss(v_real, v_fake)
    g_real, g_fake = torch.autograd.grad(loss, (v_real, v_fake))
    assert torch.isfinite(loss)
    assert torch.all(torch.isfinite(g_real)) and torch.all(torch.isfinite(g_fake))
    # Real outputs are pushed up, fake ones down; never the wrong way, and not saturated in [-50, 50].
    assert torch.all(g_real <= 0) and torch.all(g_real[1:4] < 0)
    if name == "pearson":  # f* = t^2/4 + t pulls fake outputs towards t = -2 from below (f-GAN's choice)
        assert g_fake[0] < 0 and g_fake[1] < 0 and torch.all(g_fake[2:] > 0)
    else:
        assert torch.all(g_fake >= 0) and torch.all(g_fake[1:4] > 0)
    # The exp-type divergences keep a non-zero slope beyond the linear-continuation threshold.
    if name in ("kl", "squared_hellinger"):
        assert g_fake[4] > 0
    if name in ("reverse_kl", "neyman", "squared_hellinger"):
        assert g_real[0] < 0
    for nonsaturating in (False, True):
        v = torch.tensor(values, dtype=dtype, requires_grad=True)
        g_loss = div.generator_loss(v, nonsaturating=nonsaturating)
        (grad,) = torch.autograd.grad(g_loss, v)
        assert torch.isfinite(g_loss) and torch.all(torch.isfinite(grad))
    with torch.no_grad():
        assert torch.all(torch.isfinite(div.per_sample_term(v_real)))
        assert torch.isfinite(div.estimate(v_real, v_fake))


# ------------------------------------------------------------------------------------------------- KL-WGAN


def test_klwgan_weights_normalisation_and_values():
    gen = torch.Generator().manual_seed(3)
    v = 3 * torch.randn(32, generator=gen, dtype=torch.float64)
    for tau in (1.0, 5.0):
        r = klwgan_weights(v, tau=tau)
        assert r.shape == v.shape
        assert torch.all(r > 0)
        assert float(r.mean()) == pytest.approx(1.0, abs=1e-12)
        assert float(r.sum()) == pytest.approx(32.0, abs=1e-10)
        e = np.exp(v.numpy() / tau)
        np.testing.assert_allclose(r.numpy(), e / e.mean(), rtol=1e-12)
    r_col = klwgan_weights(v[:, None], tau=1.0)
    assert r_col.shape == (32, 1)
    torch.testing.assert_close(r_col[:, 0], klwgan_weights(v, tau=1.0))
    # Large tau flattens the weights towards 1.
    assert float((klwgan_weights(v, tau=1e6) - 1).abs().max()) < 1e-4
    assert float(klwgan_weights(v, tau=1.0).std()) > float(klwgan_weights(v, tau=5.0).std())


def test_klwgan_weights_shift_invariant_and_log_space():
    v = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)
    torch.testing.assert_close(klwgan_weights(v + 1000.0), klwgan_weights(v), rtol=1e-9, atol=1e-12)
    huge = klwgan_weights(torch.tensor([1e4, 0.0, -1e4]))
    assert torch.all(torch.isfinite(huge))
    torch.testing.assert_close(huge, torch.tensor([3.0, 0.0, 0.0]))
    torch.testing.assert_close(klwgan_weights(torch.tensor([1e4, 1e4])), torch.tensor([1.0, 1.0]))


def test_klwgan_losses_match_formulas():
    gen = torch.Generator().manual_seed(4)
    v_real = torch.randn(40, 1, generator=gen, dtype=torch.float64)
    v_fake = torch.randn(40, 1, generator=gen, dtype=torch.float64)
    obj = KLWGAN(tau=2.0)
    r = klwgan_weights(v_fake, tau=2.0)
    expected = torch.relu(1 - v_real).mean() + torch.relu(1 + r * v_fake).mean()
    torch.testing.assert_close(obj.critic_loss(v_real, v_fake), expected)
    torch.testing.assert_close(obj.generator_loss(v_fake), -(r * v_fake).mean())
    torch.testing.assert_close(obj.per_sample_term(v_real), v_real)


def test_klwgan_detached_weights_give_donsker_varadhan_gradient():
    tau = 2.0
    gen = torch.Generator().manual_seed(5)
    base = 2 * torch.randn(16, generator=gen, dtype=torch.float64)

    def grad_of(fn):
        v = base.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(v), v)
        return g

    g_detached = grad_of(KLWGAN(tau=tau, detach_weights=True).generator_loss)
    g_dv = grad_of(lambda v: -tau * (torch.logsumexp(v / tau, 0) - math.log(v.numel())))
    torch.testing.assert_close(g_detached, g_dv)
    g_attached = grad_of(KLWGAN(tau=tau, detach_weights=False).generator_loss)
    assert not torch.allclose(g_attached, g_detached, atol=1e-3)
    assert not KLWGAN(detach_weights=True).weights(base.clone().requires_grad_(True)).requires_grad
    assert KLWGAN(detach_weights=False).weights(base.clone().requires_grad_(True)).requires_grad


@pytest.mark.parametrize("tau", [1.0, 5.0])
def test_klwgan_estimate_is_tight_donsker_varadhan_bound(tau, gaussian_samples):
    obj = KLWGAN(tau=tau)
    x_p, x_q = gaussian_samples
    target = tau * REFERENCE["kl"]

    def critic(x, scale=1.0):
        return torch.as_tensor(tau * scale * _log_ratio(x.numpy()) + 3.0)

    best = float(obj.estimate(critic(x_p), critic(x_q)))
    assert best == pytest.approx(target, abs=0.02 * target)
    # Invariant to a constant shift; a worse critic gives less.
    assert float(obj.estimate(critic(x_p) - 7.0, critic(x_q) - 7.0)) == pytest.approx(best, abs=1e-9)
    for scale in (0.5, 1.6):
        assert float(obj.estimate(critic(x_p, scale), critic(x_q, scale))) < best - 0.05 * target


def test_klwgan_extreme_outputs_finite():
    values = [-1e4, -50.0, 0.0, 50.0, 1e4]
    for detach in (False, True):
        obj = KLWGAN(tau=5.0, detach_weights=detach)
        v_real = torch.tensor(values, requires_grad=True)
        v_fake = torch.tensor(values, requires_grad=True)
        for loss in (obj.critic_loss(v_real, v_fake), obj.generator_loss(v_fake), obj.estimate(v_real, v_fake)):
            grads = torch.autograd.grad(loss, (v_real, v_fake), allow_unused=True)
            assert torch.isfinite(loss)
            assert all(torch.all(torch.isfinite(g)) for g in grads if g is not None)
