"""Seed ensembles of detectors: the same detector trained from several random seeds, scores averaged.

Deep and adversarial detectors vary from seed to seed; the benchmarks of this library show F1 standard
deviations up to 0.19 over seeds on the same split. Averaging the standardised scores of several
independently seeded fits is the plainest way to trade training time for a less seed-dependent ranking (the
autoencoder ensembles of Chen et al., "Outlier Detection with Autoencoder Ensembles", SDM 2017, vary the
networks as well; here only the seed varies).
"""

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, _fit_context, clone
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .base import OffsetThresholdMixin

__all__ = ["SeedEnsembleDetector"]


def _seed_params(estimator):
    """Names of every ``random_state`` parameter of ``estimator``, nested ones included."""
    return [name for name in estimator.get_params(deep=True)
            if name == "random_state" or name.endswith("__random_state")]


def _fit_member(estimator, X, y, seed):
    """Fit one seeded clone; return it with the mean and scale of its scores on the training data."""
    member = clone(estimator).set_params(**{name: seed for name in _seed_params(estimator)})
    member.fit(X, y)
    scores = np.asarray(member.score_samples(X), dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"member with random_state={seed} gave {int(np.sum(~np.isfinite(scores)))} non-finite "
                         "scores on its training data.")
    scale = float(np.std(scores))
    return member, float(np.mean(scores)), scale if scale > 0 else 1.0


class SeedEnsembleDetector(OffsetThresholdMixin, OutlierMixin, MetaEstimatorMixin, BaseEstimator):
    """Average of one detector trained from ``n_estimators`` random seeds.

    Each member is a clone of ``estimator`` whose ``random_state`` parameters (nested ones too, e.g. in a
    ``Pipeline`` or a ``GridSearchCV``) are set to its own seed, drawn in :meth:`fit` from ``random_state``.
    A member's :meth:`score_samples` is standardised with the mean and standard deviation of its scores on the
    training data, so that members with differently scaled scores weigh the same, and the ensemble's score is
    the mean (or median) of the standardised member scores. Members see the data exactly as given, so images
    and every input the base detector accepts pass through unchanged.

    Parameters
    ----------
    estimator : estimator object
        An unfitted detector with ``fit`` and ``score_samples`` (higher = more normal) and at least one
        ``random_state`` parameter, e.g. :class:`~skanomaly.detectors.MirroredAEDetector`.
    n_estimators : int, default=5
        Number of members (seeds).
    combination : {"mean", "median"}, default="mean"
        How the standardised member scores are combined.
    contamination : float in (0, 0.5], default=0.1
        Expected outlier share of the training data; sets ``offset_`` for :meth:`predict`.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib processes); ``None`` means 1. Scoring is sequential.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds in :meth:`fit`.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    seeds_ : ndarray of int of shape (n_estimators,)
        The ``random_state`` each member was fitted with.
    score_means_, score_scales_ : ndarray of shape (n_estimators,)
        Mean and standard deviation of each member's training scores (a scale of 0 is replaced by 1).
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of the training scores.
    n_features_in_ : int
        Number of features seen in :meth:`fit`, as the members record it (absent when they do not).
    feature_names_in_ : ndarray of str
        Column names seen in :meth:`fit`, when ``X`` had string column names.

    See Also
    --------
    sklearn.ensemble.BaggingClassifier : bagging of classifiers, which also varies the training rows.

    Examples
    --------
    >>> from skanomaly.datasets import make_multimodal_2d
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> from skanomaly.ensemble import SeedEnsembleDetector
    >>> X, _ = make_multimodal_2d(n_samples=200, random_state=0)
    >>> model = SeedEnsembleDetector(AutoEncoderDetector(max_epochs=2), n_estimators=3, random_state=0).fit(X)
    >>> model.score_samples(X).shape
    (200,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"])],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "combination": [StrOptions({"mean", "median"})],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, *, n_estimators=5, combination="mean", contamination=0.1, n_jobs=None,
                 random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.combination = combination
        self.contamination = contamination
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit ``n_estimators`` seeded clones of ``estimator``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts
            Training data.
        y : array-like or None, default=None
            Passed to every member's ``fit`` (ignored by unsupervised detectors).

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        if not _seed_params(self.estimator):
            raise ValueError(f"{type(self.estimator).__name__} has no random_state parameter, so its members "
                             "would not differ: SeedEnsembleDetector needs a seeded estimator.")
        rng = check_random_state(self.random_state)
        self.seeds_ = rng.randint(np.iinfo(np.int32).max, size=self.n_estimators)
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(self.estimator, X, y, int(seed)) for seed in self.seeds_
        )
        self.estimators_ = [member for member, _, _ in fitted]
        self.score_means_ = np.array([mean for _, mean, _ in fitted])
        self.score_scales_ = np.array([scale for _, _, scale in fitted])
        for name in ("n_features_in_", "feature_names_in_"):  # as the members saw the data, when they record it
            if hasattr(self.estimators_[0], name):
                setattr(self, name, getattr(self.estimators_[0], name))
        self.offset_ = float(np.percentile(self.score_samples(X), 100.0 * self.contamination))
        return self

    def member_scores(self, X):
        """Standardised normality score of every member (higher = more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts

        Returns
        -------
        scores : ndarray of shape (n_samples, n_estimators)
            Member ``j``'s :meth:`score_samples` minus ``score_means_[j]``, divided by ``score_scales_[j]``.
        """
        check_is_fitted(self)
        columns = [np.asarray(member.score_samples(X), dtype=np.float64) for member in self.estimators_]
        return (np.column_stack(columns) - self.score_means_) / self.score_scales_

    def score_samples(self, X):
        """Normality score of each sample (higher = more normal): the combined standardised member scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any input ``estimator`` accepts

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        scores = self.member_scores(X)
        combined = np.median(scores, axis=1) if self.combination == "median" else scores.mean(axis=1)
        return combined.astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.non_deterministic = inner.non_deterministic
        return tags
