"""Adversarial Mirrored AutoEncoder (AMA): mirrored Wasserstein critic, simplex interpolation, A-score."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import log_ndtr
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn.utils import parametrize

from ..base import BaseDetector, DetectorNet
from ..nn import (
    ACTIVATIONS,
    CRITIC_ARCHITECTURES,
    PairCritic,
    critic_feature_l1,
    frozen,
    gradient_penalty,
    make_critic,
    make_decoder,
    make_encoder,
    simplex_interpolate,
)
from ..utils import resolve_latent_dim

__all__ = ["AMADetector"]

_TERMS = ("critic_loss", "mirror", "interp", "negative", "latent_norm", "gradient_penalty")


class _MarginalCritic(nn.Module):
    """Critic of single samples with the pair interface: ``D(x, x') = D(x')`` (the ``mirrored=False`` ablation).

    ``D(x, x) - D(x, G(E(x)))`` then becomes ``D(x) - D(G(E(x)))``, the plain Wasserstein estimate between the
    data and the reconstructions (their marginals), and the feature-L1 score ``||f(x) - f(G(E(x)))||_1``.
    """

    def __init__(self, n_features, **kwargs):
        super().__init__()
        self.net = make_critic(n_features, **kwargs)

    def features(self, x, x_other):
        return self.net.features(x_other)

    def forward(self, x, x_other):
        return self.net(x_other).squeeze(1)


class _AMAModule(nn.Module):
    """Container of the three networks: ``encoder`` E, ``decoder`` (generator) G and pair ``critic`` D."""

    def __init__(self, encoder, decoder, critic):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.critic = critic

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def feature_l1(self, x):
        """``||f(x, x) - f(x, G(E(x)))||_1`` per sample, ``f`` the critic's penultimate features."""
        return critic_feature_l1(self.critic, x, self.decoder(self.encoder(x)))


class _AMANet(DetectorNet):
    """Trains an :class:`_AMAModule`: ``n_critic`` critic steps, then one encoder/generator step per batch.

    Parameters
    ----------
    module : _AMAModule
    hp : Hyperparameters
        :class:`AMADetector`'s, with ``latent_dim``, ``atypical_warmup_epochs`` and ``lr_milestones`` (in epochs)
        resolved.
    negatives : torch.Tensor or None
        Known anomalies (semi-supervised mode), used as negatives instead of synthetic ones.
    **kwargs
        Passed to :class:`~skanomaly.base.DetectorNet`.
    """

    # Simplex interpolation mixes every code with codes of other rows of its batch; a lone row could only be
    # mixed with itself, so a last batch of one row is dropped whatever the layers (and whatever n_interp, so
    # that the batches of a fit do not depend on it).
    drop_single_row_batch = True

    def __init__(self, module, *, hp, negatives=None, **kwargs):
        super().__init__(module, hp=hp, loss_terms=_TERMS, **kwargs)
        self.negatives = negatives

    def initialize_optimizer(self, triggered_directly=None):
        module = self.module_
        self.optimizer_ = self.make_optimizer(module.decoder)
        self.encoder_optimizer_ = self.make_optimizer(module.encoder, betas=self.hp.encoder_betas)
        self.critic_optimizer_ = self.make_optimizer(module.critic)
        return self

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Step decay of every learning rate: ``lr * lr_decay ** (number of milestones reached)``."""
        super().on_epoch_end(net, dataset_train=dataset_train, dataset_valid=dataset_valid, **kwargs)
        hp = self.hp
        done = len(self.history)
        lr = hp.lr * hp.lr_decay ** sum(done >= m for m in hp.lr_milestones)
        for optimizer in (self.optimizer_, self.encoder_optimizer_, self.critic_optimizer_):
            for group in optimizer.param_groups:
                group["lr"] = lr

    # ------------------------------------------------------------------------------------------- negatives
    def _n_negatives(self, n):
        """How many negatives a step with ``n`` normal rows draws (at least 2)."""
        fraction = self.hp.negative_fraction
        if fraction is None:
            return n
        return max(2, round(n * fraction / (1.0 - fraction)))

    def _shares(self, n, negatives):
        """Weights of the normal and the negative terms: their shares of the mixed batch, or (1, 1)."""
        if negatives is None or self.hp.negative_fraction is None:
            return 1.0, 1.0
        m = negatives.shape[0]
        return n / (n + m), m / (n + m)

    def _negatives(self, x):
        """Negatives of this step (detached), or None: known anomalies, else atypical samples after warm-up."""
        hp = self.hp
        n = self._n_negatives(x.shape[0])
        if self.negatives is not None:
            rows = torch.randint(self.negatives.shape[0], (n,), device=self.negatives.device)
            return self.negatives[rows].to(x.device)
        if hp.atypical_selection is None or len(self.history) <= hp.atypical_warmup_epochs:
            return None
        radius = hp.shell_radius
        if radius == "sqrt_dim":
            radius = math.sqrt(hp.latent_dim)
        elif radius == "median_norm":
            with torch.no_grad():
                radius = float(self.module_.encoder(x).norm(dim=1).median())
        if hp.atypical_selection == "inward":
            low, high = max(radius - hp.shell_width, 0.0), radius
        else:
            low, high = radius, radius + hp.shell_width
        direction = torch.randn(n, hp.latent_dim, device=x.device, dtype=x.dtype)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        norms = low + (high - low) * torch.rand(n, 1, device=x.device, dtype=x.dtype)
        decoder = self.module_.decoder
        decoder.eval()  # keep BatchNorm statistics of the generator to the data
        with torch.no_grad():
            negatives = decoder(direction * norms)
        decoder.train()
        return negatives

    # ---------------------------------------------------------------------------------------------- step
    @staticmethod
    def _split(rows, n, negatives):
        """``rows`` of a mixed batch split into the normal part and the negatives' part (None without negatives)."""
        return (rows, None) if negatives is None else (rows[:n], rows[n:])

    @staticmethod
    def _pairs(x, reconstruction, interpolation, index, negatives, negative_reconstruction):
        """The pairs the critic compares, by group: ``{name: (first members, second members)}``.

        ``"mirrored"`` ``(x, x)``, ``"reconstructed"`` ``(x, G(E(x)))``, ``"interpolated"`` ``(x_j, x_inter)`` for
        each of the ``k`` sources ``x_j`` of every interpolation, ``"negative_mirrored"`` ``(x-, x-)`` and
        ``"negative_reconstructed"`` ``(x-, G(E(x-)))``; a group without its inputs is left out.
        """
        pairs = {"mirrored": ([x], [x]), "reconstructed": ([x], [reconstruction])}
        if index is not None:
            pairs["interpolated"] = ([x[index[:, j]] for j in range(index.shape[1])], [interpolation] * index.shape[1])
        if negatives is not None:
            pairs["negative_mirrored"] = ([negatives], [negatives])
            pairs["negative_reconstructed"] = ([negatives], [negative_reconstruction])
        return pairs

    def _gaps(self, pairs):
        """Mirror gaps: batch means for the normal rows and the interpolations, one value per negative row.

        ``M(x, x') = D(x, x) - D(x, x')``; the interpolations' ``D(x_j, x_j)`` term is the batch mean of
        ``D(x, x)`` (each ``x_j`` runs over the batch), so the mirrored pairs are scored once. Every group is
        scored in one critic call (the critic has no BatchNorm, so a pair's value does not depend on the others).
        """
        firsts = [t for group, _ in pairs.values() for t in group]
        seconds = [t for _, group in pairs.values() for t in group]
        values = self.module_.critic(torch.cat(firsts), torch.cat(seconds))
        sizes = [sum(t.shape[0] for t in group) for group, _ in pairs.values()]
        d = dict(zip(pairs, values.split(sizes)))
        mirrored = d["mirrored"].mean()
        mirror = mirrored - d["reconstructed"].mean()
        interp = negative = values.new_zeros(())
        if "interpolated" in d:
            interp = mirrored - d["interpolated"].mean()
        if "negative_mirrored" in d:
            negative = d["negative_mirrored"] - d["negative_reconstructed"]
        return mirror, interp, negative

    def train_step_terms(self, X, y):
        hp = self.hp
        module = self.module_
        encoder, decoder, critic = module.encoder, module.decoder, module.critic
        k = hp.n_interp

        n = X.shape[0]
        negatives = self._negatives(X)
        normal_share, negative_share = self._shares(n, negatives)
        # The normal rows and the negatives pass through E and G as ONE mixed batch, as in the authors' script.
        # Separate calls would put the negatives' own batch statistics into the BatchNorm running estimates of
        # the conv encoder and generator, which scoring (eval mode) then applies to normal data.
        batch = X if negatives is None else torch.cat([X, negatives])
        all_codes = encoder(batch)
        codes, _ = self._split(all_codes, n, negatives)
        weights = index = interpolation = None
        with torch.no_grad():
            reconstruction, negative_reconstruction = self._split(decoder(all_codes), n, negatives)
            if k > 1:
                mixed, weights, index = simplex_interpolate(codes, k, method=hp.simplex_sampling,
                                                              high=hp.interp_high)
                interpolation = decoder(mixed)
        pairs = self._pairs(X, reconstruction, interpolation, index, negatives, negative_reconstruction)

        # Critic: maximise the mirrored gaps (minus the gradient penalty), n_critic steps on this batch. The
        # penalty covers the second member of every pair the critic compares with a mirrored one.
        penalty = X.new_zeros(())
        if hp.lambda_gp > 0:
            compared = [pairs[name] for name in ("reconstructed", "interpolated", "negative_reconstructed")
                        if name in pairs]
            firsts = torch.cat([t for group, _ in compared for t in group])
            seconds = torch.cat([t for _, group in compared for t in group])
        for _ in range(hp.n_critic):
            self.critic_optimizer_.zero_grad()
            with parametrize.cached():  # one spectral-norm power iteration per step, shared by all calls
                mirror, interp, negative = self._gaps(pairs)
                gain = (normal_share * mirror + hp.lambda_inter * interp
                        - hp.lambda_neg * negative_share * negative.mean())
                if hp.lambda_gp > 0:
                    penalty = gradient_penalty(lambda u: critic(firsts, u), firsts, seconds)
                critic_loss = -gain + hp.lambda_gp * penalty
                critic_loss.backward()
            self.critic_optimizer_.step()

        # Encoder and generator: one step on the same objective (the critic frozen), plus compact codes.
        with frozen(critic):
            self.optimizer_.zero_grad()
            self.encoder_optimizer_.zero_grad()
            interpolation = None
            if k > 1:
                interpolation = decoder(torch.einsum("nk,nkd->nd", weights, codes[index]))
            reconstruction, negative_reconstruction = self._split(decoder(all_codes), n, negatives)
            with parametrize.cached():
                mirror, interp, negative = self._gaps(
                    self._pairs(X, reconstruction, interpolation, index, negatives, negative_reconstruction))
            negative = negative.mean()
            latent_norm = codes.norm(dim=1).mean()
            loss = (normal_share * mirror + hp.lambda_inter * interp - hp.lambda_neg * negative_share * negative
                    + hp.lambda_latent_norm * latent_norm)
            loss.backward()
            self.optimizer_.step()
            self.encoder_optimizer_.step()
        return {"loss": loss, "critic_loss": critic_loss, "mirror": mirror, "interp": interp, "negative": negative,
                "latent_norm": latent_norm, "gradient_penalty": penalty}

    def anomaly_score(self, X):
        return self.module_.feature_l1(X)


def _resolve_schedule(max_epochs, atypical_warmup_epochs, lr_milestones):
    """Warm-up epochs (``"auto"``: 10 % of ``max_epochs``) and the epochs after which learning rates decay."""
    warmup = int(round(0.1 * max_epochs)) if atypical_warmup_epochs == "auto" else int(atypical_warmup_epochs)
    milestones = sorted(max(1, int(round(m * max_epochs))) for m in lr_milestones)
    return warmup, milestones


class AMADetector(BaseDetector):
    r"""Adversarial Mirrored AutoEncoder (AMA) anomaly detector.

    Somepalli, Wu, Balaji, Vinzamuri, Feizi, "Unsupervised Anomaly Detection with Adversarial Mirrored
    AutoEncoders", UAI 2021. An encoder :math:`E` and a generator (decoder) :math:`G` are trained against a
    Wasserstein critic :math:`D` that sees *pairs*: it tells the mirrored pair :math:`(x, x)` from the
    reconstruction pair :math:`(x, G(E(x)))`, which forces reconstructions that are semantically, not just
    pixel-wise, close to the input. Samples are scored with the critic's penultimate features :math:`f`.

    **Training objective.** With :math:`\hat x = G(E(x))` and the mirror gap
    :math:`M(x, x') = D(x, x) - D(x, x')`, per batch:

    .. math::

        L_{mir} &= \mathbb{E}_x\, M(x, \hat x) \\
        L_{int} &= \mathbb{E}\, \tfrac1k \textstyle\sum_{j=1}^{k} M\big(x_j, G(\sum_i \alpha_i E(x_i))\big),
            \quad \alpha_i \sim U[0, 0.5] \text{ normalised to sum 1 (simplex interpolation, } k
            = \texttt{n\_interp}) \\
        L_{neg} &= \mathbb{E}_{x^-}\, M(x^-, G(E(x^-))) \quad \text{(negatives } x^-\text{)} \\
        L_{norm} &= \mathbb{E}_x\, \lVert E(x) \rVert_2

    The paper's objective is the saddle point :math:`\min_{E,G} \max_D L` of
    :math:`L = w L_{mir} + \lambda_{inter} L_{int} - \lambda_{neg} w_- L_{neg} + \lambda_{norm} L_{norm}`,
    where :math:`w` and :math:`w_-` are the shares of normal rows and of negatives in the mixed batch
    (``negative_fraction``, below; :math:`w = 1` during the warm-up, :math:`w = w_- = 1` with
    ``negative_fraction=None``).
    The encoder and generator take one Adam step on :math:`L` per batch (recorded as ``train_loss``); before
    it, the critic takes ``n_critic`` Adam steps on the same batch that minimise ``critic_loss``
    :math:`= -(w L_{mir} + \lambda_{inter} L_{int} - \lambda_{neg} w_- L_{neg}) + \lambda_{gp} GP`, where
    ``GP`` is the WGAN-GP penalty of :math:`u \mapsto D(x, u)` on segments between
    :math:`x` and the second member of every pair the critic compares (:math:`\hat x`, the interpolations, the
    negatives' reconstructions) (``lambda_gp``; ``spectral_norm=True`` adds spectral normalisation).
    Because the Lipschitz critics form a symmetric class, the minus sign makes the critic score the negatives'
    pairs with the *reversed* orientation (reconstructed pairs high, mirrored pairs low), while the
    encoder/generator still reconstruct negatives well in that critic's eyes. The negatives thus shape the
    critic and its features: samples like them get atypically *low* feature-L1 scores, which the two-sided A-score
    flags.
    A variant in which the critic separates negatives' pairs like normal ones and the encoder/generator
    maximise their gap is unbounded (both players would widen the same gap) and is not offered.

    **Negatives.** ``atypical_selection="inward"`` (default) / ``"outward"``: after ``atypical_warmup_epochs``, each
    step adds negatives to its batch of :math:`n` normal rows so that they make up ``negative_fraction`` of the
    mixed batch (:math:`m = \max(2, \mathrm{round}(n f / (1 - f)))`; :math:`w = n / (n + m)`,
    :math:`w_- = m / (n + m)`), as the authors'
    released training script replaces 10 % of every batch by atypical samples and averages the label-weighted
    losses over the whole batch, so that ``lambda_neg=5`` weighs the negatives' term about 0.5 against 0.9 for
    the normal rows. The negatives decode latent codes drawn with uniform directions and norms uniform in
    :math:`[\max(r - \delta, 0), r]` (inward) or :math:`[r, r + \delta]` (outward), where :math:`r` is the
    median norm of the batch's codes (``shell_radius``); ``None`` disables them. The paper puts the shell at
    :math:`r = \sqrt{d}` (``shell_radius="sqrt_dim"``), the radius at which codes of a standard normal would lie.
    The latent regulariser shrinks the codes far inside that sphere, so the default follows the codes, a
    documented deviation from the paper (the user guide gives the measured code norms). The normal rows and the negatives pass through
    :math:`E` and :math:`G` as one batch, so the BatchNorm statistics of conv encoders and generators are those
    of the mixed batch and their running estimates, used for scoring, stay with the normal data.
    **Semi-supervised mode** (``semi_supervised=True``): ``fit(X, y)`` with labels ``y`` (1 = anomaly,
    0 = normal) trains on the normal rows only and draws the negatives of every step (from the first epoch) from
    the rows with ``y == 1`` (with replacement, as many as for synthetic ones) instead of synthetic ones. With
    ``semi_supervised=False``, ``y`` is ignored, as scikit-learn requires.

    **Scores.** The feature-L1 score (the paper's R-score)
    :math:`R(x) = \lVert f(x, x) - f(x, G(E(x))) \rVert_1`; after training, its mean :math:`\mu` and standard
    deviation :math:`\sigma` on the (normal) training rows are stored. The A-score is the two-sided
    Gaussian tail probability :math:`A(x) = 2\,\Phi(-|R(x) - \mu| / \sigma)`, so scores
    atypically high *or* low are anomalous; it ranks samples as the Gaussian density of :math:`R(x)` does.
    ``score_samples`` returns :math:`\log A(x)` (``score_type="a_score"``, default), computed in log space
    (``log_ndtr``) so that it stays finite far into the tail; deviations beyond about :math:`10^{154}\sigma`,
    whose log tail probability is below float64's range, all get the lowest finite float64. With
    ``score_type="feature_l1"`` it returns :math:`-R(x)`. Scoring never depends on the batch size (no BatchNorm
    in the critic, eval mode, float64). The paper's model selection with labelled anomalies is not reproduced:
    the last epoch is kept.

    **Ablations** (each a parameter): ``mirrored=False`` (critic on single samples: plain Wasserstein between
    the data and the reconstructions), ``n_interp=1`` (no interpolation), ``atypical_selection=None``
    (no negatives), ``score_type="feature_l1"`` (feature-L1 score instead of A-score), ``lambda_latent_norm=0``
    (no latent regulariser).

    **Optimisation** (supplement): Adam, ``lr=3e-4``, betas ``(0, 0.9)`` for G and D and ``(0.5, 0.9)`` for E;
    every learning rate is multiplied by ``lr_decay=0.1`` after the fractions ``lr_milestones=(0.3, 0.6, 0.9)``
    of ``max_epochs`` (30/60/90 of 100 epochs).

    Tabular rows use MLPs (scale them first, e.g. ``make_pipeline(MinMaxScaler(), AMADetector())``);
    images (``image_shape`` set, or 3-D/4-D input) use a DCGAN-style conv encoder/generator and a conv pair
    critic (``2C`` channels, no BatchNorm; residual on 32x32 images, see ``critic_architecture``).

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Code width :math:`d`. ``"auto"``: 32 for images, ``clip(n_features // 4, 2, 32)`` for tabular rows.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden widths of the MLP encoder, input side first.
    decoder_hidden_layer_sizes : tuple of int or None, default=None
        Hidden widths of the MLP generator, *latent side first* (e.g. ``(64, 128)`` for the paper's KDD99
        generator 32-64-128-121); ``None`` mirrors ``hidden_layer_sizes``.
    critic_hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of the MLP pair critic; the last one is the width of the features :math:`f`.
    activation : str, default="leaky_relu"
        Hidden activation of every MLP.
    out_activation : str or None, default=None
        Output activation of the generator (``None``: linear).
    base_channels : int, default=32
        Channels of the first conv stage of every conv net (images only).
    critic_architecture : {"auto", "dcgan", "resnet"}, default="auto"
        Conv critics (images only): DCGAN-style strided convolutions, or SN-GAN-style residual blocks with
        ``4 * base_channels`` channels (:class:`~skanomaly.nn.ResidualCritic`, far costlier). ``"auto"``: residual
        for 32x32 images (the AMA supplement's choice), DCGAN-style otherwise.
    mirrored : bool, default=True
        Mirrored pair critic; ``False`` is the ablation with a critic on single samples.
    n_interp : int >= 1, default=3
        Codes per simplex interpolation :math:`k`; 1 disables the interpolation term.
    simplex_sampling : {"uniform", "dirichlet"}, default="uniform"
        Distribution of the simplex weights (see :func:`skanomaly.nn.simplex_weights`): ``"uniform"`` draws
        ``alpha_i ~ U[0, interp_high]`` and normalises them (paper); ``"dirichlet"`` is uniform on the simplex,
        the Mirrored AE's default.
    interp_high : float > 0, default=0.5
        Upper bound of the uniform draws of the simplex weights (``simplex_sampling="uniform"``).
    lambda_inter : float >= 0, default=0.5
        Weight of the interpolation term.
    lambda_latent_norm : float, default=1.0
        Weight of the latent-norm term :math:`L_{norm}`, the mean code norm (the paper's latent regulariser).
    atypical_selection : {"inward", "outward"} or None, default="inward"
        Synthetic negatives from inside or outside the latent shell, or none.
    shell_radius : "median_norm", "sqrt_dim" or float, default="median_norm"
        Radius :math:`r` of the shell: the median code norm of the batch, :math:`\sqrt{d}` (paper), or a value.
    shell_width : float, default=0.5
        Width :math:`\delta` of the shell.
    lambda_neg : float, default=5.0
        Weight of the negatives' term.
    negative_fraction : float in (0, 1) or None, default=0.1
        Share of negatives in each mixed batch; both terms are weighted by their shares (see above). ``None``
        draws as many negatives as the batch has rows and gives both terms full weight (:math:`w = 1`,
        negatives weighted by ``lambda_neg`` alone), about nine times more negative weight than the
        authors' script.
    atypical_warmup_epochs : int or "auto", default="auto"
        Epochs without synthetic negatives; ``"auto"`` is ``round(0.1 * max_epochs)`` (10 of 100 epochs).
    semi_supervised : bool, default=False
        Use the anomalies labelled in ``y`` as negatives (see above).
    score_type : {"a_score", "feature_l1"}, default="a_score"
        What :meth:`score_samples` returns: the log A-score or minus the feature-L1 score R.
    n_critic : int >= 1, default=5
        Critic steps per encoder/generator step.
    spectral_norm : bool, default=False
        Spectral normalisation of the critic's layers (on top of, or instead of, the gradient penalty).
    lambda_gp : float >= 0, default=10.0
        Weight of the gradient penalty; 0 disables it. The default Lipschitz control is the gradient penalty
        alone (the user guide says how it was chosen without anomaly labels).
    lr : float > 0, default=3e-4
        Adam learning rate of all three networks.
    betas : tuple of two floats in [0, 1), default=(0.0, 0.9)
        Adam betas of the generator and the critic.
    encoder_betas : tuple of two floats in [0, 1), default=(0.5, 0.9)
        Adam betas of the encoder.
    lr_milestones : tuple of float, default=(0.3, 0.6, 0.9)
        Fractions of ``max_epochs`` after which the learning rates are multiplied by ``lr_decay``.
    lr_decay : float, default=0.1
        Factor of each learning-rate decay.
    max_epochs : int, default=100
        Training epochs (paper). The paper keeps the epoch that scores best on labelled anomalies; here the last
        epoch is kept. Few epochs on a small data set leave few steps before the first decay: prefer more
        epochs (or later ``lr_milestones``) to fewer.
    batch_size : int, default=64
        Training mini-batch size.
    score_batch_size : int, default=4096
        Rows per scoring batch; scores do not depend on it.
    contamination : float in (0, 0.5], default=0.1
        Expected outlier share of the training data; sets ``offset_`` for :meth:`predict`.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of flattened image rows, to use conv nets.
    device : str, default="auto"
    n_threads : int or None, default=1
        Torch CPU threads during fit and scoring, set and restored around them. The default makes the fit and
        its scores the same on any machine; more threads can be faster (conv nets), ``None`` keeps torch's own
        setting (one thread per core), with scores that then depend on the machine.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_`` holds ``encoder``, ``decoder`` and ``critic``.
    latent_dim_ : int
    atypical_warmup_epochs_ : int
        Warm-up epochs used.
    lr_milestones_ : list of int
        Epochs after which the learning rates were multiplied by ``lr_decay``.
    feature_l1_mean_, feature_l1_std_ : float
        Mean and standard deviation of the training feature-L1 scores (normal rows), used by the A-score.
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of the training scores.
    history_ : pandas.DataFrame
        Per-epoch means of ``train_loss`` (:math:`L_{EG}`), ``critic_loss``, ``mirror``, ``interp``,
        ``negative``, ``latent_norm`` and ``gradient_penalty`` (0 where a term is switched off).
    n_epochs_ : int
    device_ : torch.device
    image_shape_ : tuple of int or None
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    See Also
    --------
    skanomaly.detectors.AutoEncoderDetector : plain autoencoder baseline.
    skanomaly.detectors.MirroredAEDetector : mirrored autoencoder with simplex interpolation.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skanomaly.datasets import load_thyroid
    >>> from skanomaly.detectors.ama import AMADetector
    >>> X, y = load_thyroid(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), AMADetector(latent_dim=4, hidden_layer_sizes=(12,),
    ...                                                     max_epochs=2, n_critic=1, random_state=0))
    >>> scores = model.fit(X[y == 0][:500]).score_samples(X)  # higher = more normal
    >>> scores.shape
    (3772,)
    """

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_layer_sizes": [tuple],
        "decoder_hidden_layer_sizes": [tuple, None],
        "critic_hidden_layer_sizes": [tuple],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "out_activation": [StrOptions(set(ACTIVATIONS)), None],
        "base_channels": [Interval(Integral, 1, None, closed="left")],
        "critic_architecture": [StrOptions(set(CRITIC_ARCHITECTURES))],
        "mirrored": ["boolean"],
        "n_interp": [Interval(Integral, 1, None, closed="left")],
        "simplex_sampling": [StrOptions({"dirichlet", "uniform"})],
        "interp_high": [Interval(Real, 0, None, closed="neither")],
        "lambda_inter": [Interval(Real, 0, None, closed="left")],
        "lambda_latent_norm": [Interval(Real, 0, None, closed="left")],
        "atypical_selection": [StrOptions({"inward", "outward"}), None],
        "shell_radius": [StrOptions({"sqrt_dim", "median_norm"}), Interval(Real, 0, None, closed="neither")],
        "shell_width": [Interval(Real, 0, None, closed="neither")],
        "lambda_neg": [Interval(Real, 0, None, closed="left")],
        "negative_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "atypical_warmup_epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "semi_supervised": ["boolean"],
        "score_type": [StrOptions({"a_score", "feature_l1"})],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
        "spectral_norm": ["boolean"],
        "lambda_gp": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "betas": [tuple],
        "encoder_betas": [tuple],
        "lr_milestones": [tuple],
        "lr_decay": [Interval(Real, 0, 1, closed="right")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        latent_dim="auto",
        hidden_layer_sizes=(64,),
        decoder_hidden_layer_sizes=None,
        critic_hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        out_activation=None,
        base_channels=32,
        critic_architecture="auto",
        mirrored=True,
        n_interp=3,
        simplex_sampling="uniform",
        interp_high=0.5,
        lambda_inter=0.5,
        lambda_latent_norm=1.0,
        atypical_selection="inward",
        shell_radius="median_norm",
        shell_width=0.5,
        lambda_neg=5.0,
        negative_fraction=0.1,
        atypical_warmup_epochs="auto",
        semi_supervised=False,
        score_type="a_score",
        n_critic=5,
        spectral_norm=False,
        lambda_gp=10.0,
        lr=3e-4,
        betas=(0.0, 0.9),
        encoder_betas=(0.5, 0.9),
        lr_milestones=(0.3, 0.6, 0.9),
        lr_decay=0.1,
        max_epochs=100,
        batch_size=64,
        score_batch_size=4096,
        contamination=0.1,
        image_shape=None,
        device="auto",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_hidden_layer_sizes = decoder_hidden_layer_sizes
        self.critic_hidden_layer_sizes = critic_hidden_layer_sizes
        self.activation = activation
        self.out_activation = out_activation
        self.base_channels = base_channels
        self.critic_architecture = critic_architecture
        self.mirrored = mirrored
        self.n_interp = n_interp
        self.simplex_sampling = simplex_sampling
        self.interp_high = interp_high
        self.lambda_inter = lambda_inter
        self.lambda_latent_norm = lambda_latent_norm
        self.atypical_selection = atypical_selection
        self.shell_radius = shell_radius
        self.shell_width = shell_width
        self.lambda_neg = lambda_neg
        self.negative_fraction = negative_fraction
        self.atypical_warmup_epochs = atypical_warmup_epochs
        self.semi_supervised = semi_supervised
        self.score_type = score_type
        self.n_critic = n_critic
        self.spectral_norm = spectral_norm
        self.lambda_gp = lambda_gp
        self.lr = lr
        self.betas = betas
        self.encoder_betas = encoder_betas
        self.lr_milestones = lr_milestones
        self.lr_decay = lr_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.image_shape = image_shape
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        """Fit the detector on (mostly) normal data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or images of shape (n_samples, H, W) or
            (n_samples, C, H, W)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            With ``semi_supervised=True``: labels, 1 = known anomaly (used as a negative, not trained on as
            normal data), 0 = normal. Ignored otherwise.

        Returns
        -------
        self : object
            The fitted detector.
        """
        return super().fit(X, y)

    # ---------------------------------------------------------------------------------------------- fitting
    _no_partial_fit = (
        "its schedule is set by the length of the whole training (the learning rates decay after fractions of "
        "max_epochs, the synthetic negatives start after a warm-up of epochs over all the data) and its A-score "
        "standardises by statistics of all the training rows; train it with fit, or use AutoEncoderDetector, "
        "DeepSVDDDetector or MirroredAEDetector(select_best_epoch=False), which have partial_fit")

    def _divergence_remedy(self):
        advice = (f"Scale the input (e.g. MinMaxScaler in a Pipeline), lower the learning rate lr (now "
                  f"{self.lr:g}), or strengthen the critic's Lipschitz control (a larger lambda_gp, now "
                  f"{self.lambda_gp:g}")
        return advice + (")." if self.spectral_norm else ", or spectral_norm=True).")

    def _split_semi_supervised(self, X, y):
        """Normal-row mask of the training data (all rows unless semi-supervised)."""
        if not self.semi_supervised:
            return np.ones(X.shape[0], dtype=bool)
        if y is None:
            raise ValueError("semi_supervised=True needs labels: call fit(X, y) with y = 1 for known anomalies, "
                             "0 for normal rows.")
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with one label per row of X ({X.shape[0]}), got shape {y.shape}.")
        if not np.all(np.isin(y, (0, 1))):
            raise ValueError(f"y must hold 0 (normal) and 1 (anomaly) only, got values {np.unique(y)[:10]!r}.")
        normal = y == 0
        if normal.sum() < 2:
            raise ValueError(f"semi_supervised=True needs at least 2 normal rows (y == 0), got {normal.sum()}.")
        if normal.all():
            raise ValueError("semi_supervised=True but y marks no anomaly (no y == 1): pass known anomalies, or "
                             "use semi_supervised=False for synthetic negatives.")
        return normal

    def _fit_networks(self, X, y, seed):
        if not all(isinstance(m, Real) and 0 < m <= 1 for m in self.lr_milestones):
            raise ValueError(f"lr_milestones must be fractions of max_epochs in (0, 1], got {self.lr_milestones!r}.")
        normal = self._split_semi_supervised(X, y)
        self.latent_dim_ = resolve_latent_dim(self.latent_dim, X.shape[1], self.image_shape_)
        self.atypical_warmup_epochs_, self.lr_milestones_ = _resolve_schedule(
            self.max_epochs, self.atypical_warmup_epochs, self.lr_milestones)
        negatives = None
        if not normal.all():
            negatives = torch.tensor(X[~normal], dtype=torch.float32, device=self.device_)
        self.net_ = self._build_networks(negatives=negatives, max_epochs=self.max_epochs, **self._net_kwargs(seed))
        self.net_.fit(X[normal].astype("float32"))
        self.net_.negatives = None  # the known anomalies are not part of the fitted model
        self._normal_rows = normal  # read (and removed) by _fit_score_statistics

    def _resolved_hyperparameters(self):
        return {"latent_dim": self.latent_dim_, "atypical_warmup_epochs": self.atypical_warmup_epochs_,
                "lr_milestones": self.lr_milestones_, "betas": self._check_betas("betas"),
                "encoder_betas": self._check_betas("encoder_betas")}

    def _build_networks(self, **net_kwargs):
        """The net of untrained networks of the fitted architecture: ``fit`` trains it, :func:`skanomaly.io.load`
        fills it with stored weights."""
        n_features = self.n_features_in_
        hidden = self._check_layer_sizes("hidden_layer_sizes")
        decoder_hidden = self._check_layer_sizes("decoder_hidden_layer_sizes")
        critic_hidden = self._check_layer_sizes("critic_hidden_layer_sizes", allow_empty=False)
        arch = dict(image_shape=self.image_shape_, base_channels=self.base_channels, activation=self.activation)
        encoder = make_encoder(n_features, self.latent_dim_, hidden_layer_sizes=hidden, **arch)
        # make_decoder takes widths input side first (as for the encoder); the parameter lists them latent side first.
        decoder_sizes = hidden if decoder_hidden is None else tuple(decoder_hidden)[::-1]
        decoder = make_decoder(self.latent_dim_, n_features, hidden_layer_sizes=decoder_sizes,
                               out_activation=self.out_activation, **arch)
        critic_kwargs = dict(hidden_layer_sizes=critic_hidden, spectral_norm=self.spectral_norm,
                             architecture=self.critic_architecture, **arch)
        if self.mirrored:
            critic = PairCritic(n_features, **critic_kwargs)
        else:
            critic = _MarginalCritic(n_features, **critic_kwargs)
        return _AMANet(_AMAModule(encoder, decoder, critic), hp=self._hyperparameters(), **net_kwargs)

    def _fit_score_statistics(self, X):
        normal = getattr(self, "_normal_rows", None)
        if normal is not None:
            del self._normal_rows
            X = X[normal]
        l1 = self._batched(self.net_.anomaly_score, X)
        self.feature_l1_mean_ = float(np.mean(l1))
        self.feature_l1_std_ = float(max(np.std(l1), 1e-12))

    # ---------------------------------------------------------------------------------------------- scoring
    def feature_l1(self, X):
        """Feature-L1 score of each sample, ``||f(x, x) - f(x, G(E(x)))||_1`` (higher = more anomalous).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        l1 : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._batched(self.net_.anomaly_score, self._validate_X(X, reset=False))

    def _score_samples(self, X, score_type=None):
        l1 = self._batched(self.net_.anomaly_score, X)
        if (score_type or self.score_type) == "feature_l1":
            return -l1
        z = np.abs(l1 - self.feature_l1_mean_) / self.feature_l1_std_
        log_a = math.log(2.0) + log_ndtr(-z)
        # log_ndtr is exact until -z**2 / 2 leaves the float64 range (z above about 1.3e154), then -inf.
        return np.maximum(log_a, -np.finfo(np.float64).max)

    def _network_normality(self, x, *, log_ndtr=None, score_type=None):
        """The score of :meth:`_score_samples` in torch operations (see
        :meth:`~skanomaly.base.BaseDetector._network_normality`): ``log 2 + log Phi(-z)``,
        ``z = |feature_l1 - feature_l1_mean_| / feature_l1_std_``, or minus the feature-L1 score."""
        l1 = self.net_.anomaly_score(x)
        if (score_type or self.score_type) == "feature_l1":
            return -l1
        z = torch.abs(l1 - self.feature_l1_mean_) / self.feature_l1_std_
        log_a = math.log(2.0) + (torch.special.log_ndtr if log_ndtr is None else log_ndtr)(-z)
        return torch.clamp(log_a, min=-torch.finfo(log_a.dtype).max)

    def _score_variants(self):
        other = "a_score" if self.score_type == "feature_l1" else "feature_l1"
        return {f"score_type={other}": lambda X: self._score_samples(X, score_type=other)}
