"""Adapters that let the benchmark runner run detectors from other libraries (PyOD).

Every adapter follows one interface, :class:`ExternalDetectorAdapter`: an unfitted outside detector in
``detector``, a clone of it fitted in :meth:`~ExternalDetectorAdapter.fit` (``detector_``), scikit-learn's sign
convention in ``score_samples`` (higher = more normal), and two things the runner records for every run:
:meth:`~ExternalDetectorAdapter.benchmark_params` (the outside detector's own parameters) and ``device_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone

from ..base import OffsetThresholdMixin

__all__ = ["ExternalDetectorAdapter", "PyODAdapter", "pyod_autoencoder_factory", "pyod_deep_svdd_factory"]


class ExternalDetectorAdapter(OffsetThresholdMixin, OutlierMixin, BaseEstimator):
    """Base of the adapters around detectors of other libraries.

    Subclasses implement :meth:`_anomaly_scores` (the outside detector's anomaly score, higher = more
    anomalous, on the fitted clone) and :meth:`_threshold` (its anomaly-score threshold, or ``None``).

    Parameters
    ----------
    detector : estimator
        Unfitted outside detector.

    Attributes
    ----------
    detector_ : estimator
        The fitted clone.
    offset_ : float
        ``-threshold`` of the outside detector (``decision_function`` is negative for its outliers), or the
        ``contamination`` percentile of the training scores when it has no threshold.
    device_ : str
        The device it trained on (``"cpu"`` unless the outside detector says otherwise).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    """

    def __init__(self, detector):
        self.detector = detector

    def fit(self, X, y=None):
        """Fit a clone of the wrapped detector on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (normal samples).
        y : ignored

        Returns
        -------
        self : ExternalDetectorAdapter
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects a 2-D array, got shape {X.shape}.")
        detector = clone(self.detector)
        if getattr(detector, "n_features", 0) is None:  # PyOD's DeepSVDD sizes its network from this parameter
            detector.set_params(n_features=X.shape[1])
        self.detector_ = detector.fit(X)
        self.n_features_in_ = X.shape[1]
        threshold = self._threshold()
        if threshold is None:
            contamination = getattr(self.detector_, "contamination", 0.1)
            threshold = float(np.percentile(self._anomaly_scores(X), 100 * (1 - contamination)))
        self.offset_ = -float(threshold)
        device = getattr(self.detector_, "device", None)
        self.device_ = str(device) if device is not None else "cpu"
        return self

    def score_samples(self, X):
        """Return the negated anomaly score of the outside detector: higher = more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        return -np.asarray(self._anomaly_scores(np.asarray(X, dtype=np.float64)), dtype=np.float64)

    def benchmark_params(self):
        """The parameters a benchmark row records: the outside detector's own.

        Returns
        -------
        params : dict
        """
        return self.detector.get_params(deep=False)

    def _anomaly_scores(self, X):
        raise NotImplementedError

    def _threshold(self):
        return None


class PyODAdapter(ExternalDetectorAdapter):
    """Expose a PyOD detector with scikit-learn's sign convention (``score_samples`` higher = more normal).

    PyOD's ``decision_function`` returns an anomaly score (higher = more anomalous); this adapter negates
    it so that every benchmarked detector yields its anomaly score the same way, as ``-score_samples``.
    The wrapped detector is cloned in :meth:`fit`; PyOD deep detectors seed torch and NumPy from their
    ``random_state`` when constructed, so cloning re-seeds them for every fit.

    Parameters
    ----------
    detector : PyOD detector
        Unfitted PyOD estimator (e.g. ``pyod.models.auto_encoder.AutoEncoder``).

    Attributes
    ----------
    detector_ : PyOD detector
        The fitted clone.
    offset_ : float
        ``-detector_.threshold_``, so that ``decision_function`` is negative for PyOD's outliers.
    device_ : str
        The PyOD detector's ``device`` (``"cpu"`` for detectors without one).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from pyod.models.knn import KNN  # doctest: +SKIP
    >>> from skanomaly.benchmarks.adapters import PyODAdapter
    >>> X = np.random.RandomState(0).randn(100, 2)
    >>> PyODAdapter(KNN()).fit(X).predict([[0.0, 0.0], [9.0, 9.0]])  # doctest: +SKIP
    array([ 1, -1])
    """

    def _anomaly_scores(self, X):
        return self.detector_.decision_function(X)

    def _threshold(self):
        return self.detector_.threshold_


def pyod_autoencoder_factory(dataset_name, seed, **overrides):
    """Factory of the ``PyOD-AutoEncoder`` spec: PyOD's ``AutoEncoder`` behind :class:`PyODAdapter`.

    PyOD's own scaling is off (the runner scales); ``overrides`` set any PyOD parameter (the registry passes its
    ``PRESETS["PyOD-AutoEncoder"]`` entry for the dataset this way).

    Parameters
    ----------
    dataset_name : str
    seed : int
        Its ``random_state``.
    **overrides
        PyOD ``AutoEncoder`` parameters.

    Returns
    -------
    adapter : PyODAdapter
    """
    from ..exceptions import DetectorUnavailableError

    try:
        from pyod.models.auto_encoder import AutoEncoder
    except ImportError as exc:
        raise DetectorUnavailableError(
            "PyOD-AutoEncoder needs the optional dependency pyod: pip install 'skanomaly[benchmarks]'"
        ) from exc
    import torch

    kwargs = {
        "epoch_num": 30,
        "batch_size": 128,
        "preprocessing": False,
        "verbose": 0,
        "random_state": int(seed),
        # A string, not None: PyOD turns None into a torch.device in __init__, which breaks sklearn's clone.
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        **overrides,
    }
    return PyODAdapter(AutoEncoder(**kwargs))


def pyod_deep_svdd_factory(dataset_name, seed, **overrides):
    """Factory of the ``PyOD-DeepSVDD`` spec: PyOD's one-class ``DeepSVDD`` behind :class:`PyODAdapter`.

    PyOD's own scaling is off (the runner scales); every other parameter keeps PyOD's default (a 64-32 network with
    ReLU, dropout 0.2, Adam 1e-4 with weight decay 0.5e-6, 100 epochs of batch 32, no autoencoder) unless
    ``overrides`` set it (the registry passes its ``PRESETS["PyOD-DeepSVDD"]`` entry for the dataset this way).
    ``n_features`` stays ``None``: the adapter sets it from the training data.

    Parameters
    ----------
    dataset_name : str
    seed : int
        Its ``random_state``.
    **overrides
        PyOD ``DeepSVDD`` parameters.

    Returns
    -------
    adapter : PyODAdapter
    """
    from ..exceptions import DetectorUnavailableError

    try:
        from pyod.models.deep_svdd import DeepSVDD
    except ImportError as exc:
        raise DetectorUnavailableError(
            "PyOD-DeepSVDD needs the optional dependency pyod: pip install 'skanomaly[benchmarks]'"
        ) from exc

    kwargs = {
        "n_features": None,
        "preprocessing": False,
        "verbose": 0,
        "random_state": int(seed),
        **overrides,
    }
    return PyODAdapter(DeepSVDD(**kwargs))
