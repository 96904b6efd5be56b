"""Train/test protocols of the anomaly-detection literature, as splitters and split functions.

Labels follow the package convention: **1 = anomaly, 0 = normal**. Every protocol here trains on
normal data only ("fit on normals", also called novelty detection) and tests on a set that holds both
classes.

Protocols
---------
Tabular novelty split (:func:`novelty_train_test_split`, :class:`NoveltyShuffleSplit`)
    The protocol of Zong et al. 2018 (DAGMM, ICLR) and Zenati et al. 2018 ("Efficient GAN-based anomaly
    detection" and ALAD, ICDM) on KDD99, Arrhythmia and Thyroid: a random 50 % / 50 % split, all
    anomalies removed from the training half, the test half scored and thresholded at the known anomaly
    ratio (see :mod:`skanomaly.metrics`), repeated over several seeds (mean and standard deviation).
Cross-validation on normals (:class:`NoveltyKFold`)
    Stratified K-fold whose training folds contain no anomaly, for hyper-parameter search.
Hyper-parameter search on normals (:class:`NoveltyGridSearchCV`, :class:`NoveltyRandomizedSearchCV`)
    scikit-learn's searches with labelled validation anomalies: every candidate trains on normal rows
    only, is scored on folds holding both classes, and the best one is refitted on the rows labelled 0.
One-class (:func:`one_class_split`)
    One class of a labelled data set is normal, all others are anomalies, e.g. Ruff et al. 2018
    (Deep SVDD, ICML) on MNIST and CIFAR-10, and the one-class tables of the AMA paper (Somepalli et al.
    2021, Table 2): train on the normal class, test on the whole test set.
Leave-one-class-out (:func:`leave_one_class_out_split`)
    One class is the anomaly, all others are normal, e.g. Akcay et al. 2018 (GANomaly, ACCV), OMASGAN
    (Dionelis et al. 2021) and the mirrored autoencoder of Wu et al.: train on all other classes, test
    on the whole test set.
Out-of-distribution (:func:`out_of_distribution_split`)
    Train on one data set, test on its held-out part (normal) plus another data set (anomalous), e.g.
    CIFAR-10 versus SVHN.

.. warning::

   One-class and leave-one-class-out results are **not comparable**: in the first the normal data is a
   single class and anomalies are the 9 others (a narrow normal distribution), in the second normal data
   spans 9 classes and the anomaly is a single one (a much harder problem for the same data set). Always
   report which protocol produced a number.

The class-based splits (one-class, leave-one-class-out) first make one stratified train/test split of the
labelled data (``train_test_split(..., stratify=y)``) and only then select samples by class, so for a
given ``random_state`` every choice of class uses the same underlying split.
"""

import numbers
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    RandomizedSearchCV,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
    train_test_split,
)
from sklearn.model_selection._split import BaseShuffleSplit
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils.validation import _check_method_params, _num_samples, check_consistent_length

from .metrics import _check_anomaly_labels

__all__ = [
    "NoveltyGridSearchCV",
    "NoveltyKFold",
    "NoveltyRandomizedSearchCV",
    "NoveltyShuffleSplit",
    "leave_one_class_out_split",
    "novelty_train_test_split",
    "one_class_split",
    "out_of_distribution_split",
]


def _check_novelty_labels(y):
    """Validate 0/1 anomaly labels for a novelty split; at least one normal sample is needed."""
    if y is None:
        raise ValueError(
            "The anomaly labels y (1 = anomaly, 0 = normal) are required to keep anomalies out of "
            "the training set; got y=None."
        )
    y = _check_anomaly_labels(y, name="y")
    if not np.any(y == 0):
        raise ValueError("y contains no normal sample (label 0); there is nothing to train on.")
    return y


def _drop_anomalies(train, y):
    """Keep the normal samples of the index array ``train``; raise if none is left."""
    train = train[y[train] == 0]
    if train.shape[0] == 0:
        raise ValueError(
            "A training set contains no normal sample after removing the anomalies; use a smaller "
            "test_size or more data."
        )
    return train


class NoveltyShuffleSplit(BaseShuffleSplit):
    """Repeated random train/test splits whose training sets contain no anomaly.

    The cross-validation form of the tabular protocol of Zong et al. 2018 (DAGMM) and Zenati et al. 2018
    (Efficient GAN-based AD, ALAD): each split is a random ``1 - test_size`` / ``test_size`` partition
    (50 % / 50 % by default) and all anomalies (``y == 1``) are then removed from the training indices.
    Test indices keep both classes. Randomness is that of :class:`~sklearn.model_selection.ShuffleSplit`
    (or :class:`~sklearn.model_selection.StratifiedShuffleSplit` with ``stratify=True``) with the same
    ``random_state``, so the split before the removal is exactly theirs.

    Parameters
    ----------
    n_splits : int, default=5
        Number of re-shuffling and splitting iterations (the papers' repeated seeds).
    test_size : float or int, default=0.5
        Fraction (float in (0, 1)) or number (int) of samples in each test set.
    random_state : int, RandomState instance or None, default=None
        Controls the permutations. Pass an int for the same splits on every call of ``split``.
    stratify : bool, default=False
        If True, the random partition is stratified on ``y`` (same anomaly ratio in both parts). The
        published protocol is not stratified.

    See Also
    --------
    novelty_train_test_split : A single split of the same kind, returning the data.
    NoveltyKFold : K-fold version for hyper-parameter search.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 8 + [1] * 2)
    >>> cv = NoveltyShuffleSplit(n_splits=3, random_state=0)
    >>> all(y[train].sum() == 0 for train, test in cv.split(np.zeros((10, 1)), y))
    True
    """

    def __init__(self, n_splits=5, *, test_size=0.5, random_state=None, stratify=False):
        super().__init__(
            n_splits=n_splits, test_size=test_size, train_size=None, random_state=random_state
        )
        self.stratify = stratify

    def split(self, X, y=None, groups=None):
        """Generate indices of the training (normal only) and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Data; only its length is used.
        y : array-like of shape (n_samples,)
            Anomaly labels, 1 = anomaly, 0 = normal. Required.
        groups : None
            Ignored, exists for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices: the normal samples of the training part.
        test : ndarray
            Test indices, both classes.
        """
        X, y, groups = indexable(X, y, groups)
        labels = _check_novelty_labels(y)
        check_consistent_length(X, labels)
        return self._iter_novelty(X, labels)

    def _iter_novelty(self, X, labels):
        splitter_class = StratifiedShuffleSplit if self.stratify else ShuffleSplit
        splitter = splitter_class(
            n_splits=self.n_splits, test_size=self.test_size, random_state=self.random_state
        )
        for train, test in splitter.split(X, labels):
            yield _drop_anomalies(train, labels), test

    def _iter_indices(self, X, y=None, groups=None):
        # Kept for code paths of BaseShuffleSplit that call it directly.
        return self._iter_novelty(X, _check_novelty_labels(y))


class NoveltyKFold(StratifiedKFold):
    """Stratified K-fold whose training folds contain no anomaly (fit on normals, test on both).

    Each test fold is a fold of :class:`~sklearn.model_selection.StratifiedKFold` on the anomaly labels,
    so it holds both classes in the overall proportion; its training fold is the complement **with the
    anomalies removed**. It is the default splitter of :class:`NoveltyGridSearchCV`, the search that also
    refits the chosen candidate on the normal rows only::

        search = NoveltyGridSearchCV(pipe, grid, cv=NoveltyKFold(3, random_state=0)).fit(X, y)

    .. note::

       scikit-learn's own ``GridSearchCV`` refits the best model on the **whole** ``X`` it was given,
       anomalies included; use :class:`NoveltyGridSearchCV` instead (or ``GridSearchCV(..., refit=False)``
       and fit the chosen parameters on ``X[y == 0]`` yourself). Use the scorers of :mod:`skanomaly.metrics`:
       scikit-learn's ``scoring="roc_auc"`` is inverted for outlier detectors with 1 = anomaly labels.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2. Each test fold needs at least one anomaly, so ``y`` should hold
        at least ``n_splits`` anomalies.
    shuffle : bool, default=True
        Whether to shuffle each class before splitting into folds (unlike StratifiedKFold, on by
        default).
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling when ``shuffle`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 9 + [1] * 3)
    >>> folds = list(NoveltyKFold(3, random_state=0).split(np.zeros((12, 1)), y))
    >>> [int(y[train].sum()) for train, test in folds], [int(y[test].sum()) for train, test in folds]
    ([0, 0, 0], [1, 1, 1])
    """

    def __init__(self, n_splits=5, *, shuffle=True, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def split(self, X, y=None, groups=None):
        """Generate indices of the training (normal only) and test folds.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Data; only its length is used.
        y : array-like of shape (n_samples,)
            Anomaly labels, 1 = anomaly, 0 = normal. Required.
        groups : None
            Ignored, exists for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices: the normal samples outside the test fold.
        test : ndarray
            Test fold indices, both classes.
        """
        labels = _check_novelty_labels(y)
        check_consistent_length(X, labels)
        return self._iter_novelty(X, labels, groups)

    def _iter_novelty(self, X, labels, groups):
        for train, test in super().split(X, labels, groups):
            yield _drop_anomalies(train, labels), test


def novelty_train_test_split(X, y, *, test_size=0.5, random_state=None, stratify=False):
    """Random train/test split with all anomalies removed from the training part.

    The tabular protocol of Zong et al. 2018 (DAGMM) and Zenati et al. 2018 (Efficient GAN-based AD and
    ALAD) on KDD99, Arrhythmia and Thyroid: split the data 50 % / 50 % at random, drop the anomalies
    from the training half, train on the remaining normal samples, score the test half; repeat with
    several seeds. The split is the first split of :class:`NoveltyShuffleSplit` with the same arguments
    (and therefore the same permutation as ``sklearn.model_selection.train_test_split``).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Data: arrays (any number of dimensions), DataFrames, lists.
    y : array-like of shape (n_samples,)
        Anomaly labels, 1 = anomaly, 0 = normal; at least one normal sample.
    test_size : float or int, default=0.5
        Fraction (float in (0, 1)) or number (int) of samples in the test part.
    random_state : int, RandomState instance or None, default=None
        Seed of the random permutation.
    stratify : bool, default=False
        If True, split with the same anomaly ratio in both parts. The published protocol does not.

    Returns
    -------
    X_train : same type as X
        Normal samples of the training part.
    X_test : same type as X
        The whole test part.
    y_train : same type as y
        Labels of ``X_train``: all zeros.
    y_test : same type as y
        Labels of ``X_test`` (both classes).

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 7 + [1] * 3)
    >>> X_train, X_test, y_train, y_test = novelty_train_test_split(X, y, random_state=0)
    >>> len(X_test), int(y_train.sum())
    (5, 0)
    """
    splitter = NoveltyShuffleSplit(
        n_splits=1, test_size=test_size, random_state=random_state, stratify=stratify
    )
    train, test = next(splitter.split(X, y))
    return (
        _safe_indexing(X, train),
        _safe_indexing(X, test),
        _safe_indexing(y, train),
        _safe_indexing(y, test),
    )


def _as_class_list(value, y_classes, name):
    """Turn a class label or list of class labels into a 1-D array of labels present in ``y``."""
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        values = list(value)
    else:
        values = [value]
    if not values:
        raise ValueError(f"{name} is empty; give at least one class label.")
    missing = [v for v in values if not np.isin(v, y_classes)]
    if missing:
        raise ValueError(
            f"{name}={missing if len(missing) > 1 else missing[0]!r} is not a class of y; the classes "
            f"are {y_classes.tolist()}."
        )
    return np.asarray(values)


def _stratified_class_split(X, y, test_size, random_state):
    """Stratified train/test index split on class labels (the split shared by all class choices)."""
    X, y = indexable(X, y)
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels, got shape {labels.shape}.")
    check_consistent_length(X, labels)
    indices = np.arange(labels.shape[0])
    train, test = train_test_split(
        indices, test_size=test_size, random_state=random_state, stratify=labels
    )
    return X, labels, train, test


def _class_protocol_split(X, y, chosen, chosen_is_normal, test_size, random_state, name):
    X, labels, train, test = _stratified_class_split(X, y, test_size, random_state)
    classes = np.unique(labels)
    chosen = _as_class_list(chosen, classes, name)
    if np.all(np.isin(classes, chosen)):
        raise ValueError(
            f"{name} covers every class of y, so one side (normal or anomalous) would be empty."
        )
    in_chosen = np.isin(labels, chosen)
    is_anomaly = ~in_chosen if chosen_is_normal else in_chosen
    train = train[~is_anomaly[train]]
    return (
        _safe_indexing(X, train),
        _safe_indexing(X, test),
        np.zeros(train.shape[0], dtype=np.int64),
        is_anomaly[test].astype(np.int64),
    )


def one_class_split(X, y, normal_class, *, test_size=0.2, random_state=None):
    """One-class protocol: one class is normal, every other class is an anomaly.

    As in Ruff et al. 2018 (Deep SVDD) and the one-class tables of AMA (Somepalli et al. 2021, Table 2):
    the model trains on the training samples of ``normal_class`` and is tested on the whole test set,
    where every other class is an anomaly. The data is first split once, stratified by class
    (``train_test_split(..., stratify=y)``), so for a given ``random_state`` **the same split is used for
    every choice of** ``normal_class``.

    .. warning::

       Not comparable with :func:`leave_one_class_out_split` (one anomalous class, all others normal):
       the two protocols give very different numbers on the same data set.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Data: arrays (e.g. flattened or 4-D images), DataFrames, lists.
    y : array-like of shape (n_samples,)
        **Class** labels (e.g. digits 0-9), not anomaly labels. Every class needs at least two samples.
    normal_class : label or list of labels
        The class(es) treated as normal; must not cover every class.
    test_size : float or int, default=0.2
        Fraction or number of samples in the test part.
    random_state : int, RandomState instance or None, default=None
        Seed of the stratified split.

    Returns
    -------
    X_train : same type as X
        Training-part samples of ``normal_class``.
    X_test : same type as X
        The whole test part.
    y_train : ndarray of shape (n_train,), dtype int64
        Zeros.
    y_test : ndarray of shape (n_test,), dtype int64
        1 where the test sample is not of ``normal_class`` (anomaly), 0 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(40).reshape(20, 2), np.repeat([0, 1, 2, 3], 5)
    >>> X_train, X_test, y_train, y_test = one_class_split(X, y, 2, random_state=0)
    >>> X_train.shape[0], y_test.tolist().count(0)
    (4, 1)
    """
    return _class_protocol_split(
        X, y, normal_class, True, test_size, random_state, name="normal_class"
    )


def leave_one_class_out_split(X, y, anomaly_class, *, test_size=0.2, random_state=None):
    """Leave-one-class-out protocol: one class is the anomaly, every other class is normal.

    As in Akcay et al. 2018 (GANomaly), OMASGAN (Dionelis et al. 2021) and the mirrored autoencoder of
    Wu et al.: the model trains on the training samples of all classes except ``anomaly_class`` and is
    tested on the whole test set, where ``anomaly_class`` is the anomaly. The data is first split once,
    stratified by class, so for a given ``random_state`` **the same split is used for every choice of**
    ``anomaly_class`` (and it is the split of :func:`one_class_split`).

    .. warning::

       Not comparable with :func:`one_class_split` (one normal class, all others anomalous): the two
       protocols give very different numbers on the same data set.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Data: arrays (e.g. flattened or 4-D images), DataFrames, lists.
    y : array-like of shape (n_samples,)
        **Class** labels (e.g. digits 0-9). Every class needs at least two samples.
    anomaly_class : label or list of labels
        The class(es) treated as anomalies; must not cover every class.
    test_size : float or int, default=0.2
        Fraction or number of samples in the test part.
    random_state : int, RandomState instance or None, default=None
        Seed of the stratified split.

    Returns
    -------
    X_train : same type as X
        Training-part samples of every class but ``anomaly_class``.
    X_test : same type as X
        The whole test part.
    y_train : ndarray of shape (n_train,), dtype int64
        Zeros.
    y_test : ndarray of shape (n_test,), dtype int64
        1 where the test sample is of ``anomaly_class``, 0 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(40).reshape(20, 2), np.repeat([0, 1, 2, 3], 5)
    >>> X_train, X_test, y_train, y_test = leave_one_class_out_split(X, y, 2, random_state=0)
    >>> X_train.shape[0], y_test.tolist().count(1)
    (12, 1)
    """
    return _class_protocol_split(
        X, y, anomaly_class, False, test_size, random_state, name="anomaly_class"
    )


def _sample_shape(X, name):
    """Shape of one sample (everything but the first axis) of an array or DataFrame."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        return (len(X.columns),)
    shape = np.shape(X)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features) or an image array, got shape {shape}."
        )
    return tuple(shape[1:])


def out_of_distribution_split(X_in, X_out, *, test_size=0.2, n_out=None, random_state=None):
    """Out-of-distribution protocol: train on one data set, detect samples of another.

    ``X_in`` is split at random; the model trains on its training part. The test set is the test part
    of ``X_in`` (label 0) followed by ``X_out`` (label 1), optionally subsampled to ``n_out`` samples
    (e.g. CIFAR-10 as in-distribution and SVHN as out-of-distribution).

    Parameters
    ----------
    X_in : array-like of shape (n_in, ...)
        In-distribution data (arrays or DataFrames).
    X_out : array-like of shape (n_out_total, ...)
        Out-of-distribution data, with the same feature count (or sample shape) as ``X_in``.
    test_size : float or int, default=0.2
        Fraction or number of ``X_in`` samples in the test part.
    n_out : int or None, default=None
        If given, use a random subsample of ``n_out`` samples of ``X_out`` (without replacement);
        None uses all of ``X_out``.
    random_state : int, RandomState instance or None, default=None
        Seed of the split of ``X_in`` and of the subsampling of ``X_out``.

    Returns
    -------
    X_train : same type as X_in
        Training part of ``X_in``.
    X_test : ndarray or DataFrame
        Test part of ``X_in`` then the (subsampled) ``X_out``. A DataFrame when both inputs are
        DataFrames (with the same columns), else a NumPy array.
    y_train : ndarray of shape (n_train,), dtype int64
        Zeros.
    y_test : ndarray of shape (n_test,), dtype int64
        0 for the ``X_in`` rows, 1 for the ``X_out`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> X_in, X_out = np.zeros((10, 3)), np.ones((50, 3))
    >>> X_train, X_test, y_train, y_test = out_of_distribution_split(
    ...     X_in, X_out, n_out=4, random_state=0)
    >>> X_train.shape, X_test.shape, y_test.tolist()
    ((8, 3), (6, 3), [0, 0, 1, 1, 1, 1])
    """
    X_in = indexable(X_in)[0]
    X_out = indexable(X_out)[0]
    shape_in = _sample_shape(X_in, "X_in")
    shape_out = _sample_shape(X_out, "X_out")
    if shape_in != shape_out:
        raise ValueError(
            f"X_in and X_out must have the same number of features (sample shape); got {shape_in} "
            f"for X_in and {shape_out} for X_out."
        )
    both_frames = hasattr(X_in, "columns") and hasattr(X_out, "columns")
    if both_frames and list(X_in.columns) != list(X_out.columns):
        raise ValueError("X_in and X_out are DataFrames with different columns.")
    n_in = _num_samples(X_in)
    n_out_total = _num_samples(X_out)
    if n_out_total == 0:
        raise ValueError("X_out is empty.")
    if n_out is not None:
        if (
            isinstance(n_out, bool)
            or not isinstance(n_out, numbers.Integral)
            or not 1 <= n_out <= n_out_total
        ):
            raise ValueError(
                f"n_out must be an integer in [1, {n_out_total}] (the size of X_out) or None, got "
                f"{n_out!r}."
            )

    train, test = train_test_split(np.arange(n_in), test_size=test_size, random_state=random_state)
    rng = check_random_state(random_state)
    if n_out is None:
        out_index = np.arange(n_out_total)
    else:
        out_index = np.sort(rng.choice(n_out_total, size=int(n_out), replace=False))

    X_train = _safe_indexing(X_in, train)
    X_test_in = _safe_indexing(X_in, test)
    X_test_out = _safe_indexing(X_out, out_index)
    if both_frames:
        import pandas as pd

        X_test = pd.concat([X_test_in, X_test_out], axis=0)
    else:
        X_test = np.concatenate([np.asarray(X_test_in), np.asarray(X_test_out)], axis=0)
    y_test = np.concatenate(
        [np.zeros(test.shape[0], dtype=np.int64), np.ones(out_index.shape[0], dtype=np.int64)]
    )
    return X_train, X_test, np.zeros(train.shape[0], dtype=np.int64), y_test


# ---------------------------------------------------------------------------------------------------
# hyper-parameter search that never trains on anomalies


class _NormalTrainingFolds:
    """A splitter whose training folds are those of ``cv`` without the rows labelled 1 (the test folds keep them)."""

    def __init__(self, cv):
        self.cv = cv

    def get_n_splits(self, X=None, y=None, groups=None):
        return self.cv.get_n_splits(X, y, groups)

    def split(self, X, y=None, groups=None):
        labels = _check_novelty_labels(y)
        for train, test in self.cv.split(X, y, groups):
            yield _drop_anomalies(np.asarray(train), labels), test


class _NoveltySearchMixin:
    """``fit`` of the novelty searches: scikit-learn's search without its refit, then a refit on normal rows."""

    _sklearn_search = None  # the scikit-learn search class that runs the cross-validation

    def fit(self, X, y=None, **params):
        """Search the candidates on folds with labelled anomalies; refit the best on the normal rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Normal rows and labelled anomalies.
        y : array-like of shape (n_samples,)
            Anomaly labels, 1 = anomaly, 0 = normal. Required.
        **params : dict
            Passed to the search's ``fit`` (e.g. ``groups`` for the splitter, fit parameters of the
            estimator). Fit parameters reach the final refit restricted to the normal rows.

        Returns
        -------
        self : object
            The fitted search.
        """
        X, y = indexable(X, y)
        labels = _check_novelty_labels(y)
        check_consistent_length(X, labels)
        from .metrics import ANOMALY_SCORERS

        cv = self.cv if self.cv is not None else 5
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            cv = NoveltyKFold(cv, shuffle=False)
        search_params = self.get_params(deep=False)
        search_params.update(
            scoring=ANOMALY_SCORERS if self.scoring is None else self.scoring,
            cv=_NormalTrainingFolds(check_cv(cv, labels, classifier=False)),
            refit=False,
        )
        search = self._sklearn_search(**search_params).fit(X, labels, **params)
        for name in ("cv_results_", "scorer_", "n_splits_", "multimetric_"):
            setattr(self, name, getattr(search, name))
        for name in ("best_index_", "best_score_", "best_params_", "best_estimator_", "refit_time_",
                     "feature_names_in_"):
            self.__dict__.pop(name, None)

        refit_metric = "score"
        if self.multimetric_:
            self._check_refit_for_multimetric(self.scorer_)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(self._select_best_index(self.refit, refit_metric, self.cv_results_))
            if not callable(self.refit):
                self.best_score_ = self.cv_results_[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = self.cv_results_["params"][self.best_index_]
        if self.refit:
            normal = np.flatnonzero(labels == 0)
            fit_params = _check_method_params(X, {k: v for k, v in params.items() if k != "groups"},
                                              indices=normal)
            self.best_estimator_ = clone(self.estimator).set_params(**clone(self.best_params_, safe=False))
            start = time.time()
            self.best_estimator_.fit(_safe_indexing(X, normal), labels[normal], **fit_params)
            self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self


class NoveltyGridSearchCV(_NoveltySearchMixin, GridSearchCV):
    """Grid search with labelled validation anomalies that never trains on an anomaly.

    :class:`~sklearn.model_selection.GridSearchCV` for detectors (1 = anomaly, 0 = normal): every
    candidate is fitted on training folds stripped of anomalies, scored on test folds holding both
    classes, and the best candidate is **refitted on the rows labelled 0 only** (scikit-learn's own
    search refits on every row it was given, labelled anomalies included). ``best_params_``,
    ``best_score_``, ``best_estimator_``, ``cv_results_``, ``refit_time_`` and the delegated methods
    (``score_samples``, ``decision_function``, ``predict``, ``score``) behave as in ``GridSearchCV``.

    Parameters
    ----------
    estimator : estimator object
        A detector or a ``Pipeline`` ending in one (``score_samples``: higher = more normal).
    param_grid : dict or list of dicts
        As in ``GridSearchCV``.
    scoring : str, callable, list, tuple or dict, default=None
        ``None`` uses :data:`skanomaly.metrics.ANOMALY_SCORERS` (AUROC, average precision, F1 at the
        anomaly ratio). scikit-learn's ``"roc_auc"`` is inverted for detectors with 1 = anomaly labels;
        use the scorers of :mod:`skanomaly.metrics`.
    n_jobs : int, default=None
        Candidates and folds fitted in parallel.
    refit : bool, str or callable, default="roc_auc"
        As in ``GridSearchCV`` (a scorer name for multi-metric scoring); the refit uses the rows labelled
        0 only. ``False`` keeps no ``best_estimator_``.
    cv : int, cross-validation generator or iterable, default=None
        ``None`` or an int: :class:`NoveltyKFold` with that many folds (5 for ``None``), without
        shuffling, as scikit-learn does for an int; pass ``NoveltyKFold(n, random_state=0)`` to shuffle.
        The training folds of any splitter are stripped of their anomalies, test folds keep them. Each
        test fold needs both classes for AUROC.
    verbose : int, default=0
    pre_dispatch : int or str, default="2*n_jobs"
    error_score : "raise" or float, default=np.nan
    return_train_score : bool, default=False
        As in ``GridSearchCV``.

    Attributes
    ----------
    best_estimator_ : estimator
        The best candidate refitted on the normal rows (when ``refit`` is set).
    best_params_ : dict
    best_score_ : float
    best_index_ : int
    cv_results_ : dict of ndarray
    refit_time_ : float
        Seconds spent refitting on the normal rows.
    scorer_ : scorer or dict of scorers
    n_splits_ : int
    multimetric_ : bool

    See Also
    --------
    NoveltyRandomizedSearchCV : The same with sampled candidates.
    NoveltyKFold : The default splitter.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(200, 2)), rng.normal(loc=5, size=(20, 2))])
    >>> y = np.r_[np.zeros(200), np.ones(20)].astype(int)
    >>> search = NoveltyGridSearchCV(IsolationForest(random_state=0), {"n_estimators": [10, 50]},
    ...                              cv=NoveltyKFold(3, random_state=0)).fit(X, y)
    >>> sorted(search.best_params_)
    ['n_estimators']
    >>> best = search.best_estimator_
    >>> best.n_features_in_, best.max_samples_  # fitted on the 200 normal rows
    (2, 200)
    """

    _sklearn_search = GridSearchCV

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit="roc_auc", cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False):
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv,
                         verbose=verbose, pre_dispatch=pre_dispatch, error_score=error_score,
                         return_train_score=return_train_score)


class NoveltyRandomizedSearchCV(_NoveltySearchMixin, RandomizedSearchCV):
    """Randomized search with labelled validation anomalies that never trains on an anomaly.

    :class:`~sklearn.model_selection.RandomizedSearchCV` with the protocol of
    :class:`NoveltyGridSearchCV`: training folds without anomalies, test folds with both classes, the
    best candidate refitted on the rows labelled 0 only.

    Parameters
    ----------
    estimator : estimator object
        A detector or a ``Pipeline`` ending in one.
    param_distributions : dict or list of dicts
        As in ``RandomizedSearchCV``.
    n_iter : int, default=10
        Number of sampled candidates.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in :class:`NoveltyGridSearchCV`.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampling of candidates.

    Attributes
    ----------
    best_estimator_, best_params_, best_score_, best_index_, cv_results_, refit_time_, scorer_, n_splits_, multimetric_
        As in :class:`NoveltyGridSearchCV`.

    See Also
    --------
    NoveltyGridSearchCV : The same over a grid.
    """

    _sklearn_search = RandomizedSearchCV

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None, refit="roc_auc",
                 cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None, error_score=np.nan,
                 return_train_score=False):
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring, n_jobs=n_jobs,
                         refit=refit, cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         random_state=random_state, error_score=error_score,
                         return_train_score=return_train_score)
