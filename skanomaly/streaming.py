"""Data larger than memory: read rows a chunk at a time, and set a detector's threshold from a held-out stream.

Training on such data goes through ``partial_fit`` (:class:`~skanomaly.detectors.AutoEncoderDetector`,
:class:`~skanomaly.detectors.DeepSVDDDetector`, :class:`~skanomaly.detectors.MirroredAEDetector` with
``select_best_epoch=False``), one chunk per call; scoring it on a Dask cluster goes through
:func:`skanomaly.distributed.score_dask`.

- :func:`iter_chunks` yields the rows of an array, a ``.npy`` file or a Parquet file a chunk at a time, with
  memory bounded by the chunk (a ``.npy`` file is read, not memory-mapped, so the rows read do not stay
  resident).
- :func:`set_offset_from_stream` sets ``offset_``, the threshold of ``predict``, to the ``contamination``
  quantile of the scores of a held-out stream of normal rows, in memory bounded by ``max_scores``.
- :func:`calibrate_from_stream` calibrates a fitted detector on such a stream: a
  :class:`~skanomaly.calibration.CalibratedDetector` whose p-values compare with the stream's scores (all of them,
  or a uniform random sample of ``max_scores``).
"""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["calibrate_from_stream", "iter_chunks", "set_offset_from_stream"]


def iter_chunks(source, chunk_rows=65536, *, columns=None):
    """Yield the rows of ``source`` a chunk at a time.

    Parameters
    ----------
    source : ndarray, str or os.PathLike
        A 2-D array (a ``numpy.memmap`` too: each chunk is copied into memory), the path of a ``.npy`` file of
        a 2-D array (read a chunk at a time with plain reads, so no more than one chunk is resident), or the
        path of a Parquet file (``.parquet``, read a row group slice at a time with pyarrow, which must be
        installed).
    chunk_rows : int, default=65536
        Rows per chunk; the last chunk holds the rest.
    columns : list of str or None, default=None
        Parquet only: the columns to read (all by default).

    Yields
    ------
    chunk : ndarray of shape (n_rows, n_features) or pandas.DataFrame
        Arrays for arrays and ``.npy`` files, in their dtype; DataFrames for Parquet files, so that a detector
        records their column names.

    Raises
    ------
    ValueError
        If ``chunk_rows`` is not a positive int, the array or file does not hold a 2-D array, or the path is
        neither ``.npy`` nor ``.parquet``.
    """
    if not isinstance(chunk_rows, Integral) or isinstance(chunk_rows, bool) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}.")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".npy"):
            yield from _npy_chunks(path, int(chunk_rows))
        elif path.endswith(".parquet"):
            yield from _parquet_chunks(path, int(chunk_rows), columns)
        else:
            raise ValueError(f"{path}: iter_chunks reads .npy and .parquet files.")
        return
    if getattr(source, "ndim", None) != 2:
        raise ValueError(f"iter_chunks needs a 2-D array, got {type(source).__name__} with ndim="
                         f"{getattr(source, 'ndim', None)}.")
    for start in range(0, source.shape[0], chunk_rows):
        yield np.array(source[start:start + chunk_rows])


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _npy_chunks(path, chunk_rows):
    with open(path, "rb") as file:
        version = np.lib.format.read_magic(file)
        if version not in _NPY_HEADERS:
            raise ValueError(f"{path}: .npy format version {version} is not read by iter_chunks (1.0 and 2.0 are).")
        shape, fortran_order, dtype = _NPY_HEADERS[version](file)
        if len(shape) != 2 or fortran_order or dtype.hasobject:
            raise ValueError(f"{path}: iter_chunks reads 2-D C-ordered numeric arrays, got shape {shape}, "
                             f"{'Fortran' if fortran_order else 'C'} order, dtype {dtype}.")
        n_rows, n_columns = shape
        for start in range(0, n_rows, chunk_rows):
            count = min(chunk_rows, n_rows - start) * n_columns
            chunk = np.fromfile(file, dtype=dtype, count=count)
            if chunk.size != count:
                raise ValueError(f"{path}: the file ends before the {n_rows} rows its header declares.")
            yield chunk.reshape(-1, n_columns)


def _parquet_chunks(path, chunk_rows, columns):
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError("Reading Parquet files needs pyarrow: pip install pyarrow.") from error
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns):
        yield batch.to_pandas()


def _last_step(estimator):
    """The step of a ``Pipeline`` that holds ``offset_`` (its last), or the estimator itself."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


class _ScoreSample:
    """Every score while there are at most ``size``, then a uniform random sample of ``size`` of them.

    Reservoir sampling (Vitter's algorithm R), vectorised over a chunk: the ``t``-th score (from 0) replaces the
    kept score at a uniform position in ``[0, t]`` when that position is below ``size``. Among equal positions
    of one chunk the later score wins, as in the one-at-a-time algorithm.
    """

    def __init__(self, size, random_state):
        self.size = size
        self.rng = check_random_state(random_state)
        self.values = np.empty(0, dtype=np.float64)
        self.seen = 0

    def add(self, scores):
        scores = np.asarray(scores, dtype=np.float64).ravel()
        room = max(0, min(self.size - self.values.size, scores.size))
        if room:
            self.values = np.concatenate([self.values, scores[:room]])
        rest = scores[room:]
        if rest.size:
            index = self.seen + room + np.arange(rest.size)
            positions = np.floor(self.rng.random_sample(rest.size) * (index + 1)).astype(np.int64)
            kept = positions < self.size
            slots, last = np.unique(positions[kept][::-1], return_index=True)  # the later score of a slot wins
            self.values[slots] = rest[kept][::-1][last]
        self.seen += scores.size


def _check_max_scores(max_scores):
    if not isinstance(max_scores, Integral) or isinstance(max_scores, bool) or max_scores < 1:
        raise ValueError(f"max_scores must be a positive int, got {max_scores!r}.")


def _stream_scores(estimator, chunks, max_scores, random_state):
    """The scores of every row of ``chunks`` (or a uniform sample of ``max_scores``) and the number of rows."""
    sample = _ScoreSample(int(max_scores), random_state)
    for chunk in chunks:
        sample.add(estimator.score_samples(chunk))
    if sample.seen == 0:
        raise ValueError("The stream held no row: at least one chunk of rows is needed.")
    return sample.values, sample.seen


def set_offset_from_stream(estimator, chunks, *, contamination=None, max_scores=1_000_000, random_state=0):
    """Set ``offset_`` from the scores of a held-out stream of normal rows.

    ``offset_`` (the threshold of ``predict``: rows scoring below it are outliers) becomes the
    ``100 * contamination`` percentile of the stream's scores, so that about a ``contamination`` share of
    rows like the stream's is flagged. The scores of the first ``max_scores`` rows are kept; after that a
    uniform random sample of ``max_scores`` of every score seen (reservoir sampling), so memory stays bounded
    whatever the stream's length. With ``max_scores`` at least the stream's row count the percentile is exact.
    The quantile of a uniform sample of ``m`` scores is within about ``sqrt(q (1 - q) / m)`` in rank of the
    stream's (``q = contamination``): 3e-4 for ``q = 0.1`` and the default ``m``.

    After :meth:`~skanomaly.base.BaseDetector.partial_fit`, whose ``offset_`` comes from the rows of its
    last call, this sets the threshold from more rows, or from rows the model was not trained on.

    Parameters
    ----------
    estimator : fitted detector or Pipeline ending in one
        Anything with ``score_samples`` (higher = more normal) and ``offset_`` (on the last step of a
        ``Pipeline``), such as this library's detectors and ensembles or scikit-learn's ``IsolationForest``.
    chunks : iterable of array-like
        The held-out rows, a chunk at a time (e.g. :func:`iter_chunks`); each chunk is scored with
        ``estimator.score_samples``.
    contamination : float in (0, 0.5] or None, default=None
        Share of the stream to fall below the threshold; ``None`` takes the detector's ``contamination``.
    max_scores : int, default=1_000_000
        Scores kept for the quantile (8 bytes each).
    random_state : int, RandomState instance or None, default=0
        Seeds the sample of scores once the stream is longer than ``max_scores``.

    Returns
    -------
    estimator : object
        The same estimator, with ``offset_`` set (on its last step for a ``Pipeline``).

    Raises
    ------
    ValueError
        If the stream holds no row, ``contamination`` is not in (0, 0.5] or ``max_scores`` is not a positive
        int, or a chunk is not valid input for the estimator (NaN, another number of features, ...).
    """
    detector = _last_step(estimator)
    check_is_fitted(detector)
    if hasattr(detector, "calibration_scores_"):
        raise TypeError("A calibrated detector's offset_ is a level of its calibrated scores, set by its "
                        "false_alarm_rate; calibrate the detector it wraps with calibrate_from_stream instead.")
    if contamination is None:
        contamination = getattr(detector, "contamination", None)
    if not isinstance(contamination, Real) or isinstance(contamination, bool) or not 0 < contamination <= 0.5:
        raise ValueError(f"contamination must be a float in (0, 0.5], got {contamination!r}.")
    _check_max_scores(max_scores)
    scores, _ = _stream_scores(estimator, chunks, max_scores, random_state)
    detector.offset_ = float(np.percentile(scores, 100.0 * contamination))
    return estimator


def calibrate_from_stream(estimator, chunks, *, false_alarm_rate=0.05, max_scores=1_000_000, random_state=0):
    """Calibrate a fitted detector on a held-out stream of normal rows: conformal p-values in bounded memory.

    The result is the :class:`~skanomaly.calibration.CalibratedDetector` that
    ``CalibratedDetector(FrozenEstimator(estimator), method="split", false_alarm_rate=...).fit(X)`` gives for
    the rows ``X`` of the stream, without holding the rows: each chunk is scored and only its scores are kept.
    With more than ``max_scores`` rows, a uniform random sample of ``max_scores`` of the scores calibrates
    (reservoir sampling); the rows behind it are a uniform random sample of the stream, so the guarantee of
    split conformal calibration holds with ``n = max_scores``: for a new normal row exchangeable with the
    stream's, ``P(p <= alpha) <= alpha``. The stream must not hold rows the detector was trained on.

    Parameters
    ----------
    estimator : fitted detector or Pipeline ending in one
        Anything with ``score_samples`` (higher = more normal), e.g. a detector trained with ``partial_fit``.
    chunks : iterable of array-like
        The held-out normal rows, a chunk at a time (e.g. :func:`iter_chunks`).
    false_alarm_rate : float in (0, 1), default=0.05
        The calibrated detector's ``false_alarm_rate``: ``predict`` flags rows with p-values at most it.
    max_scores : int, default=1_000_000
        Calibration scores kept (8 bytes each).
    random_state : int, RandomState instance or None, default=0
        Seeds the sample of scores once the stream is longer than ``max_scores``.

    Returns
    -------
    calibrated : CalibratedDetector
        Fitted: ``estimators_`` holds ``FrozenEstimator(estimator)``, ``calibration_scores_`` the stream's sorted
        scores (or their sample), ``n_calibration_`` their number.

    Raises
    ------
    ValueError
        If the stream holds no row, a score is not finite, ``false_alarm_rate`` is below the smallest p-value
        ``1 / (n + 1)``, or a chunk is not valid input for the estimator.
    """
    from sklearn.frozen import FrozenEstimator

    from .calibration import CalibratedDetector

    check_is_fitted(estimator)
    _check_max_scores(max_scores)
    calibrated = CalibratedDetector(FrozenEstimator(estimator), method="split", false_alarm_rate=false_alarm_rate,
                                    random_state=random_state)
    calibrated._validate_params()
    scores, _ = _stream_scores(estimator, chunks, max_scores, random_state)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{type(estimator).__name__} gave {int(np.sum(~np.isfinite(scores)))} non-finite "
                         "calibration score(s).")
    calibrated._check_reachable(scores.shape[0])
    calibrated.estimators_ = [calibrated.estimator]
    calibrated.calibration_scores_ = np.sort(scores)
    calibrated.calibration_folds_ = np.zeros(scores.shape[0], dtype=np.int64)
    calibrated.n_calibration_ = int(scores.shape[0])
    calibrated.offset_ = calibrated._threshold_count() / (calibrated.n_calibration_ + 1)
    for name in ("n_features_in_", "feature_names_in_"):  # as CalibratedDetector.fit records them
        if hasattr(estimator, name):
            setattr(calibrated, name, getattr(estimator, name))
    return calibrated
