"""The safe model format (skanomaly.io) and lean, device-portable pickles."""

import hashlib
import json
import pickle
import subprocess
import sys
import warnings
import zipfile

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
        assert sorted(archive.namelist()) == ["model.json", "weights.safetensors"]
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


def _write(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _with_json(members, edit):
    document = json.loads(members["model.json"])
    edit(document)
    return {**members, "model.json": json.dumps(document)}


def _resign(members):
    """Record the SHA-256 of the (edited) weights, as a deliberate editor of the file would."""
    digest = hashlib.sha256(members["weights.safetensors"]).hexdigest()
    return _with_json(members, lambda d: d["weights"].__setitem__("sha256", digest))


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
    # the payload in place of the weights, its checksum recorded
    _write(bad, _resign({**members, "weights.safetensors": pickle.dumps(_Payload(marker))}))
    with pytest.raises(io.ModelFormatError, match="not a valid safetensors file"):
        io.load(bad)
    # the payload in place of the JSON
    _write(bad, {**members, "model.json": pickle.dumps(_Payload(marker))})
    with pytest.raises(io.ModelFormatError, match="model.json"):
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
    # one byte changed, checksum not updated
    weights = bytearray(members["weights.safetensors"])
    weights[-3] ^= 0x10
    _write(bad, {**members, "weights.safetensors": bytes(weights)})
    with pytest.raises(io.ModelFormatError, match="does not match the SHA-256"):
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
        _write(bad, _resign({**members, "weights.safetensors": save_tensors(edited)}))
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
    _write(bad, _with_json(_members(path), edit))
    with pytest.raises(io.ModelFormatError, match=message) as info:
        io.load(bad)
    assert str(bad) in str(info.value)


def test_duplicate_json_keys_and_damaged_members_are_refused(saved):
    path, tmp_path = saved
    members = _members(path)
    bad = tmp_path / "bad.skan"
    text = members["model.json"].decode()
    _write(bad, {**members, "model.json": text.replace('"format": ', '"format": "x", "format": ', 1)})
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
    _write(path, _with_json(members, lambda d: _attributes(d)["named_estimators_"]["items"]["ae"].__setitem__(
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
