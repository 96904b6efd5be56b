"""A safe, portable, versioned file format for fitted skanomaly detectors.

:func:`save` writes one file: a zip archive holding exactly three members, stored uncompressed,

- ``manifest.json``: the format name and version, and the size and SHA-256 of each of the two other members;
  the SHA-256 of ``manifest.json`` itself is the archive's comment;
- ``model.json``: the format name and version, the versions of skanomaly, torch, scikit-learn, NumPy and
  Python that wrote it, the estimator's class and constructor parameters, and its fitted attributes that are
  not tensors (``offset_``, ``n_features_in_``, ``feature_names_in_``, ``image_shape_``, score statistics, the
  ``history_`` table, ...), each tagged with its type;
- ``weights.safetensors``: every tensor (network weights and buffers, numeric arrays and table columns) in the
  `safetensors <https://huggingface.co/docs/safetensors>`_ format.

:func:`load` executes nothing it reads: no pickle, no ``torch.load``, no ``eval``, no import by a name found in
the file. It reads the archive's structure itself and refuses anything :func:`save` never writes (compressed or
encrypted members, other or repeated member names, data before, between or after the members, sizes that
disagree or exceed fixed bounds) before reading a member, and reads no more bytes than a member declares. Every
member is checked against its digest before any is interpreted. Classes come from a fixed list of skanomaly
estimators; the networks are rebuilt from the constructor parameters and fitted shapes by the detector's
``_build_networks`` (which builds them as ``fit`` does), first on torch's ``meta`` device (no memory, no random
numbers), then their state is checked key by key and shape by shape against the file before any value is copied.
Any entry that is unknown, missing, of the wrong type or shape, a member added to the archive, or a digest that
does not match raises :class:`ModelFormatError` naming the entry.

The digests detect damage and the edit of a member that does not also update them; they are no signature:
whoever can write the file can recompute them. Pass ``sha256=`` to :func:`load` to check the whole file against a
digest received over a trusted channel.

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
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils import Bunch

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFormatError", "load", "save"]

#: Name recorded in every file (``manifest.json["format"]`` and ``model.json["format"]``).
FORMAT_NAME = "skanomaly-model"
#: Version of the file layout written by :func:`save`; :func:`load` reads this version and version 1 (whose
#: digest covers the weights only) and refuses newer ones.
FORMAT_VERSION = 2

MANIFEST_MEMBER = "manifest.json"
MODEL_MEMBER = "model.json"
WEIGHTS_MEMBER = "weights.safetensors"
# The members of a file of each format version, in the order save writes them.
_LAYOUTS = {1: (MODEL_MEMBER, WEIGHTS_MEMBER), 2: (MANIFEST_MEMBER, MODEL_MEMBER, WEIGHTS_MEMBER)}
# The largest size of each member: save refuses to write a larger one, load to read it.
_MAX_MEMBER_BYTES = {MANIFEST_MEMBER: 64 * 2**10, MODEL_MEMBER: 16 * 2**20, WEIGHTS_MEMBER: 64 * 2**30}
_MAX_SAFETENSORS_HEADER_BYTES = 16 * 2**20
# An archive that declares more members, or a larger central directory, is refused from its end record alone.
_MAX_ENTRIES = 16
_MAX_CENTRAL_DIRECTORY_BYTES = 16 * 2**10
# The archive comment of a format-2 file: this prefix, then the SHA-256 of manifest.json in lowercase hex.
_COMMENT_PREFIX = b"skanomaly-model manifest.json sha256:"

# The ZIP records load reads (PKWARE APPNOTE 4.3): local file header, central directory header, end of
# central directory record, and the zip64 end record and its locator.
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3I5H2I")
_END_RECORD = struct.Struct("<4s4H2IH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_END_RECORD = struct.Struct("<4sQ2H2I4Q")
_UTF8_NAMES_FLAG = 0x800

# The safetensors dtypes of the tensors save writes, with their sizes in bytes.
_SAFETENSORS_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "F16": 2, "BF16": 2, "F32": 4,
                         "F64": 8}

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
    """Classes :func:`load` may create, by name: the detectors, ensembles and calibrated detectors of skanomaly,
    nothing else."""
    from . import calibration, detectors, ensemble
    from .base import BaseDetector

    classes = {}
    for module in (detectors, ensemble, calibration):
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
        If the estimator, or a parameter or fitted attribute of it, is of a type the format cannot hold, or its
        description (``model.json``) would exceed 16 MiB or its tensors 64 GiB.

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
        "weights": {"member": WEIGHTS_MEMBER, "stored_as_float32": sorted(writer.narrowed)},
        "estimator": tree,
    }
    text = json.dumps(document, indent=1, allow_nan=False, sort_keys=False).encode("utf-8")
    contents = {MODEL_MEMBER: text, WEIGHTS_MEMBER: weights}
    for name, data in contents.items():
        if len(data) > _MAX_MEMBER_BYTES[name]:
            raise ModelFormatError(f"{name} would take {len(data)} bytes, more than the {_MAX_MEMBER_BYTES[name]} "
                                   f"bytes that load reads; the estimator is too large for the safe format.")
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "members": [{"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                    for name, data in contents.items()],
    }
    manifest_bytes = json.dumps(manifest, indent=1).encode("utf-8")
    path = Path(path)
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False) as fh:
            tmp = fh.name
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.comment = _COMMENT_PREFIX + hashlib.sha256(manifest_bytes).hexdigest().encode("ascii")
                archive.writestr(MANIFEST_MEMBER, manifest_bytes)
                for name, data in contents.items():
                    archive.writestr(name, data)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------------------------------- loading
class _Entry:
    """One member as the central directory declares it."""

    __slots__ = ("name", "raw_name", "flags", "method", "crc", "size", "stored_size", "offset", "comment_length",
                 "disk")

    def __init__(self, **values):
        for key, value in values.items():
            setattr(self, key, value)


class _Archive:
    """The members of a model file, read from the exact zip layout :func:`save` writes.

    Nothing is decompressed, and no read is larger than the file or a member's declared size: every structure
    is checked against the file's size and the bounds of the format before the bytes it declares are read.
    """

    def __init__(self, path, file, size):
        self.path = path
        self.file = file
        self.size = size

    def error(self, message):
        return ModelFormatError(f"{self.path}: {message}")

    def not_a_model(self, reason):
        return ModelFormatError(f"{self.path} is not a skanomaly model file ({reason}).")

    def read_at(self, offset, length):
        self.file.seek(offset)
        data = self.file.read(length)
        if len(data) != length:
            raise self.not_a_model(f"{length} bytes expected at byte {offset}, the file ends before")
        return data

    def read(self):
        """``(version, {name: bytes}, comment)``: the layout's format version, the members and the archive comment."""
        end, comment, cd_offset, cd_size, count = self.end_record()
        if count > _MAX_ENTRIES:
            raise self.error(f"the archive declares {count} members; a skanomaly model file holds "
                             f"{len(_LAYOUTS[FORMAT_VERSION])} (format version 1: {len(_LAYOUTS[1])}). It was not "
                             "read further.")
        if cd_size > _MAX_CENTRAL_DIRECTORY_BYTES or cd_offset + cd_size != end:
            raise self.not_a_model(f"its central directory of {cd_size} bytes at byte {cd_offset} does not end where "
                                   f"its end record starts (byte {end})")
        entries = self.central_directory(cd_offset, cd_size, count)
        names = [entry.name for entry in entries]
        version = next((v for v, layout in _LAYOUTS.items() if tuple(names) == layout), None)
        if version is None:
            raise self.layout_error(names, entries, comment, cd_offset)
        position = 0
        spans = []
        for entry in entries:  # every header is checked before any member is read
            start = self.local_header(entry, position, cd_offset)
            spans.append((entry, start))
            position = start + entry.size
        if position != cd_offset:
            raise self.error(f"{cd_offset - position} bytes lie between the last member and the central directory, "
                             "where save writes none: the file was altered. It was not read further.")
        return version, {entry.name: self.member(entry, start) for entry, start in spans}, comment

    def end_record(self):
        """``(start, comment, central directory offset, central directory size, member count)``."""
        if self.size < _END_RECORD.size:
            raise self.not_a_model(f"{self.size} bytes, too few for a zip archive")
        tail_start = max(0, self.size - _END_RECORD.size - 0xFFFF)
        tail = self.read_at(tail_start, self.size - tail_start)
        position = len(tail) - _END_RECORD.size
        while position >= 0:
            position = tail.rfind(b"PK\x05\x06", 0, position + 4)
            if position < 0:
                break
            record = _END_RECORD.unpack_from(tail, position)
            if position + _END_RECORD.size + record[7] == len(tail):
                break
            position -= 1
        if position < 0:
            raise self.not_a_model("no zip end record: not a zip archive, or a truncated one")
        _, disk, cd_disk, count_here, count, cd_size, cd_offset, _ = record
        start = tail_start + position
        comment = tail[position + _END_RECORD.size:]
        if disk != 0 or cd_disk != 0 or count_here != count:
            raise self.not_a_model("a zip archive split over several disks")
        locator_start = start - _ZIP64_LOCATOR.size
        if locator_start >= 0:
            locator = _ZIP64_LOCATOR.unpack(self.read_at(locator_start, _ZIP64_LOCATOR.size))
            if locator[0] == b"PK\x06\x07":
                record_start = locator_start - _ZIP64_END_RECORD.size
                if locator[1] != 0 or locator[3] != 1 or locator[2] != record_start or record_start < 0:
                    raise self.not_a_model("its zip64 end record is not where its locator points")
                record64 = _ZIP64_END_RECORD.unpack(self.read_at(record_start, _ZIP64_END_RECORD.size))
                signature, length, _, _, disk, cd_disk, count_here, count64, cd_size64, cd_offset64 = record64
                if signature != b"PK\x06\x06" or length != _ZIP64_END_RECORD.size - 12 or disk != 0 or cd_disk != 0 \
                        or count_here != count64:
                    raise self.not_a_model("its zip64 end record is damaged or split over several disks")
                for short, wide, sentinel in ((count, count64, 0xFFFF), (cd_size, cd_size64, 0xFFFFFFFF),
                                              (cd_offset, cd_offset64, 0xFFFFFFFF)):
                    if short not in (wide, sentinel):
                        raise self.not_a_model("its end record and its zip64 end record disagree")
                return record_start, comment, cd_offset64, cd_size64, count64
        return start, comment, cd_offset, cd_size, count

    def central_directory(self, start, size, count):
        data = self.read_at(start, size)
        entries = []
        position = 0
        for _ in range(count):
            if position + _CENTRAL_HEADER.size > size:
                raise self.not_a_model("its central directory is shorter than the members it declares")
            (signature, _, _, flags, method, _, _, crc, stored_size, member_size, name_length, extra_length,
             comment_length, disk, _, _, offset) = _CENTRAL_HEADER.unpack_from(data, position)
            if signature != b"PK\x01\x02":
                raise self.not_a_model(f"a damaged central directory entry at byte {start + position}")
            position += _CENTRAL_HEADER.size
            raw_name = data[position:position + name_length]
            extra = data[position + name_length:position + name_length + extra_length]
            position += name_length + extra_length + comment_length
            if position > size:
                raise self.not_a_model("its central directory is shorter than the members it declares")
            name = raw_name.decode("utf-8" if flags & _UTF8_NAMES_FLAG else "cp437", errors="replace")
            member_size, stored_size, offset = self.zip64_values(extra, (member_size, stored_size, offset), name)
            entries.append(_Entry(name=name, raw_name=raw_name, flags=flags, method=method, crc=crc,
                                  size=member_size, stored_size=stored_size, offset=offset,
                                  comment_length=comment_length, disk=disk))
        if position != size:
            raise self.not_a_model(f"its central directory holds {size - position} bytes after its last entry")
        return entries

    def zip64_values(self, extra, values, name):
        """The 32-bit fields ``values`` with each 0xFFFFFFFF replaced by its value in the zip64 extra field."""
        wide = None
        position = 0
        while position < len(extra):
            if position + 4 > len(extra):
                raise self.error(f"member {name!r} has a damaged extra field.")
            tag, length = struct.unpack_from("<HH", extra, position)
            if tag != 0x0001 or wide is not None or position + 4 + length > len(extra):
                raise self.error(f"member {name!r} has an extra field (id 0x{tag:04x}) that save never writes: the "
                                 "file was altered. It was not read further.")
            wide = extra[position + 4:position + 4 + length]
            position += 4 + length
        needed = [i for i, value in enumerate(values) if value == 0xFFFFFFFF]
        if wide is None:
            return values
        if len(wide) != 8 * len(needed):
            raise self.error(f"member {name!r} has a zip64 extra field of {len(wide)} bytes for {len(needed)} "
                             "64-bit values: the file was altered or damaged.")
        values = list(values)
        for k, i in enumerate(needed):
            values[i] = struct.unpack_from("<Q", wide, 8 * k)[0]
        return tuple(values)

    def layout_error(self, names, entries, comment, cd_offset):
        """The error for an archive whose members are not those of a format version this skanomaly reads."""
        if names and names[0] == MANIFEST_MEMBER:
            # A file of a newer format version may hold other members: its manifest says which version it is.
            try:
                start = self.local_header(entries[0], 0, cd_offset)
                manifest = _manifest_document(self.path, self.member(entries[0], start), comment)
            except ModelFormatError:
                manifest = None
            if manifest is not None:
                _check_format(self.path, manifest, MANIFEST_MEMBER)
        known = set().union(*_LAYOUTS.values())
        expected = _LAYOUTS[FORMAT_VERSION] if MANIFEST_MEMBER in names else _LAYOUTS[1]
        unexpected = sorted({name for name in names if name not in known})
        if unexpected:
            return ModelFormatError(
                f"{self.path} holds unexpected member(s) {unexpected}: a skanomaly model file holds exactly "
                f"{list(_LAYOUTS[FORMAT_VERSION])} (format version 1: {list(_LAYOUTS[1])}). The file was altered; "
                "it was not read further and nothing in it was run."
            )
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            return ModelFormatError(f"{self.path} holds the member(s) {repeated} more than once: the file was "
                                    "altered. It was not read further.")
        missing = [name for name in expected if name not in names]
        if missing:
            return ModelFormatError(f"{self.path} lacks the member(s) {missing}; it is not a complete skanomaly "
                                    "model file.")
        return ModelFormatError(f"{self.path} holds its members in the order {names}, not {list(expected)} as save "
                                "writes them: the file was altered. It was not read further.")

    def local_header(self, entry, position, limit):
        """Check ``entry`` and its local header at ``position``; return where its data starts."""
        name = entry.name
        if entry.flags & ~_UTF8_NAMES_FLAG:
            raise self.error(f"member {name} has flags 0x{entry.flags:04x} (encryption or a data descriptor), "
                             "which save never writes: the file was altered. It was not read further.")
        if entry.method != zipfile.ZIP_STORED:
            raise self.error(f"member {name} is compressed (method {entry.method}); save stores every member "
                             "uncompressed, so the file was altered or not written by skanomaly.io.save. It was "
                             "refused without being decompressed.")
        if entry.stored_size != entry.size:
            raise self.error(f"member {name} declares {entry.stored_size} stored bytes for {entry.size} bytes of "
                             "content; an uncompressed member has one size. It was not read.")
        if entry.size > _MAX_MEMBER_BYTES[name]:
            raise self.error(f"member {name} declares {entry.size} bytes, more than the {_MAX_MEMBER_BYTES[name]} "
                             f"bytes that a model file's {name} may hold. It was not read.")
        if entry.comment_length or entry.disk:
            raise self.error(f"member {name} has a comment or lies on another disk, which save never writes.")
        if entry.offset != position:
            raise self.error(f"member {name} starts at byte {entry.offset}, not at byte {position} where save "
                             "writes it: the archive holds data before, between or over its members. It was not "
                             "read further.")
        if position + _LOCAL_HEADER.size > limit:
            raise self.error(f"member {name} lies past the start of the central directory.")
        (signature, _, flags, method, _, _, crc, stored_size, member_size, name_length,
         extra_length) = _LOCAL_HEADER.unpack(self.read_at(position, _LOCAL_HEADER.size))
        start = position + _LOCAL_HEADER.size + name_length + extra_length
        if signature != b"PK\x03\x04" or start > limit:
            raise self.error(f"the local header of member {name} is damaged.")
        tail = self.read_at(position + _LOCAL_HEADER.size, name_length + extra_length)
        member_size, stored_size = self.zip64_values(tail[name_length:], (member_size, stored_size), name)
        if tail[:name_length] != entry.raw_name:
            raise self.error(f"the local header of member {name} names {tail[:name_length]!r}: the file was "
                             "altered. It was not read further.")
        if (flags, method, crc) != (entry.flags, entry.method, entry.crc):
            raise self.error(f"the local header of member {name} disagrees with the central directory on its flags, "
                             "compression or CRC-32: the file was altered. It was not read further.")
        if (member_size, stored_size) != (entry.size, entry.stored_size):
            raise self.error(f"the local header of member {name} declares {member_size} bytes, the central "
                             f"directory {entry.size}: the sizes disagree, so the file was altered. It was not read "
                             "further.")
        if start + entry.size > limit:
            raise self.error(f"member {name} declares {entry.size} bytes, which run past the start of the central "
                             "directory: the file was altered or truncated. It was not read.")
        return start

    def member(self, entry, start):
        data = self.read_at(start, entry.size)
        if zlib.crc32(data) != entry.crc:
            raise self.error(f"member {entry.name} is damaged (its CRC-32 does not match).")
        return data


def _read_archive(path):
    """``(version, {name: bytes}, comment)`` of a model file; every check names the file."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ModelFormatError(f"{path} cannot be read ({exc}).") from exc
    with file:
        try:
            return _Archive(path, file, os.fstat(file.fileno()).st_size).read()
        except OSError as exc:
            raise ModelFormatError(f"{path} cannot be read ({exc}).") from exc


def _parse_json(path, data, member):
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: {member} is not valid JSON ({exc}).") from exc


def _manifest_document(path, data, comment):
    """``manifest.json`` as a dict, once its SHA-256 matches the archive comment; its entries are not checked."""
    match = re.fullmatch(re.escape(_COMMENT_PREFIX) + rb"([0-9a-f]{64})", comment)
    if match is None:
        raise ModelFormatError(f"{path}: the archive comment is not the SHA-256 of {MANIFEST_MEMBER} that save writes "
                               "there: the file was altered or damaged. It was not read further.")
    if hashlib.sha256(data).hexdigest() != match.group(1).decode("ascii"):
        raise ModelFormatError(f"{path}: {MANIFEST_MEMBER} does not match the SHA-256 in the archive comment: it was "
                               "altered or damaged. It was not read further.")
    document = _parse_json(path, data, MANIFEST_MEMBER)
    if not isinstance(document, dict):
        raise ModelFormatError(f"{path}: {MANIFEST_MEMBER} is not a JSON object.")
    return document


def _check_format(path, document, member):
    """The format version of ``document`` (a member's JSON object); refuses other formats and newer versions."""
    if "format" not in document or "format_version" not in document:
        raise ModelFormatError(f"{path}: {member} lacks its 'format' or 'format_version' entry.")
    if document["format"] != FORMAT_NAME:
        raise ModelFormatError(f"{path}: {member}: format {document['format']!r} is not {FORMAT_NAME!r}.")
    version = document["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFormatError(f"{path}: {member}: invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        versions = document.get("versions")
        written_by = versions.get("skanomaly") if isinstance(versions, dict) else None
        written_by = f" (written by skanomaly {written_by})" if isinstance(written_by, str) else ""
        raise ModelFormatError(
            f"{path} uses format version {version}{written_by}; this skanomaly reads versions up to "
            f"{FORMAT_VERSION}. Upgrade skanomaly to load it."
        )
    return version


def _check_digests(path, members, comment):
    """Check a format-2 file's manifest against the archive comment and every member against the manifest."""
    manifest = _manifest_document(path, members[MANIFEST_MEMBER], comment)
    version = _check_format(path, manifest, MANIFEST_MEMBER)
    _expect_keys(manifest, f"{path}: {MANIFEST_MEMBER}", ("format", "format_version", "members"))
    if _LAYOUTS.get(version) != tuple(members):
        raise ModelFormatError(f"{path}: {MANIFEST_MEMBER} says format version {version}, whose files hold "
                               f"{list(_LAYOUTS.get(version, ()))}; this file holds {list(members)}.")
    listed = manifest["members"]
    others = [name for name in members if name != MANIFEST_MEMBER]
    if not isinstance(listed, list) or len(listed) != len(others):
        raise ModelFormatError(f"{path}: {MANIFEST_MEMBER} must list the members {others}.")
    for name, item in zip(others, listed):
        _expect_keys(item, f"{path}: {MANIFEST_MEMBER} entry of {name}", ("name", "size", "sha256"))
        if item["name"] != name:
            raise ModelFormatError(f"{path}: {MANIFEST_MEMBER} lists {item['name']!r} where {name!r} is expected.")
        if item["size"] != len(members[name]) or item["sha256"] != hashlib.sha256(members[name]).hexdigest():
            raise ModelFormatError(
                f"{path}: {name} does not match the size and SHA-256 recorded in {MANIFEST_MEMBER}: the member was "
                "altered or damaged. It was not read further."
            )
    return version


def _check_safetensors(path, weights):
    """Check the header of a safetensors buffer before safetensors reads it.

    Its length must fit in the member, and its entries must describe tensors of the dtypes save writes that
    tile the data section exactly, so that no size computed from the file exceeds the file.
    """
    where = f"{path}: {WEIGHTS_MEMBER} is not a valid safetensors file"
    if len(weights) < 8:
        raise ModelFormatError(f"{where}: it holds {len(weights)} bytes, fewer than the 8 of its header length.")
    length = int.from_bytes(weights[:8], "little")
    if length > len(weights) - 8 or length > _MAX_SAFETENSORS_HEADER_BYTES:
        raise ModelFormatError(f"{where}: it declares a header of {length} bytes, but {len(weights) - 8} bytes "
                               f"follow and a header may take at most {_MAX_SAFETENSORS_HEADER_BYTES}.")
    header = _parse_json(path, weights[8:8 + length], f"the header of {WEIGHTS_MEMBER}")
    if not isinstance(header, dict):
        raise ModelFormatError(f"{where}: its header is not a JSON object.")
    data_size = len(weights) - 8 - length
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise ModelFormatError(f"{where}: its metadata must map strings to strings.")
            continue
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFormatError(f"{where}: tensor {name!r} needs exactly a dtype, a shape and data_offsets.")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS_ITEMSIZE:
            raise ModelFormatError(f"{where}: tensor {name!r} has dtype {dtype!r}, which save never writes.")
        if not isinstance(shape, list) or not all(_is_count(s) for s in shape):
            raise ModelFormatError(f"{where}: tensor {name!r} has an invalid shape {shape!r}.")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets)
                or not offsets[0] <= offsets[1] <= data_size):
            raise ModelFormatError(f"{where}: tensor {name!r} has data offsets {offsets!r} outside the "
                                   f"{data_size} bytes of data.")
        if offsets[1] - offsets[0] != math.prod(shape) * _SAFETENSORS_ITEMSIZE[dtype]:
            raise ModelFormatError(f"{where}: tensor {name!r} of shape {shape} and dtype {dtype} does not take the "
                                   f"{offsets[1] - offsets[0]} bytes its offsets give.")
        spans.append((offsets[0], offsets[1], name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise ModelFormatError(f"{where}: tensor {name!r} starts at byte {begin} of the data, not {position}: "
                                   "the tensors overlap or leave gaps.")
        position = end
    if position != data_size:
        raise ModelFormatError(f"{where}: its tensors take {position} of its {data_size} bytes of data.")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_file_digest(path, expected):
    """Refuse the file unless its SHA-256 is ``expected`` (hex), before anything in it is read."""
    if not isinstance(expected, str) or re.fullmatch("[0-9a-fA-F]{64}", expected) is None:
        raise ValueError(f"sha256 must be the 64 hexadecimal digits of a SHA-256 digest, got {expected!r}.")
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(2**20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ModelFormatError(f"{path} cannot be read ({exc}).") from exc
    if digest.hexdigest() != expected.lower():
        raise ModelFormatError(f"{path}: its SHA-256 is {digest.hexdigest()}, not the expected {expected.lower()}: it "
                               "is not the file that digest was given for. It was not read further.")


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


# Parameters added to the estimators in a format version, with the value that reproduces how the estimators of
# older files behaved: files of an older version get it when they lack the parameter.
_PARAMETERS_ADDED = {
    2: {"n_threads": None},  # before, fits and scores ran on torch's own thread count
}


def _parameters_added_since(version, missing):
    """``{name: value}`` of the ``missing`` parameters that a file of format ``version`` predates."""
    return {name: value for added_in, added in _PARAMETERS_ADDED.items() if version < added_in
            for name, value in added.items() if name in missing}


class _Reader:
    """Decodes the JSON tree written by :class:`_Writer`, with the tensors of the file."""

    def __init__(self, source, tensors, narrowed, device, version=FORMAT_VERSION):
        self.source = source
        self.version = version
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
        params = {**_parameters_added_since(self.version, expected - set(params)), **params}
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


def load(path, *, device=None, sha256=None):
    """Load an estimator saved by :func:`save`, running no code from the file.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`save`.
    device : str, torch.device or None, default=None
        Where to put the networks. ``None``: the device the model was saved from when this machine has it
        (a CUDA model stays on CUDA), otherwise the CPU. ``device_`` names the device used.
    sha256 : str or None, default=None
        The SHA-256 of the whole file (64 hexadecimal digits, as ``sha256sum`` prints it), received over a channel
        you trust. When given, a file with another digest is refused before anything in it is read. The
        digests inside the file detect damage, not deliberate edits: this is the check that ties a file from
        elsewhere to the one its author meant.

    Returns
    -------
    estimator : fitted detector or ensemble
        Scores bitwise equal to those of the saved estimator on the same device.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ModelFormatError
        If the file is not a skanomaly model file, was written by a newer format version, does not match
        ``sha256``, or anything in it is unknown, missing, inconsistent or damaged (the message names the
        entry). Nothing from such a file is executed.
    ValueError
        If ``sha256`` is not 64 hexadecimal digits.

    Warns
    -----
    UserWarning
        When the file is of format version 1, whose digest covers the weights only; :func:`save` it again to
        write the current version.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    path = Path(path)
    if sha256 is not None:
        _check_file_digest(path, sha256)
    layout, members, comment = _read_archive(path)
    if layout >= 2:
        _check_digests(path, members, comment)
    elif comment:
        raise ModelFormatError(f"{path}: the archive has a comment, which a format-version-1 file never has: the file "
                               "was altered. It was not read further.")
    weights = members[WEIGHTS_MEMBER]
    document = _parse_json(path, members[MODEL_MEMBER], MODEL_MEMBER)
    if not isinstance(document, dict):
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} is not a JSON object.")
    version = _check_format(path, document, MODEL_MEMBER)
    _expect_keys(document, f"{path}: {MODEL_MEMBER}", ("format", "format_version", "versions", "weights",
                                                       "estimator"))
    if version != layout:
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} says format version {version}, but the archive holds the "
                               f"members of version {layout} ({list(_LAYOUTS[layout])}).")
    if not isinstance(document["versions"], dict):
        raise ModelFormatError(f"{path}: 'versions' must be an object.")
    weights_keys = ("member", "sha256", "stored_as_float32") if version == 1 else ("member", "stored_as_float32")
    _expect_keys(document["weights"], f"{path}: weights", weights_keys)
    if document["weights"]["member"] != WEIGHTS_MEMBER:
        raise ModelFormatError(f"{path}: weights member must be {WEIGHTS_MEMBER!r}.")
    if version == 1 and hashlib.sha256(weights).hexdigest() != document["weights"]["sha256"]:
        raise ModelFormatError(
            f"{path}: {WEIGHTS_MEMBER} does not match the SHA-256 recorded in {MODEL_MEMBER}: the weights were "
            "altered or damaged."
        )
    narrowed = document["weights"]["stored_as_float32"]
    if not isinstance(narrowed, list) or not all(isinstance(k, str) for k in narrowed):
        raise ModelFormatError(f"{path}: weights.stored_as_float32 must be a list of names.")
    _check_safetensors(path, weights)
    try:
        tensors = load_tensors(weights)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelFormatError(f"{path}: {WEIGHTS_MEMBER} is not a valid safetensors file ({exc}).") from exc
    del members, weights
    target = _resolve_load_device(device, document["estimator"])
    reader = _Reader(path, tensors, set(narrowed), target, version)
    try:
        estimator = reader.estimator(document["estimator"], "estimator")
    except RecursionError as exc:
        raise ModelFormatError(f"{path}: {MODEL_MEMBER} is nested too deeply.") from exc
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise ModelFormatError(f"{path}: {WEIGHTS_MEMBER} holds tensors no entry uses: {unused[:10]}.")
    if version == 1:
        warnings.warn(
            f"{path} is a format-version-1 file: its digest covers {WEIGHTS_MEMBER} only, so an edit of "
            f"{MODEL_MEMBER} would go undetected. Save the model again with skanomaly.io.save to write format "
            f"version {FORMAT_VERSION}, whose digests cover every member.",
            UserWarning,
            stacklevel=2,
        )
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
