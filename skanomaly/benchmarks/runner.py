"""Run detectors x datasets x seeds (x classes) under one protocol, each run an independent task.

A *run* is identified by its key (see :func:`skanomaly.benchmarks.results.run_key`): detector name and the
parameters it is built with, dataset, protocol, seed, class and torch thread count. The split of
``(dataset, protocol, seed, class)`` is computed once in the main process, deterministically from the seed,
and every detector of that split is fitted on exactly the same arrays (the ``split_hash`` column, computed
inside each task from the arrays it received, shows it). ``IsolationForest`` is always run as the reference.

Runs execute in this process (``n_jobs=1``), in joblib processes (``n_jobs > 1``) or as tasks on a
``dask.distributed`` cluster (``scheduler``). Wherever they run, results come back to this process, which
writes each finished run into the output folder's run store (:class:`~skanomaly.benchmarks.store.RunStore`)
and skips runs the store already holds with ``status="ok"``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import signal
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DatasetUnavailableError
from .protocols import PROTOCOLS, ProtocolSpec, get_protocol, protocol_mismatch
from .registry import (
    REFERENCE_DETECTOR,
    DetectorSpec,
    DetectorUnavailableError,
    get_dataset_spec,
    get_detector_spec,
    make_scaler,
)
from .results import (
    KEY_COLUMNS,
    METRIC_COLUMNS,
    RESULT_COLUMNS,
    merge_results,
    normalize_results,
    params_json,
    read_results,
    run_key,
)
from .store import StoreWriteError

__all__ = ["PROTOCOLS", "ProtocolSpec", "RESULT_COLUMNS", "KEY_COLUMNS", "run_benchmark", "environment_info",
           "merge_results", "read_results"]

_PREFIX = "[skanomaly benchmark]"


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
    """Run with ``n_threads`` torch intra-op threads and BLAS/OpenMP threads.

    In a process's main thread the previous counts are restored afterwards. In other threads (a Dask worker's
    task threads) the counts stay set: they are per process, so restoring them when one task ends would change
    them under a task still running beside it.
    """
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    restore = threading.current_thread() is threading.main_thread()
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n_threads)
    if not restore:
        threadpool_limits(limits=n_threads)
        yield
        return
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(previous)


class _InterruptWatch:
    """Notice a SIGINT during a run even when the code it interrupts swallows the ``KeyboardInterrupt``.

    In the main thread of a process that does not ignore SIGINT, a handler records the signal and then raises
    ``KeyboardInterrupt`` as Python's default handler does. A training loop that catches it and returns
    normally still leaves ``fired`` set, so the run is reported as interrupted, never as finished.
    """

    def __init__(self):
        self.fired = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                previous = signal.getsignal(signal.SIGINT)
                if previous not in (signal.SIG_IGN, None):
                    signal.signal(signal.SIGINT, self._handler)
                    self._previous = previous
            except (ValueError, OSError):  # pragma: no cover - not the main interpreter
                self._previous = None
        return self

    def _handler(self, signum, frame):
        self.fired = True
        raise KeyboardInterrupt

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


@contextmanager
def _interrupts_deferred():
    """Hold back a SIGINT while a finished run is stored, and raise it once the store write is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except (ValueError, OSError):  # pragma: no cover
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


class _LineWriter:
    """A text stream that prints whole lines on stderr above the progress bar (for detectors' epoch logs)."""

    def __init__(self):
        self._buffer = ""

    def write(self, text):
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            _write_line(line)
        return len(text)

    def flush(self):
        if self._buffer:
            _write_line(self._buffer)
            self._buffer = ""


def _write_line(line):
    try:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)
    except ImportError:  # pragma: no cover - tqdm comes with skorch
        print(line, file=sys.stderr, flush=True)


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


def _load_datasets(dataset_specs, data_home):
    """Load every dataset once before any run; a dataset that cannot be loaded stops the benchmark here.

    Returns ``{name: bunch}`` holding the first dataset, which the planner uses first, so that it is not loaded
    twice; the others are released again and loaded when their runs come (one dataset in memory at a time).
    """
    first = {}
    for spec in dataset_specs:
        try:
            bunch = spec.load(data_home=data_home)
        except Exception as exc:  # noqa: BLE001 - a missing or damaged file, a missing optional package
            raise DatasetUnavailableError(
                f"Dataset {spec.name!r} cannot be loaded, so no run was started: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())}"
            ) from None
        if not first:
            first[spec.name] = bunch
        del bunch
    return first


def _make_split(protocol, X, y, seed, cls, k):
    """The split of one (dataset, protocol, seed, class), built from the seed alone."""
    X_train, X_test, y_test = protocol.split(X, y, seed, cls)
    return _Split(np.asarray(X_train), np.asarray(X_test), np.asarray(y_test).astype(np.int64),
                  k if protocol.dataset_top_k else None)


def _split_hash(split):
    h = hashlib.sha1()
    for arr in (split.X_train, split.X_test, split.y_test):
        arr = np.ascontiguousarray(arr)
        h.update(str((arr.shape, arr.dtype.str)).encode())
        h.update(arr.tobytes())
    return h.hexdigest()[:12]


# ----------------------------------------------------------------------------------------------------------------
# One run (executed in this process, a joblib worker or a Dask worker)
# ----------------------------------------------------------------------------------------------------------------


def _is_pipeline(estimator):
    from sklearn.pipeline import Pipeline

    return isinstance(estimator, Pipeline)


def _final_estimator(estimator):
    return estimator.steps[-1][1] if _is_pipeline(estimator) else estimator


def _fitted_detector(estimator):
    """The fitted detector that scores: the pipeline's last step, or the model a search refitted."""
    final = _final_estimator(estimator)
    return getattr(final, "best_estimator_", final)


def _recorded_params(detector):
    """The parameters a row records: ``benchmark_params()`` for adapters of outside detectors, else
    ``get_params(deep=False)``."""
    try:
        own = getattr(detector, "benchmark_params", None)
        return own() if callable(own) else detector.get_params(deep=False)
    except Exception as exc:  # noqa: BLE001 - the record must not fail on exotic estimators
        return {"error": repr(exc)}


def _json_params(detector):
    """The recorded parameters of ``detector`` as compact JSON."""
    return params_json(_recorded_params(detector))


def _device_of(detector):
    device = getattr(detector, "device_", None)
    return str(device) if device is not None else "cpu"


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
    if _is_pipeline(estimator) and len(estimator.steps) > 1:
        X = estimator[:-1].transform(X)
    return {name: column.to_numpy() for name, column in final.ablation_scores(X).items()}


def _variant_params(params_text, variant):
    """The run's parameter record with the ablation's ``param=value`` applied."""
    import json

    from .registry import parse_variant_name

    try:
        params = json.loads(params_text)
    except (TypeError, ValueError):
        return params_text
    params.update(parse_variant_name(f"_[{variant}]")[1])
    return params_json(params)


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


#: The false-alarm rate asked for in the ``false_alarm_rate_at_5pct`` column.
FALSE_ALARM_TARGET = 0.05


def _false_alarm_rate(estimator, split, score_samples):
    """Share of the normal test rows flagged when a :data:`FALSE_ALARM_TARGET` false-alarm rate is asked for.

    A detector with conformal p-values (:class:`~skanomaly.calibration.CalibratedDetector`) flags ``p <= 0.05``;
    any other flags the rows scoring below the 5th percentile of its training rows' scores, as ``predict`` does
    with ``contamination=0.05``. NaN when the test part has no normal row.
    """
    normal = np.asarray(split.y_test) == 0
    if not normal.any():
        return np.nan
    fitted = _fitted_detector(estimator)
    if hasattr(fitted, "p_values"):
        X_test = estimator[:-1].transform(split.X_test) if _is_pipeline(estimator) else split.X_test
        flagged = fitted.p_values(X_test) <= FALSE_ALARM_TARGET
    else:
        threshold = np.percentile(estimator.score_samples(split.X_train), 100 * FALSE_ALARM_TARGET)
        flagged = np.asarray(score_samples) < threshold
    return float(np.mean(flagged[normal]))


def _fit_and_score(estimator, split, row):
    """Fit, score and evaluate; failures become the row's error (a ``KeyboardInterrupt`` passes through)."""
    variants = {}
    try:
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
            # A hyperparameter search: record the model it chose, which is the one scored.
            chosen = _recorded_params(fitted)
            if "verbose" in chosen and "_verbose" in row:
                chosen["verbose"] = row["_verbose"]
            row["params"] = params_json(chosen)
        start = time.perf_counter()
        score_samples = estimator.score_samples(split.X_test)
        row["score_seconds"] = time.perf_counter() - start
        _evaluate(row, split, score_samples)
    except Exception as exc:  # noqa: BLE001 - a failed run is a result, not a crash
        row["error"] = _message(exc)
    if row["status"] == "ok":
        try:
            row["false_alarm_rate_at_5pct"] = _false_alarm_rate(estimator, split, score_samples)
        except Exception as exc:  # noqa: BLE001 - the detector's own metrics stay valid
            row["error"] = f"false-alarm rate failed: {_message(exc)}"[:500]
    if row["status"] == "ok":
        try:
            variants = _ablation_scores(estimator, split.X_test)
        except Exception as exc:  # noqa: BLE001 - the detector's own row stays valid
            row["error"] = f"ablation scores failed: {_message(exc)}"[:500]
    row["timestamp"] = _timestamp()
    rows = [row]
    for name, scores in variants.items():
        variant = {key: value for key, value in row.items()
                   if key not in METRIC_COLUMNS and key != "false_alarm_rate_at_5pct"}
        variant.update(detector=f"{row['detector']}[{name}]", status="error", error="", score_seconds=np.nan,
                       params=_variant_params(row.get("params"), name), run_params="")
        try:
            _evaluate(variant, split, scores)
        except Exception as exc:  # noqa: BLE001
            variant["error"] = _message(exc)
        rows.append(variant)
    return rows


def _run_one(estimator, split, meta, n_threads, verbose=0):
    """Fit, score and evaluate one run with ``n_threads`` threads; return its rows.

    Failures are recorded in the rows, never raised. The first row is the detector's; each ablation the fitted
    detector scores without refitting (see :meth:`~skanomaly.base.BaseDetector.ablation_scores`) adds a row
    named ``"Detector[param=value]"``. A run stopped by Ctrl-C returns one row with ``status="interrupted"``,
    which the runner never stores.
    """
    row = dict(meta)
    if meta.get("status") is not None:  # already failed or skipped before reaching a worker
        row["timestamp"] = _timestamp()
        return [row]
    row.update(status="error", error="")
    watch = _InterruptWatch()
    with watch:
        try:
            with _thread_limit(n_threads):
                if verbose >= 2:
                    _write_line(f"{_PREFIX} started: {_where(row)}")
                    with redirect_stdout(_LineWriter()):
                        rows = _fit_and_score(estimator, split, row)
                else:
                    rows = _fit_and_score(estimator, split, row)
        except KeyboardInterrupt:
            watch.fired = True
    if watch.fired:
        return [{**meta, "status": "interrupted", "error": "interrupted by SIGINT", "timestamp": _timestamp()}]
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------------------------------


def _check_seeds(seeds, what="seeds"):
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = [seeds]
    try:
        seeds = list(seeds)
    except TypeError:
        raise ValueError(f"{what} must be an int or a sequence of ints, got {seeds!r}.") from None
    if not seeds:
        raise ValueError(f"{what} must not be empty.")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{what} must be non-negative ints, got {s!r}.")
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


def _resolve_detectors(detectors):
    """``{name: DetectorSpec}`` of registered names and DetectorSpec objects, the reference first."""
    if isinstance(detectors, (str, DetectorSpec)):
        detectors = [detectors]
    try:
        detectors = list(detectors)
    except TypeError:
        raise ValueError(f"detectors must be names or DetectorSpec objects, got {detectors!r}.") from None
    if not detectors:
        raise ValueError("detectors must not be empty.")
    specs = {}
    for item in detectors:
        if isinstance(item, DetectorSpec):
            spec = item
        elif isinstance(item, str):
            spec = get_detector_spec(item)
            spec = DetectorSpec(item, spec.factory, spec.description, spec.params) if spec.name != item else spec
        else:
            raise ValueError(f"detectors must be registered names or DetectorSpec objects, got {item!r}.")
        if spec.name in specs and specs[spec.name].factory is not spec.factory:
            raise ValueError(f"Two different detectors are named {spec.name!r}.")
        specs[spec.name] = spec
    reference = specs.pop(REFERENCE_DETECTOR, None) or get_detector_spec(REFERENCE_DETECTOR)
    return {REFERENCE_DETECTOR: reference, **specs}


def _build_estimator(spec, ds_name, seed, overrides, ds_spec, image_shape):
    """The unfitted pipeline of one run: the dataset's scaler (if any), then the detector.

    A detector built as a pipeline (preprocessing, then a detector) is flattened into this one, so that its
    last step is the detector the record describes.
    """
    from sklearn.pipeline import Pipeline

    detector = spec.build(ds_name, seed, **overrides)
    steps = []
    scaler = make_scaler(ds_spec.scaler)
    if scaler is not None:
        steps.append(("scaler", scaler))
    if isinstance(detector, Pipeline):
        steps.extend(detector.steps[:-1])
        detector = detector.steps[-1][1]
    if image_shape is not None and "image_shape" not in {**spec.params, **overrides}:
        names = detector.get_params(deep=False)
        if "image_shape" in names and names["image_shape"] is None:
            detector.set_params(image_shape=tuple(int(v) for v in image_shape))
    steps.append(("detector", detector))
    return Pipeline(steps)


def _estimators_in(estimator):
    """The estimator and every estimator nested in its parameters (pipeline steps, searches, ensembles)."""
    yield estimator
    for value in estimator.get_params(deep=False).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, tuple) and len(item) == 2:
                item = item[1]
            if hasattr(item, "get_params") and not isinstance(item, type):
                yield from _estimators_in(item)


def _set_thread_count(estimator, n_threads):
    """Give every skanomaly detector in ``estimator`` the run's thread count (its ``n_threads`` parameter)."""
    for est in _estimators_in(estimator):
        if "n_threads" in est.get_params(deep=False):
            est.set_params(n_threads=n_threads)


def _check_estimator_params(estimator):
    """Run scikit-learn's parameter validation on every estimator that declares ``_parameter_constraints``."""
    for est in _estimators_in(estimator):
        if hasattr(type(est), "_parameter_constraints") and callable(getattr(est, "_validate_params", None)):
            est._validate_params()


def _validate_detectors(specs, dataset_specs, params):
    """Build and validate every detector for every dataset: bad values raise now, missing code is noted."""
    unavailable = {}
    for name, spec in specs.items():
        if any(key == "n_threads" or key.endswith("__n_threads") for key in params.get(name, {})):
            raise ValueError(f"Detector {name!r}: the runner sets n_threads of every run from its thread count; "
                             "use --torch-threads (torch_threads=) instead of the parameter.")
        for ds in dataset_specs:
            overrides = params.get(name, {})
            try:
                estimator = spec.build(ds.name, 0, **overrides)
                _check_estimator_params(estimator)
            except DetectorUnavailableError as exc:
                unavailable[name] = str(exc)
                break
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Cannot build detector {name!r} for dataset {ds.name!r} with parameters {overrides!r}: "
                    f"{' '.join(str(exc).split())}"
                ) from None
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


def _show_epochs(estimator):
    """Turn on the epoch log (``verbose=1``) of every skanomaly detector in ``estimator`` that has it off.

    Returns the previous value (0) when one was changed, else ``None``.
    """
    changed = None
    for est in _estimators_in(estimator):
        if type(est).__module__.startswith("skanomaly.") and "verbose" in est.get_params(deep=False):
            if est.get_params(deep=False)["verbose"] == 0:
                est.set_params(verbose=1)
                changed = 0
    return changed


@dataclass
class _Task:
    """One planned run: its order, key, metadata and unfitted estimator (``None`` for a ready-made row)."""

    index: int
    key: str
    meta: dict
    estimator: object = None
    split_id: tuple = field(default_factory=tuple)


class _Planner:
    """Yield ``(task, split)`` pairs dataset by dataset, so that at most one split is in memory at a time.

    Runs stored with ``status="ok"`` are skipped (unless ``rerun``); :attr:`skipped` collects their tasks.
    ``on_planned(n_to_run, n_skipped)`` is called once per dataset, before its tasks are yielded.
    """

    def __init__(self, specs, dataset_specs, protocol, seeds, classes, params, data_home, env, n_threads,
                 unavailable, done_keys, verbose, on_planned, loaded=None):
        self.specs, self.dataset_specs, self.protocol = specs, dataset_specs, protocol
        self.loaded = dict(loaded or {})
        self.seeds, self.classes, self.params, self.data_home = seeds, classes, params, data_home
        self.env, self.n_threads, self.unavailable = env, n_threads, unavailable
        self.done_keys, self.verbose, self.on_planned = done_keys, verbose, on_planned
        self.skipped = []
        self._index = 0

    def _task(self, meta, estimator=None, split_id=()):
        meta = {**meta, "torch_threads": self.n_threads}
        meta.setdefault("params", "")
        meta.setdefault("run_params", meta["params"])
        task = _Task(self._index, run_key(meta), meta, estimator, split_id)
        self._index += 1
        return task

    def __iter__(self):
        proto = self.protocol
        for ds in self.dataset_specs:
            base = {"dataset": ds.name, "protocol": proto.name, "scaler": ds.scaler or "", **self.env}
            try:
                bunch = self.loaded.pop(ds.name, None)
                if bunch is None:
                    bunch = ds.load(data_home=self.data_home)
                X = np.asarray(bunch.data)
                y = np.asarray(bunch.target)
                if X.ndim != 2:
                    X = X.reshape(X.shape[0], -1)
                image_shape = bunch.get("image_shape") if ds.kind in ("image", "image-pair") else None
                k = _anomaly_ratio(bunch, ds)
            except Exception as exc:  # noqa: BLE001 - e.g. a missing data file: record it for every run
                message = f"could not load dataset {ds.name!r}: {type(exc).__name__}: {exc}"
                if self.verbose:
                    _write_line(f"{_PREFIX} {message}")
                run_classes = self.classes if proto.per_class and self.classes is not None else [None]
                tasks = [self._task({**base, "detector": name, "seed": seed, "class": cls, "status": "error",
                                     "error": message})
                         for seed in self.seeds for cls in run_classes for name in self.specs]
                self.on_planned(len(tasks), 0)
                yield from ((task, None) for task in tasks)
                continue

            if proto.per_class:
                present = np.unique(y)
                if self.classes is None:
                    run_classes = [int(c) for c in present]
                else:
                    missing = [c for c in self.classes if c not in set(present.tolist())]
                    if missing:
                        raise ValueError(
                            f"classes {missing} are not in dataset {ds.name!r} (classes: {present.tolist()})."
                        )
                    run_classes = list(self.classes)
            else:
                run_classes = [None]

            groups = []
            for seed in self.seeds:
                for cls in run_classes:
                    tasks = []
                    for name, spec in self.specs.items():
                        where = {**base, "detector": name, "seed": seed, "class": cls}
                        if name in self.unavailable:
                            tasks.append(self._task({**where, "status": "skipped",
                                                     "error": self.unavailable[name]}))
                            continue
                        estimator = _build_estimator(spec, ds.name, seed, self.params.get(name, {}), ds,
                                                     image_shape)
                        _set_thread_count(estimator, self.n_threads)
                        params = _json_params(_final_estimator(estimator))
                        meta = {**where, "status": None, "params": params}
                        if self.verbose >= 2:
                            previous = _show_epochs(estimator)
                            if previous is not None:
                                meta["_verbose"] = previous
                        task = self._task(meta, estimator, (ds.name, seed, cls))
                        if task.key in self.done_keys:
                            self.skipped.append(task)
                        else:
                            tasks.append(task)
                    groups.append((seed, cls, tasks))
            self.on_planned(sum(len(t) for _, _, t in groups), sum(1 for t in self.skipped
                                                                   if t.meta["dataset"] == ds.name))
            for seed, cls, tasks in groups:
                if not tasks:
                    continue
                split = None
                if any(task.estimator is not None for task in tasks):
                    try:
                        split = _make_split(proto, X, y, seed, cls, k)
                    except Exception as exc:  # noqa: BLE001
                        message = f"could not split: {type(exc).__name__}: {exc}"
                        for task in tasks:
                            task.meta.update(status="error", error=message)
                            task.estimator = None
                for task in tasks:
                    yield task, (split if task.estimator is not None else None)
                del split


# ----------------------------------------------------------------------------------------------------------------
# Collecting results
# ----------------------------------------------------------------------------------------------------------------


def _where(row):
    where = f"{row['detector']} | {row['dataset']} | {row['protocol']} | seed {row['seed']}"
    if row.get("class") is not None:
        where += f" | class {row['class']}"
    return where


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


class _Collector:
    """Receives finished runs in this process: stores them, counts them, shows progress.

    Progress is a line per finished run on stderr, and a progress bar under those lines when stderr is a
    terminal (the bar's carriage returns would clutter a log file or a pipe).
    """

    def __init__(self, store, verbose):
        self.store, self.verbose = store, verbose
        self.rows = []  # (task index, position, row)
        self.n_ok = self.n_failed = self.n_skipped = self.n_unavailable = 0
        self.bar = None
        if verbose >= 1 and _is_terminal(sys.stderr):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=0, unit="run", desc="skanomaly benchmark", file=sys.stderr, mininterval=0.5,
                            dynamic_ncols=True, leave=True)

    def planned(self, n_to_run, n_skipped):
        self.n_skipped += n_skipped
        if self.bar is not None:
            self.bar.total += n_to_run
            self._postfix()

    def _postfix(self):
        self.bar.set_postfix_str(f"ok {self.n_ok}, failed {self.n_failed}, skipped (stored) {self.n_skipped}",
                                 refresh=True)

    def finished(self, task, rows):
        if rows and rows[0].get("status") == "interrupted":
            raise KeyboardInterrupt
        for row in rows:
            row.pop("_verbose", None)
            if row.get("run_params") == row.get("params"):
                row["run_params"] = ""
        if self.store is not None:
            with _interrupts_deferred():
                self.store.add_run(rows)
        for position, row in enumerate(rows):
            self.rows.append((task.index, position, row))
        status = rows[0]["status"]
        if status == "ok":
            self.n_ok += 1
        elif status == "skipped":
            self.n_unavailable += 1
        else:
            self.n_failed += 1
        if self.verbose >= 1:
            for row in rows:
                _write_line(_progress_line(row))
        if self.bar is not None:
            self.bar.update(1)
            self._postfix()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _progress_line(row):
    if row["status"] == "ok":
        what = (f"roc_auc={row['roc_auc']:.4f} ap={row['average_precision']:.4f} f1@k={row['f1_at_k']:.4f} "
                f"fit {row['fit_seconds']:.1f}s")
    else:
        what = f"{row['status'].upper()}: {row['error']}"
    return f"{_PREFIX} {_where(row)}: {what}"


def _ready_rows(task):
    return _run_one(None, None, task.meta, None)


# ----------------------------------------------------------------------------------------------------------------
# Executing: this process, joblib, Dask
# ----------------------------------------------------------------------------------------------------------------


def _execute_serial(planner, collector, n_threads, verbose):
    for task, split in planner:
        if task.estimator is None:
            collector.finished(task, _ready_rows(task))
            continue
        if collector.bar is not None:
            collector.bar.set_description_str(f"{task.meta['detector']} seed {task.meta['seed']}", refresh=True)
        collector.finished(task, _run_one(task.estimator, split, task.meta, n_threads, verbose))


def _execute_joblib(planner, collector, n_jobs, n_threads, verbose):
    from joblib import Parallel, delayed

    tasks = {}

    def jobs():
        for task, split in planner:
            tasks[task.index] = task
            yield delayed(_indexed_run)(task.index, task.estimator, split, task.meta, n_threads, verbose)

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="n_jobs")
    for index, rows in parallel(jobs()):
        collector.finished(tasks.pop(index), rows)


def _indexed_run(index, estimator, split, meta, n_threads, verbose):
    return index, _run_one(estimator, split, meta, n_threads, verbose)


def _import_distributed():
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "scheduler= runs on a dask.distributed cluster, which needs the optional dependency "
            "dask[distributed]: pip install 'skanomaly[distributed]'"
        ) from exc


@contextmanager
def _dask_client(scheduler):
    """A client of the cluster at ``scheduler``, or of a new LocalCluster (``"local"``) closed afterwards."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler == "local":
        from joblib import cpu_count

        # A task whose worker dies is handed back to this process at once (it retries it once itself).
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(n_workers=cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"Cannot connect to the Dask scheduler {scheduler!r}: {_message(exc)}") from None
    try:
        yield client
    finally:
        client.close()


def _scatter(client, split, delays=(0.5, 1, 2, 4, 8, 16)):
    """Send ``split`` to one worker of the cluster and return its future.

    The scheduler picks the worker from those it knows; one that has just died (as when a node with several
    workers is lost) is still listed for a moment, and sending to it fails with a closed connection. The split
    is then sent again after each of ``delays`` (seconds), by which time the scheduler has dropped the dead
    worker.
    """
    for delay in (*delays, None):
        try:
            return client.scatter(split, hash=False)
        except OSError:  # CommClosedError: the chosen worker is gone
            if delay is None:
                raise
            time.sleep(delay)


def _dask_outcome(future):
    """``(rows, None)`` of a task whose result reached this process, else ``(None, reason)``.

    A task fails when its worker dies while running it (``KilledWorker``) or when it is cancelled. A task that
    finished can still lose its result: the result stays on the worker that computed it until this process
    fetches it, and a worker that dies before that takes it along. The scheduler then computes the task again
    if it can (``result`` waits for that), or cancels it when the split it needs was lost too. The status that
    ``as_completed`` saw may be stale by then, so the result is asked for whatever the status said, and any
    failure to get it counts as a failed attempt of the run.
    """
    import asyncio
    from concurrent.futures import CancelledError

    try:
        return future.result(), None
    except (CancelledError, asyncio.CancelledError) as exc:
        return None, f"its result or its split was lost with a worker that died ({_message(exc)})"
    except Exception as exc:  # noqa: BLE001 - KilledWorker, or whatever else ended the task
        return None, _message(exc)


def _execute_dask(planner, collector, scheduler, n_threads, verbose):
    from distributed import as_completed

    with _dask_client(scheduler) as client:
        workers = client.scheduler_info().get("workers", {})
        window = max(4, 2 * sum(int(w.get("nthreads", 1)) for w in workers.values()))
        pending = {}  # future -> (task, split, attempt)
        scattered = {}
        tasks = iter(planner)
        running = as_completed()

        def submit(task, split, split_future, attempt):
            future = client.submit(_run_one, task.estimator, split_future, task.meta, n_threads, verbose,
                                   pure=False)
            pending[future] = (task, split, attempt)
            running.add(future)

        def refill():
            while len(pending) < window:
                item = next(tasks, None)
                if item is None:
                    return
                task, split = item
                if task.estimator is None:
                    collector.finished(task, _ready_rows(task))
                    continue
                if task.split_id not in scattered:
                    scattered.clear()  # futures of running tasks keep their split alive on the cluster
                    scattered[task.split_id] = _scatter(client, split)
                submit(task, split, scattered[task.split_id], 0)

        try:
            refill()
            for future in running:
                task, split, attempt = pending.pop(future)
                rows, reason = _dask_outcome(future)
                future.release()
                if rows is None:
                    if attempt == 0:
                        if verbose >= 1:
                            _write_line(f"{_PREFIX} {_where(task.meta)}: {reason}; retrying once")
                        # The split may have been lost with the worker that held it: send it again.
                        submit(task, split, _scatter(client, split), 1)
                        continue
                    rows = [{**task.meta, "status": "error", "timestamp": _timestamp(),
                             "error": f"the run failed twice on the cluster: {reason}"}]
                collector.finished(task, rows)
                refill()
        except BaseException:
            client.cancel(list(pending))
            raise


# ----------------------------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------------------------


def run_benchmark(detectors, datasets, *, protocol="novelty", seeds=(0, 1, 2, 3, 4), classes=None, n_jobs=1,
                  output_dir=None, data_home=None, params=None, verbose=1, torch_threads=1, scheduler=None,
                  rerun=False):
    """Run every detector on every dataset, seed (and class) under one protocol.

    Each run fits the detector, preceded by the dataset's scaler (fitted on the training part only; see
    :data:`~skanomaly.benchmarks.registry.DATASETS`), on the training part of the split, scores the test
    part and records the metrics of :func:`skanomaly.metrics.anomaly_report` with the anomaly score
    ``-score_samples``. ``IsolationForest`` is always run, on the same splits, as the reference.

    Parameters
    ----------
    detectors : str, DetectorSpec or list of them
        Registered detector names (see :func:`~skanomaly.benchmarks.list_detectors`) or
        :class:`~skanomaly.benchmarks.DetectorSpec` objects (their ``name`` is the row's ``detector``).
    datasets : str or list of str
        Registered dataset names (see :func:`~skanomaly.benchmarks.list_datasets`), or pairs ``"IN:OUT"`` /
        ``"IN[n]:OUT"`` of image datasets (see :func:`~skanomaly.benchmarks.get_dataset_spec`); all must suit
        ``protocol``.
    protocol : {"novelty", "one-class", "leave-one-class-out", "out-of-distribution"}, default="novelty"
        ``"novelty"`` for tabular sets; the two per-class protocols for image sets; ``"out-of-distribution"``
        for pairs of image sets (see :data:`PROTOCOLS`).
    seeds : int or sequence of int, default=(0, 1, 2, 3, 4)
        One split and one detector seed (``random_state``) per seed.
    classes : sequence of int, default=None
        Classes to iterate over for the per-class protocols; ``None`` = every class of the dataset. Must be
        ``None`` for ``"novelty"``.
    n_jobs : int, default=1
        Runs at once on this machine: ``1`` runs them one after the other in this process, more run them in
        joblib processes (``-1``: one per core). Ignored with ``scheduler``.
    output_dir : str or path-like, default=None
        Folder of the run store ``runs.sqlite`` and its exports ``results.csv`` and ``summary.md``. Every
        finished run is stored the moment it finishes; runs already stored with ``status="ok"`` are skipped
        (see ``rerun``); a folder with a ``results.csv`` and no store gets the CSV imported first. The exports
        are rewritten at the end, also after an interruption. Several processes may share one folder.
    data_home : str or path-like, default=None
        Folder of data files for the datasets read from disk (default: ``$SKANOMALY_DATA`` or
        ``~/skanomaly_data``, see :func:`skanomaly.datasets.get_data_home`).
    params : dict, default=None
        ``{detector name: {param: value}}``, overriding the detector's defaults and dataset presets. Checked
        (unknown names, the estimators' parameter constraints) before any run.
    verbose : int, default=1
        0 silent; 1 one line per finished run on stderr, and a progress bar over runs when stderr is a
        terminal; 2 also the epoch log of every skanomaly detector (a line per epoch, on stderr).
    torch_threads : int, default=1
        Torch intra-op (and BLAS/OpenMP) threads of every run, recorded in the ``torch_threads`` column and
        part of the run key. Scores are repeatable for a given thread count; another count changes the order
        of floating-point sums and so the trained model.
    scheduler : str, default=None
        Run each run as a task on a ``dask.distributed`` cluster: the scheduler's address
        (``"tcp://host:8786"``), or ``"local"`` for a ``LocalCluster`` with one single-threaded worker process
        per core. Needs the optional dependency ``dask[distributed]``. Each split is sent to the cluster once;
        a run whose worker dies, or whose finished result dies with its worker before it reaches this process,
        is submitted once more, then stored as an error row.
    rerun : bool, default=False
        Run every run, also those stored with ``status="ok"`` (their rows are replaced).

    Returns
    -------
    results : pandas.DataFrame
        One row per run of this call (columns :data:`RESULT_COLUMNS`), the rows of skipped runs read from the
        store. Failed runs have ``status="error"`` and the message in ``error``; detectors whose code or
        optional dependency is missing have ``status="skipped"``.

    Raises
    ------
    ValueError
        On a configuration error (unknown names, invalid parameters, an output folder that cannot be used,
        a corrupt store), before any run.
    DatasetUnavailableError
        A :class:`ValueError` raised before any run when a dataset cannot be loaded (a data file missing,
        unreadable or damaged; an optional package missing): every dataset is loaded once first. The message
        is the loader's: the file, the folders looked in and how to get it.
    StoreWriteError
        When a finished run cannot be written to the run store (a full disk, a file size limit, a failing disk):
        the benchmark stops, the runs stored before are kept, and calling again once there is room resumes.
        The message says it on one line.
    KeyboardInterrupt
        After a Ctrl-C: the finished runs are stored and the exports written; calling again resumes.

    Examples
    --------
    >>> from skanomaly.benchmarks import run_benchmark, summarize
    >>> df = run_benchmark(["IsolationForest"], ["thyroid"], seeds=[0], verbose=0)  # doctest: +SKIP
    >>> print(summarize(df))  # doctest: +SKIP
    """
    from joblib import effective_n_jobs

    specs = _resolve_detectors(detectors)
    dataset_specs = [get_dataset_spec(name) for name in _as_name_list(datasets, "datasets")]
    dataset_specs = list({spec.name: spec for spec in dataset_specs}.values())
    proto = get_protocol(protocol)
    for spec in dataset_specs:
        if spec.kind != proto.data_kind:
            raise ValueError(protocol_mismatch(protocol, spec))
    seeds = _check_seeds(seeds)
    if classes is not None:
        if not proto.per_class:
            raise ValueError(f"classes is only used by per-class protocols, not by {protocol!r}.")
        classes = _check_seeds(classes, "classes")
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)):
        raise ValueError(f"verbose must be an int, got {verbose!r}.")
    if isinstance(torch_threads, bool) or not isinstance(torch_threads, (int, np.integer)) or torch_threads < 1:
        raise ValueError(f"torch_threads must be an int >= 1, got {torch_threads!r}.")
    torch_threads = int(torch_threads)
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler:
            raise ValueError(f"scheduler must be a scheduler address or 'local', got {scheduler!r}.")
        _import_distributed()
    else:
        n_jobs = effective_n_jobs(n_jobs)
    params = _check_params(params, specs)

    unavailable = _validate_detectors(specs, dataset_specs, params)
    loaded = _load_datasets(dataset_specs, data_home)
    for det, message in unavailable.items():
        warnings.warn(f"Detector {det!r} is skipped: {message}", UserWarning, stacklevel=2)

    store = None
    if output_dir is not None:
        from .store import RunStore

        store = RunStore(output_dir)
    try:
        done_keys = set() if (store is None or rerun) else store.ok_keys()
        collector = _Collector(store, verbose)
        planner = _Planner(specs, dataset_specs, proto, seeds, classes, params, data_home, environment_info(),
                           torch_threads, unavailable, done_keys, verbose, collector.planned, loaded)
        del loaded
        try:
            if scheduler is not None:
                _execute_dask(planner, collector, scheduler, torch_threads, verbose)
            elif n_jobs == 1:
                _execute_serial(planner, collector, torch_threads, verbose)
            else:
                _execute_joblib(planner, collector, n_jobs, torch_threads, verbose)
        except KeyboardInterrupt:
            collector.close()
            _finish(store, collector, verbose, interrupted=True)
            raise
        except StoreWriteError as exc:
            collector.close()
            n_stored = collector.n_ok + collector.n_failed + collector.n_unavailable
            runs = "run" if n_stored == 1 else "runs"
            raise StoreWriteError(f"{exc} The {n_stored} {runs} this call stored before, and those stored earlier, "
                                  "are kept: make room and run the same command again to resume.") from None
        collector.close()
        _finish(store, collector, verbose, interrupted=False)
        rows = [(index, position, row) for index, position, row in collector.rows]
        if planner.skipped and store is not None:
            by_key = {task.key: task.index for task in planner.skipped}
            stored = store.read(run_ids=list(by_key))
            for position, row in enumerate(stored.to_dict("records")):
                rows.append((by_key.get(run_key(row), -1), position, row))
    finally:
        if store is not None:
            store.close()
    rows.sort(key=lambda item: (item[0], item[1]))
    frame = pd.DataFrame([row for _, _, row in rows]) if rows else pd.DataFrame(columns=RESULT_COLUMNS)
    return normalize_results(frame)[RESULT_COLUMNS]


def _finish(store, collector, verbose, interrupted):
    """Write the exports and say what happened."""
    from .report import summarize

    if store is not None:
        try:
            with _interrupts_deferred():
                exported = store.export(summarize)
        except StoreWriteError as exc:
            raise StoreWriteError(f"{exc} Every finished run is stored in {store.path}: make room and write the "
                                  f"exports with `skanomaly report {store.folder}`.") from None
    if not verbose:
        return
    counts = (f"{collector.n_ok} ok, {collector.n_failed} failed"
              + (f", {collector.n_unavailable} unavailable" if collector.n_unavailable else "")
              + f", skipped {collector.n_skipped} already stored")
    if interrupted:
        if store is not None:
            print(f"{_PREFIX} interrupted ({counts}); the finished runs are in {store.path}: run the same "
                  "command again to resume (stored runs are skipped).", file=sys.stderr, flush=True)
        else:
            print(f"{_PREFIX} interrupted ({counts}); nothing was stored (no output folder).", file=sys.stderr,
                  flush=True)
        return
    print(f"{_PREFIX} done: {counts}.", file=sys.stderr, flush=True)
    if store is not None:
        print(f"{_PREFIX} wrote {store.csv_path} ({len(exported)} rows) and {store.summary_path}",
              file=sys.stderr, flush=True)
