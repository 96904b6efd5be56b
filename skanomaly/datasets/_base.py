"""Shared helpers of the dataset loaders: data home, packaged files, Bunch assembly."""

import numbers
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

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
    with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


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
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=list(feature_names),
        DESCR=descr,
        **extra,
    )
