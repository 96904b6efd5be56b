"""Why is this row anomalous: per-feature contributions to the anomaly score of any outlier detector.

:func:`explain` splits the anomaly score of each row, ``-score_samples(X)`` (higher = more anomalous), into one
contribution per input feature, for this library's detectors and for any scikit-learn outlier detector with
``score_samples``. The convention is the same for every method: a positive contribution makes the row more
anomalous, and the contributions add up to the anomaly score::

    anomaly_scores == baseline_scores + contributions.sum(axis=1) + beyond_training + delta

where ``baseline_scores`` is the anomaly score of the reference the row is compared with (0 for a reconstruction
error), ``beyond_training`` the part the far-row guard of the networks adds (below) and ``delta`` what the method
leaves unexplained (a rounding error for the exact methods, the integration error of integrated gradients, the
interactions occlusion misses).

Methods (``method=``):

``"reconstruction"``
    :class:`~skanomaly.detectors.AutoEncoderDetector`, whose anomaly score is the mean squared reconstruction
    error: feature ``j`` contributes ``(G(E(x))_j - x_j)**2 / n_features`` (base 0). Exact, and costs one
    forward pass per row, the cost of scoring.
``"integrated_gradients"``
    Detectors whose score is a differentiable function of the input (AMA, Mirrored AE, Deep SVDD, OMASGAN, and
    any :class:`~skanomaly.base.BaseDetector` scored by its net's ``anomaly_score``): the integral of the score's
    gradient along the straight line from a reference row to the row (Sundararajan et al., ICML 2017),
    by ``n_steps``-point Gauss-Legendre quadrature. The contributions add up to the score difference to the
    reference up to the quadrature error, returned in ``delta``. ``n_steps`` forward and backward passes per row
    and reference row.
``"shapley_sampling"``
    Any detector, as a black box: Shapley values of the anomaly score in the game where a feature missing from
    a coalition takes the values of the reference rows (averaged over them), estimated from ``n_permutations``
    random feature orders per row, each also walked in reverse (antithetic sampling). The contributions add up
    to the score difference to the references exactly, whatever the number of permutations; the estimate of each
    contribution has a sampling error that falls as ``1 / sqrt(n_permutations)``. It evaluates the detector on at
    most ``n_permutations * 2 * (n_features - 1) * n_references`` rows per row: a step that takes a feature whose
    value the row and the reference share changes nothing and is not scored.
``"occlusion"``
    Any detector, as a black box: feature ``j`` contributes ``f(x) - mean_r f(x with x_j = r_j)`` over the
    reference rows ``r``. At most ``n_features * n_references`` evaluations per row; deterministic, but the
    contributions do not add up to the score (``delta`` holds the difference).

``method="auto"`` takes the reconstruction decomposition for autoencoders, integrated gradients for the other
networks and Shapley sampling for any other detector. Meta-estimators are looked through:

- a :class:`~sklearn.pipeline.Pipeline` whose transformers each act on one column at a time (the scalers
  ``MinMaxScaler``, ``StandardScaler``, ``RobustScaler``, ``MaxAbsScaler``, ``QuantileTransformer`` and
  ``PowerTransformer``, or ``"passthrough"``) is explained through its last step, and transformed column ``j``
  is input column ``j``, so contributions are those of the input features; with any other transformer the
  whole pipeline is explained as a black box (Shapley sampling or occlusion, in the input features);
- :class:`~skanomaly.ensemble.ScoreCombinationDetector` with standardised scores and a (weighted) mean, and
  :class:`~skanomaly.ensemble.SeedEnsembleDetector` with the mean, are linear in their members' scores: each
  member is explained with its own method and the contributions are combined with the same weights
  (``method`` then reads ``"weighted_sum[...]"``); other combinations are explained as black boxes;
- :class:`~skanomaly.calibration.CalibratedDetector` is explained through its models: its calibrated score is a
  step function of theirs, flat between calibration scores, so the explained quantity (``anomaly_scores``) is the
  mean of its models' anomaly scores, whatever the method;
- :class:`~sklearn.frozen.FrozenEstimator` is explained through the estimator it holds.

**Reference rows** (``baseline``, ``n_neighbors``). Integrated gradients, Shapley sampling and occlusion compare
each row with reference rows: ``baseline=None`` takes the mean of the training rows, which every skanomaly detector
keeps (``support_center_``); other detectors need ``baseline``, normal rows in the estimator's input features
(training rows, for example). From those, each row is compared with its ``n_neighbors`` most similar rows: the
rows that agree with it in the most features, by the distance ``sum_j min(|x_j - r_j| / s_j, 1)`` (``s_j`` the
standard deviation of feature ``j`` over ``baseline``), in which a feature counts at most 1 however far off it
is, so that the few features that make a row unusual do not decide what it is compared with. The contributions
are averaged over a row's reference rows, and the cost grows with their number.

**Rows far outside the training data.** A :class:`~skanomaly.base.BaseDetector` caps the normality score of rows
farther than twice the training radius from the training mean, so that they never look normal. The reconstruction
and gradient methods explain the networks' uncapped score; the amount the cap adds to the anomaly score is
returned in ``beyond_training`` (0 for every other row), so that the parts still add up to ``-score_samples``.
The black-box methods explain ``score_samples`` as it is, cap included (``beyond_training`` is 0).
"""

import math
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    PowerTransformer,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)
from sklearn.utils import Bunch, check_random_state, gen_batches
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import BaseDetector
from .calibration import CalibratedDetector
from .detectors.autoencoder import AutoEncoderDetector
from .ensemble import ScoreCombinationDetector, SeedEnsembleDetector
from .nn import frozen
from .utils import torch_threads

__all__ = ["EXPLANATION_METHODS", "explain"]

#: The attribution methods of :func:`explain` (``"auto"`` chooses one per detector).
EXPLANATION_METHODS = ("reconstruction", "integrated_gradients", "shapley_sampling", "occlusion")
_NETWORK_METHODS = ("reconstruction", "integrated_gradients")
_BLACK_BOX_METHODS = ("shapley_sampling", "occlusion")

# Transformers whose output column j is a function of input column j alone.
_COLUMNWISE_TRANSFORMERS = (MaxAbsScaler, MinMaxScaler, PowerTransformer, QuantileTransformer, RobustScaler,
                            StandardScaler)

# Values per detector call of the black-box methods (rows times features): 4 Mi float64 values, 32 MiB.
_MAX_EVALUATION_VALUES = 1 << 22
# Rows per forward/backward pass of integrated gradients.
_GRADIENT_BATCH_ROWS = 512


def explain(estimator, X, *, method="auto", baseline=None, n_neighbors="auto", n_steps=64, n_permutations=8,
            random_state=None):
    """Per-feature contributions to the anomaly score ``-score_samples(X)`` of each row.

    See the module documentation (and the *Explanations* page of the documentation) for the methods, what
    they cost and how they are checked.

    Parameters
    ----------
    estimator : fitted outlier detector
        A skanomaly detector, any estimator with ``score_samples`` (higher = more normal), a ``Pipeline``
        ending in one, a :class:`~skanomaly.ensemble.ScoreCombinationDetector` (e.g.
        :func:`~skanomaly.recommended_detector`), a :class:`~skanomaly.ensemble.SeedEnsembleDetector` or a
        :class:`~skanomaly.calibration.CalibratedDetector`.
    X : array-like of shape (n_samples, n_features), or images
        Rows to explain, as ``estimator`` takes them (a DataFrame with the training columns when it was fitted
        on one). 3-D or 4-D image arrays are flattened to rows.
    method : {"auto", "reconstruction", "integrated_gradients", "shapley_sampling", "occlusion"}, default="auto"
        Attribution method; ``"auto"``: ``"reconstruction"`` for :class:`~skanomaly.detectors.AutoEncoderDetector`,
        ``"integrated_gradients"`` for the other networks, ``"shapley_sampling"`` otherwise.
    baseline : array-like of shape (n_features,) or (n_references, n_features), or None, default=None
        Normal rows to compare with, in the estimator's input features: training rows (all of them, or a
        sample), or one row such as their mean. ``None``: the mean of the training rows, for skanomaly detectors;
        other detectors need ``baseline``. Not used by ``"reconstruction"``.
    n_neighbors : int, None or "auto", default="auto"
        How many of the ``baseline`` rows each row is compared with: its ``n_neighbors`` most similar ones (the
        rows that agree with it in the most features, see the module documentation), or all of them (``None``,
        or when ``baseline`` has no more rows). ``"auto"``: 1 for integrated gradients, 5 for Shapley sampling
        and occlusion. The cost grows with the number of rows a row is compared with.
    n_steps : int, default=64
        Integrated gradients: quadrature points per row and reference row (one forward and one backward pass
        each).
    n_permutations : int, default=8
        Shapley sampling: random feature orders per row, each walked forward and in reverse.
    random_state : int, RandomState instance or None, default=None
        Shapley sampling: seeds the feature orders. Row ``i``'s orders depend on the seed and on ``i`` only,
        not on how many rows are explained with it.

    Returns
    -------
    explanation : sklearn.utils.Bunch
        contributions : ndarray of shape (n_samples, n_features), float64
            Contribution of each input feature to the anomaly score of each row (positive: more anomalous).
        baseline_scores : ndarray of shape (n_samples,), float64
            Anomaly score of the reference (mean over the reference rows; 0 for ``"reconstruction"``).
        anomaly_scores : ndarray of shape (n_samples,), float64
            ``-estimator.score_samples(X)``, the explained quantity (for a
            :class:`~skanomaly.calibration.CalibratedDetector`, the mean anomaly score of its models).
        beyond_training : ndarray of shape (n_samples,), float64
            What the far-row guard adds to the anomaly score of rows far outside the training data (see above);
            0 for other rows and for the black-box methods.
        delta : ndarray of shape (n_samples,), float64
            ``anomaly_scores - baseline_scores - contributions.sum(axis=1) - beyond_training``: the integration error of
            integrated gradients, rounding for the exact methods, interactions for occlusion.
        method : str
            The method used (``"weighted_sum[...]"`` with the members' methods for linear ensembles).
        feature_names : ndarray of str of shape (n_features,)
            ``feature_names_in_`` of the estimator, else ``"x0"``, ``"x1"``, ...
        image_shape : tuple of int or None
            ``(C, H, W)`` when the detector was fitted on images: ``contributions.reshape(-1, *image_shape)`` is
            a per-pixel map.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        For a wrong number of features or other column names than at fit, non-finite input, a method the
        estimator does not support, or a missing ``baseline`` where there is no training mean to default to.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from skanomaly.datasets import load_thyroid
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> from skanomaly.explanations import explain
    >>> data = load_thyroid(as_frame=True)
    >>> X_normal = data.data[data.target == 0]
    >>> model = make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=5, random_state=0)).fit(X_normal)
    >>> result = explain(model, data.data[data.target == 1].iloc[:3])
    >>> result.contributions.shape, result.method
    ((3, 6), 'reconstruction')
    >>> parts = result.baseline_scores + result.contributions.sum(axis=1) + result.beyond_training
    >>> bool(abs(parts - result.anomaly_scores).max() < 1e-12)
    True
    """
    method = _check_choice(method, ("auto", *EXPLANATION_METHODS), "method")
    n_steps = _check_count(n_steps, "n_steps")
    n_permutations = _check_count(n_permutations, "n_permutations")
    if not (n_neighbors is None or (isinstance(n_neighbors, str) and n_neighbors == "auto")):
        n_neighbors = _check_count(n_neighbors, "n_neighbors")
    if not hasattr(estimator, "score_samples"):
        raise ValueError(f"{type(estimator).__name__} has no score_samples to explain (LocalOutlierFactor needs "
                         "novelty=True).")
    check_is_fitted(estimator)
    X = _validate_rows(estimator, _flatten_images(X))
    if X.shape[0] == 0:
        raise ValueError("X has no rows to explain.")
    names = getattr(estimator, "feature_names_in_", None)
    feature_names = (np.asarray(names, dtype=object) if names is not None
                     else np.array([f"x{j}" for j in range(X.shape[1])], dtype=object))
    baseline = _check_baseline(baseline, X.shape[1], names)
    settings = Bunch(n_steps=n_steps, n_permutations=n_permutations, n_neighbors=n_neighbors,
                     seed=int(check_random_state(random_state).randint(np.iinfo(np.int32).max)))
    part = _attribute(estimator, X, baseline, method, settings)
    delta = part.anomaly - part.base - part.contributions.sum(axis=1) - part.beyond
    result = Bunch(contributions=part.contributions, baseline_scores=part.base, anomaly_scores=part.anomaly,
                   beyond_training=part.beyond, delta=delta, method=part.method, feature_names=feature_names,
                   image_shape=_image_shape(estimator))
    for key in ("contributions", "baseline_scores", "anomaly_scores", "beyond_training", "delta"):
        value = np.asarray(result[key], dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"explain: {int(np.sum(~np.isfinite(value)))} non-finite value(s) in {key} of "
                             f"{type(estimator).__name__}; the input is beyond what its score can resolve. Scale "
                             "the features first (e.g. MinMaxScaler in a Pipeline).")
        result[key] = value
    return result


# --------------------------------------------------------------------------------------------------- checks
def _check_choice(value, options, name):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}.")
    return value


def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def _flatten_images(X):
    """3-D/4-D image arrays as flat rows; anything else as it is."""
    if not isinstance(X, pd.DataFrame) and hasattr(X, "ndim") and X.ndim in (3, 4):
        return np.asarray(X).reshape(X.shape[0], -1)
    return X


def _validate_rows(estimator, X):
    """``X`` checked against what ``estimator`` was fitted on (width, column names, finite), as float64 rows."""
    if hasattr(estimator, "n_features_in_"):
        return validate_data(estimator, X, reset=False, dtype=np.float64, ensure_min_samples=0)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite 2-D array, got shape {X.shape} with non-finite values or wrong rank.")
    return X


def _check_baseline(baseline, n_features, names):
    """Reference rows as a float64 array of shape (n_references, n_features), or None."""
    if baseline is None:
        return None
    if isinstance(baseline, pd.DataFrame):
        if names is not None and list(baseline.columns) != list(names):
            raise ValueError("baseline has other columns than the rows the estimator was fitted on: "
                             f"{list(baseline.columns)[:5]}... instead of {list(names)[:5]}...")
    elif isinstance(baseline, pd.Series):
        baseline = baseline.to_numpy()
    baseline = np.asarray(baseline, dtype=np.float64)
    if baseline.ndim == 1:
        baseline = baseline[None, :]
    elif baseline.ndim in (3, 4):
        baseline = baseline.reshape(baseline.shape[0], -1)
    if baseline.ndim != 2 or baseline.shape[1] != n_features or baseline.shape[0] == 0:
        raise ValueError(f"baseline must be one row or rows of {n_features} features, got shape {baseline.shape}.")
    if not np.all(np.isfinite(baseline)):
        raise ValueError("baseline holds NaN or infinite values.")
    return baseline


def _image_shape(estimator):
    final = _final_step(estimator)
    shape = getattr(final, "image_shape_", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _final_step(estimator):
    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator.steps[-1][1]
        elif isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        else:
            return estimator


def _as_fitted_input(estimator, X):
    """Rows as ``estimator`` was fitted on them: a DataFrame with its columns when it has ``feature_names_in_``."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return X
    return pd.DataFrame(X, columns=names, copy=False)


# ------------------------------------------------------------------------------------------------ dispatch
class _Part(Bunch):
    """Contributions of one (sub-)estimator: ``contributions``, ``base``, ``anomaly``, ``beyond`` and ``method``."""


def _attribute(estimator, X, baseline, method, settings):
    """Contributions to ``estimator``'s anomaly score of the validated float64 rows ``X`` (its input features)."""
    if isinstance(estimator, FrozenEstimator):
        return _attribute(estimator.estimator, X, baseline, method, settings)
    if isinstance(estimator, Pipeline):
        transforms = [step for _, step in estimator.steps[:-1]]
        inner = estimator.steps[-1][1]
        if not transforms:
            return _attribute(inner, X, baseline, method, settings)
        if all(_is_columnwise(step) for step in transforms):
            head = estimator[:-1]
            Xt = np.asarray(head.transform(_as_fitted_input(head, X)), dtype=np.float64)
            bt = None if baseline is None else np.asarray(head.transform(_as_fitted_input(head, baseline)),
                                                          dtype=np.float64)
            if Xt.shape[1] != X.shape[1]:  # pragma: no cover - the transformers above keep every column
                raise ValueError("a column-wise transformer changed the number of columns.")
            return _attribute(inner, Xt, bt, method, settings)
        if method in _NETWORK_METHODS:
            names = [type(step).__name__ for step in transforms if not _is_columnwise(step)]
            raise ValueError(f"method={method!r} explains the detector's input columns, but the pipeline mixes "
                             f"columns first ({', '.join(names)}), so they are not the input features; use "
                             "method='shapley_sampling' or 'occlusion', which explain the whole pipeline.")
        return _black_box(estimator, X, baseline, _black_box_method(method), settings)
    linear = _linear_members(estimator)
    # A calibrated score is flat between calibration scores: it is always explained through its models.
    if linear is not None and (method not in _BLACK_BOX_METHODS or isinstance(estimator, CalibratedDetector)):
        return _weighted_sum(linear, X, baseline, method, settings)
    if isinstance(estimator, BaseDetector):
        network = _network_method(estimator, method)
        if network is not None:
            return _explain_network(estimator, X, baseline, network, settings)
        if baseline is None:
            baseline = np.asarray(estimator.support_center_, dtype=np.float64)[None, :]
        return _black_box(estimator, X, baseline, _black_box_method(method), settings)
    if method in _NETWORK_METHODS:
        raise ValueError(f"method={method!r} needs a skanomaly network detector; {type(estimator).__name__} is "
                         "explained with method='shapley_sampling' or 'occlusion' (or 'auto').")
    return _black_box(estimator, X, baseline, _black_box_method(method), settings)


def _is_columnwise(step):
    return step is None or (isinstance(step, str) and step == "passthrough") or isinstance(
        step, _COLUMNWISE_TRANSFORMERS)


def _black_box_method(method):
    return "shapley_sampling" if method == "auto" else method


def _linear_members(estimator):
    """``(members, coefficients, constant)`` when the anomaly score is ``sum_j c_j A_j + constant`` of the members'
    anomaly scores ``A_j``; None otherwise."""
    if isinstance(estimator, ScoreCombinationDetector):
        if estimator.normalization != "standard" or estimator.combination == "max":
            return None
        check_is_fitted(estimator)
        weights = np.asarray(estimator.weights_, dtype=np.float64)
        scales = np.asarray(estimator.score_scales_, dtype=np.float64)
        means = np.asarray(estimator.score_means_, dtype=np.float64)
        return list(estimator.estimators_), weights / scales, float(np.sum(weights * means / scales))
    if isinstance(estimator, SeedEnsembleDetector):
        if estimator.combination != "mean":
            return None
        check_is_fitted(estimator)
        n = len(estimator.estimators_)
        scales = np.asarray(estimator.score_scales_, dtype=np.float64)
        means = np.asarray(estimator.score_means_, dtype=np.float64)
        return list(estimator.estimators_), 1.0 / (n * scales), float(np.sum(means / scales) / n)
    if isinstance(estimator, CalibratedDetector):
        check_is_fitted(estimator)
        n = len(estimator.estimators_)
        return list(estimator.estimators_), np.full(n, 1.0 / n), 0.0
    return None


def _weighted_sum(linear, X, baseline, method, settings):
    members, coefficients, constant = linear
    parts = [_attribute(member, X, baseline, method, settings) for member in members]
    total = _Part(contributions=np.zeros_like(X), base=np.full(X.shape[0], constant), anomaly=np.full(X.shape[0], constant),
                  beyond=np.zeros(X.shape[0]))
    for part, c in zip(parts, coefficients):
        for key in ("contributions", "base", "anomaly", "beyond"):
            total[key] = total[key] + c * part[key]
    total.method = f"weighted_sum[{', '.join(part.method for part in parts)}]"
    return total


# -------------------------------------------------------------------------------------------- network methods
def _network_method(detector, method):
    """The network method ``method`` resolves to for ``detector`` (None: a black-box method)."""
    if method in _BLACK_BOX_METHODS:
        return None
    differentiable = _network_anomaly_score(detector) is not None
    if method == "auto":
        if isinstance(detector, AutoEncoderDetector):
            return "reconstruction"
        return "integrated_gradients" if differentiable else None
    if method == "reconstruction" and not isinstance(detector, AutoEncoderDetector):
        raise ValueError(f"method='reconstruction' decomposes a mean squared reconstruction error; the score of "
                         f"{type(detector).__name__} is not one. Use method='integrated_gradients' or 'auto'.")
    if method == "integrated_gradients" and not differentiable:
        raise ValueError(f"{type(detector).__name__} has no differentiable score known to explain; use "
                         "method='shapley_sampling' or 'occlusion'.")
    return method


def _network_anomaly_score(detector):
    """The detector's anomaly score, ``-_score_samples`` before the far-row guard, as a differentiable function
    of a float64 tensor batch (its ``_network_normality`` hook); None when its class does not provide one."""
    if not detector._has_network_normality():
        return None
    return lambda x: -detector._network_normality(x, log_ndtr=_LogNdtr.apply)


class _LogNdtr(torch.autograd.Function):
    """``log Phi(x)`` (standard normal CDF) with a derivative that stays exact and finite far into the lower tail.

    torch's own derivative of ``torch.special.log_ndtr`` is wrong below about ``x = -1e8`` and NaN below about
    ``-1e10``; ``phi(x) / Phi(x) = sqrt(2 / pi) / erfcx(-x / sqrt(2))`` is neither.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.special.log_ndtr(x)

    @staticmethod
    def backward(ctx, gradient):
        (x,) = ctx.saved_tensors
        return gradient * math.sqrt(2.0 / math.pi) / torch.special.erfcx(-x / math.sqrt(2.0))


def _explain_network(detector, X, baseline, method, settings):
    X = detector._validate_X(_as_fitted_input(detector, X), reset=False)
    net = detector.net_
    net._set_training(False)
    device = net.device
    n, d = X.shape
    values = np.empty((n, d), dtype=np.float64)
    anomaly = np.empty(n, dtype=np.float64)
    base = np.zeros(n, dtype=np.float64)
    with torch_threads(getattr(detector, "n_threads", 1)), frozen(net.module_):
        if method == "reconstruction":
            with torch.no_grad():
                for rows in gen_batches(n, detector.score_batch_size):
                    x = torch.as_tensor(np.asarray(X[rows], dtype=np.float64), device=device)
                    squared = (net.module_(x) - x) ** 2
                    values[rows] = (squared / d).cpu().numpy()
                    anomaly[rows] = squared.mean(dim=1).cpu().numpy()
        else:
            score = _network_anomaly_score(detector)
            pool = (np.asarray(detector.support_center_, dtype=np.float64)[None, :] if baseline is None
                    else baseline)
            references = _References(pool, 1 if settings.n_neighbors == "auto" else settings.n_neighbors)
            with torch.no_grad():
                pool_scores = _evaluate(lambda rows: score(torch.as_tensor(rows, device=device)).cpu().numpy(), pool)
            alphas, weights = _gauss_legendre(settings.n_steps)
            for rows in gen_batches(n, _GRADIENT_BATCH_ROWS):
                part = np.asarray(X[rows], dtype=np.float64)
                chosen = references.indices(part)
                base[rows] = pool_scores[chosen].mean(axis=1)
                x = torch.as_tensor(part, device=device)
                with torch.no_grad():
                    anomaly[rows] = score(x).cpu().numpy()
                refs = torch.as_tensor(pool[chosen], device=device)  # (rows, references, features)
                values[rows] = _integrated_gradients(score, x, refs, alphas, weights).cpu().numpy()
    scores = -anomaly
    guarded = detector._guard_far_rows(X, scores)
    beyond = np.asarray(scores - guarded, dtype=np.float64)
    return _Part(contributions=values, base=base, anomaly=anomaly + beyond, beyond=beyond, method=method)


def _gauss_legendre(n_steps):
    """Nodes in (0, 1) and weights (summing to 1) of the ``n_steps``-point Gauss-Legendre rule."""
    nodes, weights = np.polynomial.legendre.leggauss(n_steps)
    return (nodes + 1.0) / 2.0, weights / 2.0


def _integrated_gradients(score, x, refs, alphas, weights):
    """Integrated gradients of ``score`` for the rows ``x``, averaged over each row's reference rows ``refs``
    (rows, references, features)."""
    total = torch.zeros_like(x)
    with torch.enable_grad():
        for j in range(refs.shape[1]):
            ref = refs[:, j]
            difference = x - ref
            gradient_sum = torch.zeros_like(x)
            for alpha, weight in zip(alphas, weights):
                point = (ref + float(alpha) * difference).requires_grad_(True)
                (gradient,) = torch.autograd.grad(score(point).sum(), point)
                gradient_sum += float(weight) * gradient
            total += difference * gradient_sum
    return total / refs.shape[1]


# ------------------------------------------------------------------------------------------ black-box methods
def _black_box(estimator, X, baseline, method, settings):
    if baseline is None:
        raise ValueError(
            f"{type(estimator).__name__} is explained against reference rows and keeps no training rows: pass "
            "baseline=, normal rows such as the training rows (or a sample of them), in the estimator's input "
            "features.")

    def anomaly_score(rows):
        return -np.asarray(estimator.score_samples(_as_fitted_input(estimator, rows)), dtype=np.float64)

    anomaly = _evaluate(anomaly_score, X)
    references = _References(baseline, 5 if settings.n_neighbors == "auto" else settings.n_neighbors)
    walks = _Walks(anomaly_score, references, _evaluate(anomaly_score, baseline))
    if method == "occlusion":
        values, base = walks.occlusion(X, anomaly)
    else:
        values, base = walks.shapley(X, anomaly, settings)
    return _Part(contributions=values, base=base, anomaly=anomaly, beyond=np.zeros(X.shape[0]), method=method)


def _evaluate(fn, rows):
    """``fn`` over ``rows`` a block of rows at a time (bounded memory), as float64."""
    out = np.empty(rows.shape[0], dtype=np.float64)
    for block in gen_batches(rows.shape[0], max(1, _MAX_EVALUATION_VALUES // max(1, rows.shape[1]))):
        out[block] = fn(rows[block])
    return out


class _References:
    """The reference rows of each explained row: every row of ``pool``, or each row's ``n_neighbors`` most similar
    ones.

    Similarity counts the features in which two rows agree: the distance is ``sum_j min(|x_j - r_j| / s_j, 1)``,
    with ``s_j`` the standard deviation of feature ``j`` over the pool (any difference counts fully in a feature the
    pool holds constant). A feature that differs by more than one standard deviation counts 1 however far it is,
    so the few features that make a row unusual do not decide which normal rows it is compared with; the distance
    does not change when a feature is scaled.
    """

    def __init__(self, pool, n_neighbors):
        self.pool = pool
        self.k = pool.shape[0] if n_neighbors is None else min(n_neighbors, pool.shape[0])
        self.nearest = self.k < pool.shape[0]
        spread = pool.std(axis=0)
        self.inverse_spread = np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), np.inf)

    def indices(self, X):
        """Indices into ``pool`` of the reference rows of each row of ``X``, shape (n_rows, k)."""
        if not self.nearest:
            return np.broadcast_to(np.arange(self.k), (X.shape[0], self.k))
        n_pool, d = self.pool.shape
        chosen = np.empty((X.shape[0], self.k), dtype=np.int64)
        for rows in gen_batches(X.shape[0], max(1, _MAX_EVALUATION_VALUES // (n_pool * d))):
            with np.errstate(invalid="ignore"):  # 0 * inf where a constant feature agrees
                gaps = np.abs(X[rows, None, :] - self.pool[None, :, :]) * self.inverse_spread
            distance = np.minimum(np.nan_to_num(gaps, nan=0.0), 1.0).sum(axis=2)
            chosen[rows] = np.argsort(distance, axis=1, kind="stable")[:, :self.k]
        return chosen


class _Walks:
    """Scores of rows whose features are taken one at a time from a row ``x`` into each of its reference rows.

    A step that takes a feature where ``x`` and the reference hold the same value leaves the row as it was, and its
    score is not computed again: on data with repeated values (binary or sparse features, references close to the
    row) most steps are of that kind.

    Parameters
    ----------
    fn : callable
        Anomaly score of a block of rows.
    references : _References
    pool_scores : ndarray of shape (n_pool,)
        ``fn`` of the reference rows.
    """

    def __init__(self, fn, references, pool_scores):
        self.fn = fn
        self.references = references
        self.pool_scores = pool_scores

    def _rows_per_block(self, d):
        return max(1, _MAX_EVALUATION_VALUES // (self.references.k * (d + 1)))

    def _scores(self, m, d, build):
        """Scores of ``m`` rows of ``d`` features that ``build(indices)`` makes a block at a time."""
        out = np.empty(m, dtype=np.float64)
        if m == 0:  # every step leaves the rows as they were
            return out
        for block in gen_batches(m, max(1, _MAX_EVALUATION_VALUES // d)):
            out[block] = self.fn(build(np.arange(block.start, block.stop)))
        return out

    def _chosen(self, X):
        """Each row's reference rows (n, k, d) and their scores (n, k)."""
        chosen = self.references.indices(X)
        return self.references.pool[chosen], self.pool_scores[chosen]

    def walk(self, X, anomaly, refs, ref_scores, orders):
        """Gains of every feature when the features of each row are taken into each of its references in ``orders``.

        ``refs`` (n, k, d) and ``ref_scores`` (n, k) are each row's references and their scores, ``orders`` (n, d)
        one feature order per row. Returns (n, d): each feature's gain, averaged over the references; every row's
        gains add up to its anomaly score minus its references' mean score.
        """
        n, d = X.shape
        k = refs.shape[1]
        rows = np.arange(n)[:, None]
        ranks = np.argsort(orders, axis=1)
        # steps[i, r, t]: whether taking feature orders[i, t] changes row i's walk into reference r
        steps = X[rows, orders][:, None, :] != np.take_along_axis(refs, orders[:, None, :], axis=2)
        scores = np.empty((n, k, d + 1), dtype=np.float64)
        scores[:, :, 0] = ref_scores
        scores[:, :, d] = anomaly[:, None]
        row, reference, step = np.nonzero(steps[:, :, :-1])  # the inner rows that change

        def inner(index):  # the first step + 1 features of the order come from x, the others from r
            taken = ranks[row[index]] <= step[index, None]
            return np.where(taken, X[row[index]], refs[row[index], reference[index]])

        scores[row, reference, step + 1] = self._scores(row.shape[0], d, inner)
        # a step that changes nothing keeps the score of the step before
        known = np.zeros((n, k, d + 1), dtype=bool)
        known[:, :, 0] = known[:, :, d] = True
        known[row, reference, step + 1] = True
        last = np.maximum.accumulate(np.where(known, np.arange(d + 1), 0), axis=2)
        scores = np.take_along_axis(scores, last, axis=2)
        gains = np.diff(scores, axis=2).mean(axis=1)  # (n, d), by position in the order
        by_feature = np.empty((n, d), dtype=np.float64)
        by_feature[rows, orders] = gains
        return by_feature

    def shapley(self, X, anomaly, settings):
        """Antithetic permutation estimate of the Shapley values of every row of ``X``, and each row's reference
        score.

        Every random feature order is walked forward and in reverse; each walk's gains add up to the anomaly score
        minus the references' mean score, so the estimate adds up to it exactly whatever the number of orders.
        """
        n, d = X.shape
        P = settings.n_permutations
        values = np.zeros((n, d), dtype=np.float64)
        base = np.empty(n, dtype=np.float64)
        for rows in gen_batches(n, self._rows_per_block(d)):
            count = rows.stop - rows.start
            refs, ref_scores = self._chosen(X[rows])
            base[rows] = ref_scores.mean(axis=1)
            orders = np.empty((count, P, d), dtype=np.int64)
            for i in range(count):
                rng = np.random.default_rng([settings.seed, rows.start + i])
                orders[i] = np.argsort(rng.random((P, d)), axis=1)
            for p in range(P):
                for order in (orders[:, p], orders[:, p, ::-1]):
                    values[rows] += self.walk(X[rows], anomaly[rows], refs, ref_scores, order)
        return values / (2 * P), base

    def occlusion(self, X, anomaly):
        """Feature ``j``'s contribution: the anomaly score minus its mean over the references with ``x_j = r_j``;
        and each row's reference score."""
        n, d = X.shape
        values = np.empty((n, d), dtype=np.float64)
        base = np.empty(n, dtype=np.float64)
        for rows in gen_batches(n, self._rows_per_block(d)):
            part = X[rows]
            refs, ref_scores = self._chosen(part)
            base[rows] = ref_scores.mean(axis=1)
            # held[i, r, j]: the score of row i with feature j set to its reference r's value (unchanged if equal)
            held = np.broadcast_to(anomaly[rows, None, None], refs.shape).copy()
            row, reference, feature = np.nonzero(part[:, None, :] != refs)

            def changed(index):
                rows_ = part[row[index]].copy()
                rows_[np.arange(index.shape[0]), feature[index]] = refs[row[index], reference[index], feature[index]]
                return rows_

            held[row, reference, feature] = self._scores(row.shape[0], d, changed)
            values[rows] = anomaly[rows, None] - held.mean(axis=1)
        return values, base
