"""Mirrored autoencoder with simplex interpolation (Wu, Balaji, Vinzamuri & Feizi)."""

import math
from numbers import Integral, Real

import torch
from skorch.callbacks import Callback
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..base import BaseDetector, DetectorNet
from ..nn import (
    ACTIVATIONS,
    CRITIC_ARCHITECTURES,
    PairCritic,
    critic_feature_l1,
    frozen,
    gradient_penalty,
    latent_norm_hinge,
    make_decoder,
    make_encoder,
    no_grad_batches,
    simplex_interpolate,
)

__all__ = ["MirroredAEDetector"]

_LOSS_TERMS = (
    "critic_loss",
    "wasserstein",
    "gradient_penalty",
    "inter_critic_loss",
    "mirror_loss",
    "interp_loss",
    "latent_hinge",
    "feature_l1",
)


class _MirroredAEModule(nn.Module):
    """Container of the four networks: encoder ``E``, generator ``G``, critics ``D_recon`` and ``D_inter``."""

    def __init__(self, encoder, decoder, recon_critic, inter_critic):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.recon_critic = recon_critic
        self.inter_critic = inter_critic

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def feature_l1(self, x):
        """Per-sample L1 distance between the ``D_recon`` features of ``(x, x)`` and ``(x, G(E(x)))``."""
        return critic_feature_l1(self.recon_critic, x, self(x))


class _MirroredAENet(DetectorNet):
    """Alternating training of the two critics and the autoencoder; see :class:`MirroredAEDetector`.

    ``optimizer_`` updates ``E`` and ``G``; ``critic_optimizer_`` updates ``D_recon`` and ``D_inter`` (``critic_lr``).
    """

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        # Before print_log, so that the selection metric shows in the verbose table.
        position = [name for name, _ in callbacks].index("print_log")
        selector = _BestEpochSelector(self.hp.selection_warmup_epochs, enabled=self.hp.select_best_epoch)
        callbacks.insert(position, ("epoch_selector", selector))
        return callbacks

    def initialize_optimizer(self, triggered_directly=None):
        module = self.module_
        self.optimizer_ = self.make_optimizer(module.encoder, module.decoder)
        self.critic_optimizer_ = self.make_optimizer(module.recon_critic, module.inter_critic, lr=self.hp.critic_lr)
        return self

    def _inter_critic_outputs(self, X, x_inter, index):
        """``D_inter(x_i, x_inter)`` for every mixed row and each of its ``m`` sources, shape (n, m)."""
        n, m = index.shape
        sources = X[index.reshape(-1)]
        mixed = x_inter.unsqueeze(1).expand(n, m, x_inter.shape[1]).reshape(n * m, -1)
        return self.module_.inter_critic(sources, mixed).reshape(n, m)

    def train_step_terms(self, X, y):
        hp, module = self.hp, self.module_
        recon_critic, inter_critic = module.recon_critic, module.inter_critic
        interpolate = hp.n_interp > 1
        zero = X.new_zeros(())

        # The autoencoder's outputs for this batch; the critics see them detached.
        z = module.encoder(X)
        x_hat = module.decoder(z)
        if interpolate:
            z_mix, weights, index = simplex_interpolate(z, hp.n_interp, method=hp.simplex_sampling,
                                                            high=hp.interp_high)
            x_inter = module.decoder(z_mix)

        # ---- critics: D_recon maximises the mirrored Wasserstein estimate, D_inter regresses 1 - alpha_i.
        x_hat_fixed = x_hat.detach()
        for _ in range(hp.n_critic):
            self.critic_optimizer_.zero_grad()
            wasserstein = recon_critic(X, X).mean() - recon_critic(X, x_hat_fixed).mean()
            penalty = zero
            if hp.lambda_gp > 0:
                penalty = gradient_penalty(lambda u: recon_critic(X, u), X, x_hat_fixed)
            critic_loss = -wasserstein + hp.lambda_gp * penalty
            inter_critic_loss = zero
            if interpolate:
                predicted = self._inter_critic_outputs(X, x_inter.detach(), index)
                inter_critic_loss = torch.mean((predicted - (1.0 - weights)) ** 2)
            (critic_loss + inter_critic_loss).backward()
            self.critic_optimizer_.step()

        # ---- autoencoder: fool D_recon, make interpolants look like their sources, keep codes in the ball.
        with frozen(recon_critic, inter_critic):
            self.optimizer_.zero_grad()
            real_pairs = recon_critic(X, X).mean().detach()
            mirror_loss = real_pairs - recon_critic(X, x_hat).mean()
            interp_loss = zero
            if interpolate:
                outputs = self._inter_critic_outputs(X, x_inter, index)
                interp_loss = torch.mean(torch.sum(weights * outputs**2, dim=1))
            latent_hinge = latent_norm_hinge(z, hp.latent_radius)
            loss = mirror_loss + hp.lambda_inter * interp_loss + hp.lambda_latent_hinge * latent_hinge
            loss.backward()
            self.optimizer_.step()

        with torch.no_grad():
            feature_l1 = critic_feature_l1(recon_critic, X, x_hat.detach()).mean()
        return {
            "loss": loss,
            "critic_loss": critic_loss,
            "wasserstein": wasserstein,
            "gradient_penalty": penalty,
            "inter_critic_loss": inter_critic_loss,
            "mirror_loss": mirror_loss,
            "interp_loss": interp_loss,
            "latent_hinge": latent_hinge,
            "feature_l1": feature_l1,
        }

    def anomaly_score(self, X):
        return self.module_.feature_l1(X)


class _BestEpochSelector(Callback):
    """Keep the networks of the epoch with the lowest mean training feature-L1, after a warm-up.

    At the end of every epoch the mean feature-L1 of the training data is computed with the current networks
    in eval mode (the statistic the scores use) and recorded as ``train_feature_l1``. From epoch
    ``selection_warmup_epochs + 1`` on, an in-memory copy of the module state is kept whenever the value is the
    lowest so far; at the end of training that copy is loaded back. With no epoch past the warm-up, the last epoch
    is kept.
    """

    def __init__(self, selection_warmup_epochs, enabled=True):
        self.selection_warmup_epochs = selection_warmup_epochs
        self.enabled = enabled

    def initialize(self):
        self.best_epoch_ = None
        self.best_value_ = math.inf
        self._best_state = None
        return self

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        epoch = len(net.history)
        value = _mean_feature_l1(net, dataset_train.X)
        net.history.record("train_feature_l1", value)
        if not self.enabled or epoch <= self.selection_warmup_epochs:
            return
        if value < self.best_value_:
            self.best_value_ = value
            self.best_epoch_ = epoch
            self._best_state = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}

    def on_train_end(self, net, **kwargs):
        if self._best_state is not None:
            net.module_.load_state_dict(self._best_state)
        else:
            self.best_epoch_ = len(net.history)
        self._best_state = None  # no copy of the weights stays around after fit


def _mean_feature_l1(net, X):
    """Mean feature-L1 of float32 training rows with the current networks, in eval mode and without gradients."""
    module = net.module_
    was_training = module.training
    net._set_training(False)
    total = 0.0
    try:
        for _, part in no_grad_batches(lambda batch: module.feature_l1(batch).sum(), X, max(net.batch_size, 256),
                                       device=net.device, dtype=None):
            total += float(part)
    finally:
        net._set_training(was_training)
    return total / X.shape[0]


class MirroredAEDetector(BaseDetector):
    r"""Mirrored autoencoder with simplex interpolation, scored by critic-feature distances.

    Wu, Balaji, Vinzamuri & Feizi, "Mirrored Autoencoders with Simplex Interpolation for Unsupervised Anomaly
    Detection" (arXiv:2003.10713). An encoder ``E`` and a generator ``G`` are trained without any L_p
    reconstruction loss: a Wasserstein critic ``D_recon`` on *pairs* compares ``(x, x)`` with
    ``(x, G(E(x)))`` (the "mirrored" loss, a semantic reconstruction), and a second critic ``D_inter`` shapes the
    latent space by judging decoded convex combinations of codes. The anomaly score is the L1 distance between
    the penultimate ``D_recon`` features of ``(x, x)`` and ``(x, G(E(x)))``.

    **Objectives** (expectations over training batches ``x``; ``x_hat = G(E(x))``; for simplex interpolation,
    ``m = n_interp`` batch members ``x_1 = x, x_2, ..., x_m`` (random permutations of the batch), weights
    ``alpha`` on the simplex and ``x_inter = G(sum_i alpha_i E(x_i))``):

    - ``D_recon`` (WGAN critic; spectral norm and/or gradient penalty) minimises

      .. math:: -\left(\mathbb{E}[D_r(x, x)] - \mathbb{E}[D_r(x, \hat x)]\right)
                + \lambda_{gp}\, \mathbb{E}\left[(\lVert \nabla_u D_r(x, u) \rVert_2 - 1)^2\right],

      with ``u`` on the segments between ``x`` and ``x_hat`` (``lambda_gp``).
    - ``D_inter`` regresses the share of each source that is *missing* from the interpolant:

      .. math:: \mathbb{E}\Big[\tfrac{1}{m} \sum_{i=1}^{m} \big(D_i(x_i, x_{inter}) - (1 - \alpha_i)\big)^2\Big].

    - ``E`` and ``G`` minimise

      .. math:: \mathbb{E}[D_r(x, x)] - \mathbb{E}[D_r(x, \hat x)]
                + \lambda_{inter}\, \mathbb{E}\Big[\sum_{i=1}^{m} \alpha_i\, D_i(x_i, x_{inter})^2\Big]
                + \lambda_{hinge}\, \mathbb{E}\big[\max(\lVert E(x) \rVert_2 - r, 0)\big],

      with ``r = sqrt(latent_dim)`` by default (``lambda_inter``, ``lambda_latent_hinge``, ``latent_radius``).

    Each iteration runs ``n_critic`` steps of both critics on the batch, then one step of ``E`` and ``G``.
    ``n_interp=1`` switches the interpolation off (``alpha = 1`` makes the regression target a constant 0, so
    ``D_inter`` carries no information and is not trained); ``n_interp=2`` is pairwise interpolation.

    **Score**: ``R(x) = || f(x, x) - f(x, G(E(x))) ||_1`` with ``f`` the penultimate features of ``D_recon``;
    :meth:`score_samples` returns ``-R(x)`` (higher = more normal).

    **Unsupervised model selection** (the paper's criterion; no labels are used): after every epoch the mean
    ``R`` of the training data is computed with the current networks (``history_["train_feature_l1"]``); after
    ``selection_warmup_epochs`` epochs, the networks of the epoch with the lowest value are kept in memory and
    restored at the end of :meth:`fit` (``best_epoch_``). ``select_best_epoch=False`` keeps the last epoch.

    Decisions where the paper leaves freedom (all parameters): the simplex weights are drawn uniformly on the
    simplex (Dirichlet(1, ..., 1), ``simplex_sampling="dirichlet"``), so ``D_inter`` sees every target in
    [0, 1] including near-reconstructions; AMA's recipe (``U[0, 0.5]`` normalised) is
    ``simplex_sampling="uniform"``. ``D_recon`` is Lipschitz-controlled by the WGAN-GP penalty by default
    (``lambda_gp=10``, ``n_critic=3``; spectral norm is the option ``spectral_norm``); ``D_inter`` is a
    plain regressor (no spectral norm). No critic has BatchNorm. The optimiser defaults (Adam, ``lr=1e-3``)
    were chosen without labels (see the user guide).

    Tabular rows use MLPs (scale them first, e.g. ``make_pipeline(MinMaxScaler(), MirroredAEDetector())``);
    images (``image_shape`` set, or 3-D/4-D input) use DCGAN-style conv nets and conv pair critics that stack
    ``x`` and its partner channel-wise (residual critics on 32x32 images, see ``critic_architecture``).
    Per-dataset settings of the paper's supplement are in :mod:`skanomaly.detectors.presets`.

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Code width ``d``. ``"auto"``: 32 for images, ``clip(n_features // 4, 2, 32)`` for tabular rows.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden widths of the MLP encoder, input side first.
    decoder_hidden_layer_sizes : tuple of int or None, default=None
        Hidden widths of the MLP generator, *latent side first* (e.g. ``(64, 128)`` for the paper's KDD99
        generator 32-64-128-121). ``None`` mirrors ``hidden_layer_sizes``.
    critic_hidden_layer_sizes : tuple of int, default=(64, 64)
        Hidden widths of both MLP pair critics (input ``2 * n_features``). The last one is the width of the
        features the score compares.
    activation : str, default="leaky_relu"
        Hidden activation of every MLP and conv net.
    batch_norm : bool, default=False
        BatchNorm in the hidden layers of the MLP encoder and generator (never in critics).
    base_channels : int, default=32
        Channels of the first conv stage (images only).
    critic_architecture : {"auto", "dcgan", "resnet"}, default="auto"
        Conv critics (images only): DCGAN-style strided convolutions, or SN-GAN-style residual blocks with
        ``4 * base_channels`` channels (:class:`~skanomaly.nn.ResidualCritic`, far costlier). ``"auto"``: residual
        for 32x32 images (the AMA supplement's choice), DCGAN-style otherwise.
    out_activation : str or None, default=None
        Output activation of the generator (e.g. ``"sigmoid"`` for images in [0, 1]); ``None`` is linear.
    n_interp : int >= 1, default=3
        Number ``m`` of codes mixed per interpolant; 1 disables the interpolation loss.
    simplex_sampling : {"uniform", "dirichlet"}, default="dirichlet"
        Distribution of the weights ``alpha`` (see :func:`skanomaly.nn.simplex_weights`): uniform on the
        simplex, or AMA's ``U[0, interp_high]`` draws normalised (``"uniform"``).
    interp_high : float > 0, default=0.5
        Upper bound of the uniform draws of the simplex weights (``simplex_sampling="uniform"``).
    lambda_inter : float >= 0, default=0.5
        Weight ``lambda`` of the interpolation loss of the autoencoder (paper: 1.2 Thyroid, 0.3 Arrhythmia,
        0.5 KDD99).
    lambda_latent_hinge : float >= 0, default=1.0
        Weight of the latent hinge ``mean max(||E(x)|| - r, 0)``; 0 switches it off.
    latent_radius : float > 0 or "auto", default="auto"
        Radius ``r`` of the hinge; ``"auto"`` is ``sqrt(latent_dim)``.
    lambda_gp : float >= 0, default=10.0
        Weight of the gradient penalty of ``D_recon`` (WGAN-GP's 10); 0 switches it off.
    spectral_norm : bool, default=False
        Spectral normalisation of every layer of ``D_recon`` (an alternative or addition to the penalty).
    n_critic : int >= 1, default=3
        Critic steps per autoencoder step (on the same batch).
    optimizer : {"adam", "sgd"}, default="adam"
        Optimiser of all four networks.
    lr : float > 0, default=1e-3
        Learning rate of ``E`` and ``G`` (and of the critics when ``critic_lr`` is None).
    critic_lr : float > 0 or None, default=None
        Learning rate of both critics; ``None`` uses ``lr``.
    betas : tuple of two floats in [0, 1), default=(0.5, 0.9)
        Adam's coefficients (``optimizer="adam"``).
    momentum : float in [0, 1), default=0.9
        SGD momentum (``optimizer="sgd"``; the paper's Thyroid setting uses 0.5).
    weight_decay : float >= 0, default=0.0
        L2 penalty of every optimiser.
    max_epochs : int, default=50
        Training epochs.
    select_best_epoch : bool, default=True
        Keep the epoch with the lowest mean training feature-L1 after the warm-up (else the last epoch).
    selection_warmup_epochs : int >= 0, default=10
        Epochs excluded from the selection. When ``max_epochs <= selection_warmup_epochs`` the last epoch is kept.
    batch_size : int, default=64
        Training mini-batch size.
    score_batch_size : int, default=4096
        Rows per scoring batch; scores do not depend on it.
    contamination : float in (0, 0.5], default=0.1
        Expected outlier share of the training data; sets ``offset_`` for :meth:`predict`.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of flattened image rows, to use conv nets.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    n_threads : int or None, default=1
        Torch CPU threads during fit and scoring, set and restored around them. The default makes the fit and
        its scores the same on any machine; more threads can be faster (conv nets), ``None`` keeps torch's own
        setting (one thread per core), with scores that then depend on the machine.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, interpolation weights and penalties inside :meth:`fit`.
    verbose : int, default=0
        0 silent, 1 loss table per epoch, 2 also a progress bar.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_`` holds ``encoder``, ``decoder``, ``recon_critic`` and ``inter_critic``.
    latent_dim_ : int
        Code width used.
    best_epoch_ : int
        Epoch (1-based) whose networks were kept; the last epoch when selection is off or had no candidate.
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of the training scores.
    history_ : pandas.DataFrame
        Per-epoch means of every loss term (``train_loss`` = autoencoder objective, ``critic_loss``,
        ``wasserstein``, ``gradient_penalty``, ``inter_critic_loss``, ``mirror_loss``, ``interp_loss``,
        ``latent_hinge``, ``feature_l1``), the end-of-epoch ``train_feature_l1`` and ``dur``.
    n_epochs_ : int
        Epochs trained (``best_epoch_ <= n_epochs_``).
    device_ : torch.device
        Device the networks were trained on.
    image_shape_ : tuple of int or None
        Image shape used (``None`` for tabular data).
    n_features_in_ : int
        Number of features seen during :meth:`fit` (or the first :meth:`partial_fit`).
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string columns.
    n_samples_seen_ : int
        Rows seen by :meth:`partial_fit` (after :meth:`partial_fit` only).
    partial_fit_state_ : dict
        What the next :meth:`partial_fit` continues from: optimizer state, random states, the divergence guard's
        references (after :meth:`partial_fit` only).

    See Also
    --------
    skanomaly.detectors.AMADetector : adversarial mirrored autoencoder (one critic, synthetic negatives).
    skanomaly.detectors.AutoEncoderDetector : the plain reconstruction-error baseline.

    References
    ----------
    Y. Wu, Y. Balaji, B. Vinzamuri, S. Feizi. "Mirrored Autoencoders with Simplex Interpolation for
    Unsupervised Anomaly Detection", arXiv:2003.10713, 2020.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skanomaly.datasets import load_thyroid
    >>> from skanomaly.detectors.mirrored_ae import MirroredAEDetector
    >>> X, y = load_thyroid(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), MirroredAEDetector(max_epochs=2, random_state=0))
    >>> scores = model.fit(X[y == 0]).score_samples(X)  # higher = more normal
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
        "batch_norm": ["boolean"],
        "base_channels": [Interval(Integral, 1, None, closed="left")],
        "critic_architecture": [StrOptions(set(CRITIC_ARCHITECTURES))],
        "out_activation": [StrOptions(set(ACTIVATIONS)), None],
        "n_interp": [Interval(Integral, 1, None, closed="left")],
        "simplex_sampling": [StrOptions({"dirichlet", "uniform"})],
        "interp_high": [Interval(Real, 0, None, closed="neither")],
        "lambda_inter": [Interval(Real, 0, None, closed="left")],
        "lambda_latent_hinge": [Interval(Real, 0, None, closed="left")],
        "latent_radius": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "lambda_gp": [Interval(Real, 0, None, closed="left")],
        "spectral_norm": ["boolean"],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"adam", "sgd"})],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "critic_lr": [Interval(Real, 0, None, closed="neither"), None],
        "betas": [tuple],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "select_best_epoch": ["boolean"],
        "selection_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        latent_dim="auto",
        hidden_layer_sizes=(64,),
        decoder_hidden_layer_sizes=None,
        critic_hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        batch_norm=False,
        base_channels=32,
        critic_architecture="auto",
        out_activation=None,
        n_interp=3,
        simplex_sampling="dirichlet",
        interp_high=0.5,
        lambda_inter=0.5,
        lambda_latent_hinge=1.0,
        latent_radius="auto",
        lambda_gp=10.0,
        spectral_norm=False,
        n_critic=3,
        optimizer="adam",
        lr=1e-3,
        critic_lr=None,
        betas=(0.5, 0.9),
        momentum=0.9,
        weight_decay=0.0,
        max_epochs=50,
        select_best_epoch=True,
        selection_warmup_epochs=10,
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
        self.batch_norm = batch_norm
        self.base_channels = base_channels
        self.critic_architecture = critic_architecture
        self.out_activation = out_activation
        self.n_interp = n_interp
        self.simplex_sampling = simplex_sampling
        self.interp_high = interp_high
        self.lambda_inter = lambda_inter
        self.lambda_latent_hinge = lambda_latent_hinge
        self.latent_radius = latent_radius
        self.lambda_gp = lambda_gp
        self.spectral_norm = spectral_norm
        self.n_critic = n_critic
        self.optimizer = optimizer
        self.lr = lr
        self.critic_lr = critic_lr
        self.betas = betas
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.select_best_epoch = select_best_epoch
        self.selection_warmup_epochs = selection_warmup_epochs
        self.batch_size = batch_size
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.image_shape = image_shape
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        self._check_layer_sizes("hidden_layer_sizes")
        self._check_layer_sizes("decoder_hidden_layer_sizes")
        # At least one critic layer: the score compares the critic's penultimate features.
        self._check_layer_sizes("critic_hidden_layer_sizes", allow_empty=False)
        self._check_betas()

    def _divergence_remedy(self):
        advice = (f"Scale the input (e.g. MinMaxScaler in a Pipeline), lower the learning rates lr (now "
                  f"{self.lr:g}) and critic_lr (now {self.critic_lr!r}), or strengthen the reconstruction "
                  f"critic's Lipschitz control (a larger lambda_gp, now {self.lambda_gp:g}")
        return advice + (")." if self.spectral_norm else ", or spectral_norm=True).")

    # Without the epoch selection its training is a stream of mini-batch steps at constant learning rates, which
    # partial_fit continues; see _incremental_training_blocker.
    _no_partial_fit = None

    def _incremental_training_blocker(self):
        if self.select_best_epoch:
            return ("with select_best_epoch=True it keeps the epoch whose networks give the training data the lowest "
                    "mean feature-L1, an epoch over all the data, which a stream of chunks does not have; set "
                    "select_best_epoch=False to train it incrementally")
        if self.spectral_norm:
            return ("with spectral_norm=True its fitted critic holds the normalised weights only, not the weights "
                    "training continues from; set spectral_norm=False (the default) to train it incrementally")
        return None

    def _fit_networks(self, X, y, seed):
        self._fit_single_net(X, seed)

    def _resolve_architecture(self, X):
        self._check_params()
        super()._resolve_architecture(X)

    def _net_attributes(self, net):
        return {"best_epoch_": int(dict(net.callbacks_)["epoch_selector"].best_epoch_)}

    def _resolved_hyperparameters(self):
        radius = math.sqrt(self.latent_dim_) if self.latent_radius == "auto" else float(self.latent_radius)
        return {"latent_dim": self.latent_dim_, "latent_radius": radius, "betas": self._check_betas(),
                "momentum": float(self.momentum), "critic_lr": self.lr if self.critic_lr is None else self.critic_lr}

    def _build_networks(self, **net_kwargs):
        """The net of untrained networks of the fitted architecture: ``fit`` trains it, :func:`skanomaly.io.load`
        fills it with stored weights."""
        n_features = self.n_features_in_
        common = dict(image_shape=self.image_shape_, base_channels=self.base_channels, activation=self.activation)
        decoder_sizes = self.decoder_hidden_layer_sizes
        decoder_sizes = self.hidden_layer_sizes if decoder_sizes is None else tuple(decoder_sizes)[::-1]
        encoder = make_encoder(n_features, self.latent_dim_, hidden_layer_sizes=self.hidden_layer_sizes,
                               batch_norm=self.batch_norm, **common)
        decoder = make_decoder(self.latent_dim_, n_features, hidden_layer_sizes=decoder_sizes,
                               batch_norm=self.batch_norm, out_activation=self.out_activation, **common)
        critic_args = dict(hidden_layer_sizes=self.critic_hidden_layer_sizes, architecture=self.critic_architecture,
                           **common)
        recon_critic = PairCritic(n_features, spectral_norm=self.spectral_norm, **critic_args)
        inter_critic = PairCritic(n_features, spectral_norm=False, **critic_args)
        module = _MirroredAEModule(encoder, decoder, recon_critic, inter_critic)
        return _MirroredAENet(module, hp=self._hyperparameters(), loss_terms=_LOSS_TERMS, **net_kwargs)
