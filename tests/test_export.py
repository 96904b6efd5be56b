"""ONNX export (skanomaly.export): every detector, alone, in pipelines and ensembles, tabular and images, scores in
onnxruntime as in Python, at batch size 1 and many, also far outside the training data; what cannot be exported is
refused by name, and a refused export writes nothing."""

import math
import os
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.covariance import EllipticEnvelope
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.svm import OneClassSVM

for _package in ("onnx", "onnxruntime", "onnxscript", "skl2onnx"):
    pytest.importorskip(_package)

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

from skanomaly import export  # noqa: E402
from skanomaly.ensemble import ScoreCombinationDetector, SeedEnsembleDetector  # noqa: E402
from skanomaly.export import ExportError, check_onnx, to_onnx  # noqa: E402
from test_contract import FAST, IMAGE_PARAMS  # noqa: E402  (the one table of tiny detector settings)

RTOL = export.DEFAULT_RTOL


def _tabular(n=200, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 6))


def _images(n=60, seed=0):
    return np.random.default_rng(seed).uniform(size=(n, 1, 8, 8))


def _fast(name, **params):
    detector = FAST[name]()
    if "random_state" in detector.get_params():
        detector.set_params(random_state=0)
    return detector.set_params(**params)


def _run(model, X, batch_size=None):
    """The model's outputs for ``X`` (float32), all at once or ``batch_size`` rows at a time."""
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    X = np.asarray(X, dtype=np.float32)
    if batch_size is None:
        return dict(zip(names, session.run(None, {"X": X})))
    parts = [session.run(None, {"X": X[i:i + batch_size]}) for i in range(0, len(X), batch_size)]
    return {name: np.concatenate([part[j] for part in parts]) for j, name in enumerate(names)}


def _far(X, factor=10.0, n=8, seed=1):
    """Rows at ``factor`` times the largest distance of a row of ``X`` from their mean, random directions."""
    rows = X.reshape(len(X), -1)
    center = rows.mean(axis=0)
    radius = np.linalg.norm(rows - center, axis=1).max()
    directions = np.random.default_rng(seed).normal(size=(n, rows.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return (center + factor * radius * directions).reshape(n, *X.shape[1:])


def _assert_matches(model, estimator, X, *, steep=False):
    """onnxruntime's outputs at batch sizes 1 and many against the estimator's, on ``X`` and far rows.

    Scores within ``RTOL * max(scale, |score|)`` (``steep``: rank or conformal maps, compared through
    :func:`check_onnx`'s member bounds instead), labels equal except at ties with the threshold.
    """
    rows = np.concatenate([X, _far(X, 3.0), _far(X, 100.0)])
    scores = estimator.score_samples(rows)
    batch = _run(model, rows)
    single = _run(model, rows, batch_size=1)
    for outputs in (batch, single):
        assert outputs["score_samples"].shape == (len(rows),)
        assert outputs["predict"].dtype == np.int64
        scale = np.ptp(scores[:len(X)])
        tolerance = RTOL * np.maximum(scale, np.abs(scores))
        difference = np.abs(outputs["score_samples"] - scores)
        if not steep:
            assert np.all(difference <= tolerance), difference.max() / scale
        offset = estimator_offset(estimator)
        np.testing.assert_allclose(outputs["decision_function"], outputs["score_samples"] - offset, rtol=0,
                                   atol=2 * RTOL * scale)
        mismatch = outputs["predict"] != estimator.predict(rows)
        if steep:  # ties are those of the members' scores: check_onnx judges them, below
            assert np.mean(mismatch) <= 0.02
        else:
            ties = np.abs(scores - offset) <= tolerance
            assert not np.any(mismatch & ~ties)
    report = check_onnx(model, estimator, X)
    assert report.passed, report.problems
    return report


def estimator_offset(estimator):
    return estimator.steps[-1][1].offset_ if hasattr(estimator, "steps") else estimator.offset_


# ------------------------------------------------------------------------------------------------------ detectors
TABULAR_CASES = {name: {} for name in FAST}
TABULAR_CASES.update({
    "AMADetector[score_type=feature_l1]": {"score_type": "feature_l1"},
    "OMASGANDetector[stop_after=task1]": {"stop_after": "task1"},
    "OMASGANDetector[stop_after=task2]": {"stop_after": "task2"},
    "OMASGANDetector[stop_after=task3]": {"stop_after": "task3"},
    "SeedEnsembleDetector[combination=median]": {"combination": "median", "n_estimators": 3},
})
STEEP = {"CalibratedDetector"}  # conformal positions interpolate between calibration scores


@pytest.mark.parametrize("case", sorted(TABULAR_CASES))
def test_every_detector_exports_rows(case):
    name = case.split("[")[0]
    X = _tabular()
    estimator = _fast(name, **TABULAR_CASES[case]).fit(X)
    model = to_onnx(estimator, X)
    assert [i.name for i in model.graph.input] == ["X"]
    outputs = [o.name for o in model.graph.output]
    assert outputs[:3] == ["score_samples", "decision_function", "predict"]
    report = _assert_matches(model, estimator, X, steep=name in STEEP)
    if name not in STEEP:
        assert report.max_relative_difference <= RTOL and report.max_relative_difference_far <= RTOL


@pytest.mark.parametrize("name", sorted(name for name, params in IMAGE_PARAMS.items() if params is not None))
def test_every_image_detector_exports_images(name):
    X = _images()
    estimator = _fast(name, **IMAGE_PARAMS[name]).fit(X)
    model = to_onnx(estimator, X)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, 8, 8]
    _assert_matches(model, estimator, X, steep=name in STEEP)


def test_image_detector_takes_flat_rows_or_three_dimensional_images():
    X = _images()
    estimator = _fast("AutoEncoderDetector", **IMAGE_PARAMS["AutoEncoderDetector"]).fit(X)
    expected = _run(to_onnx(estimator, X), X)["score_samples"]
    for layout, shape in ((X.reshape(len(X), -1), ["N", 64]), (X[:, 0], ["N", 8, 8])):
        model = to_onnx(estimator, layout)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == shape
        _assert_matches(model, estimator, layout)
        np.testing.assert_allclose(_run(model, layout)["score_samples"], expected, rtol=0,
                                   atol=1e-6 * np.ptp(expected))


def test_far_rows_are_capped_in_the_export():
    """Rows beyond three times the training radius score below every training row, in ONNX as in Python."""
    X = _tabular()
    detector = _fast("AutoEncoderDetector").fit(X)
    model = to_onnx(detector, X)
    far = _far(X, 10.0)
    low, _ = detector.training_score_range_["score_samples"]
    assert np.all(_run(model, far)["score_samples"] < low)


def test_an_export_without_the_cap_is_refused(monkeypatch):
    X = _tabular()
    detector = _fast("DeepSVDDDetector").fit(X)
    monkeypatch.setattr(export._DetectorScores, "forward", lambda self, x: self.raw(x))
    with pytest.raises(ExportError, match="far row"):
        to_onnx(detector, X)


def test_an_export_that_scores_differently_is_refused(tmp_path, monkeypatch):
    X = _tabular()
    detector = _fast("AutoEncoderDetector").fit(X)
    scale = np.ptp(detector.score_samples(X))
    raw_scores = export._raw_scores
    monkeypatch.setattr(export, "_raw_scores", lambda clone: (lambda x: raw_scores(clone)(x) + 1e-4 * scale))
    path = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="differ from score_samples by more than rtol=1e-05"):
        to_onnx(detector, X, path=path)
    assert list(tmp_path.iterdir()) == []
    # A looser tolerance, given knowingly, accepts it.
    to_onnx(detector, X, path=path, rtol=1e-3)
    assert path.exists()


# ------------------------------------------------------------------------------------------ pipelines, ensembles
def test_pipeline_with_scalers():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[0, 10, -5, 100, 0, 1], scale=[1, 5, 0.1, 30, 2, 1], size=(200, 6))
    pipeline = make_pipeline(StandardScaler(), RobustScaler(), MinMaxScaler(), "passthrough",
                             _fast("AutoEncoderDetector")).fit(X)
    model = to_onnx(pipeline, X)
    _assert_matches(model, pipeline, X)


def test_combination_of_isolation_forest_and_local_outlier_factor():
    X = _tabular()
    for normalization in ("standard", "rank"):
        for combination in ("mean", "max"):
            combined = ScoreCombinationDetector(
                [("iforest", IsolationForest(n_estimators=20, random_state=0)),
                 ("lof", LocalOutlierFactor(n_neighbors=10, novelty=True)),
                 ("svm", make_pipeline(StandardScaler(), OneClassSVM(nu=0.2)))],
                normalization=normalization, combination=combination).fit(X)
            model = to_onnx(combined, X)
            report = _assert_matches(model, combined, X, steep=normalization == "rank")
            if normalization == "standard":
                assert report.max_relative_difference <= RTOL


def test_pipelines_inside_a_combination_and_a_pipeline_around_it():
    X = _tabular() * 3 + 1
    combined = make_pipeline(MinMaxScaler(), ScoreCombinationDetector(
        [("ae", make_pipeline(StandardScaler(), _fast("AutoEncoderDetector"))),
         ("svdd", _fast("DeepSVDDDetector")), ("iforest", IsolationForest(n_estimators=20, random_state=0))],
        weights=[1, 2, 1])).fit(X)
    _assert_matches(to_onnx(combined, X), combined, X)


def test_seed_ensemble_of_pipelines():
    X = _tabular()
    ensemble = SeedEnsembleDetector(make_pipeline(StandardScaler(), _fast("AutoEncoderDetector")), n_estimators=2,
                                    random_state=0).fit(X)
    _assert_matches(to_onnx(ensemble, X), ensemble, X)


# --------------------------------------------------------------------------------------------------- calibration
@pytest.mark.parametrize("method", ["split", "cross"])
def test_calibrated_detector_p_values_and_decision(method):
    calibration = pytest.importorskip("skanomaly.calibration")
    X = _tabular(300)
    calibrated = calibration.CalibratedDetector(
        make_pipeline(StandardScaler(), _fast("AutoEncoderDetector")), method=method, n_folds=3,
        false_alarm_rate=0.1, random_state=0).fit(X)
    model = to_onnx(calibrated, X)
    assert [o.name for o in model.graph.output] == ["score_samples", "decision_function", "predict", "p_values"]
    test = np.concatenate([_tabular(100, seed=1), _far(X, 3.0)])
    outputs = _run(model, test)
    report = _assert_matches(model, calibrated, X, steep=True)
    # A p-value is a count of calibration scores: equal, or one step apart where a member score ties with one.
    step = 1.0 / (calibrated.n_calibration_ + 1)
    difference = np.abs(outputs["p_values"] - calibrated.p_values(test))
    assert np.all((difference <= 1e-6) | (np.abs(difference - np.round(difference / step) * step) <= 1e-6))
    assert np.mean(difference <= 1e-6) >= 0.95
    assert np.all((outputs["predict"] == -1) == (outputs["p_values"] <= calibrated.false_alarm_rate + 1e-7))
    assert report.max_p_value_difference is not None


def test_pipeline_ending_in_a_calibrated_combination():
    calibration = pytest.importorskip("skanomaly.calibration")
    X = _tabular(300)
    pipeline = make_pipeline(MinMaxScaler(), calibration.CalibratedDetector(
        ScoreCombinationDetector([("iforest", IsolationForest(n_estimators=20, random_state=0)),
                                  ("lof", LocalOutlierFactor(novelty=True))]), random_state=0)).fit(X)
    model = to_onnx(pipeline, X)
    assert "p_values" in [o.name for o in model.graph.output]
    _assert_matches(model, pipeline, X, steep=True)


# ------------------------------------------------------------------------------------------- file, metadata, errors
def test_file_metadata_and_dataframe_names(tmp_path):
    X = pd.DataFrame(_tabular(), columns=[f"f{i}" for i in range(6)])
    detector = _fast("AutoEncoderDetector").fit(X)
    path = tmp_path / "detector.onnx"
    path.write_bytes(b"an older model")
    model = to_onnx(detector, X, path=path)
    assert path.read_bytes() == model.SerializeToString()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detector.onnx"]
    meta = {entry.key: entry.value for entry in onnx.load(path).metadata_props}
    assert meta["estimator"] == "AutoEncoderDetector"
    assert float(meta["offset"]) == detector.offset_
    assert meta["feature_names"] == '["f0", "f1", "f2", "f3", "f4", "f5"]'
    assert float(meta["check_max_relative_difference"]) <= RTOL
    assert check_onnx(str(path), detector, X).passed


def test_unfitted_estimators_are_refused(tmp_path):
    X = _tabular()
    path = tmp_path / "model.onnx"
    with pytest.raises(NotFittedError, match="AutoEncoderDetector"):
        to_onnx(_fast("AutoEncoderDetector"), X, path=path)
    with pytest.raises(NotFittedError):
        to_onnx(make_pipeline(StandardScaler(), _fast("AutoEncoderDetector")), X, path=path)
    assert not path.exists()


class _HandMadeDetector(OutlierMixin, BaseEstimator):
    """A detector that no converter knows."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -np.abs(X).sum(axis=1)


def test_members_without_a_converter_are_named(tmp_path):
    X = _tabular()
    path = tmp_path / "model.onnx"
    combined = ScoreCombinationDetector([("iforest", IsolationForest(n_estimators=10, random_state=0)),
                                         ("envelope", EllipticEnvelope(random_state=0))]).fit(X)
    with pytest.raises(ExportError, match="member 'envelope'.*EllipticEnvelope"):
        to_onnx(combined, X, path=path)
    combined = ScoreCombinationDetector([("mine", _HandMadeDetector())]).fit(X)
    with pytest.raises(ExportError, match="member 'mine'.*_HandMadeDetector"):
        to_onnx(combined, X, path=path)
    pipeline = make_pipeline(FunctionTransformer(np.tanh), _fast("AutoEncoderDetector")).fit(X)
    with pytest.raises(ExportError, match="step 'functiontransformer'.*FunctionTransformer"):
        to_onnx(pipeline, X, path=path)
    assert not path.exists()


def test_images_need_a_fixed_image_shape():
    X = _tabular(64)
    detector = _fast("AutoEncoderDetector").fit(X)
    with pytest.raises(ExportError, match="no fixed image shape"):
        to_onnx(detector, X.reshape(64, 1, 2, 3))
    images = _images()
    image_detector = _fast("DeepSVDDDetector", **IMAGE_PARAMS["DeepSVDDDetector"]).fit(images)
    with pytest.raises(ExportError, match=r"fitted on images of shape \(1, 8, 8\)"):
        to_onnx(image_detector, images.reshape(60, 1, 4, 16))
    pipeline = make_pipeline(MinMaxScaler(), _fast("AutoEncoderDetector", image_shape=(1, 8, 8))).fit(
        images.reshape(60, -1))
    with pytest.raises(ExportError, match="no fixed image shape"):
        to_onnx(pipeline, images)
    with pytest.raises(ExportError, match="has 5 features"):
        to_onnx(detector, X[:, :5])


def test_a_missing_onnx_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"skanomaly\[onnx\]"):
        to_onnx(_fast("AutoEncoderDetector"), _tabular())


def test_log_erfc_in_float32():
    """The A-score's log(erfc(x)) in float32 torch operations, against SciPy in float64, x from 0 to 1e4."""
    import torch
    from scipy.special import log_ndtr

    x = np.concatenate([np.linspace(0, 10, 2001), np.geomspace(10, 1e4, 400)]).astype(np.float32)
    expected = math.log(2.0) + log_ndtr(-np.float64(x) * math.sqrt(2.0))
    computed = export._log_erfc(torch.from_numpy(x)).numpy().astype(np.float64)
    # float32 rounding of x itself moves log(erfc(x)) by about 2 x^2 * 6e-8.
    allowed = 1e-6 * np.maximum(1.0, np.abs(expected))
    assert np.all(np.abs(computed - expected) <= allowed), np.max(np.abs(computed - expected) / allowed)


def test_written_file_is_replaced_in_one_step(tmp_path, monkeypatch):
    """A failure while writing leaves the old file and no temporary file."""
    X = _tabular()
    detector = _fast("AutoEncoderDetector").fit(X)
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        to_onnx(detector, X, path=path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
