"""The detector contract, checked once for every detector that skanomaly exports.

Every detector (and every one added later: the list is read from the package's public names) must

- score as float64, finite, with ``decision_function`` = ``score_samples - offset_`` and ``predict`` in {-1, 1};
- give scores that depend neither on ``score_batch_size`` nor on the training ``batch_size`` of a fitted model,
  and score float32 input like its float64 values;
- train reproducibly: the same ``random_state`` gives bitwise-equal scores in another process, another state
  gives other scores, and the global random state is left alone;
- survive pickle, joblib and :mod:`skanomaly.io` round trips with bitwise-equal scores;
- read images (4-D, 3-D, or flat with ``image_shape``) through conv nets where it supports images;
- reject bad parameters and bad input with a ``ValueError`` naming the culprit;
- stop a diverging fit with :class:`~skanomaly.exceptions.TrainingDivergedError` and be unfitted afterwards;
- keep a DataFrame's column names.

The tables below are the only place that names a detector's parameters: ``FAST`` (tiny settings, one entry per
public detector; a test fails when a detector is missing), ``IMAGE_PARAMS`` (settings for image input, ``None``
where images do not apply), ``BAD_PARAMS`` (invalid values the detector must refuse). Parameters shared by all
detectors (``random_state``, ``lr``, ``batch_size``, ``score_batch_size``) are set where they live, on the
detector or on its members (``estimator__lr``, ``ae__lr``, ...). Fitted fixtures are module-scoped and never
changed: a check that needs other parameters fits a new detector from its factory, one that changes a fitted
model changes a deep copy.
"""

import copy
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError

import skanomaly
import skanomaly.detectors
from skanomaly import io
from skanomaly.calibration import CalibratedDetector
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.ensemble import ScoreCombinationDetector, SeedEnsembleDetector
from skanomaly.exceptions import TrainingDivergedError


def _autoencoder(**params):
    return AutoEncoderDetector(**{"hidden_layer_sizes": (8,), "latent_dim": 2, "max_epochs": 2, "batch_size": 16,
                                  "device": "cpu", **params})


# Tiny networks, one or two epochs: these checks test the contract, not the learning. Each factory returns a
# new unfitted detector; ``random_state`` is set by the tests.
FAST = {
    "AutoEncoderDetector": _autoencoder,
    "AMADetector": lambda: AMADetector(hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,), latent_dim=2,
                                       n_critic=1, max_epochs=2, batch_size=16, device="cpu"),
    "MirroredAEDetector": lambda: MirroredAEDetector(hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,),
                                                     latent_dim=2, n_critic=1, selection_warmup_epochs=0, max_epochs=2,
                                                     batch_size=16, device="cpu"),
    "OMASGANDetector": lambda: OMASGANDetector(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1,
                                               critic_hidden_layer_sizes=(8,), latent_dim=2, n_reference=16,
                                               batch_size=16, device="cpu"),
    # soft-boundary with a one-epoch radius warm-up: the radius is fitted too
    "DeepSVDDDetector": lambda: DeepSVDDDetector(objective="soft-boundary", radius_warmup_epochs=1,
                                                 hidden_layer_sizes=(8,), latent_dim=2, max_epochs=2,
                                                 batch_size=16, device="cpu"),
    "SeedEnsembleDetector": lambda: SeedEnsembleDetector(_autoencoder(), n_estimators=2),
    "ScoreCombinationDetector": lambda: ScoreCombinationDetector(
        [("iforest", IsolationForest(n_estimators=10)), ("ae", _autoencoder())]),
    # cross-fitted: three models, every training row calibrates one (the split way is in test_calibration.py)
    "CalibratedDetector": lambda: CalibratedDetector(_autoencoder(), method="cross", n_folds=3,
                                                     false_alarm_rate=0.1),
}

# Extra settings for image input (small conv nets); None: the detector does not take images.
IMAGE_PARAMS = {
    "AutoEncoderDetector": {"base_channels": 4, "latent_dim": 4},
    "AMADetector": {"base_channels": 4, "latent_dim": 4},
    "MirroredAEDetector": {"base_channels": 4, "latent_dim": 4},
    "OMASGANDetector": {"base_channels": 4, "latent_dim": 4},
    "DeepSVDDDetector": {"base_channels": 4, "latent_dim": 4},
    "SeedEnsembleDetector": {"estimator__base_channels": 4, "estimator__latent_dim": 4},
    "ScoreCombinationDetector": None,  # its sklearn members read 2-D arrays only
    "CalibratedDetector": {"estimator__base_channels": 4, "estimator__latent_dim": 4},
}

# Values every detector that has the parameter must refuse; the error names the parameter.
COMMON_BAD_PARAMS = [
    {"contamination": 0.7},
    {"contamination": 0.0},
    {"batch_size": 0},
    {"score_batch_size": 0},
    {"score_batch_size": 1.5},
    {"score_batch_size": "big"},
    {"image_shape": (5,)},
    {"image_shape": (2, 2)},  # read as (1, 2, 2): 4 values per image for 5 features
    {"random_state": "seed"},
]

# Invalid values of each detector's own parameters; the error names the first key.
BAD_PARAMS = {
    "AutoEncoderDetector": [
        {"hidden_layer_sizes": (8, 0)},
        {"dropout": 1.0},
        {"lr": 0.0},
        {"weight_decay": -1.0},
        {"latent_dim": 0},
        {"max_epochs": 0},
    ],
    "AMADetector": [
        {"n_interp": 0},
        {"atypical_selection": "sideways"},
        {"score_type": "likelihood"},
        {"shell_width": 0.0},
        {"simplex_sampling": "beta"},
        {"interp_high": 0.0},
        {"negative_fraction": 0.0},
        {"negative_fraction": 1.0},
        {"shell_radius": "huge"},
        {"atypical_warmup_epochs": -1},
        {"betas": (1.5, 0.9)},
        {"encoder_betas": (0.5,)},
        {"lr_milestones": (0.0, 0.5)},
        {"lr_decay": 0.0},
        {"critic_hidden_layer_sizes": ()},
        {"hidden_layer_sizes": (0,)},
        {"decoder_hidden_layer_sizes": (8, -1)},
        {"out_activation": "softmax"},
    ],
    "MirroredAEDetector": [
        {"n_interp": 0},
        {"simplex_sampling": "beta"},
        {"interp_high": 0.0},
        {"lambda_inter": -1.0},
        {"lambda_latent_hinge": -0.5},
        {"lambda_gp": -1.0},
        {"latent_radius": 0.0},
        {"n_critic": 0},
        {"optimizer": "rmsprop"},
        {"momentum": 1.0},
        {"lr": 0.0},
        {"critic_lr": -1e-3},
        {"selection_warmup_epochs": -1},
        {"betas": (0.5,)},
        {"betas": (0.5, 1.0)},
        {"hidden_layer_sizes": (0,)},
        {"decoder_hidden_layer_sizes": (8, -1)},
        {"critic_hidden_layer_sizes": ()},
        {"out_activation": "softmax"},
    ],
    "OMASGANDetector": [
        {"betas": (0.5,)},
        {"stop_after": "task4"},
        {"divergence": "wasserstein"},
        {"boundary_divergence": "wasserstein"},
        {"boundary_critic": "learned"},
        {"boundary_reference": "uniform"},
        {"n_reference": 0},
        {"task1_epochs": 0},
        {"critic_hidden_layer_sizes": (0,)},
        {"decoder_hidden_layer_sizes": (8, -1)},
        {"out_activation": "softmax"},
    ],
    "DeepSVDDDetector": [
        {"objective": "hard"},
        {"soft_boundary_nu": 0.0},
        {"soft_boundary_nu": 1.5},
        {"center_eps": -1.0},
        {"radius_warmup_epochs": -1},
        {"hidden_layer_sizes": (8, 0)},
    ],
    "SeedEnsembleDetector": [
        {"n_estimators": 0},
        {"combination": "max"},
        {"n_jobs": "all"},
    ],
    "ScoreCombinationDetector": [
        {"normalization": "zscore"},
        {"combination": "median"},
    ],
    "CalibratedDetector": [
        {"method": "jackknife"},
        {"n_folds": 1},
        {"n_folds": 80},  # more folds than rows
        {"false_alarm_rate": 0.0},
        {"false_alarm_rate": 1.0},
        {"false_alarm_rate": 0.001},  # below the smallest p-value with 61 calibration rows
        {"calibration_size": 0.0},
        {"calibration_size": 1.5},
    ],
}

NAMES = list(FAST)


# ------------------------------------------------------------------------------------------- helpers
def _public_detectors():
    """Every outlier-detector class among the public names of ``skanomaly`` and ``skanomaly.detectors``."""
    found = {}
    for package in (skanomaly, skanomaly.detectors):
        for name in package.__all__:
            value = getattr(package, name)
            if isinstance(value, type) and issubclass(value, OutlierMixin) and issubclass(value, BaseEstimator):
                found[name] = value
    return found


def _keys(estimator, name):
    """Keys of ``get_params(deep=True)`` that set parameter ``name`` on the estimator or on any member."""
    return [key for key in estimator.get_params(deep=True) if key == name or key.endswith(f"__{name}")]


def _set_everywhere(estimator, name, value):
    """Set parameter ``name`` wherever it lives: the detector, its template or members, and its fitted members.

    Returns the estimator.
    """
    keys = _keys(estimator, name)
    assert keys, f"{type(estimator).__name__} has no parameter {name!r} on it or its members"
    estimator.set_params(**{key: value for key in keys})
    for member in getattr(estimator, "estimators_", []):  # an ensemble scores through its fitted members
        if _keys(member, name):
            _set_everywhere(member, name, value)
    return estimator


def _make(name, random_state=0, **params):
    return _set_everywhere(FAST[name](), "random_state", random_state).set_params(**params)


def _rows(n, seed, loc=0.0):
    return np.random.RandomState(seed).normal(loc=loc, size=(n, 5))


# 61 rows: batches of 16 leave a last batch of 13; 37 test rows, the last 7 shifted far away.
X_TRAIN = _rows(61, 0)
X_TEST = np.vstack([_rows(30, 1), _rows(7, 2, loc=4.0)])


def _torch_modules(estimator):
    """The torch modules a fitted estimator holds (its net's, its members', and fitted module attributes)."""
    modules = []
    for attribute, value in vars(estimator).items():
        if not attribute.endswith("_") or attribute.startswith("_"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, torch.nn.Module):
                modules.extend(item.modules())
            elif hasattr(item, "module_") and isinstance(item.module_, torch.nn.Module):
                modules.extend(item.module_.modules())
            elif isinstance(item, BaseEstimator):
                modules.extend(_torch_modules(item))
    return modules


def _assert_valid_scores(scores, n_rows):
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64 and scores.shape == (n_rows,)
    assert np.all(np.isfinite(scores))


@pytest.fixture(scope="module", params=NAMES)
def name(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(name):
    """The detector fitted with ``random_state=0`` on ``X_TRAIN`` and its scores of ``X_TEST`` (never changed)."""
    detector = _make(name).fit(X_TRAIN)
    return detector, detector.score_samples(X_TEST)


# ------------------------------------------------------------------------------------------ coverage
def test_every_public_detector_has_fast_params():
    detectors = _public_detectors()
    assert set(detectors) == set(FAST) == set(IMAGE_PARAMS) == set(BAD_PARAMS), (
        "a new detector joins FAST, IMAGE_PARAMS and BAD_PARAMS in tests/test_contract.py")
    assert {"AMADetector", "AutoEncoderDetector", "DeepSVDDDetector", "MirroredAEDetector", "OMASGANDetector",
            "SeedEnsembleDetector", "ScoreCombinationDetector"} <= set(detectors)
    for name, factory in FAST.items():
        assert type(factory()) is detectors[name]


# ------------------------------------------------------------------------------------------ scores
def test_scores_are_finite_float64_and_predict_follows_the_offset(fitted):
    detector, scores = fitted
    _assert_valid_scores(scores, len(X_TEST))
    decision = detector.decision_function(X_TEST)
    _assert_valid_scores(decision, len(X_TEST))
    np.testing.assert_array_equal(decision, scores - detector.offset_)
    labels = detector.predict(X_TEST)
    assert set(np.unique(labels)) <= {-1, 1}
    np.testing.assert_array_equal(labels == -1, decision < 0)
    if hasattr(detector, "contamination"):  # the offset flags the contamination share of the training rows
        assert np.mean(detector.predict(X_TRAIN) == -1) == pytest.approx(detector.contamination,
                                                                         abs=1 / len(X_TRAIN))
    else:  # a calibrated detector flags the rows whose p-value is at most the false-alarm rate
        np.testing.assert_array_equal(labels == -1, detector.p_values(X_TEST) <= detector.false_alarm_rate)
    if hasattr(detector, "anomaly_score"):
        np.testing.assert_array_equal(detector.anomaly_score(X_TEST), -scores)
    if hasattr(detector, "ablation_scores"):
        ablations = detector.ablation_scores(X_TEST)
        assert all(ablations.dtypes == np.float64) and np.all(np.isfinite(ablations.to_numpy()))


def test_scores_do_not_depend_on_score_batch_size(fitted):
    detector, reference = fitted
    if not _keys(detector, "score_batch_size"):
        pytest.skip(f"{type(detector).__name__} scores through members without a scoring batch size")
    ablations = detector.ablation_scores(X_TEST) if hasattr(detector, "ablation_scores") else None
    for score_batch_size in (1, 7, 64):
        copied = _set_everywhere(copy.deepcopy(detector), "score_batch_size", score_batch_size)
        # float64 products of different batch shapes may differ in the last bit, never more
        np.testing.assert_allclose(copied.score_samples(X_TEST), reference, rtol=1e-12, atol=1e-12)
        if ablations is not None:
            np.testing.assert_allclose(copied.ablation_scores(X_TEST).to_numpy(), ablations.to_numpy(), rtol=1e-12,
                                       atol=1e-12)
    np.testing.assert_array_equal(detector.score_samples(X_TEST), reference)  # the fixture is untouched


def test_training_batch_size_does_not_change_the_scores_of_a_fitted_model(fitted):
    detector, reference = fitted
    for batch_size in (1, 7, 500):
        copied = _set_everywhere(copy.deepcopy(detector), "batch_size", batch_size)
        np.testing.assert_array_equal(copied.score_samples(X_TEST), reference)


def test_float32_input_scores_like_its_float64_values(fitted):
    detector, _ = fitted
    X32 = X_TEST.astype(np.float32)
    np.testing.assert_array_equal(detector.score_samples(X32), detector.score_samples(X32.astype(np.float64)))


# ---------------------------------------------------------------------------------------- reproducible
_CHILD = textwrap.dedent("""
    import pickle
    import sys
    from pathlib import Path

    import numpy as np
    import torch

    from skanomaly import io

    folder = Path(sys.argv[1])
    torch.set_num_threads(int(sys.argv[2]))
    with open(folder / "unfitted.pkl", "rb") as file:
        unfitted = pickle.load(file)
    X_train, X_test = np.load(folder / "X_train.npy"), np.load(folder / "X_test.npy")
    for name, detector in unfitted.items():
        np.save(folder / f"{name}.npy", detector.fit(X_train).score_samples(X_test))
        try:
            io.save(detector, folder / f"{name}.skan")
        except io.ModelFormatError:
            pass  # members the safe format does not store (test_pickle_joblib_and_io_round_trips)
""")


def _fit_in_another_process(folder):
    np.save(folder / "X_train.npy", X_TRAIN)
    np.save(folder / "X_test.npy", X_TEST)
    with open(folder / "unfitted.pkl", "wb") as file:
        pickle.dump({name: _make(name) for name in NAMES}, file)
    result = subprocess.run([sys.executable, "-c", _CHILD, str(folder), str(torch.get_num_threads())],
                            capture_output=True, text=True, timeout=300)
    (folder / ("done" if result.returncode == 0 else "failed")).write_text(result.stderr[-3000:])


@pytest.fixture(scope="module")
def other_process(tmp_path_factory):
    """Every detector fitted with ``random_state=0`` in a fresh process, which also saved it with skanomaly.io.

    Under pytest-xdist the first worker to get here runs the process for all workers of the session.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "contract_other_process"
        folder.mkdir(exist_ok=True)
        try:
            os.close(os.open(folder / "claimed", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            deadline = time.monotonic() + 600
            while not ((folder / "done").exists() or (folder / "failed").exists()) and time.monotonic() < deadline:
                time.sleep(0.2)
        else:
            _fit_in_another_process(folder)
    else:
        folder = tmp_path_factory.mktemp("other_process")
        _fit_in_another_process(folder)
    assert (folder / "done").exists(), (folder / "failed").read_text() if (folder / "failed").exists() else "timeout"
    return folder


def test_same_random_state_gives_bitwise_equal_scores_in_another_process(fitted, name, other_process):
    _, scores = fitted
    np.testing.assert_array_equal(np.load(other_process / f"{name}.npy"), scores)
    if name != "ScoreCombinationDetector":  # its IsolationForest member has no place in the safe format
        # and the model saved there loads here with the same scores
        np.testing.assert_array_equal(io.load(other_process / f"{name}.skan").score_samples(X_TEST), scores)


def test_random_state_seeds_the_fit_and_only_the_fit(fitted, name):
    _, scores = fitted
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    other = _make(name, random_state=1).fit(X_TRAIN).score_samples(X_TEST)
    assert not np.allclose(other, scores)
    assert torch.equal(torch.get_rng_state(), torch_state)
    # the key and the position in it: a draw moves the position long before it changes the key
    assert all(np.array_equal(now, before) for now, before in zip(np.random.get_state(), numpy_state))


# ---------------------------------------------------------------------------------------- persistence
def test_pickle_joblib_and_io_round_trips(fitted, name, tmp_path):
    detector, scores = fitted
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(detector)).score_samples(X_TEST), scores)
    joblib.dump(detector, tmp_path / "detector.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "detector.joblib").score_samples(X_TEST), scores)
    path = tmp_path / "detector.skan"
    if name == "ScoreCombinationDetector":
        # its IsolationForest member is no skanomaly estimator: the safe format refuses it by name
        with pytest.raises(io.ModelFormatError, match="IsolationForest is not a skanomaly detector"):
            io.save(detector, path)
        return
    io.save(detector, path)
    loaded = io.load(path)
    assert type(loaded) is type(detector) and loaded.get_params(deep=False).keys() == detector.get_params(
        deep=False).keys()
    assert loaded.offset_ == detector.offset_
    np.testing.assert_array_equal(loaded.score_samples(X_TEST), scores)


# ------------------------------------------------------------------------------------------ images
def _images(n, shape, seed=0):
    return np.random.RandomState(seed).rand(n, *shape)


@pytest.fixture(scope="module")
def image_fits(name):
    """Fits on 17 images of 3x8x8, once as a 4-D array, once flat with ``image_shape`` (batches of 16 + 1)."""
    if IMAGE_PARAMS[name] is None:
        return None
    images = _images(17, (3, 8, 8))
    shaped = _make(name, **IMAGE_PARAMS[name]).fit(images)
    flat = _set_everywhere(_make(name, **IMAGE_PARAMS[name]), "image_shape", (3, 8, 8)).fit(images.reshape(17, -1))
    return images, shaped, flat


def _image_shape(detector):
    return detector.estimators_[0].image_shape_ if hasattr(detector, "estimators_") else detector.image_shape_


def test_images_as_arrays_or_flat_rows_train_the_same_conv_nets(name, image_fits):
    if image_fits is None:
        with pytest.raises(ValueError):
            _make(name).fit(_images(17, (3, 8, 8)))
        return
    images, shaped, flat = image_fits
    assert _image_shape(shaped) == _image_shape(flat) == (3, 8, 8)
    assert shaped.n_features_in_ == flat.n_features_in_ == 3 * 8 * 8
    scores = shaped.score_samples(images)
    _assert_valid_scores(scores, len(images))  # the last training batch held a single image
    np.testing.assert_array_equal(flat.score_samples(images.reshape(17, -1)), scores)
    np.testing.assert_array_equal(shaped.score_samples(images.reshape(17, -1)), scores)
    assert any(isinstance(module, torch.nn.Conv2d) for module in _torch_modules(shaped))
    assert set(np.unique(shaped.predict(images))) <= {-1, 1}
    # conv nets in eval mode: the scores do not depend on the scoring batch size either
    copied = _set_everywhere(copy.deepcopy(shaped), "score_batch_size", 5)
    np.testing.assert_allclose(copied.score_samples(images), scores, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="image_shape"):
        shaped.score_samples(_images(3, (3, 4, 16)))


def test_greyscale_images_without_channel_axis(name):
    if IMAGE_PARAMS[name] is None:  # no silent flattening of images into rows
        with pytest.raises(ValueError):
            _make(name).fit(_images(12, (28, 28)))
        return
    images = _images(12, (28, 28))  # 28 -> 14 -> 7: the conv nets stop at an odd side
    detector = _make(name, **IMAGE_PARAMS[name]).fit(images)
    assert _image_shape(detector) == (1, 28, 28)
    scores = detector.score_samples(images)
    _assert_valid_scores(scores, len(images))
    np.testing.assert_array_equal(detector.score_samples(images[:, None]), scores)
    np.testing.assert_array_equal(detector.score_samples(images.reshape(12, -1)), scores)
    with pytest.raises(ValueError, match="values per image"):
        _set_everywhere(_make(name, **IMAGE_PARAMS[name]), "image_shape", (1, 4, 4)).fit(images.reshape(12, -1))
    with pytest.raises(ValueError, match="square"):
        _make(name, **IMAGE_PARAMS[name]).fit(_images(12, (1, 8, 12)))


def test_tabular_rows_use_no_conv_net(fitted):
    detector, _ = fitted
    modules = _torch_modules(detector)
    assert any(isinstance(module, torch.nn.Linear) for module in modules)
    assert not any(isinstance(module, torch.nn.Conv2d) for module in modules)


# ------------------------------------------------------------------------------------- bad parameters
BAD_CASES = [(name, params) for name in NAMES for params in COMMON_BAD_PARAMS
             if next(iter(params)) in FAST[name]().get_params(deep=False)]
BAD_CASES += [(name, params) for name, cases in BAD_PARAMS.items() for params in cases]
BAD_IDS = [f"{name}-{params}" for name, params in BAD_CASES]
# Refusals still missing from a detector: strict, so that the fix turns these into failures to remove here.
KNOWN_GAPS = {}  # (detector, str(params)) -> why it is accepted; such cases run as strict xfails
BAD_CASES = [pytest.param(name, params, id=case_id,
                          marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name, str(params)])]
                          if (name, str(params)) in KNOWN_GAPS else [])
             for (name, params), case_id in zip(BAD_CASES, BAD_IDS)]


@pytest.mark.parametrize("name, params", BAD_CASES)
def test_bad_parameters_raise_naming_the_parameter(name, params):
    detector = _make(name).set_params(**params)
    with pytest.raises(ValueError, match=re.escape(next(iter(params)))):
        detector.fit(X_TRAIN)
    with pytest.raises(NotFittedError):
        detector.score_samples(X_TEST)


@pytest.mark.parametrize("X, message", [
    (np.where(np.arange(10)[:, None] == 3, np.nan, np.ones((10, 5))), "NaN"),
    (np.where(np.arange(10)[:, None] == 3, np.inf, np.ones((10, 5))), "infinity"),
    (np.empty((0, 5)), "0 sample"),
    (np.ones((1, 5)), "1 sample"),
    (np.ones(5), "2D array"),
], ids=["nan", "inf", "empty", "one-row", "1-d"])
def test_bad_training_input_gives_clear_errors(name, X, message):
    with pytest.raises(ValueError, match=message):
        _make(name).fit(X)


def test_bad_scoring_input_gives_clear_errors(fitted):
    detector, _ = fitted
    with pytest.raises(ValueError, match="expecting 5 features"):
        detector.score_samples(np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        detector.predict(np.full((3, 5), np.nan))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # IsolationForest's float32 copy
def test_values_beyond_float32_range_are_rejected(name):
    X = X_TRAIN.copy()
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match="float32 range"):
        _make(name).fit(X)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # IsolationForest's float32 copy
def test_scoring_values_beyond_float32_range_is_an_input_error(fitted):
    detector, _ = fitted
    X = X_TEST.copy()
    X[0, 0] = 1e300
    with pytest.raises(ValueError, match="float32 range"):
        detector.score_samples(X)


def _far_rows(X, seed=0):
    """Rows far outside ``X``: along each axis (both signs) and in 12 random directions from its mean, at 1e3 and
    1e6 times the data's scale (the standard deviation of all its values)."""
    n_features = X.shape[1]
    directions = np.vstack([np.eye(n_features), -np.eye(n_features)])
    random = np.random.RandomState(seed).normal(size=(12, n_features))
    directions = np.vstack([directions, random / np.linalg.norm(random, axis=1, keepdims=True)])
    scale = X.std()
    return np.vstack([X.mean(axis=0) + factor * scale * directions for factor in (1e3, 1e6)])


def test_rows_far_outside_the_training_data_score_below_every_training_row(fitted):
    detector, _ = fitted
    far = _far_rows(X_TRAIN)
    training = detector.score_samples(X_TRAIN)
    scores = detector.score_samples(far)
    _assert_valid_scores(scores, len(far))
    assert scores.max() < training.min(), (scores.max(), training.min())
    assert (detector.predict(far) == -1).all()
    if hasattr(detector, "ablation_scores"):
        far_variants, train_variants = detector.ablation_scores(far), detector.ablation_scores(X_TRAIN)
        for column in far_variants:
            assert far_variants[column].max() < train_variants[column].min(), column


def _thread_counts_seen(fit_and_score):
    """The torch thread counts in effect at every network forward pass while ``fit_and_score()`` runs."""
    seen = set()
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, args: seen.add(torch.get_num_threads()))
    try:
        fit_and_score()
    finally:
        hook.remove()
    return seen


def test_networks_run_on_the_detectors_thread_count_not_the_callers(name):
    """At the default ``n_threads=1`` a fit and its scores run on one thread whatever the caller set (so they are
    those of any machine), ``n_threads`` sets another count, and the caller's setting is left as it was."""
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _make(name).fit(X_TRAIN).score_samples(X_TEST)
        torch.set_num_threads(3)
        scores = {}
        seen = _thread_counts_seen(lambda: scores.update(default=_make(name).fit(X_TRAIN).score_samples(X_TEST)))
        assert seen == {1} and torch.get_num_threads() == 3
        np.testing.assert_array_equal(scores["default"], one)
        two = _set_everywhere(_make(name), "n_threads", 2)
        assert _thread_counts_seen(lambda: two.fit(X_TRAIN).score_samples(X_TEST)) == {2}
        assert torch.get_num_threads() == 3
        mine = _set_everywhere(_make(name), "n_threads", None)
        assert _thread_counts_seen(lambda: mine.fit(X_TRAIN).score_samples(X_TEST)) == {3}
    finally:
        torch.set_num_threads(previous)


# ------------------------------------------------------------------------------------------ divergence
def test_huge_learning_rate_raises_training_diverged_and_leaves_the_detector_unfitted(name):
    detector = _set_everywhere(_make(name), "lr", 1e4)
    with pytest.raises(TrainingDivergedError) as info:
        detector.fit(X_TRAIN)
    message = str(info.value)
    # the message names the detector that diverged, the epoch and the loss term, and what to change in it
    assert re.search(r"[A-Za-z]+Detector.* training diverged( in epoch \d+: loss term '\w+' |: after epoch)",
                     message), message
    named = re.findall(r"\b([a-z][a-z0-9_]*)(?: \(now |=)", message)
    assert "lr" in named, message
    assert set(named) <= {key.rsplit("__", 1)[-1] for key in detector.get_params(deep=True)}, message
    assert not [attribute for attribute in vars(detector) if attribute.endswith("_") and not attribute.startswith("_")]
    with pytest.raises(NotFittedError):
        detector.score_samples(X_TEST)


# ---------------------------------------------------------------------------------------- DataFrames
def test_dataframe_input_keeps_feature_names(fitted, name):
    _, scores = fitted
    columns = [f"f{i}" for i in range(X_TRAIN.shape[1])]
    detector = _make(name).fit(pd.DataFrame(X_TRAIN, columns=columns))
    assert list(detector.feature_names_in_) == columns
    frame_scores = detector.score_samples(pd.DataFrame(X_TEST, columns=columns))
    # The same numbers train the same model and score the same, to the bit: a DataFrame's values are
    # column-major, and the networks get them in row-major batches like an array's.
    np.testing.assert_array_equal(frame_scores, scores)
    np.testing.assert_array_equal(detector.offset_, _make(name).fit(X_TRAIN).offset_)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(detector.score_samples(X_TEST), frame_scores)
        np.testing.assert_array_equal(detector.score_samples(np.asfortranarray(X_TEST)), frame_scores)
    with pytest.raises(ValueError, match="feature names"):
        detector.score_samples(pd.DataFrame(X_TEST, columns=[f"g{i}" for i in range(X_TEST.shape[1])]))
