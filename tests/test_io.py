"""The safe model format (skanomaly.io) and lean, device-portable pickles."""

import hashlib
import json
import pickle
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skanomaly import io
from skanomaly.detectors import (
    AMADetector,
    AutoEncoderDetector,
    DeepSVDDDetector,
    MirroredAEDetector,
    OMASGANDetector,
)
from skanomaly.ensemble import SeedEnsembleDetector

TINY = dict(max_epochs=1, random_state=0, device="cpu")
OMASGAN_TINY = dict(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, critic_hidden_layer_sizes=(16,),
                    n_reference=32, random_state=0, device="cpu")

# name -> (factory, input kind); every detector, and settings that change the stored networks.
CASES = {
    "autoencoder": (lambda: AutoEncoderDetector(hidden_layer_sizes=(16, 8), dropout=0.1, **TINY), "rows"),
    "autoencoder_images": (lambda: AutoEncoderDetector(image_shape=(1, 8, 8), base_channels=4, **TINY), "images"),
    "autoencoder_frame": (lambda: AutoEncoderDetector(hidden_layer_sizes=(8,), **TINY), "frame"),
    "ama": (lambda: AMADetector(hidden_layer_sizes=(16,), critic_hidden_layer_sizes=(16,), n_critic=1, **TINY),
            "rows"),
    "ama_spectral_marginal": (lambda: AMADetector(hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8, 8),
                                                  spectral_norm=True, mirrored=False, n_critic=1,
                                                  score_type="feature_l1", **TINY), "rows"),
    "mirrored_ae": (lambda: MirroredAEDetector(hidden_layer_sizes=(16,), critic_hidden_layer_sizes=(16,),
                                               n_critic=1, selection_warmup_epochs=0, **TINY), "rows"),
    "mirrored_ae_bn_spectral": (lambda: MirroredAEDetector(hidden_layer_sizes=(16,), decoder_hidden_layer_sizes=(8,),
                                                           critic_hidden_layer_sizes=(8,), batch_norm=True,
                                                           spectral_norm=True, n_critic=1, **TINY), "rows"),
    "omasgan": (lambda: OMASGANDetector(**OMASGAN_TINY), "rows"),
    "omasgan_task2_trained_critic": (lambda: OMASGANDetector(stop_after="task2", boundary_critic="train",
                                                             **OMASGAN_TINY), "rows"),
    "omasgan_decoder_sizes": (lambda: OMASGANDetector(decoder_hidden_layer_sizes=(8, 24), out_activation="sigmoid",
                                                      **OMASGAN_TINY), "rows"),
    "deep_svdd": (lambda: DeepSVDDDetector(hidden_layer_sizes=(16,), latent_dim=4, **TINY), "rows"),
    "seed_ensemble": (lambda: SeedEnsembleDetector(AutoEncoderDetector(hidden_layer_sizes=(8,), **TINY),
                                                   n_estimators=2, random_state=np.random.RandomState(3)), "rows"),
}


def _data(kind, n=48, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "images":
        return rng.random((n, 64))
    X = rng.normal(size=(n, 5))
    if kind == "frame":
        return pd.DataFrame(X, columns=[f"f{j}" for j in range(5)])
    return X


@pytest.fixture(scope="module")
def fitted_models(tmp_path_factory):
    """Every case fitted once, saved, and scored on fresh rows (the scores of the original objects)."""
    folder = tmp_path_factory.mktemp("models")
    models = {}
    for name, (factory, kind) in CASES.items():
        model = factory().fit(_data(kind))
        path = folder / f"{name}.skan"
        io.save(model, path)
        test = _data(kind, n=37, seed=1)
        np.save(folder / f"{name}.npy", np.asarray(test))
        models[name] = (model, path, test, model.score_samples(test))
    return folder, models


@pytest.fixture(scope="module")
def autoencoder_file(tmp_path_factory):
    """One small fitted autoencoder and its file, for the tests of the format itself."""
    model = CASES["autoencoder"][0]().fit(_data("rows"))
    path = tmp_path_factory.mktemp("autoencoder") / "autoencoder.skan"
    io.save(model, path)
    return model, path


_CHILD = """
import sys, builtins, pickle
import numpy as np
import torch
from pathlib import Path

from skanomaly import io

folder = Path(sys.argv[1])
for name in sys.argv[2:]:  # a first pass imports the modules loading and scoring use (imports run exec)
    io.load(folder / f"{name}.skan").score_samples(np.load(folder / f"{name}.npy", allow_pickle=False))


def forbidden(*args, **kwargs):
    raise AssertionError("skanomaly.io.load must not unpickle or evaluate anything")


pickle.load = pickle.loads = pickle.Unpickler = forbidden
torch.load = forbidden
builtins.eval = builtins.exec = forbidden

for name in sys.argv[2:]:
    model = io.load(folder / f"{name}.skan")
    X = np.load(folder / f"{name}.npy", allow_pickle=False)
    np.save(folder / f"{name}.loaded.npy", model.score_samples(X))
    assert str(model.device_ if hasattr(model, "device_") else "cpu") == "cpu"
"""


def test_round_trip_in_a_fresh_process_is_bitwise_for_every_detector(fitted_models):
    folder, models = fitted_models
    result = subprocess.run([sys.executable, "-c", _CHILD, str(folder), *models], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, (model, _, _, scores) in models.items():
        loaded = np.load(folder / f"{name}.loaded.npy")
        assert loaded.dtype == np.float64
        assert np.array_equal(loaded, scores), name  # bitwise


@pytest.mark.parametrize("name", ["omasgan", "ama", "seed_ensemble", "autoencoder_frame"])
def test_loaded_model_has_the_same_fitted_state(tmp_path, name):
    factory, kind = CASES[name]
    model = factory().fit(_data(kind))
    test = _data(kind, n=37, seed=1)
    io.save(model, tmp_path / "m.skan")
    loaded = io.load(tmp_path / "m.skan")
    assert type(loaded) is type(model)
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    np.testing.assert_array_equal(loaded.decision_function(test), model.decision_function(test))
    np.testing.assert_array_equal(loaded.predict(test), model.predict(test))
    if name == "seed_ensemble":
        np.testing.assert_array_equal(loaded.seeds_, model.seeds_)
        assert loaded.seeds_.dtype == model.seeds_.dtype
        assert loaded.random_state.get_state()[2] == model.random_state.get_state()[2]
        np.testing.assert_array_equal(loaded.random_state.get_state()[1], model.random_state.get_state()[1])
        model, loaded = model.estimators_[0], loaded.estimators_[0]
    pd.testing.assert_frame_equal(loaded.history_, model.history_)
    assert loaded.offset_ == model.offset_ and loaded.n_features_in_ == model.n_features_in_
    assert loaded.get_params() == model.get_params()
    if name == "autoencoder_frame":
        np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    if name == "ama":
        assert (loaded.feature_l1_mean_, loaded.feature_l1_std_) == (model.feature_l1_mean_, model.feature_l1_std_)
        assert loaded.lr_milestones_ == model.lr_milestones_
    if name == "omasgan":
        assert loaded.score_stats_ == model.score_stats_
        assert type(loaded.divergence_) is type(model.divergence_) and vars(loaded.divergence_) == vars(
            model.divergence_)
        # the named networks are the ones inside net_, as after fit
        assert loaded.critic_ is loaded.net_.module_.critic
        assert loaded.anomaly_discriminator_ is loaded.net_.module_.anomaly_discriminator
        np.testing.assert_array_equal(loaded.boundary_samples(5, random_state=1),
                                      model.boundary_samples(5, random_state=1))


def test_file_records_format_and_versions(autoencoder_file):
    import sklearn

    import skanomaly

    model, path = autoencoder_file
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["manifest.json", "model.json", "weights.safetensors"]
        document = json.loads(archive.read("model.json"))
    assert document["format"] == io.FORMAT_NAME and document["format_version"] == io.FORMAT_VERSION
    assert document["versions"]["skanomaly"] == skanomaly.__version__
    assert document["versions"]["torch"] == torch.__version__
    assert document["versions"]["sklearn"] == sklearn.__version__
    assert document["estimator"]["class"] == "AutoEncoderDetector"
    assert document["estimator"]["fitted"]["attributes"]["offset_"] == model.offset_


def test_weights_are_stored_once_and_lean(autoencoder_file):
    """float64 weights whose values are float32 values (training runs in float32) are stored in float32."""
    from safetensors.torch import load as load_tensors

    model, path = autoencoder_file
    with zipfile.ZipFile(path) as archive:
        tensors = load_tensors(archive.read("weights.safetensors"))
    state = model.net_.module_.state_dict()
    weights = {k: v for k, v in tensors.items() if "/" in k}
    assert len(weights) == len(state)
    assert all(v.dtype == torch.float32 for v in weights.values())
    assert path.stat().st_size < sum(v.numel() * 4 for v in state.values()) + 20_000


def test_load_does_not_touch_the_global_random_state(autoencoder_file):
    before = torch.get_rng_state()
    numpy_before = np.random.get_state()[1].copy()
    io.load(autoencoder_file[1])
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_before)


# ------------------------------------------------------------------------------------------- devices
def _fake_cuda(model):
    """Make a CPU model look as if it had been fitted on a GPU (what a CUDA fit records)."""
    members = model.estimators_ if hasattr(model, "estimators_") else [model]
    for member in members:
        member.device_ = torch.device("cuda:0")
        member.net_.device = "cuda:0"
    return model


@pytest.mark.parametrize("name", ["autoencoder", "omasgan", "seed_ensemble"])
def test_model_saved_on_cuda_loads_on_cpu(tmp_path, name):
    factory, kind = CASES[name]
    X = _data(kind)
    model = factory().fit(X)
    scores = model.score_samples(X)
    _fake_cuda(model)
    io.save(model, tmp_path / "m.skan")
    with zipfile.ZipFile(tmp_path / "m.skan") as archive:
        assert '"cuda:0"' in archive.read("model.json").decode()
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the saved device would be used")
    loaded = io.load(tmp_path / "m.skan")
    members = loaded.estimators_ if name == "seed_ensemble" else [loaded]
    for member in members:
        assert member.device_ == torch.device("cpu")
        assert all(p.device.type == "cpu" for p in member.net_.module_.parameters())
    np.testing.assert_array_equal(loaded.score_samples(X), scores)
    loaded = io.load(tmp_path / "m.skan", device="cpu")
    assert members[0].device_.type == "cpu"


@pytest.mark.parametrize("name", ["autoencoder", "omasgan"])
def test_pickled_cuda_model_reports_cpu_after_loading_on_cpu(name):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    factory, kind = CASES[name]
    X = _data(kind)
    model = factory().fit(X)
    scores = model.score_samples(X)
    _fake_cuda(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skorch's notice that it maps the weights to the CPU
        restored = pickle.loads(pickle.dumps(model))
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.score_samples(X), scores)
    if name == "omasgan":
        assert restored.generator_ is restored.net_.module_.generator
        assert restored.retrained_critic_ is restored.net_.module_.retrained_critic


# ------------------------------------------------------------------------------------------ pickles
def test_pickle_stores_the_weights_once(tmp_path):
    X = _data("rows", n=64)
    model = AutoEncoderDetector(hidden_layer_sizes=(256, 256), latent_dim=64, **TINY).fit(X)
    weight_bytes = sum(v.numel() * v.element_size() for v in model.net_.module_.state_dict().values())
    assert weight_bytes > 500_000
    size = len(pickle.dumps(model))
    assert size < 1.2 * weight_bytes  # twice the weights before: skorch's module and module_
    assert not isinstance(model.net_.module, torch.nn.Module)
    joblib.dump(model, tmp_path / "m.joblib")
    restored = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(restored.score_samples(X), model.score_samples(X))


def test_omasgan_pickle_does_not_copy_its_named_networks():
    X = _data("rows")
    model = OMASGANDetector(**{**OMASGAN_TINY, "critic_hidden_layer_sizes": (96, 96)}).fit(X)
    weight_bytes = sum(v.numel() * v.element_size() for v in model.net_.module_.state_dict().values())
    assert len(pickle.dumps(model)) < 1.2 * weight_bytes
    restored = pickle.loads(pickle.dumps(model))
    assert restored.critic_ is restored.net_.module_.critic
    np.testing.assert_array_equal(restored.score_samples(X), model.score_samples(X))


# ---------------------------------------------------------------------------------------- tampering
class _Payload:
    """Unpickling this creates ``marker``: proof that a pickle was run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _comment(path):
    with zipfile.ZipFile(path) as archive:
        return archive.comment


def _write(path, members, comment=b""):
    """Zip ``members`` (stored, as save does) with ``comment``; the digests in them are left as they are."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.comment = comment
        for name, data in members.items():
            archive.writestr(name, data)


def _write_rehashed(path, members):
    """Write ``members`` with a manifest and an archive comment computed from them by the rules that
    docs/persistence.md gives: what anyone who can edit a file can do, without skanomaly's code."""
    contents = {name: data.encode() if isinstance(data, str) else data
                for name, data in members.items() if name != "manifest.json"}
    manifest = json.dumps({
        "format": "skanomaly-model",
        "format_version": 2,
        "members": [{"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                    for name, data in contents.items()],
    }).encode()
    comment = b"skanomaly-model manifest.json sha256:" + hashlib.sha256(manifest).hexdigest().encode()
    _write(path, {"manifest.json": manifest, **contents}, comment)


def _with_json(members, edit):
    document = json.loads(members["model.json"])
    edit(document)
    return {**members, "model.json": json.dumps(document)}


def _file_sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def saved(autoencoder_file, tmp_path):
    return autoencoder_file[1], tmp_path


def test_pickle_payload_added_to_the_archive_is_refused_and_not_run(saved):
    path, tmp_path = saved
    marker = tmp_path / "pwned"
    members = _members(path)
    bad = tmp_path / "bad.skan"
    _write(bad, {**members, "data.pkl": pickle.dumps(_Payload(marker))})
    with pytest.raises(io.ModelFormatError, match=r"unexpected member\(s\) \['data.pkl'\].*nothing in it was run"):
        io.load(bad)
    # the payload in place of the weights, the digests recomputed
    _write_rehashed(bad, {**members, "weights.safetensors": pickle.dumps(_Payload(marker))})
    with pytest.raises(io.ModelFormatError, match="not a valid safetensors file"):
        io.load(bad)
    # the payload in place of the JSON, with and without recomputed digests
    _write(bad, {**members, "model.json": pickle.dumps(_Payload(marker))}, _comment(path))
    with pytest.raises(io.ModelFormatError, match="model.json does not match the size and SHA-256"):
        io.load(bad)
    _write_rehashed(bad, {**members, "model.json": pickle.dumps(_Payload(marker))})
    with pytest.raises(io.ModelFormatError, match="model.json is not valid JSON"):
        io.load(bad)
    # a whole pickle file given to load
    bad.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(io.ModelFormatError, match="not a skanomaly model file"):
        io.load(bad)
    assert not marker.exists()


def test_tampered_weights_are_refused(saved):
    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    path, tmp_path = saved
    members = _members(path)
    bad = tmp_path / "bad.skan"
    # one byte changed, digests not updated
    weights = bytearray(members["weights.safetensors"])
    weights[-3] ^= 0x10
    _write(bad, {**members, "weights.safetensors": bytes(weights)}, _comment(path))
    with pytest.raises(io.ModelFormatError, match="weights.safetensors does not match the size and SHA-256"):
        io.load(bad)

    tensors = load_tensors(members["weights.safetensors"])
    key = next(k for k in tensors if k.endswith("encoder.0.weight"))
    for edit, message in [
        (lambda t: t.__setitem__(key, t[key][:, :-1].contiguous()), "shape"),
        (lambda t: t.pop(key), "not in weights.safetensors"),
        (lambda t: t.__setitem__("estimator.extra", torch.zeros(3)), "no entry uses"),
        (lambda t: t.__setitem__(key, t[key].to(torch.float16)), "float32"),
    ]:
        edited = dict(tensors)
        edit(edited)
        _write_rehashed(bad, {**members, "weights.safetensors": save_tensors(edited)})
        with pytest.raises(io.ModelFormatError, match=message):
            io.load(bad)


def _params(document):
    return document["estimator"]["params"]


def _attributes(document):
    return document["estimator"]["fitted"]["attributes"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: _params(d).__setitem__("n_layers", 3), r"unknown parameter\(s\) \['n_layers'\]"),
        (lambda d: _params(d).pop("lr"), r"missing parameter\(s\) \['lr'\]"),
        (lambda d: _params(d).__setitem__("lr", -1.0), "invalid parameters"),
        (lambda d: _params(d).__setitem__("hidden_layer_sizes", {"type": "tuple", "items": [17, 8]}),
         "does not match|shape"),
        (lambda d: _params(d).__setitem__("activation", {"type": "code", "source": "print(1)"}),
         "unknown value type 'code'"),
        (lambda d: d["estimator"].__setitem__("class", "os.system"), "unknown estimator class 'os.system'"),
        (lambda d: d["estimator"].__setitem__("class", "Pipeline"), "unknown estimator class"),
        (lambda d: _attributes(d).__setitem__("score_samples", 1.0), "may not be set"),
        (lambda d: _attributes(d).__setitem__("lr", 1.0), "may not be set"),
        (lambda d: d["estimator"]["fitted"]["networks"]["net_"].__setitem__("class", "_AMANet"), "builds a"),
        (lambda d: d["estimator"]["fitted"]["networks"].pop("net_"), "net_"),
        (lambda d: d.__setitem__("format_version", 99), "format version 99.*Upgrade skanomaly"),
        (lambda d: d.__setitem__("format", "pickle"), "format 'pickle'"),
        (lambda d: d.pop("versions"), r"missing entry \['versions'\]"),
        (lambda d: d.__setitem__("comment", "hi"), r"unknown entry \['comment'\]"),
        (lambda d: _attributes(d).__setitem__("offset_", {"type": "float", "value": "__import__('os')"}),
         "unknown float"),
        (lambda d: _attributes(d).__setitem__("history_", {"type": "ndarray", "dtype": "object", "shape": [1],
                                                           "items": [1]}), "must be strings"),
    ],
)
def test_tampered_json_is_refused_with_a_clear_error(saved, edit, message):
    path, tmp_path = saved
    bad = tmp_path / "bad.skan"
    _write_rehashed(bad, _with_json(_members(path), edit))
    with pytest.raises(io.ModelFormatError, match=message) as info:
        io.load(bad)
    assert str(bad) in str(info.value)


def test_duplicate_json_keys_and_damaged_members_are_refused(saved):
    path, tmp_path = saved
    members = _members(path)
    bad = tmp_path / "bad.skan"
    text = members["model.json"].decode()
    _write_rehashed(bad, {**members, "model.json": text.replace('"format": ', '"format": "x", "format": ', 1)})
    with pytest.raises(io.ModelFormatError, match="appears twice"):
        io.load(bad)
    # a byte of the stored JSON flipped in the archive itself: the zip checksum catches it
    raw = bytearray(path.read_bytes())
    position = raw.index(b'"format_version"')
    raw[position + 3] ^= 0x01
    bad.write_bytes(bytes(raw))
    with pytest.raises(io.ModelFormatError, match="damaged"):
        io.load(bad)
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(io.ModelFormatError, match="not a skanomaly model file"):
        io.load(bad)
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.skan")


# ------------------------------------------------------------------------------ digests of every member
def test_save_writes_a_manifest_of_every_member_and_its_digest_as_the_comment(saved):
    path, _ = saved
    members = _members(path)
    assert list(members) == ["manifest.json", "model.json", "weights.safetensors"]
    with zipfile.ZipFile(path) as archive:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "skanomaly-model" and manifest["format_version"] == io.FORMAT_VERSION == 2
    assert manifest["members"] == [{"name": name, "size": len(members[name]),
                                    "sha256": hashlib.sha256(members[name]).hexdigest()}
                                   for name in ("model.json", "weights.safetensors")]
    assert _comment(path) == (b"skanomaly-model manifest.json sha256:"
                              + hashlib.sha256(members["manifest.json"]).hexdigest().encode())


def _edit_one_member(members, comment, member):
    """The members and comment of a file with ``member`` alone edited (a change that still parses)."""
    members = dict(members)
    if member == "manifest.json":  # the same entries, written without indentation
        members[member] = json.dumps(json.loads(members[member])).encode()
    elif member == "model.json":
        members = _with_json(members, lambda d: _params(d).__setitem__("activation", "tanh"))
    elif member == "weights.safetensors":
        weights = bytearray(members[member])
        weights[-3] ^= 0x10
        members[member] = bytes(weights)
    else:  # the comment: the digest of another manifest
        comment = comment[:-1] + (b"0" if comment[-1:] != b"0" else b"1")
    return members, comment


@pytest.mark.parametrize("member, message", [
    ("manifest.json", "manifest.json does not match the SHA-256 in the archive comment"),
    ("model.json", "model.json does not match the size and SHA-256 recorded in manifest.json"),
    ("weights.safetensors", "weights.safetensors does not match the size and SHA-256 recorded in manifest.json"),
    ("comment", "manifest.json does not match the SHA-256 in the archive comment"),
])
def test_an_edit_of_any_one_member_alone_is_detected(saved, member, message):
    path, tmp_path = saved
    bad = tmp_path / "bad.skan"
    # the archive rewritten by zipfile: every member's CRC-32 is right again, only the digests can tell
    _write(bad, *_edit_one_member(_members(path), _comment(path), member))
    with pytest.raises(io.ModelFormatError, match=message) as info:
        io.load(bad)
    assert str(bad) in str(info.value)


def test_model_json_edited_and_rezipped_is_detected(saved):
    path, tmp_path = saved
    bad = tmp_path / "bad.skan"
    edited = _with_json(_members(path), lambda d: _params(d).__setitem__("activation", "tanh"))
    _write(bad, edited)  # re-zipped as zip tools do, without the archive comment
    with pytest.raises(io.ModelFormatError, match="archive comment is not the SHA-256 of manifest.json"):
        io.load(bad)
    _write(bad, edited, _comment(path))  # the comment kept
    with pytest.raises(io.ModelFormatError, match="model.json does not match"):
        io.load(bad)


def test_an_edit_with_recomputed_digests_is_not_detected_but_the_file_digest_is(autoencoder_file, tmp_path):
    """The limit that docs/persistence.md states: the digests are no signature. Anyone who can edit the file
    can recompute them, and the file then loads and scores as edited; only a digest of the file received
    over another channel (``sha256=``) tells."""
    model, path = autoencoder_file
    X = _data("rows", n=37, seed=1)
    bad = tmp_path / "bad.skan"
    _write_rehashed(bad, _with_json(_members(path), lambda d: _params(d).__setitem__("activation", "tanh")))
    edited = io.load(bad)
    assert edited.activation == "tanh"
    assert not np.array_equal(edited.score_samples(X), model.score_samples(X))

    digest = _file_sha256(path)
    with pytest.raises(io.ModelFormatError, match=f"not the expected {digest}.*not read further"):
        io.load(bad, sha256=digest)
    np.testing.assert_array_equal(io.load(path, sha256=digest.upper()).score_samples(X), model.score_samples(X))
    for wrong in ("", "abc", digest + "0", 42):
        with pytest.raises(ValueError, match="64 hexadecimal digits"):
            io.load(path, sha256=wrong)


def _as_format_version_1(members):
    """The members of the same model as format version 1 wrote them: no manifest, no archive comment, and the
    SHA-256 of the weights in model.json."""
    document = json.loads(members["model.json"])
    document["format_version"] = 1
    del _params(document)["n_threads"]  # added in format version 2
    document["weights"] = {"member": "weights.safetensors",
                           "sha256": hashlib.sha256(members["weights.safetensors"]).hexdigest(),
                           "stored_as_float32": document["weights"]["stored_as_float32"]}
    return {"model.json": json.dumps(document, indent=1), "weights.safetensors": members["weights.safetensors"]}


def test_format_version_1_files_load_with_a_warning_that_their_json_is_not_covered(autoencoder_file, tmp_path):
    model, path = autoencoder_file
    X = _data("rows", n=37, seed=1)
    old = tmp_path / "old.skan"
    members = _as_format_version_1(_members(path))
    _write(old, members)
    with pytest.warns(UserWarning, match="format-version-1 file: its digest covers weights.safetensors only.*"
                                         "Save the model again"):
        loaded = io.load(old)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    assert loaded.n_threads is None  # version 1 predates n_threads: its models ran on torch's own thread count
    io.save(loaded, tmp_path / "new.skan")  # saving it again writes the current version
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(io.load(tmp_path / "new.skan").score_samples(X), model.score_samples(X))

    # what the warning says: an edit of its model.json alone goes undetected
    _write(old, _with_json(members, lambda d: _params(d).__setitem__("activation", "tanh")))
    with pytest.warns(UserWarning, match="format-version-1"):
        assert io.load(old).activation == "tanh"
    # its weights are still checked, and what version 1 never wrote is refused
    weights = bytearray(members["weights.safetensors"])
    weights[-3] ^= 0x10
    _write(old, {**members, "weights.safetensors": bytes(weights)})
    with pytest.raises(io.ModelFormatError, match="does not match the SHA-256 recorded in model.json"):
        io.load(old)
    _write(old, members, b"a comment")
    with pytest.raises(io.ModelFormatError, match="comment, which a format-version-1 file never has"):
        io.load(old)
    # a version-1 model.json in the archive of version 2, and the reverse
    _write_rehashed(old, {"manifest.json": b"", **members})
    with pytest.raises(io.ModelFormatError, match="says format version 1, but the archive holds the members of "
                                                  "version 2"):
        io.load(old)
    _write(old, {name: data for name, data in _members(path).items() if name != "manifest.json"})
    with pytest.raises(io.ModelFormatError, match="says format version 2, but the archive holds the members of "
                                                  "version 1"):
        io.load(old)


def test_a_file_of_a_newer_format_version_asks_for_an_upgrade(saved):
    path, tmp_path = saved
    members = _members(path)
    manifest = json.dumps({"format": "skanomaly-model", "format_version": 3, "members": []}).encode()
    comment = b"skanomaly-model manifest.json sha256:" + hashlib.sha256(manifest).hexdigest().encode()
    newer = tmp_path / "newer.skan"
    _write(newer, {**members, "manifest.json": manifest, "calibration.json": b"{}"}, comment)
    with pytest.raises(io.ModelFormatError, match="format version 3; this skanomaly reads versions up to 2. "
                                                  "Upgrade skanomaly"):
        io.load(newer)
    # the same members without a valid manifest digest: refused as altered, not as newer
    _write(newer, {**members, "manifest.json": manifest, "calibration.json": b"{}"})
    with pytest.raises(io.ModelFormatError, match=r"unexpected member\(s\) \['calibration.json'\]"):
        io.load(newer)


def test_zip64_archives_that_zipfile_writes_for_large_models_load(autoencoder_file, tmp_path, monkeypatch):
    """Members and offsets past 2 GiB make zipfile write zip64 records; a lower threshold writes them here."""
    model, _ = autoencoder_file
    path = tmp_path / "m.skan"
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP64_LIMIT", 64)
        io.save(model, path)
    raw = path.read_bytes()
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw  # the zip64 end record and its locator
    X = _data("rows", n=37, seed=1)
    np.testing.assert_array_equal(io.load(path).score_samples(X), model.score_samples(X))


# ----------------------------------------------------------------------- archives save never writes
def _raw_zip(entries, comment=b"", *, before=b"", between=b"", after=b"", count=None):
    """A zip archive laid out by hand, so that its headers can say what zipfile never writes.

    Each entry has a ``name`` and the ``data`` stored, and may override what the headers declare: ``method``,
    ``flags``, ``crc``, ``size`` (the content size in both headers), ``local_size`` (in the local header only),
    ``stored_size``, ``offset`` (of the local header, in the central directory) and ``extra``.
    """
    out = bytearray(before)
    central = bytearray()
    for index, entry in enumerate(entries):
        if index:
            out += between
        name, data, extra = entry["name"].encode(), entry["data"], entry.get("extra", b"")
        flags, method, crc = entry.get("flags", 0), entry.get("method", 0), entry.get("crc", zlib.crc32(data))
        size, stored = entry.get("size", len(data)), entry.get("stored_size", len(data))
        offset = entry.get("offset", len(out))
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, stored,
                           entry.get("local_size", size), len(name), len(extra)) + name + extra + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc, stored, size,
                               len(name), len(extra), 0, 0, 0, 0o600 << 16, offset) + name + extra
    out += after
    count = len(entries) if count is None else count
    return bytes(out + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(central), len(out),
                                             len(comment)) + comment)


def _entries(path):
    return [{"name": name, "data": data} for name, data in _members(path).items()]


def _crafted(entries):
    """name -> (entries, keyword arguments of _raw_zip, expected message): one departure from save's layout each."""
    def changed(index, **changes):
        return [{**entry, **changes} if i == index else entry for i, entry in enumerate(entries)]

    manifest, model, weights = entries
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = deflate.compress(weights["data"]) + deflate.flush()
    size = len(model["data"])
    return {
        "compressed": (changed(2, data=deflated, method=8, stored_size=len(deflated), crc=zlib.crc32(weights["data"])),
                       {}, r"weights.safetensors is compressed \(method 8\).*without being decompressed"),
        "encrypted": (changed(1, flags=0x1), {}, "model.json has flags 0x0001"),
        "data descriptor": (changed(1, flags=0x8), {}, "model.json has flags 0x0008"),
        "local size larger": (changed(1, local_size=size + 10**6), {},
                              f"model.json declares {size + 10**6} bytes, the central directory {size}"),
        "stored size differs": (changed(1, stored_size=size + 1), {}, f"declares {size + 1} stored bytes for {size}"),
        "member too large": (changed(1, size=2**30, stored_size=2**30), {},
                             "model.json declares 1073741824 bytes, more than the 16777216"),
        "member past its end": (changed(2, size=len(weights["data"]) + 7, stored_size=len(weights["data"]) + 7),
                                {}, "run past the start of the central directory"),
        "too many members": (entries, {"count": 65535}, "declares 65535 members.*not read further"),
        "repeated member": ([manifest, model, model, weights], {}, r"\['model.json'\] more than once"),
        "missing member": ([manifest, weights], {}, r"lacks the member\(s\) \['model.json'\]"),
        "other order": ([manifest, weights, model], {}, "holds its members in the order"),
        "overlapping members": (changed(2, offset=0), {}, "weights.safetensors starts at byte 0, not at byte"),
        "data before": (entries, {"before": b"MZ" * 8}, "manifest.json starts at byte 16, not at byte 0"),
        "data between": (entries, {"between": b"hidden"}, "model.json starts at byte"),
        "data after": (entries, {"after": b"hidden"}, "6 bytes lie between the last member and the central"),
        "extra field": (changed(1, extra=struct.pack("<HHB4s", 0x5455, 5, 1, b"\0" * 4)), {},
                        r"model.json' has an extra field \(id 0x5455\)"),
    }


def test_raw_zip_of_the_members_of_a_saved_file_loads(saved):
    """The hand-made archives below differ from a valid file in one point each."""
    path, tmp_path = saved
    copy = tmp_path / "copy.skan"
    copy.write_bytes(_raw_zip(_entries(path), _comment(path)))
    assert io.load(copy).offset_ == io.load(path).offset_


@pytest.mark.parametrize("case", list(_crafted([{"name": "", "data": b""}] * 3)))
def test_what_save_never_writes_is_refused_before_it_is_read(saved, case):
    import time

    path, tmp_path = saved
    entries, options, message = _crafted(_entries(path))[case]
    bad = tmp_path / "bad.skan"
    bad.write_bytes(_raw_zip(entries, _comment(path), **options))
    start = time.perf_counter()
    with pytest.raises(io.ModelFormatError, match=message) as info:
        io.load(bad)
    assert time.perf_counter() - start < 1.0
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("header_length", [2**40, 2**64 - 1])
def test_a_safetensors_header_longer_than_its_member_is_refused_before_it_is_allocated(saved, header_length):
    path, tmp_path = saved
    members = _members(path)
    bad = tmp_path / "bad.skan"
    weights = header_length.to_bytes(8, "little") + members["weights.safetensors"][8:]
    _write_rehashed(bad, {**members, "weights.safetensors": weights})
    with pytest.raises(io.ModelFormatError, match=f"not a valid safetensors file: it declares a header of "
                                                  f"{header_length} bytes, but {len(weights) - 8} bytes follow"):
        io.load(bad)


def test_safetensors_headers_that_do_not_tile_their_data_are_refused(saved):
    path, tmp_path = saved
    members = _members(path)
    weights = members["weights.safetensors"]
    length = int.from_bytes(weights[:8], "little")
    header = json.loads(weights[8:8 + length])
    name = next(key for key in header if key != "__metadata__")
    bad = tmp_path / "bad.skan"
    begin, end = header[name]["data_offsets"]
    for entry, message in [
        ({**header[name], "shape": [2**62, 2**62]}, "does not take the"),
        ({**header[name], "data_offsets": [begin, 2**70]}, "outside the"),
        ({**header[name], "dtype": "F8_E4M3"}, "dtype 'F8_E4M3', which save never writes"),
        ({**header[name], "extra": 1}, "needs exactly a dtype"),
    ]:
        text = json.dumps({**header, name: entry}).encode()
        _write_rehashed(bad, {**members, "weights.safetensors": len(text).to_bytes(8, "little") + text
                              + weights[8 + length:]})
        with pytest.raises(io.ModelFormatError, match=message):
            io.load(bad)


_MEMORY_CHILD = """
import resource, sys, time
from skanomaly import io

io.load(sys.argv[1])  # a valid file first: what loading imports is in memory before the measurements
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, in KiB on Linux
for path in sys.argv[2:]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        io.load(path)
        outcome = "loaded"
    except io.ModelFormatError as exc:
        outcome = str(exc)
    seconds = time.perf_counter() - start
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * scale
    print(f"{growth}\\t{seconds}\\t{outcome}")
"""


def _deflate_bomb(mib):
    """Raw deflate data of ``mib`` MiB of zeros, about a thousandth of that in size, and its CRC-32."""
    chunk = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every MiB
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(chunk, crc)
    return block * mib + deflate.flush(), crc


def test_crafted_files_are_refused_in_little_memory_and_time(saved):
    """Files of 256 KiB that inflate to 256 MiB (in the layouts of format versions 2 and 1), a safetensors
    header claiming 1 TiB and an archive claiming 50,000 members: each refusal takes a few MiB at most and well
    under a second."""
    pytest.importorskip("resource")
    path, tmp_path = saved
    entries = _entries(path)
    mib = 256
    bomb, crc = _deflate_bomb(mib)
    inflater, inflated, rest = zlib.decompressobj(-15), 0, bomb
    while rest:  # it is a real bomb: it inflates to 256 MiB
        inflated += len(inflater.decompress(rest, 2**24))
        rest = inflater.unconsumed_tail
    assert inflated == mib * 2**20 and len(bomb) < inflated / 1000
    files = {"deflate bomb": tmp_path / "bomb.skan", "format-1 deflate bomb": tmp_path / "bomb1.skan",
             "header bomb": tmp_path / "header.skan", "member-count bomb": tmp_path / "count.skan"}
    inflating = {**entries[2], "data": bomb, "method": 8, "crc": crc, "size": mib * 2**20}
    files["deflate bomb"].write_bytes(_raw_zip([*entries[:2], inflating], _comment(path)))
    files["format-1 deflate bomb"].write_bytes(_raw_zip([entries[1], inflating]))
    members = _members(path)
    _write_rehashed(files["header bomb"], {**members, "weights.safetensors": (2**40).to_bytes(8, "little")
                                           + members["weights.safetensors"][8:]})
    files["member-count bomb"].write_bytes(_raw_zip([{"name": f"m{i}", "data": b""} for i in range(50_000)]))

    result = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(path), *map(str, files.values())],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(files)
    for (name, file), line in zip(files.items(), lines):
        growth, seconds, outcome = line.split("\t", 2)
        assert outcome.startswith(str(file)), (name, outcome)
        assert int(growth) < 16 * 2**20, (name, int(growth))  # the deflate bomb alone would take 256 MiB
        assert float(seconds) < 1.0, (name, seconds)
        print(f"{name}: peak RSS growth {int(growth) / 2**20:.1f} MiB, {float(seconds) * 1000:.1f} ms: {outcome}")


# ---------------------------------------------------------------------------------------- saving
def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(NotFittedError):
        io.save(AutoEncoderDetector(), tmp_path / "m.skan")
    model = AutoEncoderDetector(hidden_layer_sizes=(4,), **TINY).fit(_data("rows"))
    model.extra_ = object()
    with pytest.raises(io.ModelFormatError, match=r"estimator\.extra_: a value of type builtins\.object"):
        io.save(model, tmp_path / "m.skan")
    assert not list(tmp_path.iterdir())  # nothing half-written is left

    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=2, random_state=0).fit(_data("rows"))
    with pytest.raises(io.ModelFormatError, match="not a skanomaly detector"):
        io.save(forest, tmp_path / "m.skan")


def test_save_replaces_a_file_in_one_step(tmp_path, autoencoder_file):
    model = autoencoder_file[0]
    path = tmp_path / "m.skan"
    path.write_bytes(b"old")
    io.save(model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.skan"]
    assert io.load(path).offset_ == model.offset_


def test_members_shared_between_attributes_are_stored_once(tmp_path):
    from sklearn.utils import Bunch

    from skanomaly.ensemble import ScoreCombinationDetector

    X = _data("rows")
    model = ScoreCombinationDetector([("ae", AutoEncoderDetector(hidden_layer_sizes=(8,), **TINY)),
                                      ("svdd", DeepSVDDDetector(hidden_layer_sizes=(8,), latent_dim=2, **TINY))])
    model.fit(X)
    path = tmp_path / "m.skan"
    io.save(model, path)
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    assert isinstance(loaded.named_estimators_, Bunch)
    assert loaded.named_estimators_.ae is loaded.estimators_[0]
    # a reference to an estimator the file does not hold is refused
    members = _members(path)
    _write_rehashed(path, _with_json(members, lambda d: _attributes(d)["named_estimators_"]["items"]["ae"].__setitem__(
        "path", "estimator.elsewhere")))
    with pytest.raises(io.ModelFormatError, match="no estimator read before it"):
        io.load(path)


def test_every_detector_has_a_round_trip_case():
    """A new detector joins CASES, so the fresh-process round trip covers it (and its _build_networks)."""
    from skanomaly import detectors

    covered = {type(factory()).__name__ for factory, _ in CASES.values()}
    assert set(detectors.__all__) <= covered
    for name in detectors.__all__:
        assert callable(getattr(getattr(detectors, name), "_build_networks", None)), name


_CPU_ONLY_CHILD = """
import sys, warnings
from pathlib import Path
import joblib, numpy as np, torch
from skanomaly import io

assert not torch.cuda.is_available()
folder = Path(sys.argv[1])
X = np.load(folder / "X.npy")
safe = io.load(folder / "m.skan")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pickled = joblib.load(folder / "m.joblib")
for model in (safe, pickled):
    assert model.device_ == torch.device("cpu"), model.device_
np.save(folder / "safe.npy", safe.score_samples(X))
np.save(folder / "pickled.npy", pickled.score_samples(X))
"""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_fitted_on_cuda_loads_in_a_process_without_cuda(tmp_path):
    import os

    X = _data("rows")
    model = AutoEncoderDetector(hidden_layer_sizes=(16,), max_epochs=2, random_state=0, device="cuda").fit(X)
    assert model.device_.type == "cuda"
    cuda_scores = model.score_samples(X)
    io.save(model, tmp_path / "m.skan")
    joblib.dump(model, tmp_path / "m.joblib")
    np.save(tmp_path / "X.npy", X)
    same_device = io.load(tmp_path / "m.skan")
    assert same_device.device_.type == "cuda"
    np.testing.assert_array_equal(same_device.score_samples(X), cuda_scores)

    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", _CPU_ONLY_CHILD, str(tmp_path)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    safe, pickled = np.load(tmp_path / "safe.npy"), np.load(tmp_path / "pickled.npy")
    np.testing.assert_array_equal(safe, pickled)  # the same float64 weights on the same device
    np.testing.assert_allclose(safe, cuda_scores, rtol=1e-9, atol=1e-12)  # float64 kernels of two devices
