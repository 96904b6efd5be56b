"""Studies: a benchmark written down as a TOML file, kept beside the results it produces.

A study file names the protocol, the datasets, the seeds (and classes), and the detectors, each a registered
detector with its parameters and, optionally, a composition around it::

    protocol = "novelty"                      # "novelty" | "one-class" | "leave-one-class-out"
                                              # | "out-of-distribution"
    datasets = ["thyroid", "arrhythmia"]      # out-of-distribution: pairs "IN:OUT" or "IN[n]:OUT"
    seeds = [0, 1, 2, 3, 4]
    # classes = [0, 1]                        # per-class protocols only (default: every class)
    # output = "."                            # run store folder, relative to this file (default: its folder)

    [detectors.MirroredAEDetector]            # the table key is the rows' `detector` name

    [detectors."MirroredAEDetector-searched"]
    estimator = "MirroredAEDetector"          # a registered detector (default: the key)
    params = { max_epochs = 50 }              # parameter overrides, applied after the dataset preset
    label_free_search = { method = "perturb", n_splits = 3, param_grid = { latent_dim = [4, 16] } }
    seed_ensemble = { n_estimators = 5 }      # SeedEnsembleDetector around it
    preprocessing = "power"                   # "power" | "standard" | "minmax", fitted on the training rows

The compositions nest inside out: the estimator with its params, then the label-free search
(:func:`~skanomaly.benchmarks.registry.label_free_selection_factory`), then the seed ensemble
(:func:`~skanomaly.benchmarks.registry.seed_ensemble_factory`), then the preprocessing
(:func:`~skanomaly.benchmarks.registry.preprocessed_factory`). Without ``estimator``, the key itself names
the detector and may carry parameters in the registry's variant syntax, ``"AMADetector[mirrored=False]"``
(which also covers values TOML cannot write, such as ``None``); ``estimator`` takes the same syntax, so an
entry named ``MirroredAEDetector`` can keep dense networks on images with
``estimator = "MirroredAEDetector[image_shape=None]"`` (the runner otherwise sets the images' shape on a
detector that leaves ``image_shape`` unset). TOML arrays in ``params`` become tuples
(``hidden_layer_sizes = [64, 32]`` is ``(64, 32)``). ``IsolationForest``, the reference, is always run too.

:func:`load_study` checks the whole file before anything runs and raises :class:`StudyError` naming the file
and the entry at fault; :meth:`Study.run` hands the detectors to
:func:`~skanomaly.benchmarks.run_benchmark`, which writes into the study's output folder.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocols import PROTOCOLS, protocol_mismatch
from .registry import (
    REFERENCE_DETECTOR,
    DetectorSpec,
    DetectorUnavailableError,
    get_dataset_spec,
    get_detector_spec,
    label_free_selection_factory,
    list_detectors,
    parse_variant_name,
    preprocessed_factory,
    seed_ensemble_factory,
)

__all__ = ["PREPROCESSING", "Study", "StudyDetector", "StudyError", "load_study"]

#: The protocols a study may name, and the kind of dataset each applies to (the runner's protocols).
_PROTOCOL_DATA_KIND = {name: spec.data_kind for name, spec in PROTOCOLS.items()}
_STUDY_KEYS = ("protocol", "datasets", "seeds", "classes", "output", "detectors")
_DETECTOR_KEYS = ("estimator", "params", "label_free_search", "seed_ensemble", "preprocessing")
_SEARCH_KEYS = ("method", "n_splits", "param_grid")
_ENSEMBLE_KEYS = ("n_estimators", "combination")


def _power_transformer():
    from sklearn.preprocessing import PowerTransformer

    return PowerTransformer()


def _standard_scaler():
    from sklearn.preprocessing import StandardScaler

    return StandardScaler()


def _minmax_scaler():
    from sklearn.preprocessing import MinMaxScaler

    return MinMaxScaler()


#: The ``preprocessing`` names of a study and the transformer each builds (fitted on every run's training rows,
#: after the dataset's own scaler): Yeo-Johnson per feature, z-scores, or min-max to [0, 1].
PREPROCESSING = {"power": _power_transformer, "standard": _standard_scaler, "minmax": _minmax_scaler}


class StudyError(ValueError):
    """A study file that cannot be read or names something wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class StudyDetector:
    """One ``[detectors.NAME]`` entry of a study, as read from the file.

    Parameters
    ----------
    name : str
        The rows' ``detector`` name (the table key).
    estimator : str
        The registered detector at the core.
    params : dict
        Parameter overrides of that detector (after the dataset preset).
    label_free_search : dict or None
        Keyword arguments of :func:`~skanomaly.benchmarks.registry.label_free_selection_factory`.
    seed_ensemble : dict or None
        ``n_estimators`` and ``combination`` of the :class:`~skanomaly.ensemble.SeedEnsembleDetector`.
    preprocessing : str or None
        A key of :data:`PREPROCESSING`.
    """

    name: str
    estimator: str
    params: dict = field(default_factory=dict)
    label_free_search: dict | None = None
    seed_ensemble: dict | None = None
    preprocessing: str | None = None

    def spec(self):
        """The :class:`~skanomaly.benchmarks.registry.DetectorSpec` of this entry (not registered anywhere).

        Returns
        -------
        spec : DetectorSpec
            Named :attr:`name`; its factory builds the composition for a dataset and a seed. Overrides given
            to it win over :attr:`params`.
        """
        core = get_detector_spec(self.estimator)
        spec = core
        if self.label_free_search is not None:
            spec = DetectorSpec(core.name, label_free_selection_factory(spec, **self.label_free_search))
        if self.seed_ensemble is not None:
            ensemble = dict(self.seed_ensemble)
            combination = ensemble.pop("combination", None)
            factory = seed_ensemble_factory(spec, **ensemble)
            if combination is not None:
                factory = _with_overrides(factory, {"combination": combination})
            spec = DetectorSpec(core.name, factory)
        if self.preprocessing is not None:
            spec = DetectorSpec(core.name, preprocessed_factory(spec, PREPROCESSING[self.preprocessing]()))
        return DetectorSpec(self.name, _with_overrides(spec.factory, self.params), self.describe(),
                            {**core.params, **self.params})

    def describe(self):
        """One line saying what the entry builds, inside out.

        Returns
        -------
        text : str
        """
        text = self.estimator
        if self.params:
            text += " with " + ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        if self.label_free_search is not None:
            text += f", label-free search {self.label_free_search}"
        if self.seed_ensemble is not None:
            text += f", seed ensemble {self.seed_ensemble}"
        if self.preprocessing is not None:
            text += f", after {self.preprocessing} preprocessing"
        return text


def _with_overrides(factory, fixed):
    """``factory`` with ``fixed`` keyword arguments that later overrides win over."""
    if not fixed:
        return factory

    def built(dataset_name, seed, **overrides):
        return factory(dataset_name, seed, **{**fixed, **overrides})

    return built


@dataclass(frozen=True)
class Study:
    """A benchmark read from a study file by :func:`load_study`.

    Parameters
    ----------
    path : pathlib.Path
        The study file.
    protocol : str
        ``"novelty"``, ``"one-class"``, ``"leave-one-class-out"`` or ``"out-of-distribution"``.
    datasets : list of str
        Registered dataset names, or pairs ``"IN[n]:OUT"`` (out-of-distribution).
    seeds : list of int
        The seeds (one split and one detector seed each).
    classes : list of int or None
        Classes of the per-class protocols; ``None`` means every class.
    output_dir : pathlib.Path
        The folder the runs are stored in (``output``, resolved against the file's folder).
    detectors : list of StudyDetector
        The entries, in file order.
    """

    path: Path
    protocol: str
    datasets: list
    seeds: list
    classes: list | None
    output_dir: Path
    detectors: list

    @property
    def detector_specs(self):
        """One :class:`~skanomaly.benchmarks.registry.DetectorSpec` per entry, in file order."""
        return [entry.spec() for entry in self.detectors]

    def detector_names(self):
        """The ``detector`` names of the rows this study writes, for a dataset's first seed.

        The reference first, then each entry followed by the ablation rows its fitted detector adds
        (``"Name[param=value]"``, see :meth:`skanomaly.base.BaseDetector.ablation_scores`).

        Returns
        -------
        names : dict of str to list of str
            For every dataset, the names in run order.
        """
        out = {}
        for dataset in self.datasets:
            names = [REFERENCE_DETECTOR]
            for entry in self.detectors:
                if entry.name == REFERENCE_DETECTOR:
                    continue
                names.append(entry.name)
                names.extend(f"{entry.name}[{variant}]" for variant in _ablation_names(entry, dataset,
                                                                                        self.seeds[0]))
            out[dataset] = names
        return out

    def run(self, **runner_kwargs):
        """Run the study with :func:`~skanomaly.benchmarks.run_benchmark` into :attr:`output_dir`.

        Parameters
        ----------
        **runner_kwargs
            Further arguments of :func:`~skanomaly.benchmarks.run_benchmark` (``n_jobs``, ``verbose``,
            ``data_home``, ...); the study's own (detectors, datasets, protocol, seeds, classes, output
            folder) cannot be overridden.

        Returns
        -------
        results : pandas.DataFrame
            What :func:`~skanomaly.benchmarks.run_benchmark` returns.
        """
        from .runner import run_benchmark

        fixed = {"detectors", "datasets", "protocol", "seeds", "classes", "output_dir"}
        clash = sorted(fixed & set(runner_kwargs))
        if clash:
            raise ValueError(f"{', '.join(clash)} come from the study file {self.path}; they cannot be passed "
                             f"to Study.run.")
        return run_benchmark(detectors=self.detector_specs, datasets=list(self.datasets), protocol=self.protocol,
                             seeds=list(self.seeds), classes=None if self.classes is None else list(self.classes),
                             output_dir=self.output_dir, **runner_kwargs)


def _final_detector(estimator):
    """The detector that scores inside a composition (pipeline last step, ensemble member, search candidate)."""
    from sklearn.pipeline import Pipeline

    while True:
        if isinstance(estimator, Pipeline):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "param_grid") and hasattr(estimator, "estimator"):  # a search
            estimator = estimator.estimator
        else:
            return estimator


def _ablation_names(entry, dataset, seed):
    """The ablation variants the entry's fitted detector scores, read from its parameters (no fit)."""
    if entry.seed_ensemble is not None:
        return []  # the runner scores ablations of a single detector only
    try:
        estimator = entry.spec().build(dataset, seed)
    except DetectorUnavailableError:
        return []
    variants = getattr(_final_detector(estimator), "_score_variants", None)
    return list(variants()) if callable(variants) else []


# ----------------------------------------------------------------------------------------------------------------
# Reading and checking a study file
# ----------------------------------------------------------------------------------------------------------------


def _fail(path, where, message):
    raise StudyError(f"{path}: {where}: {message}" if where else f"{path}: {message}")


def _where(name):
    """The TOML header of a detector entry, as written in the file."""
    bare = bool(re.fullmatch(r"[A-Za-z0-9_-]+", name))
    return f"[detectors.{name}]" if bare else f'[detectors."{name}"]'


def _as_tuples(value):
    """TOML arrays as tuples (recursively), the form scikit-learn parameters such as layer sizes take."""
    if isinstance(value, list):
        return tuple(_as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_tuples(item) for key, item in value.items()}
    return value


def _check_int_list(path, where, value, *, allow_empty=False):
    if not isinstance(value, list) or (not value and not allow_empty):
        _fail(path, where, f"must be a non-empty array of integers >= 0, got {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            _fail(path, where, f"must be an array of integers >= 0, got {item!r}")
    if len(set(value)) != len(value):
        _fail(path, where, f"lists a value twice: {value!r}")
    return list(value)


def _check_table(path, where, value, allowed):
    if not isinstance(value, dict):
        _fail(path, where, f"must be a table, got {value!r}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _fail(path, where, f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    return dict(value)


def _validate_estimator(estimator):
    """Run the estimator's own parameter validation (``_parameter_constraints``) without fitting."""
    validate = getattr(estimator, "_validate_params", None)
    if callable(validate) and getattr(estimator, "_parameter_constraints", None):
        validate()


def _read_detector(path, name, table):
    where = _where(name)
    table = _check_table(path, where, table, _DETECTOR_KEYS)
    params = table.get("params", {})
    if not isinstance(params, dict):
        _fail(path, f"{where} params", f"must be a table of parameter values, got {params!r}")
    params = _as_tuples(params)
    # The detector and its variant parameters (values TOML cannot write, such as None) come from `estimator`,
    # else from the key.
    source, estimator = ("estimator", table["estimator"]) if "estimator" in table else ("name", name)
    if not isinstance(estimator, str):
        _fail(path, f"{where} estimator", f"must be a registered detector name, got {estimator!r}")
    try:
        estimator, named = parse_variant_name(estimator)
    except ValueError as exc:
        _fail(path, f"{where} estimator" if source == "estimator" else where, str(exc))
    clash = sorted(set(named) & set(params))
    if clash:
        _fail(path, where, f"sets {', '.join(clash)} both in its {source} and in params")
    params = {**named, **params}
    if estimator not in list_detectors():
        _fail(path, f"{where} estimator" if source == "estimator" else where,
              f"unknown detector {estimator!r}; registered detectors: {', '.join(list_detectors())} (give "
              f"`estimator` when the key is not a registered name)")

    search = table.get("label_free_search")
    if search is not None:
        search = _as_tuples(_check_table(path, f"{where} label_free_search", search, _SEARCH_KEYS))
        if "param_grid" in search:
            grid = search["param_grid"]
            if not isinstance(grid, dict):
                _fail(path, f"{where} label_free_search.param_grid", f"must be a table, got {grid!r}")
            for key, values in grid.items():
                if not isinstance(values, tuple) or not values:
                    _fail(path, f"{where} label_free_search.param_grid.{key}",
                          f"must be a non-empty array of candidate values, got {values!r}")
            # The array of candidates back to a list; a candidate that is itself an array stays a tuple.
            search["param_grid"] = {key: list(values) for key, values in grid.items()}
    ensemble = table.get("seed_ensemble")
    if ensemble is not None:
        ensemble = _check_table(path, f"{where} seed_ensemble", ensemble, _ENSEMBLE_KEYS)
        clash = sorted(set(_ENSEMBLE_KEYS) & set(params))
        if clash:
            _fail(path, f"{where} params", f"{', '.join(clash)} of a seed ensemble belong in seed_ensemble")
    preprocessing = table.get("preprocessing")
    if preprocessing is not None and preprocessing not in PREPROCESSING:
        _fail(path, f"{where} preprocessing",
              f"unknown preprocessing {preprocessing!r}; expected one of {', '.join(map(repr, PREPROCESSING))}")
    return StudyDetector(name, estimator, params, search, ensemble, preprocessing)


def _check_builds(path, entry, datasets):
    """Build the entry for every dataset and run every parameter validation that needs no fit."""
    from sklearn.base import clone

    where = _where(entry.name)
    for dataset in datasets:
        try:
            core = get_detector_spec(entry.estimator).build(dataset, 0, **entry.params)
            _validate_estimator(core)
            if entry.label_free_search is not None:
                grid = entry.label_free_search.get("param_grid", {})
                names = core.get_params(deep=False)
                unknown = sorted(set(grid) - set(names))
                if unknown:
                    raise ValueError(f"label_free_search.param_grid names {', '.join(map(repr, unknown))}, "
                                     f"not parameters of {entry.estimator}")
                for key, values in grid.items():
                    for value in values:
                        _validate_estimator(clone(core).set_params(**{key: value}))
            built = entry.spec().build(dataset, 0)
            for estimator in _nested(built):
                _validate_estimator(estimator)
        except DetectorUnavailableError:
            return  # recorded as "skipped" by the runner
        except StudyError:
            raise
        except (TypeError, ValueError) as exc:
            _fail(path, where, f"cannot build it for dataset {dataset!r}: {' '.join(str(exc).split())}")


def _nested(estimator):
    """The estimator and every estimator it wraps (pipeline steps, ensemble base, search base)."""
    from sklearn.pipeline import Pipeline

    out = [estimator]
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps:
            out.extend(_nested(step))
    else:
        inner = getattr(estimator, "estimator", None)
        if inner is not None and hasattr(inner, "get_params"):
            out.extend(_nested(inner))
    return out


def load_study(path):
    """Read and check a study file.

    Every entry is checked before anything runs: unknown keys, unknown protocol, datasets or detectors, a
    dataset that does not suit the protocol, malformed seeds or classes, and parameters that the detector
    (or the composition around it) rejects, through its constructor, ``set_params`` and its parameter
    validation, for every dataset of the study.

    Parameters
    ----------
    path : str or path-like
        The TOML file.

    Returns
    -------
    study : Study

    Raises
    ------
    StudyError
        The file is missing, not valid TOML, or an entry is wrong; the message names the file and the entry.

    Examples
    --------
    >>> from pathlib import Path
    >>> import tempfile
    >>> from skanomaly.benchmarks.study import load_study
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "study.toml").write_text(
    ...     'protocol = "novelty"\\ndatasets = ["thyroid"]\\nseeds = [0]\\n'
    ...     '[detectors."IsolationForest-power"]\\nestimator = "IsolationForest"\\npreprocessing = "power"\\n')
    >>> study = load_study(folder / "study.toml")
    >>> [spec.name for spec in study.detector_specs]
    ['IsolationForest-power']
    >>> study.output_dir == folder
    True
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except OSError as exc:
        raise StudyError(f"{path}: cannot read the study file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{path}: not valid TOML ({exc})") from None

    unknown = sorted(set(data) - set(_STUDY_KEYS))
    if unknown:
        _fail(path, "", f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(_STUDY_KEYS)}")
    for key in ("protocol", "datasets", "seeds", "detectors"):
        if key not in data:
            _fail(path, "", f"missing `{key}`")

    protocol = data["protocol"]
    if protocol not in _PROTOCOL_DATA_KIND:
        _fail(path, "protocol", f"unknown protocol {protocol!r}; expected one of "
                                f"{', '.join(map(repr, _PROTOCOL_DATA_KIND))}")
    datasets = data["datasets"]
    if not isinstance(datasets, list) or not datasets or not all(isinstance(d, str) for d in datasets):
        _fail(path, "datasets", f"must be a non-empty array of dataset names, got {datasets!r}")
    names = []
    for dataset in datasets:
        try:
            spec = get_dataset_spec(dataset)
        except ValueError as exc:
            _fail(path, "datasets", str(exc))
        if spec.kind != _PROTOCOL_DATA_KIND[protocol]:
            _fail(path, "datasets", protocol_mismatch(protocol, spec))
        if spec.name in names:
            _fail(path, "datasets", f"lists {spec.name!r} twice")
        names.append(spec.name)
    seeds = _check_int_list(path, "seeds", data["seeds"])
    classes = data.get("classes")
    if classes is not None:
        if not PROTOCOLS[protocol].per_class:
            _fail(path, "classes", "only the per-class protocols ('one-class', 'leave-one-class-out') take classes")
        classes = _check_int_list(path, "classes", classes)
    output = data.get("output", ".")
    if not isinstance(output, str) or not output:
        _fail(path, "output", f"must be a folder path relative to the study file, got {output!r}")
    output_dir = Path(path).resolve().parent / output
    if output_dir.exists() and not output_dir.is_dir():
        _fail(path, "output", f"{output_dir} exists and is not a folder")

    table = data["detectors"]
    if not isinstance(table, dict) or not table:
        _fail(path, "detectors", "must hold at least one [detectors.NAME] table")
    entries = [_read_detector(path, name, value) for name, value in table.items()]
    for entry in entries:
        _check_builds(path, entry, names)
    return Study(path=path, protocol=protocol, datasets=names, seeds=seeds, classes=classes,
                 output_dir=output_dir.resolve(), detectors=entries)
