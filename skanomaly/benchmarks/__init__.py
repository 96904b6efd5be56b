"""Benchmark runner: detectors x datasets x protocols x seeds (x classes), with IsolationForest as the reference.

Python API::

    from skanomaly.benchmarks import run_benchmark, summarize
    results = run_benchmark(["AutoEncoderDetector"], ["thyroid", "arrhythmia"], protocol="novelty",
                            seeds=[0, 1, 2, 3, 4], n_jobs=2, output_dir="docs/benchmarks/tabular")
    print(summarize(results))

Command line (``skanomaly`` console script, or ``python -m skanomaly``)::

    skanomaly demo
    skanomaly benchmark --detectors AutoEncoderDetector --datasets thyroid arrhythmia --seeds 0 1 2 3 4 \\
        --n-jobs 2 --output docs/benchmarks/tabular --set AutoEncoderDetector.max_epochs=20
    skanomaly datasets
    skanomaly detectors

New detectors are registered with one line (see :func:`register_detector`), their dataset presets in
:data:`PRESETS`.
"""

from .registry import (
    DATASETS,
    DETECTORS,
    PRESETS,
    REFERENCE_DETECTOR,
    DatasetSpec,
    DetectorSpec,
    DetectorUnavailableError,
    PyODAdapter,
    estimator_factory,
    get_dataset_spec,
    get_detector_spec,
    label_free_selection_factory,
    list_datasets,
    list_detectors,
    make_scaler,
    preprocessed_factory,
    register_dataset,
    register_detector,
    seed_ensemble_factory,
)
from .report import format_mean_sd, markdown_table, summarize
from .runner import (
    KEY_COLUMNS,
    PROTOCOLS,
    RESULT_COLUMNS,
    ProtocolSpec,
    environment_info,
    merge_results,
    read_results,
    run_benchmark,
)

__all__ = [
    "DATASETS",
    "DETECTORS",
    "KEY_COLUMNS",
    "PRESETS",
    "PROTOCOLS",
    "REFERENCE_DETECTOR",
    "RESULT_COLUMNS",
    "DatasetSpec",
    "DetectorSpec",
    "DetectorUnavailableError",
    "ProtocolSpec",
    "PyODAdapter",
    "environment_info",
    "estimator_factory",
    "format_mean_sd",
    "get_dataset_spec",
    "get_detector_spec",
    "label_free_selection_factory",
    "list_datasets",
    "list_detectors",
    "make_scaler",
    "markdown_table",
    "merge_results",
    "preprocessed_factory",
    "read_results",
    "register_dataset",
    "register_detector",
    "run_benchmark",
    "seed_ensemble_factory",
    "summarize",
]
