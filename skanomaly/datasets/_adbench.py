"""Synthetic anomalies of the four types of ADBench, generated on top of a set of normal rows.

Han et al., "ADBench: Anomaly Detection Benchmark" (NeurIPS 2022, Datasets and Benchmarks), sort anomalies
into four types and generate each from a model fitted to the normal rows of a real data set:

local
    Rows of a Gaussian mixture fitted to the normal rows, with every component's covariance multiplied by
    ``alpha`` (5 in the paper): they lie near the normal modes but too far from their centres.
global
    Each feature drawn independently and uniformly from ``[alpha * min, alpha * max]`` of that feature over
    the normal rows (``alpha`` 1.1 in the paper): scattered over (a slightly widened) bounding box.
dependency
    Rows whose features have the normal rows' marginal distributions but are independent of each other:
    they break the dependence structure while every single feature looks normal.
clustered
    Rows of the fitted Gaussian mixture with every component's mean multiplied by ``alpha`` (5 in the
    paper) and its covariance kept: a tight group away from the normal modes.

As in ADBench, the normal rows returned are by default drawn from the same fitted model as the anomalies
(``normal="model"``), so that anomalies differ from normal rows only by the property of their type and not by
what the model failed to capture of the real rows.

Differences from the paper's procedure, both for speed and to need no extra dependency: the dependency type
uses a Gaussian copula (normal rows) against the independence copula (anomalies), instead of a vine copula,
and the marginals are the empirical quantile functions of the normal rows (linearly interpolated for features
with more than ``20`` distinct values, the observed values themselves otherwise), instead of kernel density
estimates, so that a binary feature stays binary. The Gaussian mixture's number of components is chosen by
BIC, as in the paper, among 1 to ``max_components``.
"""

import numbers

import numpy as np
from scipy.special import ndtr, ndtri
from sklearn.utils import check_array, check_random_state

from ._base import _check_positive_int

__all__ = ["ADBENCH_ANOMALY_KINDS", "make_adbench_anomalies"]

#: The four anomaly types of ADBench, and the default ``alpha`` of each (None: the type has no ``alpha``).
ADBENCH_ANOMALY_KINDS = {"local": 5.0, "global": 1.1, "dependency": None, "clustered": 5.0}

# Features with at most this many distinct values keep their observed values in the copula marginals.
_DISCRETE_MAX_VALUES = 20


def _fit_mixture(X, max_components, rng):
    """Gaussian mixture (full covariances) with the number of components of lowest BIC in 1..max_components."""
    from sklearn.mixture import GaussianMixture  # imported on use: loading skanomaly.datasets stays light

    best, best_bic = None, np.inf
    for n_components in range(1, min(max_components, X.shape[0]) + 1):
        mixture = GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=1e-6,
                                  random_state=rng.randint(np.iinfo(np.int32).max)).fit(X)
        bic = mixture.bic(X)
        if bic < best_bic:
            best, best_bic = mixture, bic
    return best


def _sample_mixture(mixture, n_samples, rng, *, mean_factor=1.0, covariance_factor=1.0):
    """Rows of ``mixture`` with its means and covariances scaled; component counts drawn from its weights."""
    counts = rng.multinomial(n_samples, mixture.weights_ / mixture.weights_.sum())
    parts = [
        rng.multivariate_normal(mean_factor * mean, covariance_factor * covariance, size=count,
                                check_valid="ignore")
        for mean, covariance, count in zip(mixture.means_, mixture.covariances_, counts)
        if count > 0
    ]
    return np.concatenate(parts, axis=0)


def _marginal_quantiles(X):
    """One inverse-CDF function per feature: interpolated empirical quantiles, or observed values if discrete."""
    functions = []
    for column in X.T:
        ordered = np.sort(column)
        if np.unique(ordered).shape[0] > _DISCRETE_MAX_VALUES:
            def inverse(u, ordered=ordered):
                return np.quantile(ordered, u, method="linear")
        else:
            def inverse(u, ordered=ordered):
                return np.quantile(ordered, u, method="inverted_cdf")
        functions.append(inverse)
    return functions


def _copula_correlation(X):
    """Correlation of the normal scores ``Phi^-1(rank / (n + 1))`` of every feature (constant features: 0)."""
    from scipy.stats import rankdata  # imported on use: loading skanomaly.datasets stays light

    n_samples = X.shape[0]
    z = ndtri(rankdata(X, axis=0) / (n_samples + 1.0))
    scale = z.std(axis=0)
    varying = scale > 0
    z[:, varying] = (z[:, varying] - z[:, varying].mean(axis=0)) / scale[varying]
    z[:, ~varying] = 0.0
    correlation = z.T @ z / n_samples
    correlation[np.diag_indices_from(correlation)] = 1.0
    return correlation


def _from_normal_scores(z, inverses):
    u = np.clip(ndtr(z), 0.0, 1.0)
    return np.column_stack([inverse(u[:, j]) for j, inverse in enumerate(inverses)])


def make_adbench_anomalies(X_normal, kind, *, n_anomalies=None, alpha=None, normal="model", max_components=5,
                           random_state=None):
    """Normal rows and synthetic anomalies of one ADBench type, generated from a set of normal rows.

    See the module documentation for the four types (Han et al., NeurIPS 2022) and how they are generated.

    Parameters
    ----------
    X_normal : array-like of shape (n_normal, n_features)
        Normal rows (at least 2), finite. The scalings of ``alpha`` act in these coordinates, so scale the
        rows first when the origin or the units matter (the library's studies use min-max scaled rows).
    kind : {"local", "global", "dependency", "clustered"}
        The anomaly type.
    n_anomalies : int or None, default=None
        Number of anomalies; ``None`` means 10 % of ``n_normal`` (at least 1).
    alpha : float or None, default=None
        The type's scaling factor; ``None`` means the paper's value (local 5, global 1.1, clustered 5).
        ``kind="dependency"`` has no scaling factor and needs ``alpha=None``.
    normal : {"model", "original"}, default="model"
        ``"model"``: the returned normal rows are ``n_normal`` rows drawn from the fitted model (the Gaussian
        mixture, or for ``"dependency"`` the Gaussian copula), as ADBench does; ``"original"``: the rows of
        ``X_normal`` themselves.
    max_components : int, default=5
        Largest number of mixture components tried (BIC chooses among 1..max_components).
    random_state : int, RandomState instance or None, default=None
        Seed of the model fits and of the sampling.

    Returns
    -------
    X : ndarray of shape (n_normal + n_anomalies, n_features), float64
        Normal rows and anomalies, shuffled.
    y : ndarray of shape (n_normal + n_anomalies,), int64
        1 = anomaly, 0 = normal.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.datasets import make_adbench_anomalies
    >>> X_normal = np.random.RandomState(0).normal(size=(300, 4))
    >>> X, y = make_adbench_anomalies(X_normal, "clustered", random_state=0)
    >>> X.shape, int(y.sum())
    ((330, 4), 30)
    """
    X_normal = check_array(X_normal, dtype=np.float64, ensure_min_samples=2, input_name="X_normal")
    if kind not in ADBENCH_ANOMALY_KINDS:
        raise ValueError(f"kind must be one of {sorted(ADBENCH_ANOMALY_KINDS)}, got {kind!r}.")
    if normal not in ("model", "original"):
        raise ValueError(f"normal must be 'model' or 'original', got {normal!r}.")
    max_components = _check_positive_int(max_components, "max_components")
    n_normal = X_normal.shape[0]
    if n_anomalies is None:
        n_anomalies = max(1, int(round(0.1 * n_normal)))
    n_anomalies = _check_positive_int(n_anomalies, "n_anomalies")
    if kind == "dependency":
        if alpha is not None:
            raise ValueError("kind='dependency' has no scaling factor; use alpha=None.")
    elif alpha is None:
        alpha = ADBENCH_ANOMALY_KINDS[kind]
    elif (isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha)
          or alpha <= 0):
        raise ValueError(f"alpha must be a finite real number > 0, got {alpha!r}.")
    rng = check_random_state(random_state)

    if kind == "dependency":
        inverses = _marginal_quantiles(X_normal)
        correlation = _copula_correlation(X_normal)
        n_features = X_normal.shape[1]
        anomalies = _from_normal_scores(rng.standard_normal((n_anomalies, n_features)), inverses)
        if normal == "model":
            z = rng.multivariate_normal(np.zeros(n_features), correlation, size=n_normal, check_valid="ignore")
            normals = _from_normal_scores(z, inverses)
    else:
        mixture = _fit_mixture(X_normal, max_components, rng)
        if kind == "local":
            anomalies = _sample_mixture(mixture, n_anomalies, rng, covariance_factor=alpha)
        elif kind == "clustered":
            anomalies = _sample_mixture(mixture, n_anomalies, rng, mean_factor=alpha)
        else:
            low, high = alpha * X_normal.min(axis=0), alpha * X_normal.max(axis=0)
            anomalies = rng.uniform(np.minimum(low, high), np.maximum(low, high),
                                    size=(n_anomalies, X_normal.shape[1]))
        if normal == "model":
            normals = _sample_mixture(mixture, n_normal, rng)
    if normal == "original":
        normals = X_normal
    X = np.concatenate([normals, anomalies], axis=0).astype(np.float64)
    y = np.concatenate([np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)])
    order = rng.permutation(X.shape[0])
    return X[order], y[order]
