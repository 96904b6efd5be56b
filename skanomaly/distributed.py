"""Scoring data larger than memory on a Dask cluster, a chunk of rows per task.

:func:`score_dask` scores a Dask array or DataFrame lazily with any fitted detector (or a ``Pipeline`` ending in
one): each task scores one chunk of rows, with every feature, and the result is a Dask array (a Series for a
DataFrame) with the chunks of the input's rows. A worker holds the chunks it is scoring (its threads' worth),
their scores and one copy of the detector, whatever the number of rows. A row's score does not depend on the
other rows of its chunk, so the scores equal those of the detector on the same rows in memory, to the bit.

dask-ml's ``ParallelPostFit`` does the same for ``predict``, ``predict_proba`` and ``transform`` only; it has no
``score_samples`` or ``decision_function``, and it puts the estimator into the specification of every task,
where :func:`score_dask` puts it into the graph once (``docs/distributed.md`` compares them).
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["score_dask"]

# method -> dtype of its values
_METHODS = {"score_samples": np.float64, "decision_function": np.float64, "anomaly_score": np.float64,
            "predict": np.int64}


def _score_block(block, estimator, method):
    return np.asarray(getattr(estimator, method)(block), dtype=_METHODS[method])


def _score_partition(frame, estimator, method):
    import pandas as pd

    return pd.Series(_score_block(frame, estimator, method), index=frame.index, dtype=_METHODS[method])


def score_dask(estimator, X, *, method="score_samples"):
    """Score a Dask array or DataFrame chunk by chunk, lazily, with a fitted detector.

    Parameters
    ----------
    estimator : fitted detector or Pipeline ending in one
        Anything with the method ``method`` that scores rows independently of each other: this library's
        detectors, ensembles and calibrated detectors, scikit-learn's outlier detectors, a ``Pipeline`` of
        transformers and one of them.
    X : dask.array.Array or dask.dataframe.DataFrame
        Rows to score: a 2-D array (3-D or 4-D for images), chunked along its rows (its other axes are
        rechunked to one chunk, so that every task sees whole rows), or a DataFrame (one task per partition;
        column names reach the estimator as in memory).
    method : {"score_samples", "decision_function", "predict", "anomaly_score"}, default="score_samples"
        The method to apply.

    Returns
    -------
    scores : dask.array.Array or dask.dataframe.Series
        One value per row (float64; int64 for ``predict``), chunked like the rows of ``X`` (for a DataFrame, a
        Series with its index and divisions). Nothing runs until it is computed: reduce it on the cluster
        (``(scores < 0).sum()``, ``da.histogram``) or write it out (``scores.to_zarr(...)``,
        ``da.to_npy_stack``) rather than gathering hundreds of millions of scores into the client.

    Raises
    ------
    ValueError
        If ``method`` is not one of the above or ``X`` is neither a Dask array of 2 to 4 dimensions nor a Dask
        DataFrame.
    AttributeError
        If the estimator has no such method.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    Notes
    -----
    Errors in a chunk (NaN, another number of features) are raised when the result is computed, by the
    estimator's own checks, naming the problem as in memory.

    Examples
    --------
    >>> import dask.array as da
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> from skanomaly.distributed import score_dask
    >>> X = da.random.default_rng(0).random((10_000, 8), chunks=(2_500, 8))
    >>> detector = AutoEncoderDetector(max_epochs=2, random_state=0).fit(X[:2_000].compute())
    >>> scores = score_dask(detector, X)          # lazy: one task per chunk of 2 500 rows
    >>> scores.chunks
    ((2500, 2500, 2500, 2500),)
    >>> n_outliers = int((score_dask(detector, X, method="predict") == -1).sum().compute())
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}.")
    getattr(estimator, method)  # AttributeError, with the estimator's own message, if it has no such method
    check_is_fitted(estimator)
    import dask
    import dask.array as da

    if isinstance(X, da.Array):
        if not 2 <= X.ndim <= 4:
            raise ValueError(f"score_dask needs a 2-D Dask array (3-D or 4-D for images), got {X.ndim} dimensions.")
        whole_rows = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        return da.map_blocks(_score_block, whole_rows, dask.delayed(estimator, pure=True), method,
                             drop_axis=tuple(range(1, X.ndim)), dtype=_METHODS[method],
                             meta=np.empty((0,), dtype=_METHODS[method]))
    if type(X).__module__.startswith("dask") and hasattr(X, "map_partitions") and hasattr(X, "columns"):
        import pandas as pd

        return X.map_partitions(_score_partition, dask.delayed(estimator, pure=True), method,
                                meta=pd.Series(dtype=_METHODS[method]))
    raise ValueError(f"score_dask needs a Dask array or DataFrame, got {type(X).__name__}; score data in memory "
                     f"with estimator.{method}(X).")
