"""Decisions with a guaranteed false-alarm rate: conformal p-values for any outlier detector.

A detector's ``predict`` thresholds its scores at a percentile of the *training* rows' scores (``contamination``).
A fitted model scores its own training rows better than new ones, so on unseen normal rows it flags far more (or
fewer) than asked. :class:`CalibratedDetector` scores rows the model has not been fitted on instead, the
*calibration* rows, and turns the score of a new row into a conformal p-value: the share of calibration rows that
score at least as anomalous,

.. math:: p(x) = \\frac{1 + \\#\\{i : s(x_i) \\le s(x)\\}}{n + 1}

(``s`` = ``score_samples``, higher = more normal; ``n`` calibration rows). For normal rows exchangeable with the
calibration rows, ``P(p(x) <= alpha) <= alpha`` (Vovk et al., *Algorithmic Learning in a Random World*, 2005;
Bates, Candes, Lei, Romano and Sesia, "Testing for outliers with conformal p-values", Annals of Statistics 2023),
so flagging the rows with ``p <= false_alarm_rate`` keeps the expected false-alarm rate at or below it, and the
Benjamini-Hochberg procedure on the p-values of a batch controls its false discovery rate.
"""

import math
from fractions import Fraction
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.stats import false_discovery_control
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from .base import OffsetThresholdMixin, unfitted_on_failure
from .exceptions import TrainingDivergedError

__all__ = ["CalibratedDetector"]

# The tie-break fraction of the calibrated score stays this far below 1, so that the integer part of
# (n + 1) * score_samples is the count of calibration rows a row beats, for up to millions of calibration rows.
_FRACTION_CEILING = 1.0 - 1e-9


def _check_finite_rows(X, what):
    """Refuse numeric input holding NaN or infinity, naming the rows (``what``: which rows they are)."""
    if sp.issparse(X):
        values = X.data
    else:
        try:
            values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)
        except (TypeError, ValueError):  # ragged input: the estimator's own validation judges it
            return
    if values.dtype.kind not in "fc" or values.size == 0:
        return
    bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1) if values.ndim else ~np.isfinite(values)
    if bad.any():
        raise ValueError(f"{what} contain NaN or infinity ({int(bad.sum())} value(s) or row(s)); conformal "
                         "p-values need finite scores of every row.")


def _indexable(X):
    """``X`` in a form whose rows :func:`sklearn.utils._safe_indexing` can take: arrays, DataFrames and lists as
    they are, sparse matrices as CSR, other array-likes as arrays."""
    if sp.issparse(X):
        return X.tocsr()
    if hasattr(X, "iloc") or isinstance(X, (np.ndarray, list)):
        return X
    return np.asarray(X)


def _fit_fold(estimator, X, y, train, calibration, frozen):
    """Fit one clone on rows ``train`` (unless ``frozen``) and score rows ``calibration``."""
    member = estimator if frozen else clone(estimator)
    if not frozen:
        try:
            member.fit(_safe_indexing(X, train), None if y is None else _safe_indexing(y, train))
        except TrainingDivergedError as error:
            raise TrainingDivergedError(f"CalibratedDetector member: {error}") from error
    scores = np.asarray(member.score_samples(_safe_indexing(X, calibration)), dtype=np.float64)
    if scores.shape != (len(calibration),) or not np.all(np.isfinite(scores)):
        raise ValueError(f"{type(estimator).__name__} gave {int(np.sum(~np.isfinite(scores)))} non-finite "
                         f"calibration score(s) (or a wrong shape, {scores.shape}).")
    return member, np.sort(scores)


def _position(scores, calibration):
    """Count of sorted ``calibration`` scores ``<=`` each score, and where the score lies between its neighbours.

    Returns ``(count, fraction)``: ``count`` integers in ``[0, n]``; ``fraction`` in ``[0, 1)``, 0 at a calibration
    score, rising linearly to the next one, and rising without reaching 1 below the lowest (``1 / (1 + d)``) and
    above the highest (``d / (1 + d)``), with ``d`` the distance beyond them in units of the calibration scores'
    standard deviation. ``count + fraction`` is continuous and increasing in the score.
    """
    n = calibration.shape[0]
    count = np.searchsorted(calibration, scores, side="right")
    spread = float(np.std(calibration))
    unit = spread if spread > 0 else 1e-12 * (1.0 + abs(float(calibration[0])))
    fraction = np.empty(scores.shape[0], dtype=np.float64)
    below, above = count == 0, count == n
    inside = ~below & ~above
    lower = calibration[np.maximum(count - 1, 0)]
    upper = calibration[np.minimum(count, n - 1)]
    fraction[inside] = (scores[inside] - lower[inside]) / (upper[inside] - lower[inside])
    fraction[below] = 1.0 / (1.0 + (calibration[0] - scores[below]) / unit)
    beyond = (scores[above] - calibration[-1]) / unit
    fraction[above] = beyond / (1.0 + beyond)
    return count, np.clip(fraction, 0.0, _FRACTION_CEILING)


class CalibratedDetector(OffsetThresholdMixin, OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Outlier detector whose decisions keep a chosen false-alarm rate: conformal p-values from held-out rows.

    Wraps any outlier detector with ``fit`` and ``score_samples`` (higher = more normal): this library's
    detectors, scikit-learn's (:class:`~sklearn.ensemble.IsolationForest`,
    :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``, :class:`~sklearn.svm.OneClassSVM`),
    a ``Pipeline`` ending in one, :class:`~skanomaly.ensemble.ScoreCombinationDetector`,
    :class:`~skanomaly.ensemble.SeedEnsembleDetector`, :func:`~skanomaly.recommended_detector`. The rows given
    to :meth:`fit` must be normal (or nearly so): some of them calibrate the scores, and the guarantee holds
    for new normal rows exchangeable with them.

    ``method="split"``
        A random ``calibration_size`` share of the rows is held out; a clone of ``estimator`` is fitted on the
        others and scores the held-out rows. For a new normal row, ``P(p <= alpha) <= alpha`` for every
        ``alpha`` (over the draw of the calibration rows and the new row), and
        ``P(p <= alpha) >= alpha - 1 / (n_cal + 1)``. One fit, on fewer rows.
    ``method="cross"``
        The rows are cut into ``n_folds`` folds; a clone is fitted without each fold and scores it, so every
        row calibrates a model it was not fitted on (cross-conformal; Vovk 2015, Barber, Candes, Ramdas and
        Tibshirani, "Predictive inference with the jackknife+", Annals of Statistics 2021). A new row's score
        under each model is compared with that model's fold, and the counts are pooled:
        ``p = (1 + sum_k #{i in fold k : s_k(x_i) <= s_k(x)}) / (n + 1)``. Every row both trains and
        calibrates, which suits small data (the smallest p-value is ``1 / (n + 1)`` with all ``n`` rows); the
        proven bound is weaker, ``P(p <= alpha) <= 2 * alpha`` (the jackknife+ / CV+ bound), and it is usually
        close to ``alpha`` in practice (see the calibration benchmark). ``n_folds`` fits.

    A fitted model that is not to be refitted (say, trained on other rows) calibrates on the rows given to
    :meth:`fit`, all of them: wrap it in :class:`sklearn.frozen.FrozenEstimator` with ``method="split"``.

    Scores and decisions (scikit-learn's semantics):

    - :meth:`p_values` ``(X)``: the conformal p-values, in ``[1 / (n + 1), 1]``; small = anomalous.
    - :meth:`score_samples` ``(X)``: higher = more normal, in ``[0, 1)``: the count of calibration rows that
      score at most as normal as the row (pooled over the folds), plus a fraction in ``[0, 1)`` that says where
      the row lies between two calibration scores (averaged over the folds), divided by ``n + 1``. With
      ``method="split"`` it is an increasing function of the fitted model's score, so it ranks rows as that
      model does. ``(n + 1) * score_samples`` lies in ``[c, c + 1)`` with ``c + 1 = (n + 1) * p_values``.
    - :meth:`predict`: ``-1`` where ``p_values <= false_alarm_rate``, else ``+1``; :meth:`decision_function`
      ``= score_samples - offset_`` is negative exactly there.
    - :meth:`predict_fdr` ``(X, fdr=0.1)``: the batch decision that controls the false discovery rate of the
      rows of ``X`` it flags, with the Benjamini-Hochberg procedure on their p-values
      (:func:`scipy.stats.false_discovery_control`); valid for ``method="split"`` (conformal p-values are
      positively dependent, Bates et al. 2023).

    Parameters
    ----------
    estimator : estimator object
        An outlier detector with ``fit`` and ``score_samples`` (higher = more normal). Cloned for each fit.
    method : {"split", "cross"}, default="split"
        How calibration rows are obtained (see above).
    calibration_size : float in (0, 1) or int >= 1, default=0.3
        ``method="split"``: the share (rounded up) or the number of rows held out for calibration.
    n_folds : int >= 2, default=5
        ``method="cross"``: the number of folds, and of fits.
    false_alarm_rate : float in (0, 1), default=0.05
        The target ``alpha`` of :meth:`predict`: the expected share of new normal rows it flags. It must be
        reachable: at least ``1 / (n + 1)``, the smallest p-value with ``n`` calibration rows.
    n_jobs : int or None, default=None
        Fits run in parallel (joblib processes) with ``method="cross"``; ``None`` means 1.
    random_state : int, RandomState instance or None, default=None
        Draws the calibration rows (or the folds) in :meth:`fit`. The members' own seeds are those of
        ``estimator``: set its ``random_state`` too for a repeatable fit.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted models: one for ``method="split"``, ``n_folds`` for ``method="cross"``.
    calibration_scores_ : ndarray of shape (n_calibration,)
        The calibration rows' ``score_samples`` under the model they calibrate, sorted within each model's block.
    calibration_folds_ : ndarray of int of shape (n_calibration,)
        The index in ``estimators_`` of the model each calibration score belongs to (non-decreasing).
    n_calibration_ : int
        ``n``, the number of calibration rows.
    offset_ : float
        Threshold on :meth:`score_samples`: ``floor(false_alarm_rate * (n + 1)) / (n + 1)``; a row scores below
        it exactly when its p-value is at most ``false_alarm_rate``.
    n_features_in_ : int
        Number of features seen in :meth:`fit`, as the fitted models record it (absent when they do not).
    feature_names_in_ : ndarray of str
        Column names seen in :meth:`fit`, when the fitted models record them.

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : calibrated probabilities of a classifier, by cross-validation.
    skanomaly.ensemble.SeedEnsembleDetector : a detector averaged over seeds.

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> from skanomaly.calibration import CalibratedDetector
    >>> from skanomaly.datasets import load_thyroid
    >>> X, y = load_thyroid(return_X_y=True)
    >>> model = CalibratedDetector(IsolationForest(random_state=0), false_alarm_rate=0.05, random_state=0)
    >>> model = model.fit(X[y == 0][:2000])
    >>> model.p_values(X[:3]).round(3)  # normal rows
    array([0.471, 0.241, 0.301])
    >>> model.predict(X[y == 1][:3])  # anomalies: flagged at a 5 % false-alarm rate
    array([-1, -1, -1])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"])],
        "method": [StrOptions({"split", "cross"})],
        "calibration_size": [Interval(Real, 0, 1, closed="neither"), Interval(Integral, 1, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "false_alarm_rate": [Interval(Real, 0, 1, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, method="split", calibration_size=0.3, n_folds=5, false_alarm_rate=0.05,
                 n_jobs=None, random_state=None):
        self.estimator = estimator
        self.method = method
        self.calibration_size = calibration_size
        self.n_folds = n_folds
        self.false_alarm_rate = false_alarm_rate
        self.n_jobs = n_jobs
        self.random_state = random_state

    # --------------------------------------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Fit the model(s) and score the calibration rows.

        Atomic: when a fit raises (or is interrupted), the detector is left unfitted.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts
            Normal rows (images too, for detectors that take them). Part of them (``method="split"``), or all of
            them in turn (``method="cross"``), calibrate the scores; with a ``FrozenEstimator``, all of them.
        y : array-like or None, default=None
            Passed to the fits of ``estimator`` (ignored by unsupervised detectors); the calibration ignores it.

        Returns
        -------
        self : object
            The fitted detector.

        Raises
        ------
        ValueError
            If the rows hold NaN or infinity, if the split leaves no rows on one side, if there are fewer rows
            than folds, if ``false_alarm_rate`` is below the smallest p-value ``1 / (n + 1)``, or if
            ``method="cross"`` is asked of a ``FrozenEstimator``.
        """
        with unfitted_on_failure(self):
            self._fit(_indexable(X), None if y is None else _indexable(y))
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit(self, X, y):
        if getattr(X, "ndim", None) == 1 or (isinstance(X, (list, tuple)) and np.ndim(X) == 1):
            raise ValueError("Expected 2D array, got 1D array instead: reshape a single feature with "
                             "X.reshape(-1, 1) or a single row with X.reshape(1, -1).")
        n_samples = _num_samples(X)
        if n_samples < 2:
            raise ValueError(f"Found array with {n_samples} sample(s) while a minimum of 2 is required by "
                             "CalibratedDetector.")
        frozen = isinstance(self.estimator, FrozenEstimator)
        if frozen and self.method == "cross":
            raise ValueError("method='cross' refits the estimator on every fold; a FrozenEstimator is never "
                             "refitted: use method='split', which then calibrates on every row of X.")
        _check_finite_rows(X, "The rows of X")
        folds = self._calibration_folds(n_samples, frozen)
        self._check_reachable(sum(len(calibration) for _, calibration in folds))
        fitted = Parallel(n_jobs=self.n_jobs if len(folds) > 1 else None)(
            delayed(_fit_fold)(self.estimator, X, y, train, calibration, frozen) for train, calibration in folds
        )
        self.estimators_ = [member for member, _ in fitted]
        self.calibration_scores_ = np.concatenate([scores for _, scores in fitted])
        self.calibration_folds_ = np.concatenate([np.full(len(scores), k) for k, (_, scores) in enumerate(fitted)])
        self.n_calibration_ = int(self.calibration_scores_.shape[0])
        self.offset_ = self._threshold_count() / (self.n_calibration_ + 1)
        for name in ("n_features_in_", "feature_names_in_"):  # as the models saw the data, when they record it
            if hasattr(self.estimators_[0], name):
                setattr(self, name, getattr(self.estimators_[0], name))

    def _calibration_folds(self, n_samples, frozen):
        """``[(training rows, calibration rows)]``, one pair per model to fit."""
        rng = check_random_state(self.random_state)
        if frozen:
            return [(np.arange(0), np.arange(n_samples))]
        if self.method == "cross":
            if n_samples < self.n_folds:
                raise ValueError(f"method='cross' with n_folds={self.n_folds} needs at least {self.n_folds} rows, "
                                 f"got {n_samples}.")
            order = rng.permutation(n_samples)
            return [(np.sort(np.setdiff1d(order, fold)), np.sort(fold)) for fold in np.array_split(order, self.n_folds)]
        size = self.calibration_size
        n_calibration = math.ceil(size * n_samples) if isinstance(size, Real) and not isinstance(size, Integral) \
            else int(size)
        if not 1 <= n_calibration <= n_samples - 2:
            raise ValueError(f"calibration_size={size!r} holds out {n_calibration} of {n_samples} rows; the split "
                             "needs at least 1 calibration row and 2 rows to fit on.")
        order = rng.permutation(n_samples)
        return [(np.sort(order[n_calibration:]), np.sort(order[:n_calibration]))]

    def _check_reachable(self, n_calibration):
        if Fraction(self.false_alarm_rate) * (n_calibration + 1) < 1:
            needed = math.ceil(1 / self.false_alarm_rate) - 1
            raise ValueError(
                f"false_alarm_rate={self.false_alarm_rate:g} is below the smallest p-value, 1 / (n + 1) = "
                f"{1 / (n_calibration + 1):.4g} with n = {n_calibration} calibration rows: no row could ever be "
                f"flagged. It needs at least {needed} calibration rows: give more rows, a larger calibration_size, "
                "method='cross' (every row calibrates), or a larger false_alarm_rate."
            )

    def _threshold_count(self):
        """``m = floor(alpha * (n + 1))``: a row's p-value is at most ``alpha`` iff it beats fewer than ``m`` rows."""
        return math.floor(Fraction(self.false_alarm_rate) * (self.n_calibration_ + 1))

    # --------------------------------------------------------------------------------------------- scoring
    def _positions(self, X):
        """Pooled count of calibration rows each row beats and its mean fraction between calibration scores."""
        check_is_fitted(self)
        X = _indexable(X)
        _check_finite_rows(X, "The rows of X")
        count, fraction = 0, 0.0
        for k, member in enumerate(self.estimators_):
            scores = np.asarray(member.score_samples(X), dtype=np.float64)
            member_count, member_fraction = _position(scores, self.calibration_scores_[self.calibration_folds_ == k])
            count = count + member_count
            fraction = fraction + member_fraction
        return count, np.minimum(fraction / len(self.estimators_), _FRACTION_CEILING)

    def p_values(self, X):
        """Conformal p-value of each row: the share of calibration rows that score at least as anomalous.

        ``(1 + #{calibration rows scoring at most as normal}) / (n + 1)``, pooled over the models with
        ``method="cross"``. Small values are evidence of an anomaly; for a normal row,
        ``P(p <= alpha) <= alpha`` (``method="split"``; at most ``2 * alpha`` with ``method="cross"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts

        Returns
        -------
        p_values : ndarray of shape (n_samples,)
            Float64 values in ``[1 / (n + 1), 1]``.
        """
        count, _ = self._positions(X)
        return (1.0 + count) / (self.n_calibration_ + 1)

    def score_samples(self, X):
        """Calibrated normality score of each row (higher = more normal), in ``[0, 1)``.

        The pooled count of calibration rows the row beats, plus the mean fraction of the way to the next
        calibration score, divided by ``n + 1``. It orders rows by their p-values, and rows with equal p-values
        by where they lie between calibration scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        count, fraction = self._positions(X)
        return (count + fraction) / (self.n_calibration_ + 1)

    def predict_fdr(self, X, *, fdr=0.1):
        """Flag the rows of a batch with the false discovery rate controlled at ``fdr`` (Benjamini-Hochberg).

        Among the rows of ``X`` this flags, the expected share of normal ones is at most ``fdr`` (for
        ``method="split"``). Unlike :meth:`predict`, a row's label depends on the other rows of the batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts
            The batch.
        fdr : float in (0, 1), default=0.1
            The target false discovery rate ``q``.

        Returns
        -------
        labels : ndarray of int of shape (n_samples,)
            ``-1`` for the flagged rows, ``+1`` for the others.
        """
        if isinstance(fdr, bool) or not isinstance(fdr, Real) or not 0 < fdr < 1:
            raise ValueError(f"fdr must be a float in (0, 1), got {fdr!r}.")
        p_values = self.p_values(X)
        labels = np.ones(p_values.shape[0], dtype=int)
        if p_values.size:
            labels[false_discovery_control(p_values, method="bh") <= fdr] = -1
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.non_deterministic = inner.non_deterministic
        return tags
