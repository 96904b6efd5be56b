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
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted, validate_data

from .base import OffsetThresholdMixin, unfitted_on_failure
from .exceptions import TrainingDivergedError

__all__ = ["ScoreCombinationDetector", "SeedEnsembleDetector"]


def _seed_params(estimator):
    """Names of every ``random_state`` parameter of ``estimator``, nested ones included."""
    return [name for name in estimator.get_params(deep=True)
            if name == "random_state" or name.endswith("__random_state")]


def _fit_member(estimator, X, y, seed):
    """Fit one seeded clone; return it with the mean and scale of its scores on the training data."""
    member = clone(estimator).set_params(**{name: seed for name in _seed_params(estimator)})
    try:
        member.fit(X, y)
    except TrainingDivergedError as error:
        raise TrainingDivergedError(f"SeedEnsembleDetector member with random_state={seed}: {error}") from error
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
    >>> model = SeedEnsembleDetector(AutoEncoderDetector(max_epochs=2), n_estimators=3, random_state=0)
    >>> model = model.fit(X)
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

    def fit(self, X, y=None):
        """Fit ``n_estimators`` seeded clones of ``estimator``.

        Atomic: when a member's fit raises (or the fit is interrupted), the ensemble is left unfitted.

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
        with unfitted_on_failure(self):
            self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def _fit(self, X, y):
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


# ----------------------------------------------------------------------------------------------------
# score combinations of different detectors
# ----------------------------------------------------------------------------------------------------
def _training_scores(member, X):
    """Normality scores of the training rows on the scale of ``member.score_samples``.

    A :class:`~sklearn.neighbors.LocalOutlierFactor` fitted with ``novelty=True`` (alone or as the last
    step of a ``Pipeline``) scores its own training rows with each row among its neighbours, which makes them
    look more normal than new rows; its ``negative_outlier_factor_`` holds the same score computed without
    the row itself, and is used instead. Every other member gives ``score_samples(X)``.
    """
    final = member.steps[-1][1] if hasattr(member, "steps") else member
    if hasattr(final, "negative_outlier_factor_") and getattr(final, "novelty", False):
        return np.asarray(final.negative_outlier_factor_, dtype=np.float64)
    return np.asarray(member.score_samples(X), dtype=np.float64)


def _fit_named_member(name, estimator, X, y):
    """Fit a clone of one member; return it with its training scores (finite, float64)."""
    member = clone(estimator)
    try:
        member.fit(X, y)
    except TrainingDivergedError as error:
        raise TrainingDivergedError(f"ScoreCombinationDetector member {name!r}: {error}") from error
    scores = _training_scores(member, X)
    if scores.shape != (X.shape[0],) or not np.all(np.isfinite(scores)):
        raise ValueError(f"member {name!r} ({type(estimator).__name__}) gave "
                         f"{int(np.sum(~np.isfinite(scores)))} non-finite scores (or a wrong shape, "
                         f"{scores.shape}) on its training data.")
    return member, scores


def _rank_reference(scores):
    """Sorted distinct training scores and their mid-ranks in (0, 1), as used by ``normalization="rank"``."""
    values, counts = np.unique(scores, return_counts=True)
    before = np.cumsum(counts) - counts
    return values, (before + 0.5 * counts) / scores.shape[0]


class ScoreCombinationDetector(OffsetThresholdMixin, OutlierMixin, MetaEstimatorMixin, _BaseComposition):
    """Combination of different outlier detectors fitted on the same rows, their scores on one scale.

    Every member (any estimator with ``fit`` and ``score_samples``, higher = more normal: this library's
    detectors, :class:`~sklearn.ensemble.IsolationForest`,
    :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``, a ``Pipeline`` ending in one, a
    user's detector) is a clone fitted on the training rows. Members score on unrelated scales (path
    lengths, local density ratios, reconstruction errors), so each member's :meth:`score_samples` is
    mapped onto a common scale with statistics of **its scores on the training rows only**, then the mapped
    scores are combined. Nothing about the test rows enters the scale, so a row's score does not depend on
    the other rows scored with it.

    Normalisations:

    ``"standard"`` (default)
        ``(score - mean) / std`` of the member's training scores. A member that puts a row far out weighs
        in proportion to how far out it puts it.
    ``"rank"``
        The position of a score among the member's training scores: the mid-rank of the training scores
        in (0, 1), linearly interpolated between them. Below the lowest (above the highest) training score
        it continues linearly with a slope of ``1 / (n_train * std)`` (``std`` the standard deviation of
        the training scores), so rows beyond every training row keep their order (no ties) while their
        combined score stays about the same in rank units. One member with heavy-tailed scores therefore
        cannot outvote the others, and the combined score reads as "how many training rows look more
        anomalous than this one".

    Standardisation is the default because it ranked better on the library's tabular recommendation study
    (``docs/benchmarks/recommendation/``: novelty protocol, seeds 0-4, Thyroid, Arrhythmia, KDD Cup 99 and
    ADBench's four synthetic anomaly types on five sets of normal rows): mean rank score 12.9 for the
    standardised combinations against 15.1 for the rank ones (lower is better), and the standardised variant
    scored better for each of the six member sets tried, with either combination rule. Ranks throw away how far beyond
    the training rows a member puts a row: when one member (LocalOutlierFactor on KDD Cup 99) ranks poorly,
    the rank mean cannot let the confident member outvote it (IsolationForest + LocalOutlierFactor on KDD Cup
    99: F1@k 0.879 standardised, 0.516 ranked).

    Combinations (over the mapped scores, higher = more normal):

    ``"mean"`` (default)
        Weighted mean (``weights``, default equal): the members' evidence is averaged.
    ``"max"``
        Maximum of the anomaly evidence, i.e. the *lowest* mapped normality score over the members: a row
        that any member finds anomalous is anomalous. ``weights`` must then be ``None``.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, by name. A member may be ``"drop"`` (left out), and nested parameters are reached as
        ``<name>__<parameter>`` by :meth:`get_params` and :meth:`set_params`, as in
        :class:`~sklearn.ensemble.VotingClassifier`.
    normalization : {"standard", "rank"}, default="standard"
        How each member's scores are put on the common scale (see above).
    combination : {"mean", "max"}, default="mean"
        How the mapped member scores are combined (see above).
    weights : array-like of shape (n_estimators,) or None, default=None
        Non-negative weight of each entry of ``estimators`` for ``combination="mean"`` (a dropped member's
        weight is ignored); normalised to sum to 1. ``None``: equal weights.
    contamination : float in (0, 0.5], default=0.1
        Expected outlier share of the training data; sets ``offset_`` for :meth:`predict`.
    n_jobs : int or None, default=None
        Members fitted in parallel (joblib processes); ``None`` means 1. Scoring is sequential.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, without the dropped ones.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    score_means_, score_scales_ : ndarray of shape (n_members,)
        Mean and standard deviation of each member's training scores (a scale of 0 is replaced by 1).
    reference_scores_ : list of ndarray
        Each member's distinct training scores, sorted (used by ``normalization="rank"``).
    weights_ : ndarray of shape (n_members,)
        The weights of the fitted members, summing to 1.
    offset_ : float
        Threshold on :meth:`score_samples`: the ``100 * contamination`` percentile of :meth:`score_samples`
        of the training rows, so that :meth:`predict` flags that share of them.
    n_features_in_ : int
        Number of features seen in :meth:`fit`.
    feature_names_in_ : ndarray of str
        Column names seen in :meth:`fit`, when ``X`` had string column names.

    See Also
    --------
    SeedEnsembleDetector : one detector trained from several seeds.
    skanomaly.recommended_detector : the combination this library recommends for unseen tabular data.

    Notes
    -----
    The training scores a member is normalised with are its :meth:`score_samples` on the training rows,
    except for a ``LocalOutlierFactor(novelty=True)``, whose ``negative_outlier_factor_`` (each training row
    scored without itself as a neighbour) is used, because its scores of its own training rows are biased
    towards normal.

    Examples
    --------
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.neighbors import LocalOutlierFactor
    >>> from skanomaly.datasets import make_multimodal_2d
    >>> from skanomaly.ensemble import ScoreCombinationDetector
    >>> X, _ = make_multimodal_2d(n_samples=300, random_state=0)
    >>> model = ScoreCombinationDetector([("iforest", IsolationForest(random_state=0)),
    ...                                   ("lof", LocalOutlierFactor(novelty=True))]).fit(X)
    >>> model.score_samples(X[:3]).dtype
    dtype('float64')
    >>> model.set_params(lof__n_neighbors=10).get_params()["lof__n_neighbors"]
    10
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "normalization": [StrOptions({"rank", "standard"})],
        "combination": [StrOptions({"mean", "max"})],
        "weights": ["array-like", None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimators, *, normalization="standard", combination="mean", weights=None,
                 contamination=0.1, n_jobs=None):
        self.estimators = estimators
        self.normalization = normalization
        self.combination = combination
        self.weights = weights
        self.contamination = contamination
        self.n_jobs = n_jobs

    def get_params(self, deep=True):
        """Parameters of the combination and, with ``deep=True``, of every member as ``<name>__<param>``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the members and their parameters.

        Returns
        -------
        params : dict
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters: the combination's, a whole member by its name, or ``<name>__<param>``.

        Parameters
        ----------
        **params : dict

        Returns
        -------
        self : ScoreCombinationDetector
        """
        self._set_params("estimators", **params)
        return self

    def _check_members(self):
        """Validate ``estimators`` and ``weights``; return the kept (name, estimator) pairs and their weights."""
        if not self.estimators:
            raise ValueError("estimators must be a non-empty list of (name, estimator) tuples.")
        if not all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                   for item in self.estimators):
            raise ValueError("estimators must be a list of (name, estimator) tuples with str names, got "
                             f"{self.estimators!r}.")
        names = [name for name, _ in self.estimators]
        self._validate_names(names)
        for name, estimator in self.estimators:
            if estimator != "drop" and not (hasattr(estimator, "fit") and hasattr(estimator, "score_samples")):
                raise TypeError(f"member {name!r} must have fit and score_samples (higher = more normal) or be "
                                f"'drop', got {type(estimator).__name__}.")
        kept = [i for i, (_, estimator) in enumerate(self.estimators) if estimator != "drop"]
        if not kept:
            raise ValueError("every member of estimators is 'drop'; at least one is needed.")
        if self.weights is None:
            weights = np.ones(len(kept))
        else:
            if self.combination == "max":
                raise ValueError("weights apply to combination='mean' only; use weights=None with 'max'.")
            weights = np.asarray(self.weights, dtype=np.float64)
            if weights.shape != (len(self.estimators),):
                raise ValueError(f"weights must have one entry per member of estimators ({len(self.estimators)}), "
                                 f"got shape {weights.shape}.")
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError(f"weights must be finite and non-negative, got {self.weights!r}.")
            weights = weights[kept]
            if weights.sum() <= 0:
                raise ValueError("the weights of the kept members sum to 0.")
        return [self.estimators[i] for i in kept], weights / weights.sum()

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit every member on ``X`` and record the statistics of their training scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (at least 2 rows), finite.
        y : array-like or None, default=None
            Passed to every member's ``fit`` (ignored by unsupervised detectors).

        Returns
        -------
        self : ScoreCombinationDetector
            The fitted combination.

        Notes
        -----
        Atomic: when a member's fit raises (or the fit is interrupted), the combination is left unfitted.
        """
        with unfitted_on_failure(self):
            self._fit(X, y)
        return self

    def _fit(self, X, y):
        members, self.weights_ = self._check_members()
        X = validate_data(self, X, ensure_min_samples=2)
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_named_member)(name, estimator, X, y) for name, estimator in members
        )
        self.estimators_ = [member for member, _ in fitted]
        self.named_estimators_ = Bunch(**{name: member for (name, _), (member, _) in zip(members, fitted)})
        train_scores = [scores for _, scores in fitted]
        self.score_means_ = np.array([np.mean(scores) for scores in train_scores])
        scales = np.array([np.std(scores) for scores in train_scores])
        self.score_scales_ = np.where(scales > 0, scales, 1.0)
        self.reference_scores_ = [np.unique(scores) for scores in train_scores]
        self._rank_positions = [_rank_reference(scores) for scores in train_scores]
        self._n_train = X.shape[0]
        self.offset_ = float(np.percentile(self._combine(self._member_scores(X)), 100.0 * self.contamination))

    def _normalize(self, j, scores):
        """Map member ``j``'s raw scores onto the common scale."""
        if self.normalization == "standard":
            return (scores - self.score_means_[j]) / self.score_scales_[j]
        values, positions = self._rank_positions[j]
        mapped = np.interp(scores, values, positions)
        slope = 1.0 / (self._n_train * self.score_scales_[j])
        below, above = scores < values[0], scores > values[-1]
        mapped[below] = positions[0] - slope * (values[0] - scores[below])
        mapped[above] = positions[-1] + slope * (scores[above] - values[-1])
        return mapped

    def _combine(self, mapped):
        if self.combination == "max":
            return mapped.min(axis=1)
        return mapped @ self.weights_

    def member_scores(self, X):
        """Each member's normality score of ``X`` on the common scale (higher = more normal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_members)
            Column ``j`` is member ``estimators_[j]``'s :meth:`score_samples`, normalised.
        """
        check_is_fitted(self)
        return self._member_scores(validate_data(self, X, reset=False))

    def _member_scores(self, X):
        """:meth:`member_scores` of validated rows."""
        columns = []
        for j, member in enumerate(self.estimators_):
            scores = np.asarray(member.score_samples(X), dtype=np.float64)
            if not np.all(np.isfinite(scores)):
                raise ValueError(f"member {type(member).__name__} gave {int(np.sum(~np.isfinite(scores)))} "
                                 "non-finite scores.")
            columns.append(self._normalize(j, scores))
        return np.column_stack(columns)

    def score_samples(self, X):
        """Normality score of each sample (higher = more normal): the combined normalised member scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        return self._combine(self.member_scores(X)).astype(np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            members = [est for _, est in self.estimators if est != "drop"]
            tags.non_deterministic = any(get_tags(est).non_deterministic for est in members)
        except (TypeError, ValueError, AttributeError):
            pass
        return tags
