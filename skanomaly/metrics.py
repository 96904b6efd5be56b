"""Evaluation metrics and GridSearchCV scorers for anomaly detection.

Conventions
-----------
* Ground-truth labels: **1 = anomaly, 0 = normal** (the ODDS / ADBench convention).
* ``anomaly_score``: **higher = more anomalous**. For a fitted detector this is
  ``-detector.score_samples(X)`` (scikit-learn's ``score_samples`` is higher = more normal).

The functions below take ``(y_true, anomaly_score)``; the scorers take a fitted estimator and call its
``score_samples`` themselves (and negate it).

.. warning::

   **scikit-learn's built-in** ``scoring="roc_auc"`` **(and** ``"average_precision"``, ``"f1"`` **...) are
   silently inverted for anomaly detection with 1 = anomaly labels.** For an outlier detector such as
   :class:`~sklearn.ensemble.IsolationForest`, ``get_scorer("roc_auc")`` ranks the samples by
   ``decision_function``, where *higher means more normal*, but computes the AUROC of the positive class
   ``1``, which here is the *anomaly*. The search then reports ``1 - AUROC`` without any warning and
   picks the worst model. Use :data:`ANOMALY_SCORERS`, :data:`anomaly_roc_auc_scorer`,
   :data:`anomaly_average_precision_scorer` or :func:`make_f1_at_k_scorer` instead, with
   :class:`~skanomaly.model_selection.NoveltyGridSearchCV`, which uses them by default and refits the best
   candidate on the normal rows only (``GridSearchCV`` would refit on the labelled anomalies too)::

       NoveltyGridSearchCV(pipe, grid, cv=NoveltyKFold(3), scoring=ANOMALY_SCORERS, refit="roc_auc")

The scorers only call ``score_samples`` (higher = more normal) and negate it; they never fall back to
``decision_function``, whose sign differs between libraries (PyOD's is *higher = more anomalous*), so an
estimator without a scikit-learn style ``score_samples`` raises an ``AttributeError`` instead of being
scored with the wrong sign. :func:`make_anomaly_scorer` turns any ``(y_true, anomaly_score)`` metric into
such a scorer.

Without labels, :func:`make_synthetic_anomaly_scorer` judges a detector by the AUROC of held-out normal data
against synthetic anomalies made from it (see :func:`skanomaly.datasets.make_synthetic_anomalies`), so a
search needs no labelled anomaly at all.

Top-k% thresholding
-------------------
The tabular benchmark protocol (Zong et al. 2018, DAGMM; Zenati et al. 2018, ALAD) labels as anomalous
the ``k`` fraction of test samples with the highest anomaly scores, ``k`` being the known anomaly ratio
(KDD99 20 %, Arrhythmia 15 %, Thyroid 2.5 %), and reports precision, recall and F1 of the anomaly class.
The reference evaluation code flags ``score >= np.percentile(score, 100 * (1 - k))``. With linear
interpolation that flags exactly ``floor(k * (n - 1)) + 1`` samples when the scores are distinct, and this
is the count :func:`top_k_labels` uses (see its notes).
"""

import math
import numbers

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

__all__ = [
    "ANOMALY_SCORERS",
    "anomaly_average_precision",
    "anomaly_average_precision_scorer",
    "anomaly_report",
    "anomaly_roc_auc",
    "anomaly_roc_auc_scorer",
    "make_anomaly_scorer",
    "make_f1_at_k_scorer",
    "make_synthetic_anomaly_scorer",
    "n_top_k",
    "precision_recall_f1_at_k",
    "top_k_labels",
]


# ----------------------------------------------------------------------------------------------------
# input validation (private; also used by skanomaly.model_selection)
# ----------------------------------------------------------------------------------------------------
def _check_anomaly_labels(y, *, name="y_true"):
    """Validate binary anomaly labels (1 = anomaly, 0 = normal) and return them as int64.

    Accepts booleans, integers and floats equal to 0 or 1. Anything else (including the -1/+1 output of
    ``predict``) raises a ``ValueError`` that explains the convention.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of anomaly labels, got an array of shape {y.shape}. "
            "Use y.ravel() for a column vector."
        )
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must hold binary anomaly labels (1 = anomaly, 0 = normal), got dtype {y.dtype}."
        )
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        found = np.unique(y[bad])[:5].tolist()
        hint = ""
        if -1 in found:
            hint = (
                " It looks like the -1/+1 output of `predict` (-1 = outlier); convert it with "
                "(y == -1).astype(int)."
            )
        raise ValueError(
            f"{name} must hold binary anomaly labels (1 = anomaly, 0 = normal); found other values "
            f"such as {found}.{hint}"
        )
    return y.astype(np.int64)


def _check_anomaly_score(anomaly_score, n_samples=None, *, name="anomaly_score"):
    """Validate a 1-D finite float score vector, optionally of a given length."""
    try:
        score = np.asarray(anomaly_score, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of real numbers: {exc}") from None
    if score.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array, got an array of shape {score.shape}. "
            "Use .ravel() for a column vector."
        )
    if score.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(score)):
        n_bad = int(np.sum(~np.isfinite(score)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s); scores must be finite.")
    if n_samples is not None and score.shape[0] != n_samples:
        raise ValueError(
            f"y_true and {name} must have the same length, got {n_samples} and {score.shape[0]}."
        )
    return score


def _check_k(k):
    """Validate the top-k fraction ``k`` in the open interval (0, 1)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise ValueError(f"k must be a float fraction in (0, 1), got {k!r}.")
    k = float(k)
    if not 0.0 < k < 1.0:
        hint = ""
        if 1.0 <= k < 100.0:
            hint = f" It looks like a percentage: pass k={k / 100:g} for {k:g} %."
        raise ValueError(f"k must be a fraction in the open interval (0, 1), got {k!r}.{hint}")
    return k


def _check_both_classes(y, what):
    n_anomalies = int(y.sum())
    if n_anomalies == 0 or n_anomalies == y.shape[0]:
        present = "anomalies (1)" if n_anomalies else "normal samples (0)"
        raise ValueError(
            f"{what} is undefined when y_true holds only one class: all {y.shape[0]} labels are "
            f"{present}. The evaluation set needs both normal samples and anomalies."
        )


# ----------------------------------------------------------------------------------------------------
# top-k% metrics
# ----------------------------------------------------------------------------------------------------
def n_top_k(n_samples, k):
    """Number of samples flagged as anomalous by the top-``k`` rule.

    Parameters
    ----------
    n_samples : int
        Number of scored samples, at least 1.
    k : float
        Fraction of samples to flag, in the open interval (0, 1).

    Returns
    -------
    n_top : int
        ``floor(k * (n_samples - 1)) + 1``, which lies in ``[1, n_samples]``.

    Notes
    -----
    This is the number of distinct scores ``s`` with ``s >= np.percentile(s, 100 * (1 - k))`` (NumPy's
    default linear interpolation), the thresholding rule of the DAGMM/ALAD evaluation code. A tiny
    tolerance (``1e-9``) absorbs floating-point error so that exact products such as ``0.2 * 10`` are
    not floored to the integer below. When ``k`` is the exact anomaly ratio ``m / n_samples`` of the
    evaluation set, ``n_top == m``, so precision, recall and F1 at ``k`` coincide.

    It agrees with ``ceil(k * n_samples)`` unless the fractional part of ``k * n_samples`` is strictly
    between 0 and ``k`` (then it is one less), and it is not ``round(k * n_samples)``: for
    ``n_samples = 10, k = 0.25`` it flags 3 samples, as the percentile rule does.

    Examples
    --------
    >>> n_top_k(100, 0.2)
    20
    >>> n_top_k(10, 0.25)
    3
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    k = _check_k(k)
    position = k * (int(n_samples) - 1)
    n_top = math.floor(position + 1e-9 * max(1.0, position)) + 1
    return int(min(max(n_top, 1), n_samples))


def top_k_labels(anomaly_score, k):
    """Label the ``k`` fraction of samples with the highest anomaly scores as anomalies.

    Parameters
    ----------
    anomaly_score : array-like of shape (n_samples,)
        Anomaly scores, **higher = more anomalous** (``-score_samples``). Must be finite.
    k : float
        Fraction of samples to flag, in the open interval (0, 1), e.g. ``0.2`` for the top 20 %.

    Returns
    -------
    labels : ndarray of shape (n_samples,), dtype int64
        1 for the ``n_top_k(n_samples, k)`` highest-scoring samples, 0 elsewhere.

    Notes
    -----
    Exactly ``floor(k * (n_samples - 1)) + 1`` samples are flagged (see :func:`n_top_k`): this reproduces
    ``score >= np.percentile(score, 100 * (1 - k))`` of the DAGMM/ALAD protocol when the scores are
    distinct. Unlike the percentile rule, the count does not grow with ties: samples are ranked with a
    stable sort on decreasing score, so among tied scores at the boundary **the samples that come first
    (lowest index) are flagged**. The result is deterministic.

    Examples
    --------
    >>> top_k_labels([0.1, 0.9, 0.5, 0.7], k=0.5)
    array([0, 1, 0, 1])
    """
    score = _check_anomaly_score(anomaly_score)
    n_top = n_top_k(score.shape[0], k)
    order = np.argsort(-score, kind="stable")
    labels = np.zeros(score.shape[0], dtype=np.int64)
    labels[order[:n_top]] = 1
    return labels


def precision_recall_f1_at_k(y_true, anomaly_score, k):
    """Precision, recall and F1 of the anomaly class when the top ``k`` fraction is flagged.

    This is the metric of the tabular protocol (Zong et al. 2018, DAGMM; Zenati et al. 2018, ALAD),
    where ``k`` is the known anomaly ratio: KDD99 0.2, Arrhythmia 0.15, Thyroid 0.025.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground truth, 1 = anomaly, 0 = normal. Must contain at least one anomaly.
    anomaly_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.
    k : float
        Fraction of samples flagged as anomalous, in (0, 1); see :func:`top_k_labels` for the exact
        count and the tie rule.

    Returns
    -------
    precision : float
        Flagged anomalies / flagged samples.
    recall : float
        Flagged anomalies / anomalies.
    f1 : float
        Harmonic mean of precision and recall (0.0 when no anomaly is flagged).

    Examples
    --------
    >>> precision_recall_f1_at_k([0, 0, 1, 1], [0.1, 0.8, 0.9, 0.2], k=0.5)
    (0.5, 0.5, 0.5)
    """
    y = _check_anomaly_labels(y_true)
    score = _check_anomaly_score(anomaly_score, y.shape[0])
    n_anomalies = int(y.sum())
    if n_anomalies == 0:
        raise ValueError(
            "Recall at k is undefined when y_true contains no anomaly (no label equal to 1)."
        )
    flagged = top_k_labels(score, k)
    true_positives = int(np.sum(flagged & y))
    precision = true_positives / int(flagged.sum())
    recall = true_positives / n_anomalies
    f1 = 0.0 if true_positives == 0 else 2.0 * precision * recall / (precision + recall)
    return float(precision), float(recall), float(f1)


# ----------------------------------------------------------------------------------------------------
# threshold-free metrics
# ----------------------------------------------------------------------------------------------------
def anomaly_roc_auc(y_true, anomaly_score):
    """Area under the ROC curve with the anomaly class (1) as the positive class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground truth, 1 = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Anomaly scores, **higher = more anomalous** (pass ``-detector.score_samples(X)``, not
        ``score_samples`` or ``decision_function``, which would give ``1 - AUROC``).

    Returns
    -------
    auroc : float
        1.0 when every anomaly scores above every normal sample, 0.5 for a random ranking.

    Examples
    --------
    >>> anomaly_roc_auc([0, 0, 1], [0.1, 0.2, 0.9])
    1.0
    """
    y = _check_anomaly_labels(y_true)
    score = _check_anomaly_score(anomaly_score, y.shape[0])
    _check_both_classes(y, "AUROC")
    return float(roc_auc_score(y, score))


def anomaly_average_precision(y_true, anomaly_score):
    """Average precision (area under the precision-recall curve) of the anomaly class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground truth, 1 = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous.

    Returns
    -------
    average_precision : float
        scikit-learn's step-wise average precision of class 1; a random ranking gives about the
        anomaly ratio, a perfect one 1.0.

    Examples
    --------
    >>> anomaly_average_precision([0, 0, 1], [0.1, 0.2, 0.9])
    1.0
    """
    y = _check_anomaly_labels(y_true)
    score = _check_anomaly_score(anomaly_score, y.shape[0])
    _check_both_classes(y, "Average precision")
    return float(average_precision_score(y, score, pos_label=1))


def anomaly_report(y_true, anomaly_score, k=None):
    """All the standard anomaly-detection metrics of one evaluation set, in a dict.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground truth, 1 = anomaly, 0 = normal. Both classes must be present.
    anomaly_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous (``-score_samples``).
    k : float or None, default=None
        Fraction flagged for the top-k metrics, in (0, 1). **None uses the anomaly ratio of** ``y_true``
        (so exactly as many samples are flagged as there are anomalies and precision = recall = F1).
        The published tabular protocol instead uses a fixed, rounded ratio per data set (KDD99 0.2,
        Arrhythmia 0.15, Thyroid 0.025): pass it explicitly to reproduce those tables.

    Returns
    -------
    report : dict
        ``{"roc_auc", "average_precision", "precision_at_k", "recall_at_k", "f1_at_k", "k"}``, all
        Python floats; ``"k"`` is the fraction actually used.

    Examples
    --------
    >>> report = anomaly_report([0, 0, 0, 1], [0.1, 0.2, 0.3, 0.9])
    >>> report["roc_auc"], report["f1_at_k"], report["k"]
    (1.0, 1.0, 0.25)
    """
    y = _check_anomaly_labels(y_true)
    score = _check_anomaly_score(anomaly_score, y.shape[0])
    _check_both_classes(y, "The anomaly report")
    k = float(y.mean()) if k is None else _check_k(k)
    precision, recall, f1 = precision_recall_f1_at_k(y, score, k)
    return {
        "roc_auc": anomaly_roc_auc(y, score),
        "average_precision": anomaly_average_precision(y, score),
        "precision_at_k": precision,
        "recall_at_k": recall,
        "f1_at_k": f1,
        "k": k,
    }


# ----------------------------------------------------------------------------------------------------
# scorers for GridSearchCV / cross_validate
# ----------------------------------------------------------------------------------------------------
# scikit-learn 1.9's ``make_scorer`` only accepts the response methods "predict", "predict_proba" and
# "decision_function", and ``decision_function`` means "higher = more anomalous" in PyOD, so the anomaly
# scorers are small callables that always use ``-score_samples``.
def _normality(estimator, X):
    """``estimator.score_samples(X)`` as a 1-D float64 array, with clear errors when it is missing or misshapen."""
    score_samples = getattr(estimator, "score_samples", None)
    if score_samples is None:
        raise AttributeError(
            f"{type(estimator).__name__} has no score_samples method. Anomaly scorers need "
            "score_samples with higher = more normal (scikit-learn convention); they never fall "
            "back to decision_function, whose sign differs between libraries (PyOD: higher = "
            "more anomalous)."
        )
    normality = np.asarray(score_samples(X), dtype=np.float64)
    if normality.ndim != 1:
        raise ValueError(
            f"{type(estimator).__name__}.score_samples returned shape {normality.shape}; "
            "expected (n_samples,)."
        )
    return normality


class _AnomalyScorer:
    """Scorer ``(estimator, X, y_true) -> float`` using ``-estimator.score_samples(X)`` as anomaly score.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, anomaly_score, **kwargs) -> float``, greater is better.
    kwargs : dict
        Extra keyword arguments for ``score_func``.
    """

    def __init__(self, score_func, kwargs):
        self._score_func = score_func
        self._kwargs = dict(kwargs)

    def __call__(self, estimator, X, y_true, sample_weight=None):
        """Score a fitted estimator on ``X`` against anomaly labels ``y_true`` (1 = anomaly).

        Parameters
        ----------
        estimator : object
            Fitted estimator with ``score_samples`` (higher = more normal).
        X : array-like
            Evaluation data.
        y_true : array-like of shape (n_samples,)
            Anomaly labels, 1 = anomaly, 0 = normal.
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        score : float
            The metric of ``-estimator.score_samples(X)``; greater is better.
        """
        if sample_weight is not None:
            raise ValueError("Anomaly scorers do not support sample_weight.")
        return float(self._score_func(y_true, -_normality(estimator, X), **self._kwargs))

    def __repr__(self):
        name = getattr(self._score_func, "__name__", repr(self._score_func))
        extra = "".join(f", {key}={value!r}" for key, value in self._kwargs.items())
        return f"make_anomaly_scorer({name}{extra})"


def make_anomaly_scorer(score_func, **kwargs):
    """Turn a metric of ``(y_true, anomaly_score)`` into a scorer for GridSearchCV / cross_validate.

    The scorer calls ``estimator.score_samples(X)`` (higher = more normal, scikit-learn's convention;
    works for Pipelines, IsolationForest, LocalOutlierFactor(novelty=True), OneClassSVM and the skanomaly
    detectors), **negates it** and passes it to ``score_func`` with the fold's labels (1 = anomaly).
    Estimators without ``score_samples`` raise an ``AttributeError``; ``decision_function`` is never
    used, because its sign differs between libraries.

    Parameters
    ----------
    score_func : callable
        ``score_func(y_true, anomaly_score, **kwargs) -> float``, greater is better, e.g.
        :func:`anomaly_roc_auc`.
    **kwargs
        Passed to ``score_func``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true) -> float``.

    Examples
    --------
    >>> scorer = make_anomaly_scorer(anomaly_roc_auc)
    >>> scorer
    make_anomaly_scorer(anomaly_roc_auc)
    """
    if not callable(score_func):
        raise ValueError(f"score_func must be callable, got {score_func!r}.")
    return _AnomalyScorer(score_func, kwargs)


def _f1_at_k_or_ratio(y_true, anomaly_score, k=None):
    """F1 at ``k``, with ``k=None`` meaning the anomaly ratio of ``y_true``."""
    y = _check_anomaly_labels(y_true)
    if k is None:
        _check_both_classes(y, "F1 at the anomaly ratio")
        k = float(y.mean())
    return precision_recall_f1_at_k(y, anomaly_score, k)[2]


_f1_at_k_or_ratio.__name__ = "f1_at_k"


anomaly_roc_auc_scorer = make_anomaly_scorer(anomaly_roc_auc)
"""Scorer ``(estimator, X, y) -> AUROC`` that is correct with 1 = anomaly labels.

It computes :func:`anomaly_roc_auc` of ``-estimator.score_samples(X)``. **Do not use scikit-learn's**
``scoring="roc_auc"`` **with anomaly labels**: for an outlier detector it ranks by
``decision_function`` (higher = more normal) against the positive label 1 (= anomaly) and silently
reports ``1 - AUROC``.
"""

anomaly_average_precision_scorer = make_anomaly_scorer(anomaly_average_precision)
"""Scorer ``(estimator, X, y) -> average precision of the anomaly class`` (1 = anomaly).

It computes :func:`anomaly_average_precision` of ``-estimator.score_samples(X)``. scikit-learn's
``scoring="average_precision"`` is inverted with anomaly labels, for the same reason as ``"roc_auc"``.
"""


def make_f1_at_k_scorer(k=None):
    """Make a scorer of the anomaly-class F1 when the top ``k`` fraction of ``X`` is flagged.

    The scorer computes :func:`precision_recall_f1_at_k` of ``-estimator.score_samples(X)``
    (``score_samples`` is higher = more normal), so it is correct with 1 = anomaly labels.
    **scikit-learn's** ``scoring="f1"`` **is not**: an outlier detector's ``predict`` returns -1/+1 and
    its continuous outputs are higher = more normal.

    Parameters
    ----------
    k : float or None, default=None
        Fraction of each evaluation fold flagged as anomalous, in (0, 1). None uses the anomaly ratio of
        the fold's ``y``: the "known contamination" assumption of the tabular protocol (it reads how many
        anomalies there are, not which samples they are).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from sklearn.neighbors import KernelDensity
    >>> X = [[0.0], [0.1], [0.2], [0.3], [5.0]]
    >>> density = KernelDensity(bandwidth=0.5).fit(X[:4])  # score_samples: log-density
    >>> make_f1_at_k_scorer(0.2)(density, X, [0, 0, 0, 0, 1])
    1.0
    """
    if k is not None:
        k = _check_k(k)
    return make_anomaly_scorer(_f1_at_k_or_ratio, k=k)


class _SyntheticAnomalyScorer:
    """Scorer ``(estimator, X, y=None) -> AUROC`` of held-out normals ``X`` against anomalies made from them.

    See :func:`make_synthetic_anomaly_scorer`.
    """

    def __init__(self, method, n_anomalies, random_state, kwargs):
        self.method = method
        self.n_anomalies = n_anomalies
        self.random_state = random_state
        self.kwargs = dict(kwargs)

    def __call__(self, estimator, X, y_true=None, sample_weight=None):
        """Score a fitted estimator on normal data ``X`` and on synthetic anomalies made from ``X``.

        Parameters
        ----------
        estimator : object
            Fitted estimator with ``score_samples`` (higher = more normal).
        X : array-like of shape (n_samples, ...)
            Held-out data, all assumed normal (a pandas DataFrame keeps its columns).
        y_true : None
            Ignored: the scorer uses no labels, so a search with it can run on unlabelled data.
        sample_weight : None
            Not supported; must be None.

        Returns
        -------
        score : float
            AUROC of ``-estimator.score_samples`` with ``X`` as the normal class and the synthetic
            samples as the anomalous class; greater is better.
        """
        from .datasets import make_synthetic_anomalies

        if sample_weight is not None:
            raise ValueError("Anomaly scorers do not support sample_weight.")
        columns = getattr(X, "columns", None)
        X_anomalies = make_synthetic_anomalies(
            np.asarray(X, dtype=np.float64), self.n_anomalies, method=self.method,
            random_state=self.random_state, **self.kwargs,
        )
        if columns is not None:
            import pandas as pd

            X_anomalies = pd.DataFrame(X_anomalies, columns=columns)
        normal = _normality(estimator, X)
        anomalous = _normality(estimator, X_anomalies)
        labels = np.r_[np.zeros(normal.shape[0], dtype=np.int64), np.ones(anomalous.shape[0], dtype=np.int64)]
        return anomaly_roc_auc(labels, -np.r_[normal, anomalous])

    def __repr__(self):
        extra = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return (f"make_synthetic_anomaly_scorer(method={self.method!r}, n_anomalies={self.n_anomalies!r}, "
                f"random_state={self.random_state!r}{extra})")


def make_synthetic_anomaly_scorer(method="perturb", *, n_anomalies=None, random_state=0, **kwargs):
    """Make a label-free scorer: AUROC of held-out normal data against synthetic anomalies made from it.

    Use it to choose hyper-parameters when no labelled anomaly may be used (the rule of this project's
    benchmarks): cross-validate on normal data only, and judge each candidate by how well it separates the
    held-out fold from anomalies built out of that fold by :func:`skanomaly.datasets.make_synthetic_anomalies`.
    The scorer ignores ``y``, so ``GridSearchCV(...).fit(X)`` works on unlabelled data; its default
    ``refit=True`` then trains the chosen candidate on all of ``X``.

    Every call with the same held-out fold builds the same anomalies (``random_state`` is an int), so all
    candidates of a search are judged on identical data. The criterion is only as good as the resemblance
    between the synthetic and the real anomalies, which is an assumption: report which method was used.

    Parameters
    ----------
    method : {"perturb", "shuffle", "uniform"}, default="perturb"
        How anomalies are made (see :func:`~skanomaly.datasets.make_synthetic_anomalies`): noisy copies of
        held-out rows, feature-wise shuffles, or uniform samples in the widened bounding box.
    n_anomalies : int, default=None
        Anomalies per evaluation; None means as many as the held-out fold has rows.
    random_state : int, default=0
        Seed of the anomalies. It must be an int so that every candidate sees the same anomalies.
    **kwargs
        ``noise_scale`` or ``margin``, passed to
        :func:`~skanomaly.datasets.make_synthetic_anomalies`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.model_selection import GridSearchCV
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> search = GridSearchCV(IsolationForest(random_state=0), {"max_samples": [16, 128]}, cv=3,
    ...                       scoring=make_synthetic_anomaly_scorer("uniform")).fit(X)
    >>> sorted(search.best_params_)
    ['max_samples']
    """
    from .datasets._synthetic import _ANOMALY_METHODS

    if method not in _ANOMALY_METHODS:
        raise ValueError(f"method must be one of {list(_ANOMALY_METHODS)}, got {method!r}.")
    if not isinstance(random_state, numbers.Integral) or isinstance(random_state, bool):
        raise ValueError(
            f"random_state must be an int, so that every candidate is judged on the same anomalies; got "
            f"{random_state!r}."
        )
    if n_anomalies is not None and (
        not isinstance(n_anomalies, numbers.Integral) or isinstance(n_anomalies, bool) or n_anomalies < 1
    ):
        raise ValueError(f"n_anomalies must be None or an integer >= 1, got {n_anomalies!r}.")
    unknown = set(kwargs) - {"noise_scale", "margin"}
    if unknown:
        raise TypeError(f"Unexpected keyword arguments {sorted(unknown)}; accepted: 'noise_scale', 'margin'.")
    return _SyntheticAnomalyScorer(method, n_anomalies, int(random_state), kwargs)


ANOMALY_SCORERS = {
    "roc_auc": anomaly_roc_auc_scorer,
    "average_precision": anomaly_average_precision_scorer,
    "f1_at_k": make_f1_at_k_scorer(None),
}
"""Multi-metric scoring dict: the default scoring of :class:`~skanomaly.model_selection.NoveltyGridSearchCV`.

Keys: ``"roc_auc"``, ``"average_precision"`` and ``"f1_at_k"`` (F1 with ``k`` = the anomaly ratio of each
test fold). All use ``-score_samples`` as the anomaly score and 1 = anomaly labels. Each scorer calls
``score_samples`` itself, so a fold is scored once per metric. Copy the dict before changing it.
"""
