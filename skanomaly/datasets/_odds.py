"""Loaders for the ODDS benchmark sets embedded in the package (Thyroid, Arrhythmia)."""

import numpy as np

from ._base import _check_bool, _load_descr, _load_packaged_arrays, _make_bunch

# Recommended k (as a fraction) for the top-k% protocol: the known anomaly ratio, rounded.
_ANOMALY_RATIO = {"thyroid": 0.025, "arrhythmia": 0.15}


def _load_odds(name, *, as_frame, return_X_y):
    as_frame = _check_bool(as_frame, "as_frame")
    return_X_y = _check_bool(return_X_y, "return_X_y")
    arrays = _load_packaged_arrays(name)
    data = np.asarray(arrays["X"], dtype=np.float64)
    target = np.asarray(arrays["y"], dtype=np.int64).ravel()
    feature_names = [f"x{j}" for j in range(data.shape[1])]
    return _make_bunch(
        data,
        target,
        feature_names,
        _load_descr(name),
        as_frame=as_frame,
        return_X_y=return_X_y,
        target_names=["normal", "anomaly"],
        anomaly_ratio=_ANOMALY_RATIO[name],
    )


def load_thyroid(*, as_frame=False, return_X_y=False):
    """Load the ODDS Thyroid anomaly-detection set (embedded, no download).

    3772 samples, 6 real-valued features scaled to [0, 1], 93 anomalies (2.47 %).
    Built by ODDS (Rayana, 2016) from the UCI Thyroid Disease data; see ``DESCR``.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series named ``"target"``,
        and ``frame`` a DataFrame holding both.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (3772, 6), float64, or DataFrame
            The features.
        target : ndarray of shape (3772,), int64, or Series
            1 = anomaly (hyperfunction class), 0 = normal.
        frame : DataFrame or None
            Features and target together when ``as_frame=True``, else None.
        feature_names : list of str
            ``"x0"`` ... ``"x5"`` (ODDS does not name the columns).
        target_names : list of str
            ``["normal", "anomaly"]``.
        anomaly_ratio : float
            0.025, the recommended k (as a fraction) for top-k% evaluation.
        DESCR : str
            Description of the data set and its origin.
    (data, target) : tuple if ``return_X_y`` is True
        Features and target as above.

    Examples
    --------
    >>> from skanomaly.datasets import load_thyroid
    >>> X, y = load_thyroid(return_X_y=True)
    >>> X.shape, int(y.sum())
    ((3772, 6), 93)
    """
    return _load_odds("thyroid", as_frame=as_frame, return_X_y=return_X_y)


def load_arrhythmia(*, as_frame=False, return_X_y=False):
    """Load the ODDS Arrhythmia anomaly-detection set (embedded, no download).

    452 samples, 274 features, 66 anomalies (14.60 %). Built by ODDS (Rayana, 2016)
    from the UCI Arrhythmia data; see ``DESCR``. **17 columns are constant**: guard
    against a zero standard deviation when you standardize.

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series named ``"target"``,
        and ``frame`` a DataFrame holding both.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (452, 274), float64, or DataFrame
            The features (not scaled).
        target : ndarray of shape (452,), int64, or Series
            1 = anomaly (the merged small classes), 0 = normal.
        frame : DataFrame or None
            Features and target together when ``as_frame=True``, else None.
        feature_names : list of str
            ``"x0"`` ... ``"x273"`` (ODDS does not name the columns; ``DESCR`` maps
            them to the UCI attributes).
        target_names : list of str
            ``["normal", "anomaly"]``.
        anomaly_ratio : float
            0.15, the recommended k (as a fraction) for top-k% evaluation.
        DESCR : str
            Description of the data set and its origin.
    (data, target) : tuple if ``return_X_y`` is True
        Features and target as above.

    Examples
    --------
    >>> from skanomaly.datasets import load_arrhythmia
    >>> X, y = load_arrhythmia(return_X_y=True)
    >>> X.shape, int(y.sum())
    ((452, 274), 66)
    """
    return _load_odds("arrhythmia", as_frame=as_frame, return_X_y=return_X_y)
