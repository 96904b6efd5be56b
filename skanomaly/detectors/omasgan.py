"""OMASGAN: Out-of-Distribution Minimum Anomaly Score GAN (Dionelis, Yaghoobi & Tsaftaris, 2021).

The detector is trained in four stages, each a separate, inspectable network (or pair of networks):

1. **Task 1** - a generator ``G`` and its critic ``D`` learn the normal data with an f-divergence (f-GAN,
   Nowozin et al. 2016) or the KL-Wasserstein objective (KLWGAN, Song & Ermon 2020).
2. **Task 2** - a boundary generator ``B`` (initialised from ``G``) is pushed out of the data distribution but
   kept close to it: it minimises ``-m(B, G) + mu * d(B, G) + nu * s(B, z)``.
3. **Task 3** - a retrained generator ``G'`` (initialised from ``G``) plays against a critic ``C`` that takes
   the data and ``G(z)`` as positives and ``G'(z)`` and the boundary samples ``B(z)`` as negatives
   (Rumi-GAN style negative data augmentation).
4. **J** - an anomaly discriminator separating ``B(z)`` (anomalous) from the data and ``G'(z)`` (normal).

The anomaly score combines ``J`` with the retrained critic ``C``; see :class:`OMASGANDetector`.
"""

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..base import BaseDetector, DetectorNet, _history_frame
from ..divergences import DIVERGENCES, KLWGAN, get_divergence
from ..exceptions import TrainingDivergedError
from ..nn import ACTIVATIONS, CRITIC_ARCHITECTURES, frozen, make_critic, make_decoder, no_grad_batches, r1_penalty
from ..utils import resolve_latent_dim, torch_threads

__all__ = ["OMASGANDetector"]

STAGES = ("task1", "task2", "task3", "j")

# Task 2 stops when the boundary samples drift farther than this many data radii from the generated data.
_EXPLODING_DISTANCE = 100.0


# ------------------------------------------------------------------------------------------ loss pieces
def _critic_loss_positive(divergence, v):
    """Critic loss of samples on the data ("P") side, to minimise: ``-mean g_f(v)`` or the KLWGAN hinge."""
    if isinstance(divergence, KLWGAN):
        return F.relu(1.0 - v).mean()
    return -divergence.activation(v).mean()


def _critic_loss_negative(divergence, v):
    """Critic loss of samples on the model ("Q") side: ``mean f*(g_f(v))`` or the weighted KLWGAN hinge."""
    if isinstance(divergence, KLWGAN):
        return F.relu(1.0 + divergence.weights(v) * v).mean()
    return divergence.conjugate_of_activation(v).mean()


def _generator_loss(divergence, v, nonsaturating):
    if isinstance(divergence, KLWGAN):
        return divergence.generator_loss(v)
    return divergence.generator_loss(v, nonsaturating=nonsaturating)


def _squared_distances(a, b):
    """Pairwise squared Euclidean distances between the rows of ``a`` and ``b``, clipped at 0.

    Computed as ``|a|^2 + |b|^2 - 2 a.b`` so that no (n, m, n_features) tensor is formed (images).
    """
    sq = (a * a).sum(1, keepdim=True) + (b * b).sum(1).unsqueeze(0) - 2.0 * a @ b.T
    return sq.clamp_min(0.0)


def nearest_distance(samples, reference, eps):
    """Mean distance from each sample to its nearest reference row, ``mean_i min_j ||b_i - r_j||``.

    The paper's ``d(B, G)`` term. ``sqrt(. + eps^2)`` keeps the gradient finite when a sample sits on a
    reference point.

    Parameters
    ----------
    samples : torch.Tensor of shape (n, n_features)
    reference : torch.Tensor of shape (q, n_features)
    eps : float

    Returns
    -------
    distance : torch.Tensor (scalar)
    """
    nearest = _squared_distances(samples, reference).min(dim=1).values
    return torch.sqrt(nearest + eps * eps).mean()


def scattering(z, samples, eps):
    """Scattering term ``s = mean_{i != j} ||z_i - z_j|| / ||B(z_i) - B(z_j)||`` of a batch.

    Small when samples whose latent codes differ are far apart in input space, i.e. when the boundary samples
    are spread out instead of collapsing on a few points. The denominator is ``sqrt(||.||^2 + eps^2) + eps``:
    at least ``eps`` (no division by zero) and differentiable at 0.

    Parameters
    ----------
    z : torch.Tensor of shape (n, latent_dim)
    samples : torch.Tensor of shape (n, n_features)
    eps : float

    Returns
    -------
    s : torch.Tensor (scalar); 0 for a batch of one sample.
    """
    n = z.shape[0]
    if n < 2:
        return samples.new_zeros(())
    with torch.no_grad():
        latent = torch.sqrt(_squared_distances(z, z))
    spread = torch.sqrt(_squared_distances(samples, samples) + eps * eps) + eps
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=samples.device)
    return (latent / spread)[off_diagonal].mean()


# ------------------------------------------------------------------------------------------ the networks
class OMASGANModule(nn.Module):
    """Container of the OMASGAN networks; each stage adds its own, separate instances.

    Attributes
    ----------
    generator : torch.nn.Module
        ``G``, latent -> input space, trained in Task 1.
    critic : torch.nn.Module
        ``D``, input -> raw output ``v`` (higher = data side), trained in Task 1.
    boundary_generator : torch.nn.Module or None
        ``B``, a copy of ``G`` trained in Task 2.
    boundary_critic : torch.nn.Module or None
        A copy of ``D`` trained along with ``B`` in Task 2 (only with ``boundary_critic="train"``).
    retrained_generator : torch.nn.Module or None
        ``G'``, a copy of ``G`` trained in Task 3.
    retrained_critic : torch.nn.Module or None
        ``C``, a copy of ``D`` trained in Task 3.
    anomaly_discriminator : torch.nn.Module or None
        ``J``, input -> logit of "anomalous" (higher = more anomalous), trained last.
    """

    def __init__(self, generator, critic):
        super().__init__()
        self.generator = generator
        self.critic = critic
        self.boundary_generator = None
        self.boundary_critic = None
        self.retrained_generator = None
        self.retrained_critic = None
        self.anomaly_discriminator = None

    def forward(self, x):
        return self.critic(x).squeeze(1)


class _StageNet(DetectorNet):
    """One OMASGAN stage: a skorch net over the shared container that trains only ``trainable`` networks.

    The other networks are used frozen, in eval mode (fixed BatchNorm statistics in conv generators, no
    spectral-norm power iterations), and their outputs are computed without gradients. Every stage reads
    :class:`OMASGANDetector`'s hyperparameters, with ``divergence``, ``boundary_divergence``, ``latent_dim`` and
    ``critic_lr`` resolved; generators train with ``lr``, critics with ``critic_lr``.
    """

    trainable = ()

    def _set_training(self, training=True):
        super()._set_training(False)
        if training:
            for name in self.trainable:
                getattr(self.module_, name).train()

    def _latent(self, n, like):
        return torch.randn(max(int(n), 2), self.hp.latent_dim, device=like.device, dtype=like.dtype)

    def train_step_terms(self, X, y):
        # Non-finite, huge and exploding terms are stopped by the base class's DivergenceGuard.
        return self.stage_step(X)

    def stage_step(self, X):
        raise NotImplementedError

    def anomaly_score(self, X):
        return -self.module_(X)


class _GANStageNet(_StageNet):
    """Shared step of Task 1 (``G`` vs ``D``) and Task 3 (``G'`` vs ``C`` with weighted positives/negatives)."""

    def initialize_optimizer(self, triggered_directly=None):
        generator_name, critic_name = self.trainable
        self.optimizer_ = self.make_optimizer(getattr(self.module_, generator_name))
        self.critic_optimizer_ = self.make_optimizer(getattr(self.module_, critic_name), lr=self.hp.critic_lr)
        return self

    def critic_objective(self, critic, X, fake):
        """Critic loss (without the R1 penalty) of one batch; ``fake`` is already detached."""
        raise NotImplementedError

    def stage_step(self, X):
        hp = self.hp
        generator_name, critic_name = self.trainable
        generator = getattr(self.module_, generator_name)
        critic = getattr(self.module_, critic_name)
        fake = generator(self._latent(X.shape[0], X))
        fake_fixed = fake.detach()
        zero = X.new_zeros(())
        for _ in range(hp.n_critic):
            self.critic_optimizer_.zero_grad()
            critic_loss = self.critic_objective(critic, X, fake_fixed)
            penalty = r1_penalty(critic, X) if hp.lambda_r1 > 0 else zero
            (critic_loss + hp.lambda_r1 * penalty).backward()
            self.critic_optimizer_.step()
        with frozen(critic):
            self.optimizer_.zero_grad()
            generator_loss = _generator_loss(hp.divergence, critic(fake), hp.nonsaturating)
            generator_loss.backward()
            self.optimizer_.step()
        return {
            "loss": critic_loss + generator_loss,
            "critic_loss": critic_loss,
            "generator_loss": generator_loss,
            "r1_penalty": penalty,
        }


class _Task1Net(_GANStageNet):
    """Task 1: ``G`` learns the normal data against ``D``."""

    stage_name = "task1"
    trainable = ("generator", "critic")

    def critic_objective(self, critic, X, fake):
        divergence = self.hp.divergence
        return _critic_loss_positive(divergence, critic(X)) + _critic_loss_negative(divergence, critic(fake))


class _Task3Net(_GANStageNet):
    """Task 3: ``G'`` against ``C``.

    ``C``'s positives are ``x`` (weight alpha) and ``G(z)`` (gamma), its negatives ``G'(z)`` (1) and ``B(z)`` (beta).
    """

    stage_name = "task3"
    trainable = ("retrained_generator", "retrained_critic")

    def critic_objective(self, critic, X, fake):
        module, hp, div = self.module_, self.hp, self.hp.divergence
        with torch.no_grad():
            generated = module.generator(self._latent(X.shape[0], X))
            boundary = module.boundary_generator(self._latent(X.shape[0], X))
        loss = _critic_loss_negative(div, critic(fake))
        if hp.alpha > 0:
            loss = loss + hp.alpha * _critic_loss_positive(div, critic(X))
        if hp.gamma > 0:
            loss = loss + hp.gamma * _critic_loss_positive(div, critic(generated))
        if hp.beta > 0:
            loss = loss + hp.beta * _critic_loss_negative(div, critic(boundary))
        return loss


class _Task2Net(_StageNet):
    """Task 2: the boundary generator ``B`` minimises ``-m(B, G) + mu * d(B, G) + nu * s(B, z)``.

    With ``boundary_critic="train"``, ``m`` uses the container's ``boundary_critic`` (a copy of ``D``), which is
    trained at every step to maximise the variational estimate between the data batch and the (detached) ``B(z)``.

    Parameters
    ----------
    module : OMASGANModule
    hp : Hyperparameters
    reference_data : torch.Tensor or None, default=None
        The data rows ``d`` draws its reference points from (``boundary_reference="data"``); ``None`` draws fresh
        ``G(z)`` samples.
    data_radius : float or None, default=None
        Root mean squared distance of the training rows from their mean, the scale of the runaway check; needed
        for training.
    **kwargs
        Passed to :class:`~skanomaly.base.DetectorNet`.
    """

    stage_name = "task2"

    def __init__(self, module, *, hp, reference_data=None, data_radius=None, **kwargs):
        super().__init__(module, hp=hp, **kwargs)
        self.reference_data = reference_data
        self.data_radius = data_radius
        self.train_critic = hp.boundary_critic == "train"
        self.trainable = ("boundary_generator", "boundary_critic") if self.train_critic else ("boundary_generator",)

    def initialize_optimizer(self, triggered_directly=None):
        self.optimizer_ = self.make_optimizer(self.module_.boundary_generator)
        if self.train_critic:
            self.critic_optimizer_ = self.make_optimizer(self.module_.boundary_critic, lr=self.hp.critic_lr)
        return self

    def _reference(self, like):
        """The ``Q`` reference points of ``d``: fresh ``G(z)`` samples, or a random subset of the data."""
        n_reference = self.hp.n_reference
        with torch.no_grad():
            if self.reference_data is None:
                return self.module_.generator(self._latent(n_reference, like))
            data = self.reference_data
            if data.device != like.device or data.dtype != like.dtype:
                data = self.reference_data = data.to(like.device, like.dtype)
            if data.shape[0] <= n_reference:
                return data
            return data[torch.randperm(data.shape[0])[:n_reference].to(data.device)]

    def stage_step(self, X):
        module, hp, div = self.module_, self.hp, self.hp.boundary_divergence
        z = self._latent(X.shape[0], X)
        boundary = module.boundary_generator(z)
        if self.train_critic:
            critic = module.boundary_critic
            self.critic_optimizer_.zero_grad()
            critic_loss = -div.estimate(critic(X), critic(boundary.detach()))
            if hp.lambda_r1 > 0:
                critic_loss = critic_loss + hp.lambda_r1 * r1_penalty(critic, X)
            critic_loss.backward()
            self.critic_optimizer_.step()
            positive = X
        else:
            critic = module.critic
            critic_loss = X.new_zeros(())
            with torch.no_grad():
                positive = module.generator(self._latent(X.shape[0], X))
        with torch.no_grad():
            v_positive = critic(positive)
        self.optimizer_.zero_grad()
        with frozen(critic):
            m = div.estimate(v_positive, critic(boundary))
        reference = self._reference(X)
        d = nearest_distance(boundary, reference, hp.scatter_eps)
        s = scattering(z, boundary, hp.scatter_eps)
        loss = -m + hp.mu * d + hp.nu * s
        loss.backward()
        self.optimizer_.step()
        # Judged on the scale of the data and of the reference points (G may not have reached the data's scale
        # yet); d is at least eps by construction.
        spread = max(self.data_radius, _radius(reference))
        if float(d.detach()) > _EXPLODING_DISTANCE * spread + hp.scatter_eps:
            source = "data" if self.reference_data is not None else "generated data"
            raise self.divergence_error(
                "d_distance",
                f"reached {float(d.detach()):.3g}: the boundary samples are on average that far from the {source}, "
                f"more than {_EXPLODING_DISTANCE:g} x the spread of the data or of the reference points "
                f"({spread:.3g})",
                remedy="Increase mu (the pull towards the data), lower nu or the learning rate lr, or use an "
                "f-divergence whose conjugate saturates (boundary_divergence='kl').",
            )
        return {"loss": loss, "m_divergence": m, "d_distance": d, "s_scatter": s, "boundary_critic_loss": critic_loss}


class _AnomalyDiscriminatorNet(_StageNet):
    """``J``: weighted logistic regression of ``B(z)`` (positive) against ``x`` (delta) and ``G'(z)`` (1 - delta)."""

    stage_name = "j"
    trainable = ("anomaly_discriminator",)

    def initialize_optimizer(self, triggered_directly=None):
        self.optimizer_ = self.make_optimizer(self.module_.anomaly_discriminator, lr=self.hp.critic_lr)
        return self

    def stage_step(self, X):
        module = self.module_
        j = module.anomaly_discriminator
        with torch.no_grad():
            boundary = module.boundary_generator(self._latent(X.shape[0], X))
            generated = module.retrained_generator(self._latent(X.shape[0], X))
        self.optimizer_.zero_grad()
        j_boundary = F.softplus(-j(boundary)).mean()
        j_data = F.softplus(j(X)).mean()
        j_generated = F.softplus(j(generated)).mean()
        loss = j_boundary + self.hp.delta * j_data + (1.0 - self.hp.delta) * j_generated
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss, "j_boundary": j_boundary, "j_data": j_data, "j_generated": j_generated}


_STAGE_DESCRIPTIONS = {
    "task1": "generator G against critic D",
    "task2": "boundary generator B",
    "task3": "generator G' against critic C",
    "j": "anomaly discriminator J",
}

_STAGE_TERMS = {
    "task1": ("critic_loss", "generator_loss", "r1_penalty"),
    "task2": ("m_divergence", "d_distance", "s_scatter", "boundary_critic_loss"),
    "task3": ("critic_loss", "generator_loss", "r1_penalty"),
    "j": ("j_boundary", "j_data", "j_generated"),
}


def _radius(points):
    """Root mean squared distance of the rows of a tensor from their mean (0 for fewer than two rows)."""
    if points.shape[0] < 2:
        return 0.0
    centred = points - points.mean(dim=0, keepdim=True)
    return float(torch.sqrt((centred * centred).sum(dim=1).mean()))


def _check_n_samples(n_samples):
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


# ------------------------------------------------------------------------------------------ the detector
class OMASGANDetector(BaseDetector):
    """OMASGAN anomaly detector: generated samples on the boundary of the data train the anomaly score.

    OMASGAN (Dionelis, Yaghoobi & Tsaftaris, "OMASGAN: Out-of-Distribution Minimum Anomaly Score GAN for
    Sample Generation on the Boundary", 2021) learns the normal data with a GAN, then generates *anomalies*:
    samples just outside the data distribution, around every mode. They become negative data for a retrained
    GAN and positive data for an anomaly discriminator. Four stages are trained one after another, each with
    its own networks (separate module instances; networks of earlier stages are frozen in later ones):

    1. **Task 1** - ``G`` (latent -> input) and critic ``D`` learn the normal data by minimising the
       f-divergence ``divergence`` (f-GAN) or with the KL-Wasserstein GAN (``divergence="klwgan"``).
    2. **Task 2** - the boundary generator ``B`` (initialised from ``G``) minimises
       ``-m(B, G) + mu * d(B, G) + nu * s(B, z)``:
       ``m`` is the variational ``boundary_divergence`` estimate between ``G(z)`` and ``B(z)`` under the frozen
       Task-1 critic (large when ``B`` leaves the data distribution);
       ``d = mean_i min_j ||B(z_i) - G(z'_j)||`` over ``n_reference`` fresh ``G`` samples (or data rows, see
       ``boundary_reference``) keeps ``B`` close to the data;
       ``s = mean_{i != j} ||z_i - z_j|| / ||B(z_i) - B(z_j)||`` spreads ``B`` around all modes.
    3. **Task 3** - ``G'`` (initialised from ``G``) is retrained against a critic ``C`` (initialised from
       ``D``) that treats the data (weight ``alpha``) and ``G(z)`` (weight ``gamma``) as positives and
       ``G'(z)`` (weight 1) and ``B(z)`` (weight ``beta``) as negatives (Rumi-GAN style): ``C`` learns to put
       the boundary on the anomalous side, and ``G'`` to stay inside it.
    4. **J** - a discriminator with ``B(z)`` as the anomalous class and the data (weight ``delta``) and
       ``G'(z)`` (weight ``1 - delta``) as the normal class, trained with the binary cross-entropy (the
       ``"gan"`` f-divergence with ``B`` on the data side, as in the authors' code).

    **Score.** The anomaly score is ``AS(x) = J~(x) + lambda_fd * fD~(x)`` where ``J(x)`` is J's logit
    (higher = more anomalous) and ``fD(x) = -T_C(x)``, minus the retrained critic's per-sample variational
    term ``T_C(x) = g_f(C(x))`` (the raw output for KLWGAN), which is higher on the data side, so ``fD`` is
    higher = more anomalous. The paper leaves ``fD(G', x)`` undefined per sample; this is our reading. The
    tilde means standardised with the mean and standard deviation of the term on the training data, so both
    terms are on one scale. ``score_samples(X) = -AS(X)`` (higher = more normal).

    **Ablations** (``stop_after``): ``"task1"`` trains Task 1 only and scores with the Task-1 critic's term,
    ``score_samples = T_D(x)``; ``"task2"`` also trains ``B`` (for :meth:`boundary_samples`) and scores
    like ``"task1"``; ``"task3"`` scores with the retrained critic, ``score_samples = T_C(x)``; ``"j"``
    (default) trains every stage up to ``J`` (the full model) and uses ``-AS``.
    :meth:`ablation_scores` of a full model also gives ``"lambda_fd=0.0"``, the score of ``J`` alone.

    Choices the paper leaves open, and deviations, all parameters: ``boundary_divergence="auto"`` uses the KL
    f-divergence for ``m`` when Task 1 uses KLWGAN (KLWGAN's Donsker-Varadhan bound grows without limit as
    ``B`` leaves the data, so ``B`` would run away); ``C`` is initialised from ``D`` and ``J`` from scratch;
    the Task-1 critic stays frozen in Task 2 (``boundary_critic``); ``d`` uses fresh ``G`` samples at every
    step (``boundary_reference``); ``J`` is trained with the binary cross-entropy whatever ``divergence``
    is. The authors' released code trains neither Task 3 nor J and does not compute the score; both are built
    here from the paper's equations.

    Robustness: a non-finite, huge or exploding loss term (see :class:`~skanomaly.base.DivergenceGuard`), or
    boundary samples drifting more than 100 data radii from the reference, stop training with a
    :class:`~skanomaly.exceptions.TrainingDivergedError` that names the stage and the term; scores and samples
    are checked to be finite. The distances of ``d`` and ``s`` use ``scatter_eps`` so that collapsed samples
    give finite values and gradients.

    Low-dimensional data (e.g. 2-D toys) needs critics that resolve thin modes, such as
    ``spectral_norm=False, lambda_r1=0.1``; the user guide and ``examples/plot_omasgan_boundary.py`` give
    settings for 2-D data.

    Tabular rows use MLPs (scale them first, e.g. ``make_pipeline(MinMaxScaler(), OMASGANDetector())``);
    images (``image_shape`` set, or 3-D/4-D input) use DCGAN-style conv generators and spectrally normalised
    conv critics without BatchNorm (residual on 32x32 images, see ``critic_architecture``).

    Parameters
    ----------
    divergence : str, default="klwgan"
        Task-1 and Task-3 objective: ``"klwgan"`` or an f-divergence of
        :data:`skanomaly.divergences.DIVERGENCES` (``"kl"``, ``"reverse_kl"``, ``"pearson"``, ``"neyman"``,
        ``"squared_hellinger"``, ``"js"``, ``"gan"``).
    boundary_divergence : str, default="auto"
        Divergence of the ``m`` term of Task 2. ``"auto"``: ``divergence`` for f-divergences, ``"kl"`` for
        ``"klwgan"``.
    tau : float or "auto", default="auto"
        KLWGAN temperature; ``"auto"``: 5 for images, 1 for tabular data (Song & Ermon).
    nonsaturating : bool, default=True
        f-GAN generators use the non-saturating loss ``-mean g_f(v)`` (ignored for KLWGAN).
    latent_dim : int or "auto", default="auto"
        Size of the latent code ``z ~ N(0, I)``. ``"auto"``: 32 for images, ``clip(n_features // 4, 2, 32)``
        for tabular rows.
    critic_hidden_layer_sizes : tuple of int, default=(128, 128)
        Hidden widths of the MLP critics ``D``, ``C`` and of ``J`` (input side first).
    decoder_hidden_layer_sizes : tuple of int or None, default=None
        Hidden widths of the MLP generators ``G``, ``B``, ``G'`` (latent -> input), *latent side first*.
        ``None`` mirrors ``critic_hidden_layer_sizes``.
    activation : str, default="leaky_relu"
        Hidden activation of the MLPs.
    out_activation : str or None, default=None
        Output activation of the generators ``G``, ``B``, ``G'`` (e.g. ``"sigmoid"`` for images in [0, 1]);
        ``None`` is linear.
    base_channels : int, default=32
        Channels of the first conv stage (images only).
    critic_architecture : {"auto", "dcgan", "resnet"}, default="auto"
        Conv critics (images only): DCGAN-style strided convolutions, or SN-GAN-style residual blocks with
        ``4 * base_channels`` channels (:class:`~skanomaly.nn.ResidualCritic`, far costlier). ``"auto"``: residual
        for 32x32 images (the AMA supplement's choice), DCGAN-style otherwise.
    spectral_norm : bool, default=True
        Spectral normalisation in the critics ``D`` and ``C``.
    anomaly_spectral_norm : bool, default=False
        Spectral normalisation in ``J``.
    lambda_r1 : float, default=0.0
        Weight of the R1 gradient penalty on the data for ``D``, ``C`` (and the Task-2 critic with
        ``boundary_critic="train"``).
    n_critic : int >= 1, default=1
        Critic updates per generator update in Tasks 1 and 3.
    lr : float > 0 or "auto", default="auto"
        Adam learning rate of the generators ``G``, ``B``, ``G'``. ``"auto"``: 2e-4 with the conv networks
        (``image_shape`` set; DCGAN's Adam setting, Radford et al. 2016), 1e-3 with the MLPs (chosen on the 2-D
        rings and blobs, see the OMASGAN user guide).
    critic_lr : float > 0 or None, default=None
        Adam learning rate of ``D``, ``C`` and ``J``; ``None`` uses ``lr``.
    betas : tuple of two floats in [0, 1), default=(0.5, 0.999)
        Adam betas of every optimiser.
    task1_epochs, task2_epochs, task3_epochs, j_epochs : int, default=50, 20, 20, 20
        Epochs of each stage; an epoch is one pass over the training data in batches of ``batch_size``
        (Task 2 uses the batches only to count steps, with ``batch_size`` latent codes per step).
    mu : float, default=0.2
        Weight of the distance term ``d`` in Task 2 (paper: 0.2 on MNIST).
    nu : float, default=0.25
        Weight of the scattering term ``s`` in Task 2 (paper: 0.25 on MNIST).
    n_reference : int, default=1024
        ``Q``, the number of reference points of ``d`` per step (paper: 1024).
    boundary_reference : {"generated", "data"}, default="generated"
        Reference points of ``d``: fresh ``G(z)`` samples (paper) or a random subset of the training data
        (better when ``G`` draws bridges between disconnected modes, which would attract ``B``).
    boundary_critic : {"frozen", "train"}, default="frozen"
        ``"frozen"``: ``m`` uses the frozen Task-1 critic with ``G(z)`` on its data side (paper).
        ``"train"``: a copy of ``D`` keeps training during Task 2 to maximise the ``boundary_divergence``
        estimate between the data and ``B(z)`` (with the R1 penalty), and ``m`` uses it with the data on its data
        side, as in the authors' 2-D script. Experimental: the critic and ``B`` both increase ``m``, so only ``d``
        holds ``B`` back; it needs a larger ``mu`` and stops with :class:`TrainingDivergedError` when ``B`` runs
        away.
    scatter_eps : float, default=1e-3
        Safety epsilon of the distances in ``d`` and ``s`` (input units): ``s`` divides by
        ``sqrt(||.||^2 + eps^2) + eps``.
    alpha, gamma, beta : float, default=0.3, 0.4, 0.7
        Task-3 weights of the data and of ``G(z)`` (positives) and of ``B(z)`` (negative); ``G'(z)`` has
        weight 1. Paper: ``alpha + gamma = 0.7``, ``beta = 0.7``; the split 0.3/0.4 follows the authors' code.
    delta : float in [0, 1], default=0.5
        Weight of the data among J's normal samples (``G'(z)`` gets ``1 - delta``).
    lambda_fd : float, default=1.0
        Weight ``lambda`` of the standardised retrained-critic term in the score.
    stop_after : {"task1", "task2", "task3", "j"}, default="j"
        Last stage to train (the stage names of ``history_``), and which score to use (see above); ``"j"``
        is the full model.
    batch_size : int, default=128
        Training mini-batch size.
    score_batch_size : int, default=4096
        Rows per scoring batch; scores do not depend on it.
    contamination : float in (0, 0.5], default=0.1
    image_shape : tuple of int or None, default=None
    device : str, default="auto"
    n_threads : int or None, default=1
        Torch CPU threads during fit and scoring, set and restored around them. The default makes the fit and
        its scores the same on any machine; more threads can be faster (conv nets), ``None`` keeps torch's own
        setting (one thread per core), with scores that then depend on the machine.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        Common parameters, see :class:`~skanomaly.base.BaseDetector`.

    Attributes
    ----------
    generator_, critic_ : torch.nn.Module
        Task 1's ``G`` and ``D``.
    boundary_generator_ : torch.nn.Module or None
        Task 2's ``B`` (None with ``stop_after="task1"``).
    boundary_critic_ : torch.nn.Module or None
        The critic trained along with ``B`` (only with ``boundary_critic="train"``).
    retrained_generator_, retrained_critic_ : torch.nn.Module or None
        Task 3's ``G'`` and ``C`` (None before ``stop_after="task3"``).
    anomaly_discriminator_ : torch.nn.Module or None
        ``J`` (only with ``stop_after="j"``).
    net_ : DetectorNet
        Net of the last stage trained; ``net_.module_`` is the :class:`OMASGANModule` holding all networks.
    latent_dim_ : int
    divergence_, boundary_divergence_ : FDivergence or KLWGAN
        The objectives used.
    score_stats_ : dict or None
        Training mean and standard deviation of ``J`` and ``fD`` (``stop_after="j"`` only).
    history_ : pandas.DataFrame
        One row per epoch of every stage: ``stage`` ("task1", "task2", "task3", "j"), ``stage_epoch``,
        ``train_loss`` (the stage's objective), ``dur`` and the stage's loss terms (NaN in other stages):
        Tasks 1/3 ``critic_loss``, ``generator_loss``, ``r1_penalty``; Task 2 ``m_divergence``,
        ``d_distance``, ``s_scatter`` (its ``train_loss`` is ``-m + mu d + nu s``) and ``boundary_critic_loss``
        (0 with a frozen critic); J ``j_boundary``,
        ``j_data``, ``j_generated`` (the three cross-entropies). The index counts epochs over all stages.
    n_epochs_ : int
        Epochs trained over all stages.
    offset_, device_, image_shape_, n_features_in_, feature_names_in_
        See :class:`~skanomaly.base.BaseDetector`.

    See Also
    --------
    skanomaly.divergences.get_divergence : the divergences and their per-sample terms.

    Examples
    --------
    >>> from skanomaly.datasets import make_multimodal_2d
    >>> from skanomaly.detectors.omasgan import OMASGANDetector
    >>> X, _ = make_multimodal_2d(500, random_state=0)
    >>> det = OMASGANDetector(task1_epochs=5, task2_epochs=2, task3_epochs=2, j_epochs=2,
    ...                       random_state=0).fit(X)
    >>> det.boundary_samples(10).shape
    (10, 2)
    """

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
        "divergence": [StrOptions(set(DIVERGENCES))],
        "boundary_divergence": [StrOptions(set(DIVERGENCES) | {"auto"})],
        "tau": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "nonsaturating": ["boolean"],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "critic_hidden_layer_sizes": [tuple],
        "decoder_hidden_layer_sizes": [tuple, None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "out_activation": [StrOptions(set(ACTIVATIONS)), None],
        "base_channels": [Interval(Integral, 1, None, closed="left")],
        "critic_architecture": [StrOptions(set(CRITIC_ARCHITECTURES))],
        "spectral_norm": ["boolean"],
        "anomaly_spectral_norm": ["boolean"],
        "lambda_r1": [Interval(Real, 0, None, closed="left")],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "critic_lr": [Interval(Real, 0, None, closed="neither"), None],
        "betas": [tuple],
        "task1_epochs": [Interval(Integral, 1, None, closed="left")],
        "task2_epochs": [Interval(Integral, 1, None, closed="left")],
        "task3_epochs": [Interval(Integral, 1, None, closed="left")],
        "j_epochs": [Interval(Integral, 1, None, closed="left")],
        "mu": [Interval(Real, 0, None, closed="left")],
        "nu": [Interval(Real, 0, None, closed="left")],
        "n_reference": [Interval(Integral, 1, None, closed="left")],
        "boundary_reference": [StrOptions({"generated", "data"})],
        "boundary_critic": [StrOptions({"frozen", "train"})],
        "scatter_eps": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "delta": [Interval(Real, 0, 1, closed="both")],
        "lambda_fd": [Interval(Real, 0, None, closed="left")],
        "stop_after": [StrOptions(set(STAGES))],
    }

    def __init__(
        self,
        *,
        divergence="klwgan",
        boundary_divergence="auto",
        tau="auto",
        nonsaturating=True,
        latent_dim="auto",
        critic_hidden_layer_sizes=(128, 128),
        decoder_hidden_layer_sizes=None,
        activation="leaky_relu",
        out_activation=None,
        base_channels=32,
        critic_architecture="auto",
        spectral_norm=True,
        anomaly_spectral_norm=False,
        lambda_r1=0.0,
        n_critic=1,
        lr="auto",
        critic_lr=None,
        betas=(0.5, 0.999),
        task1_epochs=50,
        task2_epochs=20,
        task3_epochs=20,
        j_epochs=20,
        mu=0.2,
        nu=0.25,
        n_reference=1024,
        boundary_reference="generated",
        boundary_critic="frozen",
        scatter_eps=1e-3,
        alpha=0.3,
        gamma=0.4,
        beta=0.7,
        delta=0.5,
        lambda_fd=1.0,
        stop_after="j",
        batch_size=128,
        score_batch_size=4096,
        contamination=0.1,
        image_shape=None,
        device="auto",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        self.divergence = divergence
        self.boundary_divergence = boundary_divergence
        self.tau = tau
        self.nonsaturating = nonsaturating
        self.latent_dim = latent_dim
        self.critic_hidden_layer_sizes = critic_hidden_layer_sizes
        self.decoder_hidden_layer_sizes = decoder_hidden_layer_sizes
        self.activation = activation
        self.out_activation = out_activation
        self.base_channels = base_channels
        self.critic_architecture = critic_architecture
        self.spectral_norm = spectral_norm
        self.anomaly_spectral_norm = anomaly_spectral_norm
        self.lambda_r1 = lambda_r1
        self.n_critic = n_critic
        self.lr = lr
        self.critic_lr = critic_lr
        self.betas = betas
        self.task1_epochs = task1_epochs
        self.task2_epochs = task2_epochs
        self.task3_epochs = task3_epochs
        self.j_epochs = j_epochs
        self.mu = mu
        self.nu = nu
        self.n_reference = n_reference
        self.boundary_reference = boundary_reference
        self.boundary_critic = boundary_critic
        self.scatter_eps = scatter_eps
        self.alpha = alpha
        self.gamma = gamma
        self.beta = beta
        self.delta = delta
        self.lambda_fd = lambda_fd
        self.stop_after = stop_after
        self.batch_size = batch_size
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.image_shape = image_shape
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------ fitting
    _no_partial_fit = (
        "its training is a sequence of stages (a GAN, the boundary generator, the retrained GAN, the anomaly "
        "discriminator), each trained on all the data before the next starts from its networks, and its score "
        "standardises by statistics of all the training rows; train it with fit, or use AutoEncoderDetector, "
        "DeepSVDDDetector or MirroredAEDetector(select_best_epoch=False), which have partial_fit")

    def _check_params(self):
        self._check_betas()
        self._check_layer_sizes("critic_hidden_layer_sizes")
        self._check_layer_sizes("decoder_hidden_layer_sizes")

    def _divergence_remedy(self):
        advice = (f"Scale the input (e.g. MinMaxScaler in a Pipeline), lower the learning rates lr (now "
                  f"{self._resolved_lr():g}) and critic_lr (now {self.critic_lr!r}), or strengthen the critics' "
                  "Lipschitz control (")
        if not self.spectral_norm:
            advice += "spectral_norm=True, "
        return advice + f"a larger lambda_r1, now {self.lambda_r1:g})."

    def _resolve_divergences(self):
        tau = self.tau
        if tau == "auto":
            tau = 5.0 if self.image_shape_ is not None else 1.0
        divergence = get_divergence(self.divergence, tau=tau) if self.divergence == "klwgan" else \
            get_divergence(self.divergence)
        name = self.boundary_divergence
        if name == "auto":
            name = "kl" if self.divergence == "klwgan" else self.divergence
        boundary = get_divergence(name, tau=tau) if name == "klwgan" else get_divergence(name)
        return divergence, boundary

    def _fit_networks(self, X, y, seed):
        if np.all(X == X[0]):
            raise ValueError(
                f"OMASGANDetector: the training data has no spread (all {X.shape[0]} rows are identical), so there "
                "is no distribution for the generator to learn and no boundary around it. Check the input rows."
            )
        self.latent_dim_ = resolve_latent_dim(self.latent_dim, X.shape[1], self.image_shape_)
        self._check_params()
        self.divergence_, self.boundary_divergence_ = self._resolve_divergences()
        module = OMASGANModule(self._new_network("generator"), self._new_network("critic"))
        X32 = X.astype(np.float32)
        hp = self._hyperparameters()
        last = STAGES.index(self.stop_after)
        frames = []

        def run(stage, net_class, epochs, **data):
            phase = f"stage {len(frames) + 1}/{last + 1} {stage} ({_STAGE_DESCRIPTIONS[stage]})"
            net = net_class(module, hp=hp, loss_terms=_STAGE_TERMS[stage], max_epochs=epochs, phase=phase,
                            **self._net_kwargs(seed + len(frames)), **data)
            net.fit(X32)
            frame = _history_frame(net.history).reset_index()
            frame.insert(0, "stage", stage)
            frames.append(frame.rename(columns={"epoch": "stage_epoch"}))
            return net

        net = run("task1", _Task1Net, self.task1_epochs)
        if last >= 1:
            module.boundary_generator = self._copy_of(module.generator, "generator")
            if self.boundary_critic == "train":
                module.boundary_critic = self._copy_of(module.critic, "critic")
            reference = torch.as_tensor(X32) if self.boundary_reference == "data" else None
            centred = X - X.mean(axis=0)
            radius = float(np.sqrt(np.mean(np.sum(centred**2, axis=1))))
            net = run("task2", _Task2Net, self.task2_epochs, reference_data=reference, data_radius=radius)
            net.reference_data = None
        if last >= 2:
            module.retrained_generator = self._copy_of(module.generator, "generator")
            module.retrained_critic = self._copy_of(module.critic, "critic")
            net = run("task3", _Task3Net, self.task3_epochs)
        if last >= 3:
            module.anomaly_discriminator = self._new_network("anomaly_discriminator")
            net = run("j", _AnomalyDiscriminatorNet, self.j_epochs)
        self.net_ = net
        history = pd.concat(frames, ignore_index=True)
        history.index = pd.RangeIndex(1, len(history) + 1, name="epoch")
        self.generator_ = module.generator
        self.critic_ = module.critic
        self.boundary_generator_ = module.boundary_generator
        self.boundary_critic_ = module.boundary_critic
        self.retrained_generator_ = module.retrained_generator
        self.retrained_critic_ = module.retrained_critic
        self.anomaly_discriminator_ = module.anomaly_discriminator
        return history

    def _resolved_lr(self):
        """``lr`` with ``"auto"`` resolved for the networks of this fit (``image_shape_`` set by ``fit``)."""
        if self.lr != "auto":
            return self.lr
        return 2e-4 if getattr(self, "image_shape_", None) is not None else 1e-3

    def _resolved_hyperparameters(self):
        lr = self._resolved_lr()
        return {"latent_dim": self.latent_dim_, "divergence": self.divergence_,
                "boundary_divergence": self.boundary_divergence_, "betas": self._check_betas(), "lr": lr,
                "critic_lr": lr if self.critic_lr is None else self.critic_lr}

    def _new_network(self, kind):
        """An untrained ``"generator"`` (``G``, ``B``, ``G'``), ``"critic"`` (``D``, ``C``) or
        ``"anomaly_discriminator"`` (``J``)."""
        shapes = dict(image_shape=self.image_shape_, base_channels=self.base_channels, activation=self.activation)
        critic_sizes = self.critic_hidden_layer_sizes
        if kind == "generator":
            # make_decoder takes widths input side first; the parameter lists them latent side first.
            decoder_sizes = self.decoder_hidden_layer_sizes
            decoder_sizes = critic_sizes if decoder_sizes is None else tuple(decoder_sizes)[::-1]
            return make_decoder(self.latent_dim_, self.n_features_in_, out_activation=self.out_activation,
                                hidden_layer_sizes=decoder_sizes, **shapes)
        spectral_norm = self.anomaly_spectral_norm if kind == "anomaly_discriminator" else self.spectral_norm
        return make_critic(self.n_features_in_, spectral_norm=spectral_norm, architecture=self.critic_architecture,
                           hidden_layer_sizes=critic_sizes, **shapes)

    def _copy_of(self, network, kind):
        """A new ``kind`` network with ``network``'s weights.

        A fresh instance rather than a deepcopy: a deepcopy of a spectrally normalised module would share torch's
        parametrized class with the original, and freezing one would break the other.
        """
        clone = self._new_network(kind).to(next(network.parameters()).device)
        clone.load_state_dict(network.state_dict())
        return clone

    def _build_networks(self):
        """A net of untrained networks of the fitted architecture, for :func:`skanomaly.io.load`.

        The container holds the networks of every stage up to ``stop_after``, built as ``fit`` builds them; the
        net is of the last stage's class.
        """
        module = OMASGANModule(self._new_network("generator"), self._new_network("critic"))
        last = STAGES.index(self.stop_after)
        net_class = _Task1Net
        if last >= 1:
            module.boundary_generator = self._new_network("generator")
            if self.boundary_critic == "train":
                module.boundary_critic = self._new_network("critic")
            net_class = _Task2Net
        if last >= 2:
            module.retrained_generator = self._new_network("generator")
            module.retrained_critic = self._new_network("critic")
            net_class = _Task3Net
        if last >= 3:
            module.anomaly_discriminator = self._new_network("anomaly_discriminator")
            net_class = _AnomalyDiscriminatorNet
        return net_class(module, hp=self._hyperparameters())

    # ------------------------------------------------------------------------------------------ scoring
    def _critic_term(self, critic, x):
        """Per-sample variational term ``T(x)`` of a critic (higher = data side)."""
        return self.divergence_.per_sample_term(critic(x).squeeze(1))

    def _anomaly_terms(self, x):
        """Raw ``J(x)`` logit and ``fD(x) = -T_C(x)`` of a batch, shape (n, 2), both higher = more anomalous."""
        j = self.anomaly_discriminator_(x).squeeze(1)
        return torch.stack([j, -self._critic_term(self.retrained_critic_, x)], dim=1)

    def _fit_score_statistics(self, X):
        self.score_stats_ = None
        if self.stop_after != "j":
            return
        terms = self._batched(self._anomaly_terms, X)
        mean = terms.mean(axis=0)
        std = terms.std(axis=0)
        std = np.where(std > 1e-12 * (1.0 + np.abs(mean)), std, 1.0)
        self.score_stats_ = {"j_mean": float(mean[0]), "j_std": float(std[0]),
                             "fd_mean": float(mean[1]), "fd_std": float(std[1])}

    def _score_samples(self, X):
        if self.stop_after in ("task1", "task2"):
            return self._critic_term_scores(self.critic_, X)
        if self.stop_after == "task3":
            return self._critic_term_scores(self.retrained_critic_, X)
        terms = self._standardised_terms(X)
        return -(terms[:, 0] + self.lambda_fd * terms[:, 1])

    def _standardised_terms(self, X):
        """``J~`` and ``fD~`` of validated rows, shape (n, 2), each standardised with its training statistics."""
        terms = self._batched(self._anomaly_terms, X)
        stats = self.score_stats_
        terms[:, 0] = (terms[:, 0] - stats["j_mean"]) / stats["j_std"]
        terms[:, 1] = (terms[:, 1] - stats["fd_mean"]) / stats["fd_std"]
        return terms

    def _score_variants(self):
        # Task 1's critic is not changed by the later stages (Task 2 trains a copy when boundary_critic="train",
        # Task 3 retrains a copy), so the shorter ablations score from this fit. stop_after="task2" scores like
        # "task1" and is left out.
        variants = {}
        if self.stop_after in ("task3", "j"):
            variants["stop_after=task1"] = lambda X: self._critic_term_scores(self.critic_, X)
        if self.stop_after == "j":
            variants["stop_after=task3"] = lambda X: self._critic_term_scores(self.retrained_critic_, X)
            if self.lambda_fd != 0:
                # lambda_fd enters only the score (training and score_stats_ do not read it): J~ alone.
                variants["lambda_fd=0.0"] = lambda X: -self._standardised_terms(X)[:, 0]
        return variants

    def _network_normality(self, x, *, log_ndtr=None):
        """The score of :meth:`_score_samples` in torch operations (see
        :meth:`~skanomaly.base.BaseDetector._network_normality`)."""
        if self.stop_after in ("task1", "task2"):
            return self._critic_term(self.critic_, x)
        if self.stop_after == "task3":
            return self._critic_term(self.retrained_critic_, x)
        terms, stats = self._anomaly_terms(x), self.score_stats_
        j = (terms[:, 0] - stats["j_mean"]) / stats["j_std"]
        fd = (terms[:, 1] - stats["fd_mean"]) / stats["fd_std"]
        return -(j + self.lambda_fd * fd)

    def _critic_term_scores(self, critic, X):
        return self._batched(lambda x: self._critic_term(critic, x), X)

    def score_terms(self, X):
        """The two standardised terms of the anomaly score, ``J~(x)`` and ``fD~(x)`` (higher = more anomalous).

        Only for ``stop_after="j"``. ``anomaly_score(X) = J~ + lambda_fd * fD~``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        terms : pandas.DataFrame of shape (n_samples, 2)
            Columns ``"J"`` and ``"fD"``.
        """
        check_is_fitted(self)
        if self.stop_after != "j":
            raise ValueError(f"score_terms needs the full model, stop_after='j'; this detector stopped after "
                             f"{self.stop_after!r}.")
        terms = self._standardised_terms(self._validate_X(X, reset=False))
        return pd.DataFrame({"J": terms[:, 0], "fD": terms[:, 1]})

    # ------------------------------------------------------------------------------------------ sampling
    def _sample(self, network, n_samples, random_state):
        n_samples = _check_n_samples(n_samples)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        parameter = next(network.parameters())
        z = torch.randn(n_samples, self.latent_dim_, generator=generator, dtype=torch.float64)
        network.eval()
        with torch_threads(self.n_threads):
            samples = np.concatenate([part for _, part in no_grad_batches(
                network, z, self.batch_size, device=parameter.device, dtype=parameter.dtype)])
        if not np.all(np.isfinite(samples)):
            raise TrainingDivergedError("The generator produced non-finite samples; refit with a lower learning rate.")
        return samples

    def boundary_samples(self, n_samples, *, random_state=None):
        """Generated anomalies: samples ``B(z)`` of the boundary generator (Task 2), in input space.

        Parameters
        ----------
        n_samples : int
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the latent codes; ``None`` uses the detector's ``random_state`` (an int gives the same samples
            at every call, as :meth:`sklearn.mixture.GaussianMixture.sample` does).

        Returns
        -------
        samples : ndarray of shape (n_samples, n_features)
            Flat rows (reshape with ``image_shape_`` for images).

        Raises
        ------
        ValueError
            If the detector was fitted with ``stop_after="task1"`` (no boundary generator).
        """
        check_is_fitted(self)
        if self.boundary_generator_ is None:
            raise ValueError("The boundary generator is trained in Task 2; this detector used stop_after='task1'.")
        return self._sample(self.boundary_generator_, n_samples, random_state)

    def generate(self, n_samples, *, network="auto", random_state=None):
        """Samples of a generator in input space: ``G'(z)`` (Task 3) or ``G(z)`` (Task 1).

        Parameters
        ----------
        n_samples : int
            Number of samples.
        network : {"auto", "retrained", "task1"}, default="auto"
            ``"retrained"``: ``G'``; ``"task1"``: ``G``; ``"auto"``: ``G'`` when Task 3 was trained, else ``G``.
        random_state : int, RandomState instance or None, default=None
            As in :meth:`boundary_samples`.

        Returns
        -------
        samples : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        if network not in ("auto", "retrained", "task1"):
            raise ValueError(f"network must be 'auto', 'retrained' or 'task1', got {network!r}.")
        if network == "retrained" and self.retrained_generator_ is None:
            raise ValueError(f"G' is trained in Task 3; this detector used stop_after={self.stop_after!r}.")
        chosen = self.retrained_generator_
        if network == "task1" or chosen is None:
            chosen = self.generator_
        return self._sample(chosen, n_samples, random_state)
