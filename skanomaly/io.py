"""A safe, portable, versioned file format for fitted skanomaly detectors.

:func:`save` writes one file: a zip archive holding exactly two members,

- ``model.json``: the format name and version, the versions of skanomaly, torch, scikit-learn, NumPy and
  Python that wrote it, the estimator's class and constructor parameters, and its fitted attributes that are
  not tensors (``offset_``, ``n_features_in_``, ``feature_names_in_``, ``image_shape_``, score statistics, the
  ``history_`` table, ...), each tagged with its type;
- ``weights.safetensors``: every tensor (network weights and buffers, numeric arrays and table columns) in the
  `safetensors <https://huggingface.co/docs/safetensors>`_ format, whose SHA-256 is recorded in ``model.json``.

:func:`load` executes nothing it reads: no pickle, no ``torch.load``, no ``eval``, no import by a name found in
the file. Classes come from a fixed list of skanomaly estimators; the networks are rebuilt from the
constructor parameters and fitted shapes by the detector's ``_build_networks`` (which builds them as ``fit`` does),
first on torch's ``meta`` device (no memory, no random numbers), then their state is checked key by key and
shape by shape against the file before any value is copied. Any entry that is unknown, missing, of the wrong
type or shape, a member added to the archive, or a checksum that does not match raises
:class:`ModelFormatError` naming the entry.

A model saved on a GPU loads on a CPU-only machine (``device=None`` picks the saved device when this machine
has it, else the CPU); ``device_`` then names the device the networks are on now.

A new detector needs no code here: it implements ``_build_networks()`` (see
:class:`~skanomaly.base.BaseDetector`); its other fitted attributes are stored by type (numbers, strings,
tuples, lists, dicts, arrays, DataFrames, torch devices and tensors, divergences, references to sub-networks
of ``net_``, nested estimators).
"""

import hashlib
import json
import math
import os
import platform
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFormatError", "load", "save"]

#: Name recorded in every file (``model.json["format"]``).
FORMAT_NAME = "skanomaly-model"
#: Version of the layout of ``model.json``; :func:`load` reads this version and refuses newer ones.
FORMAT_VERSION = 1

MODEL_MEMBER = "model.json"
WEIGHTS_MEMBER = "weights.safetensors"
_MEMBERS = (MODEL_MEMBER, WEIGHTS_MEMBER)

# Refuse to read members whose declared size is beyond this (a zip bomb, or not a model file).
_MAX_JSON_BYTES = 64 * 2**20
_MAX_WEIGHTS_BYTES = 64 * 2**30

# NumPy dtypes stored as tensors; other numeric arrays go to the JSON as lists.
_TENSOR_DTYPES = {np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64")}
_TORCH_DTYPES = {
    "bool": torch.bool, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64,
    "uint8": torch.uint8, "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64,
}


class ModelFormatError(ValueError):
    """A file that :func:`skanomaly.io.load` cannot read, or an estimator :func:`skanomaly.io.save` cannot store.

    The message names the file and the entry at fault.
    """


# ------------------------------------------------------------------------------------------- the classes
def _estimator_classes():
    """Classes :func:`load` may create, by name: the detectors and the ensembles of skanomaly, nothing else."""
    from . import detectors, ensemble
    from .base import BaseDetector

    classes = {}
    for module in (detectors, ensemble):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and hasattr(value, "get_params") and value is not BaseDetector:
                classes[name] = value
    return classes


def _versions():
    import sklearn

    from . import __version__

    return {
        "skanomaly": __version__,
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


# ---------------------------------------------------------------------------------------------- saving
class _Writer:
    """Encodes an estimator into a JSON-able tree and a flat dict of tensors."""

    def __init__(self):
        self.tensors = {}
        self.narrowed = []  # float64 tensors stored as float32 because every value is a float32
        self.estimators = {}  # id -> (where, estimator): an estimator met again is stored as a reference

    def tensor(self, key, value):
        if key in self.tensors:
            raise ModelFormatError(f"{key}: two entries would share this tensor name.")
        value = value.detach().to("cpu")
        if value.dtype == torch.float64 and torch.equal(value.to(torch.float32).to(torch.float64), value):
            value = value.to(torch.float32)
            self.narrowed.append(key)
        self.tensors[key] = value.contiguous()
        return key

    def estimator(self, estimator, where, *, fitted):
        if fitted and id(estimator) in self.estimators:  # e.g. ScoreCombinationDetector's named_estimators_
            return {"type": "estimator_ref", "path": self.estimators[id(estimator)][0]}
        if fitted:
            self.estimators[id(estimator)] = (where, estimator)
        name = type(estimator).__name__
        if _estimator_classes().get(name) is not type(estimator):
            raise ModelFormatError(
                f"{where}: {type(estimator).__module__}.{name} is not a skanomaly detector or ensemble; the safe "
                "format stores those only (use joblib or pickle for other estimators, trusted files only)."
            )
        params = estimator.get_params(deep=False)
        node = {
            "type": "estimator",
            "class": name,
            "params": {key: self.value(value, f"{where}.params.{key}", nested_fitted=False)
                       for key, value in sorted(params.items())},
            "fitted": None,
        }
        if fitted:
            node["fitted"] = self.fitted(estimator, where, set(params))
        return node

    def fitted(self, estimator, where, params):
        attributes = {}
        late = {}
        for key, value in vars(estimator).items():
            if key in params or key == "_sklearn_version":
                continue
            at = f"{where}.{key}"
            if _is_net(value):
                late[key] = self.net(estimator, value, at)
            elif isinstance(value, torch.nn.Module):
                late[key] = self.module_ref(estimator, value, at)
            else:
                attributes[key] = self.value(value, at, nested_fitted=True)
        return {"attributes": attributes, "networks": late}

    def net(self, estimator, net, where):
        if not callable(getattr(type(estimator), "_build_networks", None)):
            raise ModelFormatError(
                f"{where}: {type(estimator).__name__} does not define _build_networks(), which rebuilds its "
                "networks from its parameters and fitted shapes; it cannot be stored in the safe format."
            )
        module = net.module_
        state = module.state_dict()
        _check_all_in_state(module, state, where)
        keys = {}
        for key, value in state.items():
            keys[key] = self.tensor(f"{where}/{key}", value)
        return {"type": "net", "class": type(net).__name__, "module_class": type(module).__name__,
                "state": keys}

    def module_ref(self, estimator, module, where):
        net = getattr(estimator, "net_", None)
        if _is_net(net):
            for path, candidate in net.module_.named_modules():
                if candidate is module and path:
                    return {"type": "module_ref", "net": "net_", "path": path}
        raise ModelFormatError(
            f"{where}: a {type(module).__name__} that is not part of net_.module_; the safe format stores the "
            "networks of net_ only."
        )

    def value(self, value, where, *, nested_fitted):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return value
        if isinstance(value, float) and not isinstance(value, np.floating):
            return value if math.isfinite(value) else {"type": "float", "value": repr(value)}
        if isinstance(value, np.generic):
            if value.dtype.kind not in "biuf":
                raise ModelFormatError(f"{where}: NumPy scalar of dtype {value.dtype} cannot be stored.")
            return {"type": "numpy_scalar", "dtype": value.dtype.name, "value": self.value(value.item(), where,
                                                                                            nested_fitted=False)}
        if isinstance(value, tuple):
            return {"type": "tuple", "items": [self.value(v, f"{where}[{i}]", nested_fitted=nested_fitted)
                                               for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]", nested_fitted=nested_fitted) for i, v in enumerate(value)]
        if type(value) in (dict, Bunch):
            if not all(isinstance(k, str) for k in value):
                raise ModelFormatError(f"{where}: a dict with keys that are not strings cannot be stored.")
            return {"type": "dict" if type(value) is dict else "bunch",
                    "items": {k: self.value(v, f"{where}[{k!r}]", nested_fitted=nested_fitted)
                              for k, v in value.items()}}
        if isinstance(value, np.ndarray):
            return self.array(value, where)
        if isinstance(value, torch.Tensor):
            return {"type": "tensor", "tensor": self.tensor(where, value), "dtype": str(value.dtype)[6:]}
        if isinstance(value, torch.device):
            return {"type": "device", "value": str(value)}
        if isinstance(value, pd.DataFrame):
            return self.frame(value, where)
        if isinstance(value, np.random.RandomState):
            kind, keys, pos, has_gauss, cached = value.get_state()
            return {"type": "random_state", "kind": kind, "keys": [int(k) for k in keys], "pos": int(pos),
                    "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}
        if _is_divergence(value):
            return {"type": "divergence", "name": value.name,
                    "params": {k: self.value(v, f"{where}.{k}", nested_fitted=False) for k, v in vars(value).items()}}
        if hasattr(value, "get_params") and hasattr(value, "fit"):
            return self.estimator(value, where, fitted=nested_fitted and _is_fitted(value))
        raise ModelFormatError(
            f"{where}: a value of type {type(value).__module__}.{type(value).__qualname__} cannot be stored in the "
            "safe format."
        )

    def array(self, value, where):
        if value.dtype.kind in "US" or (value.dtype.kind == "O" and all(isinstance(v, str) for v in value.flat)):
            return {"type": "ndarray", "dtype": value.dtype.str if value.dtype.kind != "O" else "object",
                    "shape": list(value.shape), "items": [str(v) for v in value.flat]}
        if value.dtype.kind == "O":
            raise ModelFormatError(f"{where}: an object array of non-strings cannot be stored.")
        native = value.dtype.newbyteorder("=")
        if native not in _TENSOR_DTYPES:
            raise ModelFormatError(f"{where}: arrays of dtype {value.dtype} cannot be stored.")
        array = np.ascontiguousarray(value, dtype=native)
        self.tensors[where] = torch.from_numpy(array.copy())
        return {"type": "ndarray", "dtype": native.name, "shape": list(value.shape), "tensor": where}

    def frame(self, frame, where):
        if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
            raise ModelFormatError(f"{where}: a DataFrame needs unique string column names to be stored.")
        columns = [self.array(frame[c].to_numpy(), f"{where}.{c}") for c in frame.columns]
        index = frame.index
        if isinstance(index, pd.RangeIndex):
            encoded = {"type": "range_index", "start": int(index.start), "stop": int(index.stop),
                       "step": int(index.step)}
        else:
            encoded = {"type": "index", "values": self.array(index.to_numpy(), f"{where}.index")}
        encoded["name"] = self.value(index.name, f"{where}.index.name", nested_fitted=False)
        return {"type": "dataframe", "columns": list(frame.columns), "data": columns, "index": encoded}


def _is_net(value):
    from .base import DetectorNet

    return isinstance(value, DetectorNet)


def _is_divergence(value):
    from .divergences import KLWGAN, FDivergence

    return isinstance(value, (FDivergence, KLWGAN))


def _is_fitted(estimator):
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except Exception:  # noqa: BLE001 - NotFittedError, or a TypeError for non-estimators
        return False
    return True


def _check_all_in_state(module, state, where):
    """Every parameter and buffer of ``module`` must be in its state dict (non-persistent buffers are not)."""
    names = {name for name, _ in module.named_parameters()} | {name for name, _ in module.named_buffers()}
    missing = sorted(names - set(state))
    if missing:
        raise ModelFormatError(f"{where}: tensors {missing} are not part of the state dict and cannot be stored.")


def save(estimator, path):
    """Save a fitted skanomaly detector or ensemble to one file in the safe format.

    Parameters
    ----------
    estimator : fitted detector or ensemble
        One of :mod:`skanomaly.detectors` or :mod:`skanomaly.ensemble` (members and nested estimators too).
    path : str or os.PathLike
        File to write (any extension; ``.skan`` is a good choice). Written to a temporary file in the same
        folder first and moved into place in one step, so an existing file is replaced only by a complete one.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ModelFormatError
        If the estimator, or a parameter or fitted attribute of it, is of a type the format cannot hold.

    Examples
    --------
    >>> import numpy as np
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> from skanomaly import io
    >>> X = np.random.default_rng(0).normal(size=(100, 4))
    >>> model = AutoEncoderDetector(max_epochs=2, random_state=0, device="cpu").fit(X)
    >>> io.save(model, "model.skan")  # doctest: +SKIP
    >>> same = io.load("model.skan")  # doctest: +SKIP
    >>> bool(np.array_equal(same.score_samples(X), model.score_samples(X)))  # doctest: +SKIP
    True
    """
    from safetensors.torch import save as save_tensors
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    writer = _Writer()
    tree = writer.estimator(estimator, "estimator", fitted=True)
    weights = save_tensors(writer.tensors, metadata={"format": FORMAT_NAME})
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "weights": {"member": WEIGHTS_MEMBER, "sha256": hashlib.sha256(weights).hexdigest(),
                    "stored_as_float32": sorted(writer.narrowed)},
        "estimator": tree,
    }
    text = json.dumps(document, indent=1, allow_nan=False, sort_keys=False)
    path = Path(path)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False) as fh:
            tmp = fh.name
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(MODEL_MEMBER, text)
                archive.writestr(WEIGHTS_MEMBER, weights)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------------------------------- loading
def _read_archive(path):
    """``(model.json text, weights bytes)`` of a model file; every check names the file."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFormatError(f"{path} is not a skanomaly model file (not a readable zip archive: {exc}).") from exc
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        unexpected = sorted(set(names) - set(_MEMBERS))
        if unexpected:
            raise ModelFormatError(
                f"{path} holds unexpected member(s) {unexpected}: a skanomaly model file holds exactly "
                f"{list(_MEMBERS)}. The file was altered; it was not read further and nothing in it was run."
            )
        if len(names) != len(set(names)):
            raise ModelFormatError(f"{path} holds a member twice: the file was altered.")
        missing = [name for name in _MEMBERS if name not in names]
        if missing:
            raise ModelFormatError(f"{path} lacks the member(s) {missing}; it is not a complete skanomaly model file.")
        limits = {MODEL_MEMBER: _MAX_JSON_BYTES, WEIGHTS_MEMBER: _MAX_WEIGHTS_BYTES}
        contents = {}
        for info in infos:
            if info.file_size > limits[info.filename]:
                raise ModelFormatError(f"{path}: member {info.filename} declares {info.file_size} bytes, more than "
                                       "a model file holds.")
            try:
                contents[info.filename] = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
                raise ModelFormatError(f"{path}: member {info.filename} is damaged ({exc}).") from exc
    try:
        text = contents[MODEL_MEMBER].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} is not UTF-8 text ({exc}).") from exc
    return text, contents[WEIGHTS_MEMBER]


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _expect_keys(node, where, required, optional=()):
    if not isinstance(node, dict):
        raise ModelFormatError(f"{where}: expected an object, got {type(node).__name__}.")
    keys = set(node)
    missing = sorted(set(required) - keys)
    unknown = sorted(keys - set(required) - set(optional))
    if missing:
        raise ModelFormatError(f"{where}: missing entr{'y' if len(missing) == 1 else 'ies'} {missing}.")
    if unknown:
        raise ModelFormatError(f"{where}: unknown entr{'y' if len(unknown) == 1 else 'ies'} {unknown}.")


class _Reader:
    """Decodes the JSON tree written by :class:`_Writer`, with the tensors of the file."""

    def __init__(self, source, tensors, narrowed, device):
        self.source = source
        self.tensors = tensors
        self.narrowed = narrowed
        self.device = device
        self.used = set()
        self.classes = _estimator_classes()
        self.estimators = {}  # where -> fitted estimator read there, for estimator_ref entries

    def error(self, where, message):
        return ModelFormatError(f"{self.source}: {where}: {message}")

    def tensor(self, key, where):
        if not isinstance(key, str) or key not in self.tensors:
            raise self.error(where, f"tensor {key!r} is not in {WEIGHTS_MEMBER}.")
        if key in self.used:
            raise self.error(where, f"tensor {key!r} is used twice.")
        self.used.add(key)
        value = self.tensors[key]
        if key in self.narrowed:
            if value.dtype != torch.float32:
                raise self.error(where, f"tensor {key!r} is listed as stored in float32 but is {value.dtype}.")
            value = value.to(torch.float64)
        return value

    def estimator(self, node, where):
        _expect_keys(node, where, ("type", "class", "params", "fitted"))
        name = node["class"]
        if not isinstance(name, str) or name not in self.classes:
            raise self.error(where, f"unknown estimator class {name!r}; this version of skanomaly knows "
                                    f"{sorted(self.classes)}.")
        cls = self.classes[name]
        params = node["params"]
        if not isinstance(params, dict):
            raise self.error(f"{where}.params", "expected an object.")
        expected = set(cls._get_param_names())
        unknown = sorted(set(params) - expected)
        missing = sorted(expected - set(params))
        if unknown:
            raise self.error(f"{where}.params", f"unknown parameter(s) {unknown} for {name}.")
        if missing:
            raise self.error(f"{where}.params", f"missing parameter(s) {missing} of {name}.")
        values = {key: self.value(value, f"{where}.params.{key}") for key, value in params.items()}
        estimator = cls(**values)
        if hasattr(estimator, "_validate_params"):
            try:
                estimator._validate_params()
            except (ValueError, TypeError) as exc:
                raise self.error(f"{where}.params", f"invalid parameters for {name}: {exc}") from exc
        if node["fitted"] is not None:
            self.estimators[where] = estimator
            self.fitted(estimator, node["fitted"], f"{where}")
        return estimator

    def fitted(self, estimator, node, where):
        _expect_keys(node, f"{where}.fitted", ("attributes", "networks"))
        attributes, networks = node["attributes"], node["networks"]
        if not isinstance(attributes, dict) or not isinstance(networks, dict):
            raise self.error(f"{where}.fitted", "expected objects.")
        params = set(estimator.get_params(deep=False))
        for key, value in attributes.items():
            self.check_attribute_name(estimator, key, params, where)
            decoded = self.value(value, f"{where}.{key}")
            if isinstance(decoded, torch.device):
                decoded = self.device
            setattr(estimator, key, decoded)
        nets = {key: node for key, node in networks.items() if isinstance(node, dict) and node.get("type") == "net"}
        refs = {key: node for key, node in networks.items() if key not in nets}
        if len(nets) > 1 or (nets and "net_" not in nets):
            raise self.error(f"{where}.fitted.networks", f"expected one net named 'net_', got {sorted(nets)}.")
        for key, node in nets.items():
            setattr(estimator, key, self.net(estimator, node, f"{where}.{key}"))
        for key, node in refs.items():
            self.check_attribute_name(estimator, key, params, where)
            _expect_keys(node, f"{where}.{key}", ("type", "net", "path"))
            if node["type"] != "module_ref" or node["net"] != "net_" or "net_" not in nets:
                raise self.error(f"{where}.{key}", "expected a reference to a network of net_.")
            try:
                module = estimator.net_.module_.get_submodule(str(node["path"]))
            except AttributeError as exc:
                raise self.error(f"{where}.{key}", f"net_ has no network {node['path']!r}.") from exc
            setattr(estimator, key, module)

    def check_attribute_name(self, estimator, key, params, where):
        """A fitted attribute may not shadow a parameter, a method or any other attribute of the class."""
        if not isinstance(key, str) or not key.isidentifier() or key in params or hasattr(type(estimator), key):
            raise self.error(f"{where}.fitted", f"attribute {key!r} may not be set on {type(estimator).__name__}.")

    def net(self, estimator, node, where):
        from .base import _prepare_for_scoring

        _expect_keys(node, where, ("type", "class", "module_class", "state"))
        state = node["state"]
        if not isinstance(state, dict):
            raise self.error(f"{where}.state", "expected an object.")
        build = getattr(type(estimator), "_build_networks", None)
        if build is None:
            raise self.error(where, f"{type(estimator).__name__} cannot rebuild its networks (no _build_networks).")
        # Built on the meta device: no memory is taken and no random number is drawn before the file's shapes
        # are checked against the architecture the parameters describe.
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            try:
                net = estimator._build_networks()
            except (ValueError, TypeError) as exc:
                raise self.error(where, f"the parameters and fitted attributes describe no valid networks: {exc}") \
                    from exc
        if type(net).__name__ != node["class"] or type(net.module).__name__ != node["module_class"]:
            raise self.error(where, f"the file holds a {node['class']} of {node['module_class']}, but "
                                    f"{type(estimator).__name__} builds a {type(net).__name__} of "
                                    f"{type(net.module).__name__}.")
        # skorch's own initialisation of the parts scoring uses; device None leaves the meta tensors in place
        # (the optimizers, which scoring never uses, are not created).
        net.device = None
        net._initialize_callbacks()
        net._initialize_module()
        net._initialize_history()
        net.initialized_ = True
        _prepare_for_scoring(net)
        module = net.module_
        expected = module.state_dict()
        _check_all_in_state(module, expected, where)
        unknown = sorted(set(state) - set(expected))
        missing = sorted(set(expected) - set(state))
        if unknown or missing:
            raise self.error(where, f"the networks' state does not match {type(estimator).__name__}'s architecture:"
                                    f" unknown entries {unknown[:10]}, missing entries {missing[:10]}.")
        loaded = {}
        for key, reference in expected.items():
            value = self.tensor(state[key], f"{where}.state[{key!r}]")
            if value.shape != reference.shape or value.dtype != reference.dtype:
                raise self.error(f"{where}.state[{key!r}]",
                                 f"tensor of shape {tuple(value.shape)} and dtype {value.dtype}, but the architecture "
                                 f"needs shape {tuple(reference.shape)} and dtype {reference.dtype}.")
            loaded[key] = value
        module.to_empty(device=self.device)
        module.load_state_dict(loaded, strict=True)
        module.eval()
        net.device = str(self.device)
        return net

    def value(self, node, where):
        if node is None or isinstance(node, (bool, str)):
            return node
        if isinstance(node, int):
            return node
        if isinstance(node, float):
            return node
        if isinstance(node, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise self.error(where, "expected a value with a 'type' entry.")
        kind = node["type"]
        if kind == "float":
            _expect_keys(node, where, ("type", "value"))
            if node["value"] not in ("nan", "inf", "-inf"):
                raise self.error(where, f"unknown float {node['value']!r}.")
            return float(node["value"])
        if kind == "numpy_scalar":
            _expect_keys(node, where, ("type", "dtype", "value"))
            dtype = self.dtype(node["dtype"], where)
            return dtype.type(self.value(node["value"], where))
        if kind == "tuple":
            _expect_keys(node, where, ("type", "items"))
            if not isinstance(node["items"], list):
                raise self.error(where, "tuple items must be a list.")
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(node["items"]))
        if kind in ("dict", "bunch"):
            _expect_keys(node, where, ("type", "items"))
            if not isinstance(node["items"], dict):
                raise self.error(where, "dict items must be an object.")
            items = {k: self.value(v, f"{where}[{k!r}]") for k, v in node["items"].items()}
            return items if kind == "dict" else Bunch(**items)
        if kind == "estimator_ref":
            _expect_keys(node, where, ("type", "path"))
            if node["path"] not in self.estimators:
                raise self.error(where, f"reference to {node['path']!r}, which is no estimator read before it.")
            return self.estimators[node["path"]]
        if kind == "ndarray":
            return self.array(node, where)
        if kind == "tensor":
            _expect_keys(node, where, ("type", "tensor", "dtype"))
            return self.tensor(node["tensor"], where).to(self.device)
        if kind == "device":
            _expect_keys(node, where, ("type", "value"))
            try:
                return torch.device(str(node["value"]))
            except (RuntimeError, TypeError) as exc:
                raise self.error(where, f"invalid device {node['value']!r}.") from exc
        if kind == "dataframe":
            return self.frame(node, where)
        if kind == "random_state":
            _expect_keys(node, where, ("type", "kind", "keys", "pos", "has_gauss", "cached_gaussian"))
            state = np.random.RandomState()
            try:
                keys = node["keys"]
                if not isinstance(keys, list) or not all(isinstance(k, int) and 0 <= k < 2**32 for k in keys):
                    raise ValueError("keys must be a list of 32-bit unsigned ints")
                state.set_state((str(node["kind"]), np.array(keys, dtype=np.uint32), int(node["pos"]),
                                 int(node["has_gauss"]), float(node["cached_gaussian"])))
            except (ValueError, TypeError, OverflowError) as exc:
                raise self.error(where, f"invalid random state: {exc}") from exc
            return state
        if kind == "divergence":
            from .divergences import DIVERGENCES, get_divergence

            _expect_keys(node, where, ("type", "name", "params"))
            if node["name"] not in DIVERGENCES or not isinstance(node["params"], dict):
                raise self.error(where, f"unknown divergence {node['name']!r}.")
            params = {k: self.value(v, f"{where}.{k}") for k, v in node["params"].items()}
            try:
                divergence = get_divergence(node["name"])
                if params:
                    divergence = get_divergence(node["name"], **params)
            except (ValueError, TypeError) as exc:
                raise self.error(where, f"invalid divergence parameters: {exc}") from exc
            if vars(divergence) != params:
                raise self.error(where, f"divergence {node['name']!r} does not take the parameters {params}.")
            return divergence
        if kind == "estimator":
            return self.estimator(node, where)
        raise self.error(where, f"unknown value type {kind!r}.")

    def dtype(self, name, where):
        try:
            dtype = np.dtype(name)
        except TypeError as exc:
            raise self.error(where, f"unknown dtype {name!r}.") from exc
        if dtype.kind not in "biufUS" and name != "object":
            raise self.error(where, f"dtype {name!r} is not allowed.")
        return dtype

    def array(self, node, where):
        _expect_keys(node, where, ("type", "dtype", "shape"), ("items", "tensor"))
        shape = node["shape"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise self.error(where, f"invalid shape {shape!r}.")
        if ("items" in node) == ("tensor" in node):
            raise self.error(where, "an array holds either 'items' or 'tensor'.")
        if "items" in node:
            items = node["items"]
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise self.error(where, "string array items must be strings.")
            if len(items) != math.prod(shape):
                raise self.error(where, f"{len(items)} items for shape {shape}.")
            dtype = object if node["dtype"] == "object" else self.dtype(node["dtype"], where)
            if dtype is not object and dtype.kind not in "US":
                raise self.error(where, f"items given for a {dtype} array.")
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.astype(dtype).reshape(shape)
        dtype = self.dtype(node["dtype"], where)
        value = self.tensor(node["tensor"], where)
        if value.dtype != _TORCH_DTYPES.get(dtype.name) or list(value.shape) != shape:
            raise self.error(where, f"tensor {node['tensor']!r} has dtype {value.dtype} and shape "
                                    f"{list(value.shape)}, expected {dtype} and {shape}.")
        return value.numpy().copy()

    def frame(self, node, where):
        _expect_keys(node, where, ("type", "columns", "data", "index"))
        columns, data = node["columns"], node["data"]
        if (not isinstance(columns, list) or not isinstance(data, list) or len(columns) != len(data)
                or not all(isinstance(c, str) for c in columns)):
            raise self.error(where, "columns and data must be lists of the same length.")
        arrays = [self.value(d, f"{where}.{c}") for c, d in zip(columns, data)]
        if not all(isinstance(a, np.ndarray) and a.ndim == 1 for a in arrays):
            raise self.error(where, "every column must be a 1-D array.")
        index_node = node["index"]
        if not isinstance(index_node, dict):
            raise self.error(f"{where}.index", "expected an object.")
        if index_node.get("type") == "range_index":
            _expect_keys(index_node, f"{where}.index", ("type", "start", "stop", "step", "name"))
            try:
                index = pd.RangeIndex(int(index_node["start"]), int(index_node["stop"]), int(index_node["step"]))
            except (TypeError, ValueError) as exc:
                raise self.error(f"{where}.index", f"invalid range: {exc}") from exc
        else:
            _expect_keys(index_node, f"{where}.index", ("type", "values", "name"))
            if index_node["type"] != "index":
                raise self.error(f"{where}.index", f"unknown index type {index_node['type']!r}.")
            index = pd.Index(self.value(index_node["values"], f"{where}.index"))
        name = index_node["name"]
        if name is not None and not isinstance(name, str):
            raise self.error(f"{where}.index.name", "must be a string or null.")
        index.name = name
        if any(len(a) != len(index) for a in arrays):
            raise self.error(where, "columns and index differ in length.")
        return pd.DataFrame(dict(zip(columns, arrays)), index=index, columns=columns)


def load(path, *, device=None):
    """Load an estimator saved by :func:`save`, running no code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks. ``None``: the device the model was saved from when this machine has it
        (a CUDA model stays on CUDA), otherwise the CPU. ``device_`` names the device used.

    Returns
    -------
    estimator : fitted detector or ensemble
        Scores bitwise equal to those of the saved estimator on the same device.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ModelFormatError
        If the file is not a skanomaly model file, was written by a newer format version, or anything in it is
        unknown, missing, inconsistent or damaged (the message names the entry). Nothing from such a file is
        executed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    path = Path(path)
    text, weights = _read_archive(path)
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} is not valid JSON ({exc}).") from exc
    _expect_keys(document, f"{path}: {MODEL_MEMBER}", ("format", "format_version", "versions", "weights",
                                                       "estimator"))
    if document["format"] != FORMAT_NAME:
        raise ModelFormatError(f"{path}: format {document['format']!r} is not {FORMAT_NAME!r}.")
    version = document["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFormatError(f"{path}: invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        written_by = (document["versions"] or {}).get("skanomaly", "?") if isinstance(document["versions"], dict) \
            else "?"
        raise ModelFormatError(
            f"{path} uses format version {version} (written by skanomaly {written_by}); this skanomaly reads "
            f"versions up to {FORMAT_VERSION}. Upgrade skanomaly to load it."
        )
    if not isinstance(document["versions"], dict):
        raise ModelFormatError(f"{path}: 'versions' must be an object.")
    _expect_keys(document["weights"], f"{path}: weights", ("member", "sha256", "stored_as_float32"))
    if document["weights"]["member"] != WEIGHTS_MEMBER:
        raise ModelFormatError(f"{path}: weights member must be {WEIGHTS_MEMBER!r}.")
    digest = hashlib.sha256(weights).hexdigest()
    if digest != document["weights"]["sha256"]:
        raise ModelFormatError(
            f"{path}: {WEIGHTS_MEMBER} does not match the SHA-256 recorded in {MODEL_MEMBER}: the weights were "
            "altered or damaged."
        )
    narrowed = document["weights"]["stored_as_float32"]
    if not isinstance(narrowed, list) or not all(isinstance(k, str) for k in narrowed):
        raise ModelFormatError(f"{path}: weights.stored_as_float32 must be a list of names.")
    try:
        tensors = load_tensors(weights)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelFormatError(f"{path}: {WEIGHTS_MEMBER} is not a valid safetensors file ({exc}).") from exc
    target = _resolve_load_device(device, document["estimator"])
    reader = _Reader(path, tensors, set(narrowed), target)
    try:
        estimator = reader.estimator(document["estimator"], "estimator")
    except RecursionError as exc:
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} is nested too deeply.") from exc
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise ModelFormatError(f"{path}: {WEIGHTS_MEMBER} holds tensors no entry uses: {unused[:10]}.")
    return estimator


def _saved_device(tree):
    """The ``device_`` recorded at the top of the estimator tree (or of its first member), if any."""
    stack = [tree]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            attributes = (node.get("fitted") or {}).get("attributes") if node.get("type") == "estimator" else None
            if isinstance(attributes, dict):
                value = attributes.get("device_")
                if isinstance(value, dict) and value.get("type") == "device":
                    return str(value.get("value"))
                stack.extend(attributes.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def _resolve_load_device(device, tree):
    if device is not None:
        from .utils import resolve_device

        return resolve_device(device)
    saved = _saved_device(tree)
    try:
        saved = torch.device(saved) if saved is not None else torch.device("cpu")
    except (RuntimeError, TypeError):
        saved = torch.device("cpu")
    if saved.type == "cuda" and torch.cuda.is_available() and (saved.index or 0) < torch.cuda.device_count():
        return saved
    return torch.device("cpu")
