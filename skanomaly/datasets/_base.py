"""Shared helpers of the dataset loaders: data home, packaged files, caches, Bunch assembly."""

import numbers
import os
import socket
import tempfile
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

#: Name of the environment variable that sets the data home folder.
DATA_HOME_ENV = "SKANOMALY_DATA"

_DEFAULT_DATA_HOME = "~/skanomaly_data"


def get_data_home(data_home=None):
    """Return the folder where skanomaly looks for (and caches) data files.

    The folder is resolved in this order:

    1. the ``data_home`` argument, when it is not ``None``;
    2. the environment variable ``SKANOMALY_DATA``, when it is set and not empty;
    3. ``~/skanomaly_data``.

    A leading ``~`` is expanded in every case. The folder is **not** created
    here: the loaders that write a cache create it when they need it.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Explicit folder. Takes precedence over the environment variable.

    Returns
    -------
    data_home : pathlib.Path
        The resolved folder (absolute path; it may not exist yet).

    Examples
    --------
    >>> from skanomaly.datasets import get_data_home
    >>> str(get_data_home("/tmp/my_data"))
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    elif not isinstance(data_home, (str, os.PathLike)):
        raise ValueError(
            "data_home must be None, a str or a path-like object, "
            f"got {type(data_home).__name__}."
        )
    return Path(data_home).expanduser().absolute()


def _load_descr(name):
    """Read the reStructuredText description ``descr/<name>.rst`` shipped with the package."""
    ref = resources.files(__package__).joinpath("descr", f"{name}.rst")
    return ref.read_text(encoding="utf-8")


def _load_packaged_arrays(name):
    """Load ``data/<name>.npz`` shipped with the package and return its arrays as a dict."""
    ref = resources.files(__package__).joinpath("data", f"{name}.npz")
    with resources.as_file(ref) as path:
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {key: npz[key] for key in npz.files}
        except Exception as exc:
            raise OSError(
                f"The data file {path} shipped with skanomaly cannot be read ({type(exc).__name__}: {exc}); "
                "the installation is damaged. Reinstall skanomaly (pip install --force-reinstall skanomaly) "
                "to get a good copy."
            ) from exc


# ------------------------------------------------------------------------------------------------ caches
#: Name prefix of the temporary files the cache writers create next to a cache; anything in a cache folder
#: that starts with it belongs to skanomaly and is either being written right now or was left by a write that
#: was killed.
CACHE_TMP_PREFIX = ".skanomaly-tmp-"

# A temporary file older than this is an orphan even when its writer cannot be checked (another host).
_ORPHAN_AGE_SECONDS = 3600.0


def _tmp_owner_alive(name):
    """Whether the writer recorded in a temporary file name (``<prefix><host>-<pid>-...``) is still running.

    A writer on another host, or a name that does not parse, counts as alive: only its age can tell.
    """
    parts = name[len(CACHE_TMP_PREFIX):].split("-")
    if len(parts) < 3 or parts[0] != _host_tag() or not parts[1].isdigit():
        return True
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user, or the check is not allowed
        return True
    return True


def _host_tag():
    return "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _remove_orphan_temp_files(folder):
    """Delete temporary files of skanomaly in ``folder`` whose writer died (or that are over an hour old)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(CACHE_TMP_PREFIX):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > _ORPHAN_AGE_SECONDS
            if old or not _tmp_owner_alive(entry.name):
                os.remove(entry.path)
        except OSError:
            continue  # removed by someone else meanwhile, or not ours to remove


def _write_npz_cache(cache_file, arrays, *, what):
    """Write ``arrays`` to the ``.npz`` file ``cache_file`` atomically; warn (do not fail) on an OS error.

    The arrays go to a temporary file in the same folder (named ``CACHE_TMP_PREFIX`` + host + process id),
    which :func:`os.replace` then moves over ``cache_file`` in one step: a reader sees the old cache or the new
    one, never a half-written file. Temporary files left by earlier writes that were killed are removed first.

    Parameters
    ----------
    cache_file : pathlib.Path
    arrays : dict of str to ndarray
        Saved with :func:`numpy.savez_compressed`; no object arrays (the reader does not allow pickles).
    what : str
        Name of the data set, for the warning.
    """
    tmp_name = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphan_temp_files(cache_file.parent)
        with tempfile.NamedTemporaryFile(
            dir=cache_file.parent, prefix=f"{CACHE_TMP_PREFIX}{_host_tag()}-{os.getpid()}-", suffix=".npz",
            delete=False,
        ) as fh:
            tmp_name = fh.name
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, cache_file)
        tmp_name = None
    except OSError as exc:
        warnings.warn(
            f"Could not write the {what} cache to {cache_file} ({exc}); pass cache=False to skip caching.",
            UserWarning,
            stacklevel=4,
        )
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.remove(tmp_name)


class CacheInvalid(Exception):
    """Raised by a cache validator when a readable cache file does not hold what the loader expects."""


def _read_npz_cache(cache_file, validate, *, what):
    """Arrays of the ``.npz`` cache ``cache_file`` after ``validate``, or None when it must be rebuilt.

    A missing file gives None silently. A file that cannot be read for any reason (truncated, bit-flipped, not
    a zip, a member that fails its checksum, missing keys, wrong shapes or dtypes: ``validate`` raises
    :class:`CacheInvalid` or any error) gives None with a :class:`UserWarning` saying that it is rebuilt from
    the source.

    Parameters
    ----------
    cache_file : pathlib.Path
    validate : callable
        ``validate(npz) -> value`` reads the arrays from the open :class:`numpy.lib.npyio.NpzFile` and checks
        them. It returns the value to hand to the loader, or None when the cache is stale (built from another
        source file or by another cache version): then it is rebuilt without a warning.
    what : str
        Name of the data set, for the warning.
    """
    if not cache_file.exists():
        return None
    try:
        with np.load(cache_file, allow_pickle=False) as npz:
            return validate(npz)
    except Exception as exc:  # noqa: BLE001 - a cache that cannot be read for any reason is rebuilt
        reason = str(exc) or type(exc).__name__
        warnings.warn(
            f"The {what} cache {cache_file} is unreadable or damaged ({type(exc).__name__}: {reason}); "
            "rebuilding it from the source file.",
            UserWarning,
            stacklevel=4,
        )
        return None


def _check_cache_array(npz, key, *, dtype_kind, ndim, rows=None, columns=None):
    """``npz[key]`` after checking its dtype kind, number of dimensions and sizes; else :class:`CacheInvalid`."""
    if key not in npz.files:
        raise CacheInvalid(f"array {key!r} is missing")
    array = npz[key]
    if array.dtype.kind not in dtype_kind or array.ndim != ndim:
        raise CacheInvalid(f"array {key!r} has dtype {array.dtype} and {array.ndim} dimension(s)")
    if rows is not None and array.shape[0] != rows:
        raise CacheInvalid(f"array {key!r} has {array.shape[0]} rows, expected {rows}")
    if columns is not None and array.shape[1] != columns:
        raise CacheInvalid(f"array {key!r} has {array.shape[1]} columns, expected {columns}")
    return array


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}.")
    return bool(value)


def _check_positive_int(value, name, minimum=1):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _make_bunch(
    data,
    target,
    feature_names,
    descr,
    *,
    as_frame,
    return_X_y,
    target_name="target",
    **extra,
):
    """Assemble the return value shared by the tabular loaders.

    ``data`` is a float64 array, ``target`` an int64 array. With ``as_frame`` they become a
    DataFrame (columns ``feature_names``) and a Series named ``target_name``, and ``frame``
    holds both side by side.
    """
    frame = None
    if as_frame:
        frame = pd.DataFrame(data, columns=list(feature_names), copy=False)
        frame[target_name] = target
        data = frame[list(feature_names)]
        target = frame[target_name]
    if return_X_y:
        return data, target
    from sklearn.utils import Bunch

    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=list(feature_names),
        DESCR=descr,
        **extra,
    )
