"""Deep SVDD: a bias-free encoder trained to map normal data close to a fixed centre (Ruff et al., ICML 2018)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ..base import BaseDetector, DetectorNet
from ..nn import ACTIVATIONS, MLP, ConvEncoder

__all__ = ["DeepSVDDDetector"]


class _Hypersphere(nn.Module):
    """An encoder ``phi`` stripped of every bias, the centre ``c`` and the radius ``R`` (buffers, not trained)."""

    def __init__(self, encoder, latent_dim):
        super().__init__()
        for layer in encoder.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                layer.register_parameter("bias", None)
        self.encoder = encoder
        self.register_buffer("center", torch.zeros(latent_dim))
        self.register_buffer("radius", torch.zeros(()))

    def forward(self, x):
        return self.encoder(x)

    def squared_distance(self, x):
        """``||phi(x) - c||^2`` per sample."""
        return ((self.encoder(x) - self.center) ** 2).sum(dim=1)


class _DeepSVDDNet(DetectorNet):
    """Fixes the centre before the first epoch, minimises the Deep SVDD objective, updates ``R`` after each epoch.

    Both objectives are ``R^2 + mean(max(0, ||phi(x) - c||^2 - R^2)) / nu`` (``nu = soft_boundary_nu``): the
    one-class objective is the case ``R = 0``, ``nu = 1`` (the mean squared distance), where the radius is never
    updated. Reads the hyperparameters ``objective``, ``soft_boundary_nu``, ``radius_warmup_epochs``, ``center_eps``
    (and Adam's ``lr``, ``weight_decay``).
    """

    error_terms = ("train_loss",)

    def __init__(self, module, *, hp, **kwargs):
        self.soft_boundary = hp.objective == "soft-boundary"
        super().__init__(module, hp=hp, loss_terms=("radius",) if self.soft_boundary else (), **kwargs)

    def initialize_training(self, X):
        """``c`` = mean code of the training data under the initial weights, away from 0 (a code of 0 is trivial)."""
        center = self.forward(X, training=False, device=self.device).mean(dim=0)
        self.module_.center.copy_(torch.where(center < 0, -1.0, 1.0) * center.abs().clamp(min=self.hp.center_eps))

    def train_step_terms(self, X, y):
        self.optimizer_.zero_grad()
        radius = self.module_.radius
        nu = self.hp.soft_boundary_nu if self.soft_boundary else 1.0
        loss = radius**2 + torch.clamp(self.module_.squared_distance(X) - radius**2, min=0).mean() / nu
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss, "radius": radius}

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Soft boundary, after the warm-up: ``R`` = the ``(1 - nu)``-quantile of the training distances."""
        if self.soft_boundary and len(self.history) >= self.hp.radius_warmup_epochs:
            dist = (self.forward(dataset_train, training=False, device=self.device) - self.module_.center).norm(dim=1)
            self.module_.radius.copy_(torch.quantile(dist.double(), 1 - self.hp.soft_boundary_nu))

    def anomaly_score(self, X):
        return self.module_.squared_distance(X) - self.module_.radius**2


class DeepSVDDDetector(BaseDetector):
    """Deep Support Vector Data Description: normal data close to a centre in a learned feature space.

    An encoder ``phi`` maps each sample to ``latent_dim`` values. The centre ``c`` is the mean code of the
    training data under the initial weights (coordinates closer to 0 than ``center_eps`` pushed to ``+-center_eps``)
    and then stays fixed; training shrinks the hypersphere around ``c`` that holds the codes of the normal data.

    - ``objective="one-class"``: minimise the mean of ``||phi(x) - c||^2``; the anomaly score is that squared
      distance.
    - ``objective="soft-boundary"``: minimise ``R^2 + mean(max(0, ||phi(x) - c||^2 - R^2)) / nu`` with the paper's
      ``nu`` = ``soft_boundary_nu``; after ``radius_warmup_epochs`` epochs, ``R`` is set at the end of every epoch
      to the ``(1 - nu)``-quantile of the training distances. The anomaly score is ``||phi(x) - c||^2 - R^2``
      (positive outside the sphere).

    ``score_samples`` returns minus the anomaly score (higher = more normal). The weight decay of Adam is the
    paper's regulariser of the network weights. Every layer is bias-free, and there is no BatchNorm: with a bias
    or an affine normalisation, a network could map every input onto ``c`` and make the objective zero without
    learning anything (Ruff et al., Proposition 2). For the same reason the activations should be unbounded
    (``"leaky_relu"``, ``"relu"``, ``"elu"``, ``"gelu"``).

    Tabular rows use an MLP ``n_features -> hidden_layer_sizes -> latent_dim``; images (``image_shape`` set, or
    3-D/4-D input) use the DCGAN-style conv encoder of :mod:`skanomaly.nn` with its biases removed and without its
    BatchNorm. Scale tabular features first (e.g. ``make_pipeline(MinMaxScaler(), DeepSVDDDetector())``).

    Reference: L. Ruff, R. Vandermeulen, N. Goernitz, L. Deecke, S. A. Siddiqui, A. Binder, E. Mueller and
    M. Kloft, "Deep One-Class Classification", ICML 2018.

    Parameters
    ----------
    objective : {"one-class", "soft-boundary"}, default="one-class"
        Deep SVDD variant (see above).
    soft_boundary_nu : float in (0, 1], default=0.1
        Soft boundary only: the paper's ``nu``, the trade-off between the sphere's volume and the points outside
        it, an upper bound on the share of training points outside the sphere (as ``nu`` of
        :class:`sklearn.svm.OneClassSVM`).
    radius_warmup_epochs : int, default=10
        Soft boundary only: epochs trained with ``R = 0`` before ``R`` is first updated.
    latent_dim : int or "auto", default=32
        Width of the code ``phi(x)`` (32: the paper's MNIST network). ``"auto"``: 32 for images,
        ``clip(n_features // 4, 2, 32)`` for tabular rows, as for the other detectors.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden widths of the MLP encoder, input side first (tabular rows only).
    activation : str, default="leaky_relu"
        Hidden activation (``"leaky_relu"``, ``"relu"``, ``"elu"``, ``"gelu"``, ...).
    base_channels : int, default=32
        Channels of the first conv stage (images only).
    center_eps : float, default=0.1
        Centre coordinates with ``|c_j| < center_eps`` are set to ``+-center_eps``, so that no coordinate of ``c`` is
        reachable by zero weights.
    lr : float > 0, default=1e-4
        Adam learning rate.
    weight_decay : float >= 0, default=1e-6
        Adam L2 penalty on the weights (the paper's regulariser).
    max_epochs : int, default=100
        Training epochs.
    batch_size : int, default=128
        Training mini-batch size.
    score_batch_size : int, default=4096
        Rows per scoring batch; scores do not depend on it.
    contamination : float in (0, 0.5], default=0.1
        Expected outlier share of the training data; sets ``offset_`` for :meth:`predict`.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of flattened image rows, to use the conv encoder.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
    n_threads : int or None, default=1
        Torch CPU threads during fit and scoring, set and restored around them. The default makes the fit and
        its scores the same on any machine; more threads can be faster (conv nets), ``None`` keeps torch's own
        setting (one thread per core), with scores that then depend on the machine.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and shuffling inside :meth:`fit`.
    verbose : int, default=0
        0 silent, 1 loss table per epoch, 2 also a progress bar.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_.encoder`` is ``phi``.
    latent_dim_ : int
        Code width used.
    center_ : ndarray of length ``latent_dim_``
        The centre ``c``.
    radius_ : float
        The radius ``R`` (0 for ``objective="one-class"``).
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of the training scores.
    history_ : pandas.DataFrame
        Per-epoch training loss (``train_loss``), radius (soft boundary) and duration (``dur``).
    n_epochs_ : int
        Epochs trained.
    device_ : torch.device
        Device the network was trained on.
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
    skanomaly.detectors.AutoEncoderDetector : reconstruction-error baseline.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skanomaly.datasets import load_thyroid
    >>> from skanomaly.detectors import DeepSVDDDetector
    >>> X, y = load_thyroid(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), DeepSVDDDetector(max_epochs=5, random_state=0))
    >>> scores = model.fit(X[y == 0]).score_samples(X)  # higher = more normal
    >>> scores.shape
    (3772,)
    """

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
        "objective": [StrOptions({"one-class", "soft-boundary"})],
        "soft_boundary_nu": [Interval(Real, 0, 1, closed="right")],
        "radius_warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_layer_sizes": [tuple],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "base_channels": [Interval(Integral, 1, None, closed="left")],
        "center_eps": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, *, objective="one-class", soft_boundary_nu=0.1, radius_warmup_epochs=10, latent_dim=32,
                 hidden_layer_sizes=(64,), activation="leaky_relu", base_channels=32, center_eps=0.1, lr=1e-4,
                 weight_decay=1e-6, max_epochs=100, batch_size=128, score_batch_size=4096, contamination=0.1,
                 image_shape=None, device="auto", n_threads=1, random_state=None, verbose=0):
        self.objective = objective
        self.soft_boundary_nu = soft_boundary_nu
        self.radius_warmup_epochs = radius_warmup_epochs
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.base_channels = base_channels
        self.center_eps = center_eps
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.score_batch_size = score_batch_size
        self.contamination = contamination
        self.image_shape = image_shape
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # Its training is a stream of mini-batch steps around a centre fixed before the first: partial_fit continues
    # it (the centre is the mean code of the first call's rows).
    _no_partial_fit = None

    def _fit_networks(self, X, y, seed):
        self._fit_single_net(X, seed)

    def _net_attributes(self, net):
        return {"center_": net.module_.center.cpu().double().numpy(), "radius_": float(net.module_.radius)}

    def _build_networks(self, **net_kwargs):
        """The net of untrained networks of the fitted architecture: ``fit`` trains it, :func:`skanomaly.io.load`
        fills it with stored weights."""
        encoder = (MLP(self.n_features_in_, self._check_layer_sizes("hidden_layer_sizes"), self.latent_dim_,
                       activation=self.activation) if self.image_shape_ is None
                   else ConvEncoder(self.image_shape_, self.latent_dim_, base_channels=self.base_channels,
                                    activation=self.activation, batch_norm=False))
        return _DeepSVDDNet(_Hypersphere(encoder, self.latent_dim_), hp=self._hyperparameters(), **net_kwargs)
