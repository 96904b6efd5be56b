"""Run detectors x datasets x seeds (x classes) under one protocol, one independent joblib job per run.

A *run* is identified by its key ``(detector, dataset, protocol, seed, class)``. The split of
``(dataset, protocol, seed, class)`` is computed once in the main process, deterministically from the seed,
and every detector of that split is fitted on exactly the same arrays (the ``split_hash`` column, computed
inside each job from the arrays it received, shows it). ``IsolationForest`` is always run as the reference.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from sklearn.pipeline import Pipeline

from .registry import (
    REFERENCE_DETECTOR,
    DetectorUnavailableError,
    PyODAdapter,
    get_dataset_spec,
    get_detector_spec,
    make_scaler,
)

__all__ = ["PROTOCOLS", "ProtocolSpec", "RESULT_COLUMNS", "KEY_COLUMNS", "run_benchmark", "environment_info"]


@dataclass(frozen=True)
class ProtocolSpec:
    """An evaluation protocol of the runner.

    Parameters
    ----------
    name : str
        ``"novelty"``, ``"one-class"`` or ``"leave-one-class-out"``.
    data_kind : {"tabular", "image"}
        The kind of dataset it applies to.
    per_class : bool
        Whether runs iterate over classes (the ``class`` column).
    description : str
        One sentence for the summary header.
    """

    name: str
    data_kind: str
    per_class: bool
    description: str


#: The protocols. ``novelty``: the DAGMM/ALAD tabular protocol, a random 50/50 split with the anomalies removed
#: from the training half, top-k = the dataset's known anomaly ratio. ``one-class``: one image class is normal,
#: the others are anomalies. ``leave-one-class-out``: one class is the anomaly, the other nine normal. For the
#: image protocols top-k is the test set's own anomaly ratio (precision = recall = F1 at k).
PROTOCOLS = {
    "novelty": ProtocolSpec(
        "novelty", "tabular", False,
        "random 50/50 train/test split, anomalies removed from the training half; top-k = the dataset's "
        "known anomaly ratio",
    ),
    "one-class": ProtocolSpec(
        "one-class", "image", True,
        "class c is normal (train on it), all other classes are anomalies; top-k = the test anomaly ratio",
    ),
    "leave-one-class-out": ProtocolSpec(
        "leave-one-class-out", "image", True,
        "class c is the anomaly (left out of training), all other classes are normal; top-k = the test "
        "anomaly ratio",
    ),
}

#: Columns identifying a run; a re-run with the same key replaces the stored row.
KEY_COLUMNS = ["detector", "dataset", "protocol", "seed", "class"]

METRIC_COLUMNS = ["roc_auc", "average_precision", "precision_at_k", "recall_at_k", "f1_at_k"]

#: Columns of ``results.csv``, in order.
RESULT_COLUMNS = KEY_COLUMNS + [
    "status", "error",
    *METRIC_COLUMNS, "k",
    "n_train", "n_test", "test_anomaly_ratio",
    "fit_seconds", "score_seconds",
    "split_hash", "scaler", "params",
    "skanomaly_version", "git_commit", "git_dirty", "torch_version", "device", "torch_threads",
    "timestamp",
]


# ----------------------------------------------------------------------------------------------------------------
# Environment
# ----------------------------------------------------------------------------------------------------------------


def _git(args, cwd):
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


def environment_info():
    """Versions and provenance recorded with every run.

    Returns
    -------
    info : dict
        ``skanomaly_version``; ``git_commit`` (``git rev-parse HEAD`` of the repository holding the installed
        package, ``"unknown"`` outside a git checkout or without commits); ``git_dirty`` (tracked files of
        the package folder itself differ from that commit, so edits to results or docs do not count; ``None``
        when unknown); ``torch_version``.
    """
    try:
        from skanomaly import __version__ as version
    except ImportError:  # pragma: no cover - the package is importable whenever this module is
        version = "unknown"
    package_dir = Path(__file__).resolve().parent.parent
    try:
        commit = _git(["rev-parse", "HEAD"], package_dir)
        # Only the package's own files: results and docs written while benchmarks run do not make it dirty.
        dirty = bool(_git(["status", "--porcelain", "--untracked-files=no", "--", "."], package_dir))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "unknown", None
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_version = "none"
    return {"skanomaly_version": str(version), "git_commit": commit, "git_dirty": dirty,
            "torch_version": torch_version}


@contextmanager
def _thread_limit(n_threads):
    """Cap torch's intra-op threads and the BLAS/OpenMP pools at ``n_threads`` (no-op when None)."""
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(previous)


# ----------------------------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class _Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    k: float | None


def _anomaly_ratio(bunch, spec):
    ratio = bunch.get("anomaly_ratio") if hasattr(bunch, "get") else getattr(bunch, "anomaly_ratio", None)
    return float(ratio) if ratio is not None else spec.anomaly_ratio


def _make_split(protocol, X, y, seed, cls, k):
    """The split of one (dataset, protocol, seed, class), built from the seed alone."""
    from .. import model_selection as ms

    if protocol == "novelty":
        X_train, X_test, _, y_test = ms.novelty_train_test_split(X, y, test_size=0.5, random_state=seed)
    elif protocol == "one-class":
        X_train, X_test, _, y_test = ms.one_class_split(X, y, cls, random_state=seed)
        k = None
    elif protocol == "leave-one-class-out":
        X_train, X_test, _, y_test = ms.leave_one_class_out_split(X, y, cls, random_state=seed)
        k = None
    else:  # pragma: no cover - validated before
        raise ValueError(protocol)
    return _Split(np.asarray(X_train), np.asarray(X_test), np.asarray(y_test).astype(np.int64), k)


def _split_hash(split):
    h = hashlib.sha1()
    for arr in (split.X_train, split.X_test, split.y_test):
        arr = np.ascontiguousarray(arr)
        h.update(str((arr.shape, arr.dtype.str)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:12]


# ----------------------------------------------------------------------------------------------------------------
# One run (executed in a joblib worker)
# ----------------------------------------------------------------------------------------------------------------


def _final_estimator(estimator):
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _fitted_detector(estimator):
    """The fitted detector that scores: the pipeline's last step, or the model a search refitted."""
    final = _final_estimator(estimator)
    return getattr(final, "best_estimator_", final)


def _json_params(detector):
    """``get_params(deep=False)`` of the detector itself (the PyOD model for adapters) as compact JSON."""
    if isinstance(detector, PyODAdapter):
        detector = detector.detector
    try:
        params = detector.get_params(deep=False)
    except Exception as exc:  # noqa: BLE001 - the record must not fail on exotic estimators
        return json.dumps({"error": repr(exc)})

    def jsonable(value):
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (np.integer, np.floating, np.bool_)):
            return value.item()
        if isinstance(value, (list, tuple)):
            return [jsonable(v) for v in value]
        if isinstance(value, dict):
            return {str(k): jsonable(v) for k, v in value.items()}
        return repr(value)

    return json.dumps({k: jsonable(v) for k, v in sorted(params.items())}, separators=(",", ":"))


def _device_of(detector):
    fitted = getattr(detector, "detector_", None)  # PyODAdapter
    for obj in (detector, fitted):
        if obj is None:
            continue
        device = getattr(obj, "device_", None)
        if device is None and obj is fitted:
            device = getattr(obj, "device", None)
        if device is not None:
            return str(device)
    return "cpu"


def _timestamp():
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _message(exc):
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


def _ablation_scores(estimator, X):
    """The final detector's :meth:`~skanomaly.base.BaseDetector.ablation_scores` on ``X`` (through the pipeline's
    preprocessing), or an empty dict for estimators without it."""
    final = _fitted_detector(estimator)
    if not callable(getattr(final, "ablation_scores", None)):
        return {}
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        X = estimator[:-1].transform(X)
    return {name: column.to_numpy() for name, column in final.ablation_scores(X).items()}


def _variant_params(params_json, variant):
    """The run's parameter record with the ablation's ``param=value`` applied."""
    from .registry import parse_variant_name

    try:
        params = json.loads(params_json)
    except (TypeError, ValueError):
        return params_json
    params.update(parse_variant_name(f"_[{variant}]")[1])
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def _evaluate(row, split, score_samples):
    """Add the metrics of ``score_samples`` on the split's test part to ``row`` (raises on non-finite scores)."""
    from ..metrics import anomaly_report

    anomaly_score = -np.asarray(score_samples, dtype=np.float64).ravel()
    if not np.all(np.isfinite(anomaly_score)):
        n_bad = int(np.sum(~np.isfinite(anomaly_score)))
        raise ValueError(f"the detector returned {n_bad} non-finite scores")
    report = anomaly_report(split.y_test, anomaly_score, k=split.k)
    row.update({name: float(report[name]) for name in METRIC_COLUMNS})
    row["k"] = float(report["k"])
    row["status"] = "ok"


def _run_one(estimator, split, meta, n_threads):
    """Fit, score and evaluate one run; return its rows (failures are recorded, never raised).

    The first row is the detector's; each ablation the fitted detector scores without refitting (see
    :meth:`~skanomaly.base.BaseDetector.ablation_scores`) adds a row named ``"Detector[param=value]"``.
    """
    row = dict(meta)
    if meta.get("status") is not None:  # already failed or skipped before reaching a worker
        row["timestamp"] = _timestamp()
        return [row]

    row.update(status="error", error="")
    variants = {}
    try:
        with _thread_limit(n_threads):
            try:
                import torch

                row["torch_threads"] = int(torch.get_num_threads())
            except ImportError:  # pragma: no cover
                pass
            row["split_hash"] = _split_hash(split)
            row["n_train"] = int(split.X_train.shape[0])
            row["n_test"] = int(split.X_test.shape[0])
            row["test_anomaly_ratio"] = float(np.mean(split.y_test))
            start = time.perf_counter()
            estimator.fit(split.X_train)
            row["fit_seconds"] = time.perf_counter() - start
            fitted = _fitted_detector(estimator)
            row["device"] = _device_of(fitted)
            if fitted is not _final_estimator(estimator):
                # A hyper-parameter search: record the model it chose, which is the one scored.
                row["params"] = _json_params(fitted)
            start = time.perf_counter()
            score_samples = estimator.score_samples(split.X_test)
            row["score_seconds"] = time.perf_counter() - start
            _evaluate(row, split, score_samples)
    except Exception as exc:  # noqa: BLE001 - a failed run is a result, not a crash
        row["error"] = _message(exc)
    if row["status"] == "ok":
        try:
            with _thread_limit(n_threads):
                variants = _ablation_scores(estimator, split.X_test)
        except Exception as exc:  # noqa: BLE001 - the detector's own row stays valid
            row["error"] = f"ablation scores failed: {_message(exc)}"[:500]
    row["timestamp"] = _timestamp()
    rows = [row]
    for name, scores in variants.items():
        variant = {key: value for key, value in row.items() if key not in METRIC_COLUMNS}
        variant.update(detector=f"{row['detector']}[{name}]", status="error", error="", score_seconds=np.nan,
                       params=_variant_params(row.get("params"), name))
        try:
            _evaluate(variant, split, scores)
        except Exception as exc:  # noqa: BLE001
            variant["error"] = _message(exc)
        rows.append(variant)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------------------------------


def _check_seeds(seeds):
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = [seeds]
    try:
        seeds = list(seeds)
    except TypeError:
        raise ValueError(f"seeds must be an int or a sequence of ints, got {seeds!r}.") from None
    if not seeds:
        raise ValueError("seeds must not be empty.")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative ints, got {s!r}.")
        if int(s) not in out:
            out.append(int(s))
    return out


def _as_name_list(value, what):
    if isinstance(value, str):
        value = [value]
    try:
        value = list(value)
    except TypeError:
        raise ValueError(f"{what} must be a name or a list of names, got {value!r}.") from None
    if not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a non-empty list of names, got {value!r}.")
    return list(dict.fromkeys(value))


def _build_estimator(det_name, ds_name, seed, overrides, ds_spec, image_shape):
    """The unfitted pipeline of one run: the dataset's scaler (if any), then the detector.

    A detector registered as a pipeline (preprocessing, then a detector) is flattened into this one, so that its
    last step is the detector the record describes.
    """
    detector = get_detector_spec(det_name).build(ds_name, seed, **overrides)
    steps = []
    scaler = make_scaler(ds_spec.scaler)
    if scaler is not None:
        steps.append(("scaler", scaler))
    if isinstance(detector, Pipeline):
        steps.extend(detector.steps[:-1])
        detector = detector.steps[-1][1]
    if image_shape is not None and "image_shape" not in overrides:
        names = detector.get_params(deep=False)
        if "image_shape" in names and names["image_shape"] is None:
            detector.set_params(image_shape=tuple(int(v) for v in image_shape))
    steps.append(("detector", detector))
    return Pipeline(steps)


def _validate_detectors(detectors, dataset_specs, params):
    """Build every detector once for every dataset: configuration errors raise now, missing code is noted."""
    unavailable = {}
    for det in detectors:
        get_detector_spec(det)
        for spec in dataset_specs:
            try:
                get_detector_spec(det).build(spec.name, 0, **params.get(det, {}))
            except DetectorUnavailableError as exc:
                unavailable[det] = str(exc)
                break
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Cannot build detector {det!r} for dataset {spec.name!r} with parameters "
                    f"{params.get(det, {})!r}: {exc}"
                ) from exc
    return unavailable


def _check_params(params, detectors):
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict {{detector name: {{param: value}}}}, got {params!r}.")
    for name, values in params.items():
        if name not in detectors:
            raise ValueError(
                f"params names detector {name!r}, which is not benchmarked (detectors: {', '.join(detectors)})."
            )
        if not isinstance(values, dict):
            raise ValueError(f"params[{name!r}] must be a dict of parameters, got {values!r}.")
    return {name: dict(values) for name, values in params.items()}


def _jobs(detectors, dataset_specs, protocol, seeds, classes, params, data_home, env, n_threads, unavailable,
          verbose):
    """Yield the delayed runs, split by split, so that at most a few splits are in memory at once."""
    for spec in dataset_specs:
        base = {"dataset": spec.name, "protocol": protocol, "scaler": spec.scaler or "", **env}

        def failed(det, seed, cls, status, message, _base=base):
            meta = {**_base, "detector": det, "seed": seed, "class": cls, "status": status, "error": message}
            return delayed(_run_one)(None, None, meta, None)

        try:
            bunch = spec.load(data_home=data_home)
            X = np.asarray(bunch.data)
            y = np.asarray(bunch.target)
            if X.ndim != 2:
                X = X.reshape(X.shape[0], -1)
            image_shape = bunch.get("image_shape") if spec.kind == "image" else None
            k = _anomaly_ratio(bunch, spec)
        except Exception as exc:  # noqa: BLE001 - e.g. a missing data file: record it for every run
            message = f"could not load dataset {spec.name!r}: {type(exc).__name__}: {exc}"
            if verbose:
                print(f"[skanomaly benchmark] {message}", file=sys.stderr)
            run_classes = classes if PROTOCOLS[protocol].per_class and classes is not None else [None]
            for seed in seeds:
                for cls in run_classes:
                    for det in detectors:
                        yield failed(det, seed, cls, "error", message)
            continue

        if PROTOCOLS[protocol].per_class:
            present = np.unique(y)
            if classes is None:
                run_classes = [int(c) for c in present]
            else:
                missing = [c for c in classes if c not in set(present.tolist())]
                if missing:
                    raise ValueError(
                        f"classes {missing} are not in dataset {spec.name!r} (classes: {present.tolist()})."
                    )
                run_classes = list(classes)
        else:
            run_classes = [None]

        for seed in seeds:
            for cls in run_classes:
                try:
                    split = _make_split(protocol, X, y, seed, cls, k)
                except Exception as exc:  # noqa: BLE001
                    message = f"could not split: {type(exc).__name__}: {exc}"
                    for det in detectors:
                        yield failed(det, seed, cls, "error", message)
                    continue
                for det in detectors:
                    if det in unavailable:
                        yield failed(det, seed, cls, "skipped", unavailable[det])
                        continue
                    estimator = _build_estimator(det, spec.name, seed, params.get(det, {}), spec, image_shape)
                    meta = {**base, "detector": det, "seed": seed, "class": cls, "status": None,
                            "params": _json_params(_final_estimator(estimator))}
                    yield delayed(_run_one)(estimator, split, meta, n_threads)
                del split


# ----------------------------------------------------------------------------------------------------------------
# Results files
# ----------------------------------------------------------------------------------------------------------------


def _normalize_frame(df):
    """Column order, dtypes and missing columns of a results table."""
    df = df.copy()
    for col in RESULT_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    extra = [c for c in df.columns if c not in RESULT_COLUMNS]
    df = df[RESULT_COLUMNS + extra]
    df["seed"] = df["seed"].astype("int64")
    df["class"] = pd.to_numeric(df["class"], errors="coerce").astype("Int64")
    for col in METRIC_COLUMNS + ["k", "test_anomaly_ratio", "fit_seconds", "score_seconds"]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    for col in ["n_train", "n_test", "torch_threads"]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ["error", "params", "scaler", "split_hash", "device"]:
        df[col] = df[col].astype("object").where(df[col].notna(), "")
    df["git_dirty"] = df["git_dirty"].astype("object")
    return df


def _run_keys(df):
    cls = df["class"].astype("Int64").astype("object").where(df["class"].notna(), "")
    return list(zip(df["detector"].astype(str), df["dataset"].astype(str), df["protocol"].astype(str),
                    df["seed"].astype("int64"), cls.astype(str)))


def read_results(path):
    """Read a ``results.csv`` written by :func:`run_benchmark`.

    Parameters
    ----------
    path : str or path-like
        The CSV file, or the output folder holding ``results.csv``.

    Returns
    -------
    results : pandas.DataFrame
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.csv"
    df = pd.read_csv(path, dtype={"split_hash": "string", "git_commit": "string", "error": "string",
                                  "params": "string"}, keep_default_na=True)
    return _normalize_frame(df)


def merge_results(old, new):
    """Combine stored results with new runs: a new row replaces the stored row with the same run key.

    Parameters
    ----------
    old, new : pandas.DataFrame
        Results tables (``old`` may be empty).

    Returns
    -------
    merged : pandas.DataFrame
        Sorted by dataset, protocol, detector, seed and class.
    """
    new = _normalize_frame(new)
    if old is None or len(old) == 0:
        merged = new
    else:
        old = _normalize_frame(old)
        replaced = set(_run_keys(new))
        keep = [key not in replaced for key in _run_keys(old)]
        merged = pd.concat([old[keep], new], ignore_index=True) if len(new) else old[keep]
    merged = _normalize_frame(merged)
    return merged.sort_values(["dataset", "protocol", "detector", "seed", "class"], kind="stable",
                              na_position="first").reset_index(drop=True)


def _write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------------------------


def run_benchmark(detectors, datasets, *, protocol="novelty", seeds=(0, 1, 2, 3, 4), classes=None, n_jobs=1,
                  output_dir=None, data_home=None, params=None, verbose=1):
    """Run every detector on every dataset, seed (and class) under one protocol.

    Each run fits the detector, preceded by the dataset's scaler (fitted on the training part only; see
    :data:`~skanomaly.benchmarks.registry.DATASETS`), on the training part of the split, scores the test
    part and records the metrics of :func:`skanomaly.metrics.anomaly_report` with the anomaly score
    ``-score_samples``. ``IsolationForest`` is always run, on the same splits, as the reference.

    Parameters
    ----------
    detectors : str or list of str
        Registered detector names (see :func:`~skanomaly.benchmarks.list_detectors`).
    datasets : str or list of str
        Registered dataset names (see :func:`~skanomaly.benchmarks.list_datasets`); all must suit ``protocol``.
    protocol : {"novelty", "one-class", "leave-one-class-out"}, default="novelty"
        ``"novelty"`` for tabular sets; the two per-class protocols for image sets (see :data:`PROTOCOLS`).
    seeds : int or sequence of int, default=(0, 1, 2, 3, 4)
        One split and one detector seed (``random_state``) per seed.
    classes : sequence of int, default=None
        Classes to iterate over for the per-class protocols; ``None`` = every class of the dataset. Must be
        ``None`` for ``"novelty"``.
    n_jobs : int, default=1
        Parallel jobs (joblib, process-based); each run is its own job. With ``n_jobs > 1`` every job limits
        torch and BLAS to ``cpu_count() // n_jobs`` threads (at least 1) so the jobs do not oversubscribe the
        cores; with ``n_jobs=1`` runs happen in this process with the current thread settings.
    output_dir : str or path-like, default=None
        Folder for ``results.csv`` and ``summary.md``. Rows are stored under the run key ``(detector, dataset,
        protocol, seed, class)``: running again into the same folder replaces the rows of the same keys and
        keeps every other row; ``results.csv`` is rewritten after each finished run (so an interrupted
        benchmark keeps what it finished) and ``summary.md`` is regenerated from all stored rows at the end.
    data_home : str or path-like, default=None
        Folder of data files for the datasets read from disk (default: ``$SKANOMALY_DATA`` or
        ``~/skanomaly_data``, see :func:`skanomaly.datasets.get_data_home`).
    params : dict, default=None
        ``{detector name: {param: value}}``, overriding the detector's defaults and dataset presets.
    verbose : int, default=1
        0 silent; 1 one line per finished run on stderr; 2 also joblib's progress.

    Returns
    -------
    results : pandas.DataFrame
        One row per run of this call (columns :data:`RESULT_COLUMNS`). Failed runs have ``status="error"``
        and the message in ``error``; detectors whose code or optional dependency is missing have
        ``status="skipped"``.

    Examples
    --------
    >>> from skanomaly.benchmarks import run_benchmark, summarize
    >>> df = run_benchmark(["IsolationForest"], ["thyroid"], seeds=[0], verbose=0)  # doctest: +SKIP
    >>> print(summarize(df))  # doctest: +SKIP
    """
    detectors = _as_name_list(detectors, "detectors")
    if REFERENCE_DETECTOR not in detectors:
        detectors = [REFERENCE_DETECTOR] + detectors
    else:  # the reference comes first
        detectors = [REFERENCE_DETECTOR] + [d for d in detectors if d != REFERENCE_DETECTOR]
    for det in detectors:
        get_detector_spec(det)
    dataset_specs = [get_dataset_spec(name) for name in _as_name_list(datasets, "datasets")]
    dataset_specs = list({spec.name: spec for spec in dataset_specs}.values())
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}. Known protocols: {', '.join(PROTOCOLS)}.")
    proto = PROTOCOLS[protocol]
    for spec in dataset_specs:
        if spec.kind != proto.data_kind:
            suited = [p for p, s in PROTOCOLS.items() if s.data_kind == spec.kind]
            raise ValueError(
                f"Protocol {protocol!r} applies to {proto.data_kind} datasets; {spec.name!r} is {spec.kind} "
                f"(use protocol {' or '.join(repr(p) for p in suited)})."
            )
    seeds = _check_seeds(seeds)
    if classes is not None:
        if not proto.per_class:
            raise ValueError(f"classes is only used by per-class protocols, not by {protocol!r}.")
        classes = _check_seeds(classes)
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)):
        raise ValueError(f"verbose must be an int, got {verbose!r}.")
    params = _check_params(params, detectors)
    n_jobs_eff = effective_n_jobs(n_jobs)
    n_threads = max(1, cpu_count() // n_jobs_eff) if n_jobs_eff > 1 else None

    unavailable = _validate_detectors(detectors, dataset_specs, params)
    for det, message in unavailable.items():
        warnings.warn(f"Detector {det!r} is skipped: {message}", UserWarning, stacklevel=2)

    stored = None
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        csv_path = output_dir / "results.csv"
        stored = read_results(csv_path) if csv_path.exists() else None

    env = environment_info()
    jobs = _jobs(detectors, dataset_specs, protocol, seeds, classes, params, data_home, env, n_threads,
                 unavailable, verbose)
    rows = []
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", verbose=10 if verbose >= 2 else 0)
    for run_rows in parallel(jobs):
        for row in run_rows:
            rows.append(row)
            if verbose:
                _print_progress(row, len(rows))
        if output_dir is not None:
            merged = merge_results(stored, pd.DataFrame(rows))
            _write_atomic(csv_path, merged.to_csv(index=False))

    results = _normalize_frame(pd.DataFrame(rows))
    if output_dir is not None:
        from .report import summarize

        merged = merge_results(stored, results)
        _write_atomic(csv_path, merged.to_csv(index=False))
        _write_atomic(output_dir / "summary.md", summarize(merged))
        if verbose:
            print(f"[skanomaly benchmark] wrote {csv_path} and {output_dir / 'summary.md'}", file=sys.stderr)
    return results


def _print_progress(row, n_done):
    where = f"{row['detector']} | {row['dataset']} | {row['protocol']} | seed {row['seed']}"
    if row.get("class") is not None:
        where += f" | class {row['class']}"
    if row["status"] == "ok":
        what = (f"roc_auc={row['roc_auc']:.4f} ap={row['average_precision']:.4f} f1@k={row['f1_at_k']:.4f} "
                f"fit {row['fit_seconds']:.1f}s")
    else:
        what = f"{row['status'].upper()}: {row['error']}"
    print(f"[skanomaly benchmark] run {n_done}: {where}: {what}", file=sys.stderr, flush=True)

