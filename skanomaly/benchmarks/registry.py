"""Registries of the benchmark runner: which detectors and which datasets it knows, and how to build them.

A **detector spec** maps a name to a factory ``factory(dataset_name, seed, **overrides)`` that returns an
*unfitted* estimator following scikit-learn's outlier-detector contract (``fit(X)``, ``score_samples(X)``
higher = more normal). Dataset-specific parameters (presets) are merged in by the factory, the user's
overrides last. The runner wraps the estimator with the dataset's preprocessing (see :data:`DATASETS`).

A **dataset spec** says where a dataset comes from, whether it is tabular or made of images, which scaler
its features get (fitted on the training part only), the recommended top-k fraction and which protocols
apply to it.

Adding a detector is one line::

    register_detector("MyDetector", "mypackage.module:MyDetector",
                      presets={"thyroid": {"max_epochs": 20}})
"""

from __future__ import annotations

import ast
import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..detectors.presets import PRESETS as DETECTOR_PRESETS
from ..exceptions import DetectorUnavailableError

__all__ = [
    "DatasetSpec",
    "DetectorSpec",
    "DetectorUnavailableError",
    "DATASETS",
    "PRESETS",
    "estimator_factory",
    "get_dataset_spec",
    "get_detector_spec",
    "label_free_selection_factory",
    "list_datasets",
    "list_detectors",
    "make_scaler",
    "parse_value",
    "parse_variant_name",
    "preprocessed_factory",
    "register_dataset",
    "register_detector",
    "seed_ensemble_factory",
]

#: Name of the reference detector that every benchmark includes.
REFERENCE_DETECTOR = "IsolationForest"


def _import_object(path):
    """Import ``"package.module:attribute"`` and return the attribute."""
    if not isinstance(path, str) or ":" not in path:
        raise ValueError(f"Import paths look like 'package.module:attribute', got {path!r}.")
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DetectorUnavailableError(f"cannot import {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise DetectorUnavailableError(f"{module_name!r} has no attribute {attr!r}") from exc


# ----------------------------------------------------------------------------------------------------------------
# Dataset specs
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """How the benchmark runner loads and preprocesses one dataset.

    Parameters
    ----------
    name : str
        Registry name (lower case, ``_`` between words).
    loader : str or callable
        ``"package.module:function"`` or a function returning a :class:`~sklearn.utils.Bunch` with ``data``
        and ``target`` (1 = anomaly for tabular sets, the class for image sets), optionally
        ``anomaly_ratio`` and ``image_shape``.
    kind : {"tabular", "image"}
        Tabular sets run the ``"novelty"`` protocol, image sets the per-class protocols.
    scaler : {"standard", "minmax"} or None
        Feature scaler fitted on the training part only, inside the detector's pipeline. ``None`` for
        images, which are already in [0, 1].
    anomaly_ratio : float or None
        Recommended top-k fraction of the test set labelled anomalous (the known anomaly ratio), used when
        the loaded Bunch has no ``anomaly_ratio``. ``None`` for image sets, where k is the number of
        anomalies in each test set.
    uses_data_home : bool
        Whether the loader takes ``data_home`` (files read from disk rather than shipped with the package).
    description : str
        One line for listings.
    loader_kwargs : dict
        Extra keyword arguments of the loader.
    """

    name: str
    loader: Any
    kind: str = "tabular"
    scaler: str | None = "standard"
    anomaly_ratio: float | None = None
    uses_data_home: bool = False
    description: str = ""
    loader_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def load(self, data_home=None):
        """Call the loader and return its Bunch.

        Parameters
        ----------
        data_home : str or path-like, default=None
            Passed to loaders that read files (``uses_data_home=True``); ignored otherwise.

        Returns
        -------
        bunch : sklearn.utils.Bunch
            The dataset.
        """
        loader = _import_object(self.loader) if isinstance(self.loader, str) else self.loader
        if self.uses_data_home:
            return loader(data_home=data_home, **self.loader_kwargs)
        return loader(**self.loader_kwargs)


def make_scaler(name):
    """Return a new, unfitted scaler for a dataset spec's ``scaler`` name.

    Parameters
    ----------
    name : {"standard", "minmax"} or None
        ``"standard"``: :class:`~sklearn.preprocessing.StandardScaler` (z-score; constant columns stay 0).
        ``"minmax"``: :class:`~sklearn.preprocessing.MinMaxScaler` to [0, 1] (the DAGMM/ALAD protocol; used for every
        tabular benchmark set).
        ``None``: no scaler.

    Returns
    -------
    scaler : estimator or None
    """
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if name is None:
        return None
    if name == "standard":
        return StandardScaler()
    if name == "minmax":
        return MinMaxScaler()
    raise ValueError(f"Unknown scaler {name!r}; expected 'standard', 'minmax' or None.")


#: The datasets the runner knows. Scalers: min-max for every tabular set (the DAGMM / ALAD protocol the published
#: tables use), none for images (already in [0, 1]). KDD99 is loaded with ``cache=False``: the benchmark never
#: writes into the data folder (which may be shared).
DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec, *, replace=False):
    """Add a :class:`DatasetSpec` to :data:`DATASETS`.

    Parameters
    ----------
    spec : DatasetSpec
        The spec; its ``name`` is the registry key.
    replace : bool, default=False
        Allow replacing an existing entry.

    Returns
    -------
    spec : DatasetSpec
    """
    if not isinstance(spec, DatasetSpec):
        raise ValueError(f"spec must be a DatasetSpec, got {type(spec).__name__}.")
    if spec.kind not in ("tabular", "image"):
        raise ValueError(f"DatasetSpec.kind must be 'tabular' or 'image', got {spec.kind!r}.")
    if spec.scaler not in (None, "standard", "minmax"):
        raise ValueError(f"Unknown scaler {spec.scaler!r}; expected 'standard', 'minmax' or None.")
    key = _normalize_dataset_name(spec.name)
    if key in DATASETS and not replace:
        raise ValueError(f"Dataset {key!r} is already registered; pass replace=True to replace it.")
    DATASETS[key] = spec
    return spec


def _normalize_dataset_name(name):
    return str(name).strip().lower().replace("-", "_")


def get_dataset_spec(name):
    """Return the :class:`DatasetSpec` registered under ``name`` (case and ``-``/``_`` insensitive).

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"thyroid"`` or ``"fashion-mnist"``.

    Returns
    -------
    spec : DatasetSpec
    """
    key = _normalize_dataset_name(name)
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}.{_did_you_mean(key, DATASETS)} Known datasets: "
                         f"{', '.join(sorted(DATASETS))}.")
    return DATASETS[key]


def list_datasets():
    """Names of the registered datasets, in registration order.

    Returns
    -------
    names : list of str
    """
    return list(DATASETS)


for _spec in [
    DatasetSpec("thyroid", "skanomaly.datasets:load_thyroid", "tabular", "minmax", 0.025,
                description="ODDS Thyroid, 3772 x 6, 2.5 % anomalies (embedded)"),
    DatasetSpec("arrhythmia", "skanomaly.datasets:load_arrhythmia", "tabular", "minmax", 0.15,
                description="ODDS Arrhythmia, 452 x 274, 15 % anomalies (embedded)"),
    DatasetSpec("kddcup99", "skanomaly.datasets:fetch_kddcup99", "tabular", "minmax", 0.20,
                uses_data_home=True, loader_kwargs={"cache": False},
                description="KDD Cup 1999 10 %, one-hot, 'normal.' rows are the anomalies (file)"),
    DatasetSpec("mnist", "skanomaly.datasets:load_mnist", "image", None, None, uses_data_home=True,
                description="MNIST digits, 1x28x28 in [0, 1]"),
    DatasetSpec("fashion_mnist", "skanomaly.datasets:load_fashion_mnist", "image", None, None,
                uses_data_home=True, description="Fashion-MNIST, 1x28x28 in [0, 1]"),
    DatasetSpec("fashion_mnist_5k", "skanomaly.datasets:load_fashion_mnist", "image", None, None,
                uses_data_home=True, loader_kwargs={"n_per_class": 500, "random_state": 0},
                description="Fashion-MNIST-5k: 500 images per class (seed 0), the size of MNIST-5k"),
    # Raw coordinates (no scaler): the modes' noise (0.05) and gaps are the scale the 2-D settings are set for.
    DatasetSpec("multimodal_2d", "skanomaly.datasets:load_multimodal_2d", "tabular", None, 200 / 2200,
                description="2-D rings and blobs, 2200 x 2, 9.1 % anomalies between and outside the modes "
                            "(generated)"),
]:
    register_dataset(_spec)


# ----------------------------------------------------------------------------------------------------------------
# Detector specs
# ----------------------------------------------------------------------------------------------------------------


#: Dataset-specific parameters per detector: ``PRESETS[detector][dataset] -> dict``. The skanomaly detectors' own
#: presets live in :mod:`skanomaly.detectors.presets` (with their sources); the peer baselines' are here. Entries
#: size the training budget; none was chosen by looking at test metrics (that would leak labels; the one
#: exception among the detectors' own presets is documented there).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    **DETECTOR_PRESETS,
    "PyOD-AutoEncoder": {
        "thyroid": {"epoch_num": 50, "batch_size": 128},
        "arrhythmia": {"epoch_num": 50, "batch_size": 32},
        "kddcup99": {"epoch_num": 20, "batch_size": 512},
    },
    # PyOD's defaults (100 epochs of batch 32) on Thyroid and Arrhythmia; on KDD99 the budget of DeepSVDDDetector's
    # preset (10 epochs of batch 512).
    "PyOD-DeepSVDD": {
        "kddcup99": {"epochs": 10, "batch_size": 512},
    },
}


@dataclass(frozen=True)
class DetectorSpec:
    """A registered detector: a name and a factory building an unfitted estimator for a dataset and a seed.

    Parameters
    ----------
    name : str
        Registry name; the ``detector`` column of the results.
    factory : callable
        ``factory(dataset_name, seed, **overrides) -> estimator``. May raise
        :class:`DetectorUnavailableError` when its code or an optional dependency is missing.
    description : str
        One line for listings.
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""

    def build(self, dataset_name, seed, **overrides):
        """Return the unfitted estimator for ``dataset_name`` and ``seed`` (``overrides`` win over presets).

        Parameters
        ----------
        dataset_name : str
            Registry name of the dataset (selects the preset).
        seed : int
            Seed of the run; factories pass it as ``random_state``.
        **overrides
            Parameters set by the user.

        Returns
        -------
        estimator : estimator
        """
        return self.factory(dataset_name, seed, **overrides)


def estimator_factory(estimator, *, defaults=None, presets=None, seed_param="random_state"):
    """Build the standard factory of a detector spec from an estimator class.

    The returned ``factory(dataset_name, seed, **overrides)`` imports the class (lazily, when given as an
    import path), merges ``defaults`` < ``presets[dataset_name]`` < ``overrides``, sets ``seed_param`` to the
    seed unless overridden, and sets ``verbose=0`` when the class has a ``verbose`` parameter and nobody set it.

    Parameters
    ----------
    estimator : type or str
        The estimator class, or ``"package.module:ClassName"`` imported when the factory is first called.
    defaults : dict, default=None
        Parameters for every dataset.
    presets : dict or callable, default=None
        ``{dataset_name: {param: value}}``, or a function ``presets(dataset_name) -> dict``.
    seed_param : str or None, default="random_state"
        Constructor parameter that receives the seed; ``None`` if the class takes no seed.

    Returns
    -------
    factory : callable
    """
    defaults = dict(defaults or {})

    def factory(dataset_name, seed, **overrides):
        cls = _import_object(estimator) if isinstance(estimator, str) else estimator
        if callable(presets):
            preset = presets(dataset_name) or {}
        else:
            preset = (presets or {}).get(dataset_name, {})
        kwargs = {**defaults, **preset, **overrides}
        est = cls(**kwargs)
        names = est.get_params(deep=False)
        if seed_param is not None and seed_param not in overrides and seed_param in names:
            est.set_params(**{seed_param: int(seed)})
        if "verbose" in names and "verbose" not in kwargs:
            est.set_params(verbose=0)
        return est

    factory.estimator = estimator
    return factory


#: The registered detectors, by name.
DETECTORS: dict[str, DetectorSpec] = {}


def register_detector(name, estimator=None, *, factory=None, defaults=None, presets=None, description="",
                      replace=False):
    """Register a detector for the benchmark runner.

    Give either ``estimator`` (a class or ``"package.module:Class"``, built through
    :func:`estimator_factory` with ``defaults`` and ``presets``) or a ready ``factory``.

    Parameters
    ----------
    name : str
        Registry name; the ``detector`` column of the results.
    estimator : type or str, default=None
        Estimator class or its import path (imported lazily, so detectors still being written can be
        registered; a missing module makes their runs ``"skipped"``).
    factory : callable, default=None
        ``factory(dataset_name, seed, **overrides) -> unfitted estimator``.
    defaults : dict, default=None
        Parameters for every dataset (``estimator`` only).
    presets : dict or callable, default=None
        Dataset-specific parameters (``estimator`` only); defaults to ``PRESETS.get(name)``.
    description : str, default=""
        One line for listings.
    replace : bool, default=False
        Allow replacing an existing entry.

    Returns
    -------
    spec : DetectorSpec
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"Detector names must be non-empty strings, got {name!r}.")
    if (estimator is None) == (factory is None):
        raise ValueError("Give exactly one of estimator and factory.")
    if name in DETECTORS and not replace:
        raise ValueError(f"Detector {name!r} is already registered; pass replace=True to replace it.")
    if factory is None:
        if presets is None:
            # Looked up at build time, so PRESETS entries added after registration count.
            def presets(dataset_name, _name=name):
                return PRESETS.get(_name, {}).get(dataset_name, {})
        factory = estimator_factory(estimator, defaults=defaults, presets=presets)
    elif not callable(factory):
        raise ValueError("factory must be callable.")
    spec = DetectorSpec(name, factory, description)
    DETECTORS[name] = spec
    return spec


def get_detector_spec(name):
    """Return the :class:`DetectorSpec` registered under ``name``.

    Parameters
    ----------
    name : str

    Returns
    -------
    spec : DetectorSpec
    """
    if name in DETECTORS:
        return DETECTORS[name]
    base, params = parse_variant_name(name)
    if params and base in DETECTORS:
        spec = DETECTORS[base]

        def factory(dataset_name, seed, **overrides):
            return spec.build(dataset_name, seed, **{**params, **overrides})

        return DetectorSpec(name, factory, f"{spec.description} with {params}")
    brackets = name.strip()[len(base):] if params else ""  # a misspelt variant keeps its parameters
    raise ValueError(f"Unknown detector {name!r}.{_did_you_mean(base, DETECTORS, suffix=brackets)} Known "
                     f"detectors: {', '.join(DETECTORS)} (a variant is written 'Name[param=value, ...]').")


def _did_you_mean(name, known, *, suffix=""):
    """``" Did you mean 'X'?"`` naming the known names closest to a misspelt ``name`` (at most three), else ``""``.

    Parameters
    ----------
    name : str
        The name that is not known.
    known : iterable of str
        The known names; case is ignored when comparing.
    suffix : str, default=""
        Text appended to each suggested name (a variant's ``"[param=value]"``).

    Returns
    -------
    hint : str
        A sentence with a leading space, to follow the one that names the unknown name; ``""`` when no known
        name is close.
    """
    by_folded = {str(candidate).casefold(): str(candidate) for candidate in known}
    matches = difflib.get_close_matches(str(name).strip().casefold(), list(by_folded), n=3, cutoff=0.6)
    if not matches:
        return ""
    return f" Did you mean {' or '.join(repr(by_folded[match] + suffix) for match in matches)}?"


def parse_value(raw):
    """A parameter value from text: a Python literal when it is one (``5``, ``1e-3``, ``(64, 32)``, ``None``,
    ``False``), else the stripped string (``leaky_relu``)."""
    raw = raw.strip()
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def parse_variant_name(name):
    """Split a variant name ``"Name[param=value, ...]"`` into ``("Name", {param: value})``.

    Variants let a benchmark run ablations side by side: ``"AMADetector[mirrored=False]"`` is
    ``AMADetector`` built with ``mirrored=False`` on top of its presets, and its rows carry that name.
    Commas inside brackets or parentheses belong to the value (``hidden_layer_sizes=(64, 32)``).

    Parameters
    ----------
    name : str

    Returns
    -------
    base : str
        The name before the brackets (the whole name when there are none).
    params : dict
        Parsed parameters (empty when there are no brackets).
    """
    name = str(name).strip()
    if not (name.endswith("]") and "[" in name):
        return name, {}
    base, _, inner = name[:-1].partition("[")
    items, depth, current = [], 0, ""
    for char in inner:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"A detector variant is written 'Name[param=value, ...]'; got {name!r}.")
        params[key.strip()] = parse_value(raw)
    return base.strip(), params


def list_detectors():
    """Names of the registered detectors, in registration order.

    Returns
    -------
    names : list of str
    """
    return list(DETECTORS)


def _preset(detector_name, dataset_name):
    """A copy of the registry's preset of ``detector_name`` for ``dataset_name`` (empty when there is none)."""
    return dict(PRESETS.get(detector_name, {}).get(dataset_name, {}))


def _pyod_deep_svdd_factory(dataset_name, seed, **overrides):
    """PyOD's ``DeepSVDD`` behind the PyOD adapter: :func:`skanomaly.benchmarks.adapters.pyod_deep_svdd_factory`."""
    from .adapters import pyod_deep_svdd_factory

    return pyod_deep_svdd_factory(dataset_name, seed, **{**_preset("PyOD-DeepSVDD", dataset_name), **overrides})


def _pyod_autoencoder_factory(dataset_name, seed, **overrides):
    """PyOD's ``AutoEncoder`` behind the PyOD adapter: :func:`skanomaly.benchmarks.adapters.pyod_autoencoder_factory`
    (imported when a run is built, so that listing the registry stays light)."""
    from .adapters import pyod_autoencoder_factory

    return pyod_autoencoder_factory(dataset_name, seed, **{**_preset("PyOD-AutoEncoder", dataset_name), **overrides})


def _base_spec(base):
    """The :class:`DetectorSpec` a composition wraps: ``base`` itself, or the detector registered under that name."""
    if isinstance(base, DetectorSpec):
        return base
    if isinstance(base, str):
        return get_detector_spec(base)
    raise ValueError(f"A composition wraps a registered detector name or a DetectorSpec, got {base!r}.")


def label_free_selection_factory(base, *, method="perturb", n_splits=3, param_grid=None):
    """Factory of a detector whose hyperparameters are chosen without labels.

    The built estimator is a :class:`~sklearn.model_selection.GridSearchCV`. Its candidates are the base
    detector with its dataset preset (and the user's overrides), the same detector with every preset
    parameter back at its class default (overrides kept), and, when ``param_grid`` is given, further
    candidates on top of those defaults. Each candidate is cross-validated on the training data (normal
    only) with ``KFold(n_splits, shuffle=True, random_state=seed)`` and scored by
    :func:`~skanomaly.metrics.make_synthetic_anomaly_scorer` (``method``, ``random_state=seed``); the
    winner is refitted on all the training data. No label is read. When the dataset has no preset and no
    ``param_grid`` is given, the search has one candidate.

    Parameters
    ----------
    base : str or DetectorSpec
        Registered detector name, or a spec, whose candidates compete. The presets are those registered in
        :data:`PRESETS` under its name.
    method : {"perturb", "shuffle", "uniform"}, default="perturb"
        Synthetic-anomaly construction of the scorer.
    n_splits : int, default=3
        Number of cross-validation folds (at least 2).
    param_grid : dict of str to list, default=None
        Further candidates: every combination of these values, each set on top of the class defaults
        (preset parameters reset). A parameter the user overrides is not searched.

    Returns
    -------
    factory : callable
        ``factory(dataset_name, seed, **overrides) -> GridSearchCV``.

    Examples
    --------
    >>> from skanomaly.benchmarks import label_free_selection_factory
    >>> factory = label_free_selection_factory("MirroredAEDetector", param_grid={"latent_dim": [4, 16]})
    >>> factory("thyroid", 0).param_grid[2]["latent_dim"]
    [4, 16]
    """
    from sklearn.model_selection import GridSearchCV, KFold

    from ..metrics import make_synthetic_anomaly_scorer

    if method not in ("perturb", "shuffle", "uniform"):
        raise ValueError(f"method must be 'perturb', 'shuffle' or 'uniform', got {method!r}.")
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}.")
    if param_grid is not None and not isinstance(param_grid, Mapping):
        raise ValueError(f"param_grid must be a dict of parameter name to list of values, got {param_grid!r}.")
    extra = {}
    for key, values in (param_grid or {}).items():
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"param_grid[{key!r}] must be a non-empty list of values; got {values!r}.")
        extra[key] = list(values)

    def factory(dataset_name, seed, **overrides):
        spec = _base_spec(base)
        estimator = spec.build(dataset_name, seed, **overrides)
        preset = PRESETS.get(spec.name, {}).get(dataset_name, {})
        keys = sorted(set(preset) - set(overrides))
        current = estimator.get_params(deep=False)
        defaults = type(estimator)().get_params(deep=False)
        reset = {key: [defaults[key]] for key in keys}
        grid = [{key: [current[key]] for key in keys}]
        if any(current[key] != defaults[key] for key in keys):
            grid.append(reset)
        searched = {key: values for key, values in extra.items() if key not in overrides}
        if searched:
            grid.append({**reset, **searched})
        return GridSearchCV(estimator, grid,
                            scoring=make_synthetic_anomaly_scorer(method, random_state=int(seed)),
                            cv=KFold(n_splits, shuffle=True, random_state=int(seed)), refit=True)

    return factory


def seed_ensemble_factory(base, *, n_estimators=5):
    """Factory of a :class:`~skanomaly.ensemble.SeedEnsembleDetector` around a detector spec.

    The base detector is built as its own spec builds it (preset, overrides, search), and the ensemble draws
    its members' seeds from the run's seed. Each member is a full fit of the base, a search included.

    Parameters
    ----------
    base : str or DetectorSpec
        Registered detector name, or a spec (e.g. a label-free search), of which the members are clones.
    n_estimators : int, default=5
        Number of members.

    Returns
    -------
    factory : callable
        ``factory(dataset_name, seed, **overrides) -> SeedEnsembleDetector``. The overrides ``n_estimators`` and
        ``combination`` set the ensemble's parameters; all others go to the base detector.

    Examples
    --------
    >>> from skanomaly.benchmarks import seed_ensemble_factory
    >>> seed_ensemble_factory("MirroredAEDetector", n_estimators=3)("thyroid", 0).n_estimators
    3
    """
    from ..ensemble import SeedEnsembleDetector

    def factory(dataset_name, seed, **overrides):
        own = {"n_estimators": n_estimators}
        own.update({key: overrides.pop(key) for key in ("n_estimators", "combination") if key in overrides})
        estimator = _base_spec(base).build(dataset_name, seed, **overrides)
        return SeedEnsembleDetector(estimator, random_state=int(seed), **own)

    return factory


def preprocessed_factory(base, transformer):
    """Factory of a pipeline: a fresh clone of ``transformer``, then a detector.

    The transformer is fitted on the training data of each run (after the dataset's own scaling), so it reads
    no test row and no label. The runner flattens the pipeline into the run's own, and the detector stays the
    last step: its parameters, ablation rows and the model a search chose are recorded as for the base.

    Parameters
    ----------
    base : str or DetectorSpec
        Registered detector name, or a spec, of the detector that follows the transformer (built as its own
        spec builds it).
    transformer : transformer
        Unfitted scikit-learn transformer, cloned for every run.

    Returns
    -------
    factory : callable
        ``factory(dataset_name, seed, **overrides) -> Pipeline``; the overrides go to the base detector.

    Examples
    --------
    >>> from sklearn.preprocessing import PowerTransformer
    >>> from skanomaly.benchmarks import preprocessed_factory
    >>> pipe = preprocessed_factory("IsolationForest", PowerTransformer())("thyroid", 0)
    >>> [type(step).__name__ for _, step in pipe.steps]
    ['PowerTransformer', 'IsolationForest']
    """
    from sklearn.pipeline import make_pipeline

    def factory(dataset_name, seed, **overrides):
        estimator = _base_spec(base).build(dataset_name, seed, **overrides)
        from sklearn.base import clone

        return make_pipeline(clone(transformer), estimator)

    return factory


register_detector("IsolationForest", "sklearn.ensemble:IsolationForest", defaults={"n_estimators": 100},
                  description="scikit-learn IsolationForest, 100 trees: the reference of every benchmark")
register_detector("AutoEncoderDetector", "skanomaly.detectors:AutoEncoderDetector",
                  description="skanomaly's plain autoencoder (reconstruction error)")
register_detector("DeepSVDDDetector", "skanomaly.detectors:DeepSVDDDetector",
                  description="One-class Deep SVDD (Ruff et al., 2018): squared distance to a fixed centre")
register_detector("PyOD-AutoEncoder", factory=_pyod_autoencoder_factory,
                  description="PyOD's AutoEncoder (optional dependency pyod), sign-adapted")
register_detector("PyOD-DeepSVDD", factory=_pyod_deep_svdd_factory,
                  description="PyOD's one-class DeepSVDD (optional dependency pyod), sign-adapted")
register_detector("AMADetector", "skanomaly.detectors:AMADetector",
                  description="Adversarial mirrored autoencoder (Somepalli et al., 2021)")
register_detector("MirroredAEDetector", "skanomaly.detectors:MirroredAEDetector",
                  description="Mirrored autoencoder with simplex interpolation (Wu et al.)")
register_detector("OMASGANDetector", "skanomaly.detectors:OMASGANDetector",
                  description="OMASGAN boundary-sample GAN (Dionelis et al., 2021)")
