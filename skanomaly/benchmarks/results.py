"""The results table of the benchmark runner: its columns, the run key, reading ``results.csv`` and merging.

Both the runner (which writes rows) and the report (which summarises them) use this module; it depends on
neither.

A *run* is identified by its key: the detector name, the canonical JSON of the parameters it was built with
(``run_params``), the dataset, the protocol, the seed, the class and the torch thread count. Two rows with the
same detector, dataset, protocol, seed and class but another key (other parameters or another thread count) are
different runs; the run store keeps both, and the exports show the one stored last.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

__all__ = [
    "KEY_COLUMNS",
    "METRIC_COLUMNS",
    "RESULT_COLUMNS",
    "ResultsFileError",
    "canonical_params",
    "current_rows",
    "merge_results",
    "normalize_results",
    "params_json",
    "read_results",
    "run_key",
]

#: Columns naming a row of the exports: one row per (detector, dataset, protocol, seed, class) in
#: ``results.csv``. The full run key adds ``run_params`` and ``torch_threads`` (see :func:`run_key`).
KEY_COLUMNS = ["detector", "dataset", "protocol", "seed", "class"]

METRIC_COLUMNS = ["roc_auc", "average_precision", "precision_at_k", "recall_at_k", "f1_at_k"]

#: Columns of ``results.csv``, in order. ``params``: the parameters of the model that scored (for a
#: hyperparameter search, the candidate it chose); ``run_params``: the parameters the run was built with, part
#: of the run key, left empty when they equal ``params``. ``false_alarm_rate_at_5pct``: the share of the normal
#: test rows flagged when a 5 % false-alarm rate is asked for: ``p_values <= 0.05`` for a calibrated detector
#: (:class:`~skanomaly.calibration.CalibratedDetector`), else a score below the 5th percentile of the training
#: rows' scores (what ``predict`` does with ``contamination=0.05``).
RESULT_COLUMNS = KEY_COLUMNS + [
    "status", "error",
    *METRIC_COLUMNS, "k", "false_alarm_rate_at_5pct",
    "n_train", "n_test", "test_anomaly_ratio",
    "fit_seconds", "score_seconds",
    "split_hash", "scaler", "params", "run_params",
    "skanomaly_version", "git_commit", "git_dirty", "torch_version", "device", "torch_threads",
    "timestamp",
]

_FLOAT_COLUMNS = METRIC_COLUMNS + ["k", "false_alarm_rate_at_5pct", "test_anomaly_ratio", "fit_seconds",
                                   "score_seconds"]
_INT_COLUMNS = ["n_train", "n_test", "torch_threads"]
_TEXT_COLUMNS = ["error", "params", "run_params", "scaler", "split_hash", "device"]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class ResultsFileError(ValueError):
    """A results file (``results.csv``) or run store that cannot be read; the message names the file."""


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    # Objects (estimators, scorers, splitters) by their repr, without memory addresses, so that the same
    # configuration gives the same text in every process.
    return _ADDRESS.sub("", repr(value))


def params_json(params):
    """Compact JSON of a parameter dict, keys sorted, objects by their ``repr`` (memory addresses removed).

    Parameters
    ----------
    params : dict

    Returns
    -------
    text : str
    """
    return json.dumps({str(k): _jsonable(v) for k, v in sorted(params.items())}, separators=(",", ":"))


def canonical_params(text):
    """The canonical form of a parameter JSON text (sorted keys, compact separators); other text unchanged.

    Parameters
    ----------
    text : str or None

    Returns
    -------
    canonical : str
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    text = str(text)
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return text


def _text(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _threads(value):
    try:
        return "" if _text(value) == "" else str(int(float(value)))
    except (TypeError, ValueError):
        return _text(value)


def _class_text(value):
    text = _text(value)
    try:
        return str(int(float(text))) if text else ""
    except ValueError:
        return text


def run_key(row):
    """The run key of one row (a mapping with the result columns) as a JSON text.

    Parameters
    ----------
    row : mapping
        A result row; ``run_params`` empty or missing means the run was built with ``params``.

    Returns
    -------
    key : str
        JSON list ``[detector, dataset, protocol, seed, class, torch_threads, run_params]``.
    """
    built_with = _text(row.get("run_params")) or _text(row.get("params"))
    return json.dumps([
        _text(row.get("detector")), _text(row.get("dataset")), _text(row.get("protocol")),
        int(row.get("seed")), _class_text(row.get("class")), _threads(row.get("torch_threads")),
        canonical_params(built_with),
    ], separators=(",", ":"))


def normalize_results(df):
    """Column order, dtypes and missing columns of a results table.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    df : pandas.DataFrame
        A copy with every column of :data:`RESULT_COLUMNS` first (missing ones empty), then any others.
    """
    df = df.copy()
    for col in RESULT_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    extra = [c for c in df.columns if c not in RESULT_COLUMNS]
    df = df[RESULT_COLUMNS + extra]
    df["seed"] = pd.to_numeric(df["seed"]).astype("int64")
    df["class"] = pd.to_numeric(df["class"], errors="coerce").astype("Int64")
    for col in _FLOAT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in _INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in _TEXT_COLUMNS:
        df[col] = df[col].astype("object").where(df[col].notna(), "")
    df["git_dirty"] = df["git_dirty"].astype("object")
    return df


def _short_keys(df):
    cls = df["class"].astype("Int64").astype("object").where(df["class"].notna(), "")
    return list(zip(df["detector"].astype(str), df["dataset"].astype(str), df["protocol"].astype(str),
                    df["seed"].astype("int64"), cls.astype(str)))


def _sort(df):
    return df.sort_values(["dataset", "protocol", "detector", "seed", "class"], kind="stable",
                          na_position="first").reset_index(drop=True)


def current_rows(df):
    """The row shown for each (detector, dataset, protocol, seed, class): the last one in ``df``'s order.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows in the order they were stored.

    Returns
    -------
    rows : pandas.DataFrame
        Sorted by dataset, protocol, detector, seed and class.
    """
    df = normalize_results(df)
    keys = pd.Series(_short_keys(df), index=df.index, dtype="object")
    return _sort(df[~keys.duplicated(keep="last")])


def read_results(path):
    """Read a ``results.csv`` written by :func:`~skanomaly.benchmarks.run_benchmark`.

    Parameters
    ----------
    path : str or path-like
        The CSV file, or the output folder holding ``results.csv``.

    Returns
    -------
    results : pandas.DataFrame

    Raises
    ------
    ResultsFileError
        When the file is missing or is not a results table; the message names the file.
    """
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        path = path / "results.csv"
    try:
        df = pd.read_csv(path, dtype={"split_hash": "string", "git_commit": "string", "error": "string",
                                      "params": "string", "run_params": "string"}, keep_default_na=True)
    except FileNotFoundError:
        raise ResultsFileError(f"No results file {path}.") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"Cannot read the results file {path}: {type(exc).__name__}: {exc}") from None
    missing = [c for c in KEY_COLUMNS + ["status"] if c not in df.columns]
    if missing:
        raise ResultsFileError(f"{path} is not a results table: it lacks the columns {missing}.")
    try:
        return normalize_results(df)
    except (TypeError, ValueError) as exc:
        raise ResultsFileError(f"{path} holds values that are not results: {exc}") from None


def merge_results(old, new):
    """Combine stored results with new runs: a new row replaces the stored row of the same detector, dataset,
    protocol, seed and class.

    Parameters
    ----------
    old, new : pandas.DataFrame
        Results tables (``old`` may be empty or ``None``).

    Returns
    -------
    merged : pandas.DataFrame
        Sorted by dataset, protocol, detector, seed and class.
    """
    frames = [normalize_results(f) for f in (old, new) if f is not None and len(f)]
    if not frames:
        return normalize_results(new if new is not None else pd.DataFrame(columns=RESULT_COLUMNS))
    return current_rows(pd.concat(frames, ignore_index=True))
