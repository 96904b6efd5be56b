"""Plain autoencoder scored by reconstruction error: the baseline of the autoencoder family."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..base import BaseDetector, DetectorNet
from ..nn import ACTIVATIONS, EncoderDecoder, make_decoder, make_encoder

__all__ = ["AutoEncoderDetector"]


class _AutoEncoderNet(DetectorNet):
    """Trains an :class:`~skanomaly.nn.EncoderDecoder` on the mean squared reconstruction error (Adam, ``lr``,
    ``weight_decay``)."""

    error_terms = ("train_loss",)

    def train_step_terms(self, X, y):
        self.optimizer_.zero_grad()
        loss = torch.mean((self.module_(X) - X) ** 2)
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss}

    def anomaly_score(self, X):
        return torch.mean((self.module_(X) - X) ** 2, dim=1)


class AutoEncoderDetector(BaseDetector):
    """Autoencoder anomaly detector scored by reconstruction error.

    An encoder compresses each sample to ``latent_dim`` values and a decoder reconstructs it; the network is
    trained on normal data with the mean squared error, and samples it reconstructs badly are anomalous. This is
    the classic baseline of the deep anomaly-detection literature (e.g. Sakurada & Yairi, 2014; the "AE" rows of
    the AMA and mirrored-autoencoder papers) and the "no mirrored loss" ablation of that family.

    Tabular rows use an MLP encoder ``n_features -> hidden_layer_sizes -> latent_dim`` and its mirror image as
    decoder. Images (``image_shape`` set, or 3-D/4-D input) use a DCGAN-style conv encoder/decoder.
    Scale tabular features first (e.g. ``make_pipeline(MinMaxScaler(), AutoEncoderDetector())``).

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Bottleneck width. ``"auto"``: 32 for images, ``clip(n_features // 4, 2, 32)`` for tabular rows.
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden widths of the MLP encoder, input side first; the decoder uses them in reverse.
    activation : str, default="leaky_relu"
        Hidden activation (``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"tanh"``, ``"gelu"``, ...).
    dropout : float in [0, 1), default=0.0
        Dropout after each hidden MLP layer during training.
    base_channels : int, default=32
        Channels of the first conv stage (images only).
    lr : float > 0, default=1e-3
        Adam learning rate.
    weight_decay : float >= 0, default=0.0
        Adam L2 penalty.
    max_epochs : int, default=50
        Training epochs.
    batch_size : int, default=128
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
        Seeds initialisation, shuffling and sampling inside :meth:`fit`.
    verbose : int, default=0
        0 silent, 1 loss table per epoch, 2 also a progress bar.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The fitted net; ``net_.module_`` is the :class:`~skanomaly.nn.EncoderDecoder`.
    latent_dim_ : int
        Bottleneck width used.
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of the training scores.
    history_ : pandas.DataFrame
        Per-epoch training loss (``train_loss``) and duration (``dur``).
    n_epochs_ : int
        Epochs trained.
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
    skanomaly.detectors.AMADetector : adversarial mirrored autoencoder.
    skanomaly.detectors.MirroredAEDetector : mirrored autoencoder with simplex interpolation.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skanomaly.datasets import load_thyroid
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> X, y = load_thyroid(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=5, random_state=0))
    >>> scores = model.fit(X[y == 0]).score_samples(X)  # higher = more normal
    >>> scores.shape
    (3772,)
    """

    _parameter_constraints: dict = {
        **BaseDetector._parameter_constraints,
        "latent_dim": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_layer_sizes": [tuple],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "base_channels": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        latent_dim="auto",
        hidden_layer_sizes=(64,),
        activation="leaky_relu",
        dropout=0.0,
        base_channels=32,
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=50,
        batch_size=128,
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
        self.activation = activation
        self.dropout = dropout
        self.base_channels = base_channels
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

    # Its training is a stream of mini-batch steps on one loss: partial_fit continues it.
    _no_partial_fit = None

    def _fit_networks(self, X, y, seed):
        self._fit_single_net(X, seed)

    def _resolve_architecture(self, X):
        self._check_layer_sizes("hidden_layer_sizes")
        super()._resolve_architecture(X)

    def _build_networks(self, **net_kwargs):
        """The net of untrained networks of the fitted architecture: ``fit`` trains it, :func:`skanomaly.io.load`
        fills it with stored weights."""
        n_features = self.n_features_in_
        arch = dict(image_shape=self.image_shape_, hidden_layer_sizes=self.hidden_layer_sizes,
                    base_channels=self.base_channels, activation=self.activation, dropout=self.dropout)
        module = EncoderDecoder(make_encoder(n_features, self.latent_dim_, **arch),
                                make_decoder(self.latent_dim_, n_features, **arch))
        return _AutoEncoderNet(module, hp=self._hyperparameters(), **net_kwargs)
