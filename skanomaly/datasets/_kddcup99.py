"""Loader for the KDD Cup 1999 10 % subset, preprocessed as in the DAGMM / ALAD papers."""

import zlib

import numpy as np
import pandas as pd

from ._base import (
    DATA_HOME_ENV,
    CacheInvalid,
    _check_bool,
    _check_cache_array,
    _load_descr,
    _make_bunch,
    _read_npz_cache,
    _write_npz_cache,
    get_data_home,
)

#: The 41 feature names of the KDD Cup 1999 data, in file order.
KDD_FEATURE_NAMES = (
    "duration",
    "protocol_type",
    "service",
    "flag",
    "src_bytes",
    "dst_bytes",
    "land",
    "wrong_fragment",
    "urgent",
    "hot",
    "num_failed_logins",
    "logged_in",
    "num_compromised",
    "root_shell",
    "su_attempted",
    "num_root",
    "num_file_creations",
    "num_shells",
    "num_access_files",
    "num_outbound_cmds",
    "is_host_login",
    "is_guest_login",
    "count",
    "srv_count",
    "serror_rate",
    "srv_serror_rate",
    "rerror_rate",
    "srv_rerror_rate",
    "same_srv_rate",
    "diff_srv_rate",
    "srv_diff_host_rate",
    "dst_host_count",
    "dst_host_srv_count",
    "dst_host_same_srv_rate",
    "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate",
    "dst_host_srv_diff_host_rate",
    "dst_host_serror_rate",
    "dst_host_srv_serror_rate",
    "dst_host_rerror_rate",
    "dst_host_srv_rerror_rate",
)

# Columns that are one-hot encoded: the three symbolic ones and the four binary flags.
_SYMBOLIC = ("protocol_type", "service", "flag")
_BINARY = ("land", "logged_in", "is_host_login", "is_guest_login")
_ENCODED = frozenset(_SYMBOLIC + _BINARY)

# Source files accepted, in order of preference.
KDD_SOURCE_FILES = (
    "kddcup.data_10_percent.gz",
    "kddcup.data_10_percent",
    "kddcup.data_10_percent_corrected",
)
KDD_CACHE_FILE = "kddcup99_10percent_cache.npz"
_CACHE_VERSION = 1
_NORMAL_LABEL = "normal"
_KDD_ANOMALY_RATIO = 0.20

_KDD_ARCHIVE_URL = "http://kdd.ics.uci.edu/databases/kddcup99/kddcup99.html"


def _missing_file_message(data_home):
    looked = ", ".join(KDD_SOURCE_FILES)
    return (
        f"KDD Cup 1999 data not found in {data_home} (looked for: {looked}). "
        "skanomaly never downloads data. Download the file 'kddcup.data_10_percent.gz' "
        f"from the UCI KDD Archive ({_KDD_ARCHIVE_URL}; also in the UCI Machine Learning "
        f"Repository, doi:10.24432/C51C7N) and put it in {data_home}, or put it in another "
        f"folder and pass data_home=<that folder> or set the environment variable "
        f"{DATA_HOME_ENV} to it."
    )


def _find_source(data_home):
    for name in KDD_SOURCE_FILES:
        path = data_home / name
        if path.is_file():
            return path
    return None


def _good_copy_advice(path):
    return (
        f"Delete it and download 'kddcup.data_10_percent.gz' again from the UCI KDD Archive "
        f"({_KDD_ARCHIVE_URL}; also in the UCI Machine Learning Repository, doi:10.24432/C51C7N) into "
        f"{path.parent}; `gzip -t <file>` checks a download (the intact file is 2,144,903 bytes and holds "
        "494,021 lines)."
    )


def _is_gzip(path):
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _parse_source(path):
    """Parse the CSV file into compact arrays (numeric block, category codes, labels)."""
    names = list(KDD_FEATURE_NAMES) + ["label"]
    dtype = {name: np.float64 for name in KDD_FEATURE_NAMES}
    dtype.update({name: str for name in _SYMBOLIC})
    dtype.update({name: np.int64 for name in _BINARY})
    dtype["label"] = str
    compressed = _is_gzip(path)
    try:
        df = pd.read_csv(
            path,
            header=None,
            names=names,
            dtype=dtype,
            compression="gzip" if compressed else None,
        )
    except (EOFError, OSError, zlib.error) as exc:
        # gzip raises EOFError on a truncated file, BadGzipFile (an OSError) on a bad header or checksum and
        # zlib.error on damaged compressed data.
        problem = "is truncated" if isinstance(exc, EOFError) else "is damaged"
        raise ValueError(
            f"The KDD Cup 1999 file {path} {problem}: "
            f"{'gzip' if compressed else 'reading it'} failed with {type(exc).__name__}: {exc}. "
            f"{_good_copy_advice(path)}"
        ) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(
            f"Could not parse {path} as KDD Cup 1999 data (42 comma-separated fields per "
            f"line: 41 features and a label): {exc}. {_good_copy_advice(path)}"
        ) from exc
    if df.shape[0] == 0:
        raise ValueError(f"{path} holds no rows. {_good_copy_advice(path)}")
    if df.isna().any().any():
        bad = df.columns[df.isna().any()].tolist()
        raise ValueError(
            f"{path} is not valid KDD Cup 1999 data: empty or missing fields in "
            f"columns {bad} (each line must have 42 comma-separated fields; a file cut short ends in such a "
            f"line). {_good_copy_advice(path)}"
        )
    numeric_names = [n for n in KDD_FEATURE_NAMES if n not in _ENCODED]
    numeric = df[numeric_names].to_numpy(dtype=np.float64)
    encoded_names = [n for n in KDD_FEATURE_NAMES if n in _ENCODED]
    codes = np.empty((df.shape[0], len(encoded_names)), dtype=np.int16)
    categories = {}
    for j, name in enumerate(encoded_names):
        column = df[name]
        if name in _BINARY:
            column = column.astype(str)
        col_codes, uniques = pd.factorize(column, sort=True)
        codes[:, j] = col_codes
        categories[name] = np.asarray(uniques, dtype=str)
    attack_type = df["label"].str.strip().str.rstrip(".").to_numpy(dtype=str)
    return numeric, codes, categories, attack_type


def _cache_path(data_home):
    return data_home / KDD_CACHE_FILE


def _read_cache(cache_file, source):
    """Return the cached arrays, or None when the cache is missing, stale or damaged (then with a warning)."""
    try:
        if cache_file.stat().st_mtime < source.stat().st_mtime:
            return None
    except OSError:
        return None

    def validate(npz):
        version = _check_cache_array(npz, "version", dtype_kind="iu", ndim=0)
        if int(version) != _CACHE_VERSION:
            return None
        if str(_check_cache_array(npz, "source_name", dtype_kind="U", ndim=0)) != source.name:
            return None
        if int(_check_cache_array(npz, "source_size", dtype_kind="iu", ndim=0)) != source.stat().st_size:
            return None
        n_encoded = sum(name in _ENCODED for name in KDD_FEATURE_NAMES)
        numeric = _check_cache_array(npz, "numeric", dtype_kind="f", ndim=2,
                                     columns=len(KDD_FEATURE_NAMES) - n_encoded)
        n = numeric.shape[0]
        codes = _check_cache_array(npz, "codes", dtype_kind="iu", ndim=2, rows=n, columns=n_encoded)
        attack_type = _check_cache_array(npz, "attack_type", dtype_kind="U", ndim=1, rows=n)
        categories = {}
        for j, name in enumerate(name for name in KDD_FEATURE_NAMES if name in _ENCODED):
            values = _check_cache_array(npz, f"categories_{name}", dtype_kind="U", ndim=1)
            if n and not (0 <= codes[:, j].min() and codes[:, j].max() < len(values)):
                raise CacheInvalid(f"codes of {name!r} fall outside its {len(values)} categories")
            categories[name] = values
        if n == 0:
            raise CacheInvalid("no rows")
        return numeric, codes, categories, attack_type

    return _read_npz_cache(cache_file, validate, what="KDD Cup 1999")


def _write_cache(cache_file, source, numeric, codes, categories, attack_type):
    """Write the cache atomically; warn (do not fail) when the folder is not writable."""
    arrays = {
        "version": np.int64(_CACHE_VERSION),
        "source_name": np.str_(source.name),
        "source_size": np.int64(source.stat().st_size),
        "numeric": numeric,
        "codes": codes,
        "attack_type": attack_type,
        **{f"categories_{k}": v for k, v in categories.items()},
    }
    _write_npz_cache(cache_file, arrays, what="KDD Cup 1999")


def _assemble(numeric, codes, categories):
    """Build the float64 design matrix: numeric columns, one-hot blocks in file order."""
    n = numeric.shape[0]
    blocks_width = []
    feature_names = []
    num_j = 0
    enc_j = 0
    plan = []
    for name in KDD_FEATURE_NAMES:
        if name in _ENCODED:
            cats = categories[name]
            plan.append(("onehot", enc_j, len(cats)))
            feature_names.extend(f"{name}={c}" for c in cats)
            blocks_width.append(len(cats))
            enc_j += 1
        else:
            plan.append(("numeric", num_j, 1))
            feature_names.append(name)
            blocks_width.append(1)
            num_j += 1
    data = np.zeros((n, sum(blocks_width)), dtype=np.float64)
    rows = np.arange(n)
    start = 0
    for kind, j, width in plan:
        if kind == "numeric":
            data[:, start] = numeric[:, j]
        else:
            data[rows, start + codes[:, j].astype(np.intp)] = 1.0
        start += width
    return data, feature_names


def fetch_kddcup99(
    *,
    data_home=None,
    as_frame=False,
    return_X_y=False,
    download_if_missing=True,
    cache=True,
):
    """Load the KDD Cup 1999 10 % subset, one-hot encoded as in DAGMM / ALAD.

    The file ``kddcup.data_10_percent.gz`` (or its uncompressed form
    ``kddcup.data_10_percent`` / ``kddcup.data_10_percent_corrected``) must already be in
    the data home: **nothing is downloaded**. The symbolic columns ``protocol_type``,
    ``service`` and ``flag`` and the binary columns ``land``, ``logged_in``,
    ``is_host_login`` and ``is_guest_login`` are one-hot encoded (one column per value
    seen in the file, named like ``"service=http"``), in place of the original column.
    On the standard 10 % file this gives 494,021 rows and 121 columns. No scaling is
    applied: scale with statistics of the training split only.

    Labels follow the papers' protocol, where the roles are reversed: the ``normal.``
    traffic (19.69 %) is the anomaly class (target 1) and every attack row is
    normal (target 0).

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder holding the file; resolved by :func:`get_data_home` (argument, then the
        ``SKANOMALY_DATA`` environment variable, then ``~/skanomaly_data``).
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame, ``target`` and ``attack_type`` are Series, and
        ``frame`` holds the features and ``target``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    download_if_missing : bool, default=True
        Accepted for symmetry with :func:`sklearn.datasets.fetch_kddcup99`. skanomaly never
        downloads: whatever the value, a missing file raises :class:`FileNotFoundError`
        telling which file to get and where to put it.
    cache : bool, default=True
        If True, the parsed file is cached as ``kddcup99_10percent_cache.npz`` in the data
        home (created if needed) and reused while it is newer than the source file. A cache
        that cannot be read (truncated, damaged, or holding other arrays than expected) is
        rebuilt from the source with a warning. The cache is written to a temporary file and
        renamed in one step; temporary files left by a write that was killed are removed at
        the next write. If the folder is not writable, a warning is emitted and loading goes
        on. False neither reads nor writes the cache.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, n_features), float64, or DataFrame
            The one-hot encoded features (121 columns on the standard file).
        target : ndarray of shape (n_samples,), int64, or Series
            1 = ``normal.`` traffic (the anomaly class here), 0 = attack.
        attack_type : ndarray of shape (n_samples,) of str, or Series
            The raw label without its trailing dot (``"normal"``, ``"smurf"``, ...).
        frame : DataFrame or None
            Features and target together when ``as_frame=True``, else None.
        feature_names : list of str
            Column names: KDD feature names and ``"<feature>=<value>"`` for one-hot columns.
        target_names : list of str
            ``["attack", "normal traffic"]``: the meaning of target 0 and 1.
        anomaly_ratio : float
            0.20, the k (as a fraction) of the top-k% protocol for this set.
        source_file : str
            Path of the file that was read.
        DESCR : str
            Description of the data set, its origin and the preprocessing.
    (data, target) : tuple if ``return_X_y`` is True
        Features and target as above.

    Raises
    ------
    FileNotFoundError
        If none of the accepted files is in the data home.
    ValueError
        If the file is not in the KDD Cup 1999 format, or is truncated or damaged (the
        message names the file and how to get a good copy).

    Examples
    --------
    >>> from skanomaly.datasets import fetch_kddcup99
    >>> X, y = fetch_kddcup99(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, round(y.mean(), 4)  # doctest: +SKIP
    ((494021, 121), 0.1969)
    """
    as_frame = _check_bool(as_frame, "as_frame")
    return_X_y = _check_bool(return_X_y, "return_X_y")
    _check_bool(download_if_missing, "download_if_missing")
    cache = _check_bool(cache, "cache")
    home = get_data_home(data_home)
    source = _find_source(home)
    if source is None:
        raise FileNotFoundError(_missing_file_message(home))

    parsed = _read_cache(_cache_path(home), source) if cache else None
    if parsed is None:
        parsed = _parse_source(source)
        if cache:
            _write_cache(_cache_path(home), source, *parsed)
    numeric, codes, categories, attack_type = parsed

    data, feature_names = _assemble(numeric, codes, categories)
    target = (attack_type == _NORMAL_LABEL).astype(np.int64)
    result = _make_bunch(
        data,
        target,
        feature_names,
        _load_descr("kddcup99"),
        as_frame=as_frame,
        return_X_y=return_X_y,
        target_names=["attack", "normal traffic"],
        anomaly_ratio=_KDD_ANOMALY_RATIO,
        attack_type=(
            pd.Series(attack_type, name="attack_type") if as_frame else attack_type
        ),
        source_file=str(source),
    )
    return result
