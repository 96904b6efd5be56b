"""Benchmark runner: detectors x datasets x protocols x seeds (x classes), with IsolationForest as the reference.

Python API::

    from skanomaly.benchmarks import run_benchmark, summarize
    results = run_benchmark(["AutoEncoderDetector"], ["thyroid", "arrhythmia"], protocol="novelty",
                            seeds=[0, 1, 2, 3, 4], n_jobs=2, output_dir="docs/benchmarks/tabular")
    print(summarize(results))

Every finished run goes into the output folder's run store (``runs.sqlite``, :class:`RunStore`) the moment it
finishes; ``results.csv`` and ``summary.md`` are its exports. Runs stored with ``status="ok"`` are skipped, so an
interrupted benchmark resumes. Runs execute in this process, in joblib processes (``n_jobs``) or on a
``dask.distributed`` cluster (``scheduler``).

Command line (``skanomaly`` console script, or ``python -m skanomaly``)::

    skanomaly demo
    skanomaly benchmark --detectors AutoEncoderDetector --datasets thyroid arrhythmia --seeds 0 1 2 3 4 \\
        --n-jobs 2 --output docs/benchmarks/tabular --set AutoEncoderDetector.max_epochs=20
    skanomaly benchmark --study docs/benchmarks/tabular/study.toml --scheduler local
    skanomaly report docs/benchmarks/tabular
    skanomaly datasets
    skanomaly detectors

New detectors are registered with one line (see :func:`register_detector`), their dataset presets in
:data:`PRESETS`; detectors of other libraries run behind an adapter (:mod:`skanomaly.benchmarks.adapters`).
"""

import importlib

#: Where each public name lives; modules are imported on first use, so that the command line starts fast.
_LOCATIONS = {
    "DATASETS": "registry",
    "DETECTORS": "registry",
    "PRESETS": "registry",
    "REFERENCE_DETECTOR": "registry",
    "DatasetSpec": "registry",
    "DetectorSpec": "registry",
    "DetectorUnavailableError": "registry",
    "estimator_factory": "registry",
    "get_dataset_spec": "registry",
    "get_detector_spec": "registry",
    "label_free_selection_factory": "registry",
    "list_datasets": "registry",
    "list_detectors": "registry",
    "load_dataset_pair": "registry",
    "make_scaler": "registry",
    "preprocessed_factory": "registry",
    "presets_dataset_name": "registry",
    "register_dataset": "registry",
    "register_detector": "registry",
    "seed_ensemble_factory": "registry",
    "ExternalDetectorAdapter": "adapters",
    "PyODAdapter": "adapters",
    "PROTOCOLS": "protocols",
    "ProtocolSpec": "protocols",
    "KEY_COLUMNS": "results",
    "RESULT_COLUMNS": "results",
    "ResultsFileError": "results",
    "merge_results": "results",
    "read_results": "results",
    "RunStore": "store",
    "StoreError": "store",
    "StoreWriteError": "store",
    "Study": "study",
    "StudyError": "study",
    "load_study": "study",
    "format_mean_sd": "report",
    "format_percent": "report",
    "markdown_table": "report",
    "summarize": "report",
    "write_report": "report",
    "DatasetUnavailableError": "runner",
    "environment_info": "runner",
    "run_benchmark": "runner",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name):
    if name in _LOCATIONS:
        value = getattr(importlib.import_module(f".{_LOCATIONS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOCATIONS))
