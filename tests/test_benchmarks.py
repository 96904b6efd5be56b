"""Tests of the benchmark runner, its summary and its command line (embedded Thyroid and tiny generated data)."""

import io
import json
import re
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import Bunch, check_random_state

from skanomaly.benchmarks import (
    DATASETS,
    DETECTORS,
    RESULT_COLUMNS,
    DatasetSpec,
    PyODAdapter,
    environment_info,
    format_mean_sd,
    markdown_table,
    merge_results,
    read_results,
    register_dataset,
    register_detector,
    run_benchmark,
    summarize,
)
from skanomaly.benchmarks.cli import main, parse_set_options


class MeanDistanceDetector(OutlierMixin, BaseEstimator):
    """Tiny detector: distance to the mean of a random 80 % of the training rows (so the seed matters)."""

    def __init__(self, shift=0.0, image_shape=None, random_state=None):
        self.shift = shift
        self.image_shape = image_shape
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        rng = check_random_state(self.random_state)
        rows = rng.choice(X.shape[0], size=max(1, int(0.8 * X.shape[0])), replace=False)
        self.center_ = X[rows].mean(axis=0)
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -np.linalg.norm(np.asarray(X, dtype=float) - self.center_, axis=1) + self.shift


class AblatedDetector(MeanDistanceDetector):
    """Also scores one 'ablation' from the same fit: the squared distance."""

    def ablation_scores(self, X):
        return pd.DataFrame({"power=2": -(self.score_samples(X) ** 2)})


class FailingDetector(MeanDistanceDetector):
    """Fails in fit, to check that a failed run is recorded."""

    def fit(self, X, y=None):
        raise RuntimeError("boom in fit")


class NoisyDetector(MeanDistanceDetector):
    """Mean distance plus seeded noise of size ``noise``: large noise ruins it, which selection must notice."""

    shift = 0.0

    def __init__(self, noise=0.0, random_state=None):
        self.noise = noise
        self.random_state = random_state

    def score_samples(self, X):
        clean = super().score_samples(X)
        return clean + self.noise * np.random.RandomState(len(X)).standard_normal(len(X))


def _tiny_images():
    """Three well separated 'classes' of 2x2 'images' in [0, 1]."""
    rng = np.random.RandomState(0)
    centers = np.array([[0.1] * 4, [0.5] * 4, [0.9] * 4])
    y = np.repeat([0, 1, 2], 40)
    X = np.clip(centers[y] + 0.03 * rng.randn(len(y), 4), 0, 1)
    return Bunch(data=X, target=y, image_shape=(1, 2, 2))


def _missing_file(data_home=None):
    raise FileNotFoundError("no such data file")


@pytest.fixture(autouse=True)
def registered():
    """Register the test detectors and datasets, and restore the registries afterwards."""
    detectors, datasets = dict(DETECTORS), dict(DATASETS)
    register_detector("MeanDistance", MeanDistanceDetector, replace=True)
    register_detector("Failing", FailingDetector, replace=True)
    register_detector("Ablated", AblatedDetector, replace=True)
    register_detector("Noisy", NoisyDetector, presets={"thyroid": {"noise": 10.0}}, replace=True)
    register_detector("NotWrittenYet", "skanomaly.detectors:NoSuchDetector", replace=True)
    register_dataset(DatasetSpec("tiny_images", _tiny_images, kind="image", scaler=None), replace=True)
    register_dataset(DatasetSpec("missing_file", _missing_file, kind="tabular", anomaly_ratio=0.1,
                                 uses_data_home=True), replace=True)
    yield
    DETECTORS.clear()
    DETECTORS.update(detectors)
    DATASETS.clear()
    DATASETS.update(datasets)


METRICS = ["roc_auc", "average_precision", "precision_at_k", "recall_at_k", "f1_at_k"]


def test_one_row_per_run_with_identical_splits_and_reference():
    df = run_benchmark(["MeanDistance"], "thyroid", seeds=[0, 1], verbose=0)
    assert list(df.columns) == RESULT_COLUMNS
    assert len(df) == 4
    # IsolationForest was not asked for, yet it runs first on every split.
    assert list(df["detector"]) == ["IsolationForest", "MeanDistance"] * 2
    assert (df["status"] == "ok").all(), df["error"].tolist()
    for _, runs in df.groupby("seed"):
        assert runs["split_hash"].nunique() == 1
        assert runs["n_train"].nunique() == 1 and runs["n_test"].nunique() == 1
    assert df.loc[df.seed == 0, "split_hash"].iloc[0] != df.loc[df.seed == 1, "split_hash"].iloc[0]
    # novelty protocol: 50/50 split, the 93 anomalies only in the test half
    assert (df["n_test"] == 1886).all()
    n_test_anomalies = np.rint(df["test_anomaly_ratio"] * df["n_test"]).astype(int)
    assert ((df["n_train"] + (93 - n_test_anomalies)) == 3772 - 1886).all()
    assert np.allclose(df["k"], 0.025)
    assert df["class"].isna().all()
    for col in METRICS:
        assert df[col].between(0, 1).all()
    assert (df.loc[df.detector == "IsolationForest", "roc_auc"] > 0.9).all()
    assert (df["fit_seconds"] >= 0).all() and (df["score_seconds"] >= 0).all()
    params = json.loads(df.loc[df.detector == "IsolationForest", "params"].iloc[0])
    assert params["n_estimators"] == 100 and params["random_state"] == 0
    assert not any(key.startswith("scaler") for key in params)  # only the detector's own parameters
    assert json.loads(df.loc[(df.detector == "MeanDistance") & (df.seed == 1), "params"].iloc[0]) == {
        "image_shape": None, "random_state": 1, "shift": 0.0}
    assert (df["scaler"] == "minmax").all()
    assert df["skanomaly_version"].iloc[0] == environment_info()["skanomaly_version"]


def test_ablation_scores_become_rows_of_their_own():
    images = run_benchmark(["Ablated"], ["tiny_images"], protocol="one-class", seeds=[0], verbose=0)
    assert (images.status == "ok").all() and "Ablated[power=2]" in set(images.detector)  # no scaler step
    results = run_benchmark(["Ablated"], ["thyroid"], seeds=[0], verbose=0)
    rows = results.set_index("detector")
    assert {"Ablated", "Ablated[power=2]"} <= set(rows.index)
    variant, own = rows.loc["Ablated[power=2]"], rows.loc["Ablated"]
    assert variant["status"] == "ok" and variant["split_hash"] == own["split_hash"]
    # A monotone transform of the same score: the ranking metrics agree, the row is not a copy of a fit.
    assert variant["roc_auc"] == pytest.approx(own["roc_auc"])
    assert variant["fit_seconds"] == own["fit_seconds"]
    assert json.loads(variant["params"]) == {**json.loads(own["params"]), "power": 2}


def test_variant_names_build_the_detector_with_those_parameters():
    from skanomaly.benchmarks.registry import parse_variant_name

    assert parse_variant_name("AMADetector") == ("AMADetector", {})
    assert parse_variant_name("AE[hidden_layer_sizes=(64, 32), activation=relu, lr=1e-3]") == (
        "AE", {"hidden_layer_sizes": (64, 32), "activation": "relu", "lr": 1e-3})
    with pytest.raises(ValueError, match="Name\\[param=value"):
        parse_variant_name("AE[64]")
    results = run_benchmark(["MeanDistance", "MeanDistance[shift=5.0]"], ["thyroid"], seeds=[0], verbose=0)
    rows = results.set_index("detector")
    assert rows.loc["MeanDistance[shift=5.0]", "split_hash"] == rows.loc["MeanDistance", "split_hash"]
    assert json.loads(rows.loc["MeanDistance[shift=5.0]", "params"])["shift"] == 5.0
    with pytest.raises(ValueError, match="Unknown detector 'NoSuch\\[a=1\\]'"):
        run_benchmark(["NoSuch[a=1]"], ["thyroid"], seeds=[0], verbose=0)


def test_label_free_selection_chooses_between_preset_and_defaults(monkeypatch):
    from sklearn.model_selection import GridSearchCV

    from skanomaly.benchmarks import registry

    monkeypatch.setitem(registry.PRESETS, "Noisy", {"thyroid": {"noise": 10.0}})
    factory = registry.label_free_selection_factory("Noisy")
    search = factory("thyroid", 3)
    assert isinstance(search, GridSearchCV) and search.estimator.random_state == 3
    assert search.param_grid == [{"noise": [10.0]}, {"noise": [0.0]}]
    assert search.cv.random_state == 3 and search.scoring.random_state == 3
    assert factory("thyroid", 0, noise=10.0).param_grid == [{}]  # an override is not searched
    assert factory("arrhythmia", 0).param_grid == [{}]  # no preset, a single candidate
    # Further candidates sit on top of the defaults; a parameter the user overrides is not searched.
    wide = registry.label_free_selection_factory("Noisy", param_grid={"noise": (0.5, 20.0)})
    assert wide("thyroid", 0).param_grid == [{"noise": [10.0]}, {"noise": [0.0]}, {"noise": [0.5, 20.0]}]
    assert wide("thyroid", 0, noise=1.0).param_grid == [{}]
    assert wide("arrhythmia", 0).param_grid == [{}, {"noise": [0.5, 20.0]}]
    for bad in (0.5, "0.5", []):
        with pytest.raises(ValueError, match="non-empty list"):
            registry.label_free_selection_factory("Noisy", param_grid={"noise": bad})
    # Around a registered detector, the search compares its preset with the class defaults.
    grid = registry.label_free_selection_factory("MirroredAEDetector")("thyroid", 0).param_grid
    assert grid[0]["latent_dim"] == [4] and grid[1]["latent_dim"] == ["auto"]
    searched = registry.label_free_selection_factory("MirroredAEDetector", param_grid={"latent_dim": [4, 16]})
    grid = searched("thyroid", 0).param_grid
    assert [candidate["latent_dim"] for candidate in grid] == [[4], ["auto"], [4, 16]]
    assert grid[2]["hidden_layer_sizes"] == [(64,)]  # the further candidates build on the defaults
    budget = registry.label_free_selection_factory(
        "MirroredAEDetector", param_grid={"latent_dim": [4, 16], "max_epochs": [50, 100, 200]})
    grid = budget("thyroid", 0).param_grid
    assert grid[2]["latent_dim"] == [4, 16] and grid[2]["max_epochs"] == [50, 100, 200]
    assert grid[0]["max_epochs"] == [100] and grid[1]["max_epochs"] == [50]  # the preset's budget, the default's
    search = registry.label_free_selection_factory("MirroredAEDetector", method="shuffle",
                                                   param_grid={"latent_dim": [4, 16]})("thyroid", 2)
    assert search.scoring.method == "shuffle" and search.param_grid[2]["latent_dim"] == [4, 16]
    # A DetectorSpec works as the base too; the presets are looked up under its name.
    spec = registry.DetectorSpec("MirroredAEDetector", registry.get_detector_spec("MirroredAEDetector").factory)
    assert registry.label_free_selection_factory(spec)("thyroid", 0).param_grid == \
        registry.label_free_selection_factory("MirroredAEDetector")("thyroid", 0).param_grid

    register_detector("Noisy-selected", factory=factory, replace=True)
    results = run_benchmark(["Noisy", "Noisy-selected"], ["thyroid"], seeds=[0], verbose=0).set_index("detector")
    assert (results["status"] == "ok").all(), results["error"].tolist()
    # The noisy preset is worse on synthetic anomalies, so the defaults win; the row records the model scored.
    assert json.loads(results.loc["Noisy-selected", "params"]) == {"noise": 0.0, "random_state": 0}
    assert results.loc["Noisy-selected", "roc_auc"] > results.loc["Noisy", "roc_auc"]


def test_fashion_mnist_5k_is_registered_with_the_fashion_mnist_presets():
    from skanomaly.benchmarks.registry import get_dataset_spec
    from skanomaly.detectors.presets import get_preset

    spec = get_dataset_spec("Fashion-MNIST-5k")
    assert spec.kind == "image" and spec.loader_kwargs == {"n_per_class": 500, "random_state": 0}
    for detector in ("AMADetector", "MirroredAEDetector", "AutoEncoderDetector"):
        assert get_preset(detector, "fashion_mnist_5k") == get_preset(detector, "fashion_mnist") != {}


def test_reference_not_duplicated():
    df = run_benchmark(["IsolationForest"], ["thyroid"], seeds=0, verbose=0)
    assert list(df["detector"]) == ["IsolationForest"]


def test_failed_and_skipped_runs_are_recorded_not_raised():
    with pytest.warns(UserWarning, match="NotWrittenYet"):
        df = run_benchmark(["Failing", "NotWrittenYet", "MeanDistance"], ["thyroid"], seeds=[0], verbose=0)
    status = dict(zip(df["detector"], df["status"]))
    assert status == {"IsolationForest": "ok", "Failing": "error", "NotWrittenYet": "skipped",
                      "MeanDistance": "ok"}
    assert "RuntimeError: boom in fit" in df.loc[df.detector == "Failing", "error"].iloc[0]
    assert "NoSuchDetector" in df.loc[df.detector == "NotWrittenYet", "error"].iloc[0]
    assert np.isnan(df.loc[df.detector == "Failing", "roc_auc"].iloc[0])
    text = summarize(df)
    assert re.search(r"\| Failing \| 0/1 \| failed \|", text)
    assert re.search(r"\| NotWrittenYet \| 0/1 \| skipped \|", text)
    assert "RuntimeError: boom in fit" in text


def test_a_dataset_that_cannot_be_loaded_stops_the_benchmark_before_any_run(tmp_path):
    from skanomaly.benchmarks import DatasetUnavailableError

    for datasets in (["missing_file"], ["thyroid", "missing_file"]):
        with pytest.raises(DatasetUnavailableError, match="Dataset 'missing_file' cannot be loaded, so no run was "
                                                          "started: FileNotFoundError: no such data file"):
            run_benchmark(["MeanDistance"], datasets, seeds=[0, 1], output_dir=tmp_path / "out", verbose=0)
        assert not (tmp_path / "out").exists()


def test_each_dataset_is_loaded_once_before_the_runs_and_the_first_is_not_loaded_again():
    loads = []

    def counted(name):
        def load():
            loads.append(name)
            return _tiny_images()
        return load

    for name in ("first", "second"):
        register_dataset(DatasetSpec(name, counted(name), kind="image", scaler=None), replace=True)
    df = run_benchmark(["MeanDistance"], ["first", "second"], protocol="one-class", seeds=[0], classes=[0],
                       verbose=0)
    assert (df["status"] == "ok").all() and len(df) == 4
    assert loads == ["first", "second", "second"]


def test_cli_missing_kdd_file_is_one_error_with_status_66(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SKANOMALY_DATA", raising=False)
    empty = tmp_path / "data"
    empty.mkdir()
    out = tmp_path / "out"
    status = main(["benchmark", "--detectors", "MeanDistance", "--datasets", "thyroid", "kddcup99", "--seeds", "0",
                   "1", "--data-home", str(empty), "--output", str(out)])
    captured = capsys.readouterr()
    assert status == 66
    assert captured.out == ""  # no table of failed cells
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("skanomaly benchmark: error: Dataset 'kddcup99' cannot be loaded, so no run was "
                               "started: FileNotFoundError: KDD Cup 1999 data not found in ")
    for needed in (str(empty), "kddcup.data_10_percent.gz", "UCI", "SKANOMALY_DATA", "--data-home DIR"):
        assert needed in lines[0]
    assert lines[0].count("Download") == 1
    assert not out.exists()  # nothing ran, nothing was stored


def test_outputs_written_and_rerun_replaces_same_keys(tmp_path):
    first = run_benchmark(["MeanDistance"], ["thyroid"], seeds=[0, 1], output_dir=tmp_path, verbose=0)
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "summary.md").is_file()
    stored = read_results(tmp_path)
    assert len(stored) == 4
    pd.testing.assert_series_equal(stored.set_index(["detector", "seed"])["roc_auc"].sort_index(),
                                   first.set_index(["detector", "seed"])["roc_auc"].sort_index())
    # Same key (seed 1) is replaced, a new key (seed 2) is added, seed 0 is kept.
    run_benchmark(["MeanDistance"], ["thyroid"], seeds=[1, 2], output_dir=tmp_path, verbose=0,
                  params={"MeanDistance": {"shift": 5.0}})
    stored = read_results(tmp_path / "results.csv")
    assert len(stored) == 6
    assert sorted(stored["seed"].unique()) == [0, 1, 2]
    shifts = stored[stored.detector == "MeanDistance"].set_index("seed")["params"].map(
        lambda p: json.loads(p)["shift"])
    assert shifts.to_dict() == {0: 0.0, 1: 5.0, 2: 5.0}
    summary = (tmp_path / "summary.md").read_text()
    assert "Seeds: 0, 1, 2 (3)" in summary


def test_merge_results_keeps_other_keys():
    a = pd.DataFrame({"detector": ["X", "Y"], "dataset": "d", "protocol": "novelty", "seed": [0, 0],
                      "class": [None, None], "status": "ok", "roc_auc": [0.1, 0.2]})
    b = pd.DataFrame({"detector": ["X"], "dataset": "d", "protocol": "novelty", "seed": [0],
                      "class": [None], "status": "ok", "roc_auc": [0.9]})
    merged = merge_results(a, b)
    assert dict(zip(merged["detector"], merged["roc_auc"])) == {"X": 0.9, "Y": 0.2}


def test_summary_markdown_format():
    df = run_benchmark(["MeanDistance"], ["thyroid"], seeds=[0, 1, 2], verbose=0)
    text = summarize(df)
    assert text.startswith("# ") and text.endswith("\n")
    assert "## thyroid · novelty" in text
    assert "Seeds: 0, 1, 2 (3)" in text and "Top-k: 2.5 % of the test set" in text
    assert "Commit: " in text and "Date: " in text
    header = next(line for line in text.splitlines() if line.startswith("| Detector"))
    assert header.split("|")[1:4] == [" Detector ", " Runs ok ", " AUROC "]
    rows = [line for line in text.splitlines() if line.startswith("| ") and "± " in line]
    assert rows[0].startswith("| IsolationForest (reference) | 3/3 |")
    assert rows[1].startswith("| MeanDistance | 3/3 |")
    auroc = df[df.detector == "MeanDistance"]["roc_auc"]
    expected = f"{auroc.mean():.3f} ± {auroc.std(ddof=1):.3f}"
    assert rows[1].split("|")[3].strip() == expected
    assert re.fullmatch(r"(\| [^|]+ )+\|", rows[1])


def test_image_protocols_iterate_classes_and_pass_image_shape():
    df = run_benchmark(["MeanDistance"], ["tiny_images"], protocol="one-class", seeds=[0], verbose=0)
    assert len(df) == 6 and (df["status"] == "ok").all()
    assert sorted(df["class"].unique().tolist()) == [0, 1, 2]
    for _, runs in df.groupby("class"):
        assert runs["split_hash"].nunique() == 1
    # stratified split: the same train/test sizes for every class, anomalies = the other two classes
    assert df["n_test"].nunique() == 1
    assert np.allclose(df["test_anomaly_ratio"], 2 / 3)
    params = json.loads(df.loc[df.detector == "MeanDistance", "params"].iloc[0])
    assert params["image_shape"] == [1, 2, 2]
    assert (df["scaler"] == "").all()
    assert (df.loc[df.detector == "MeanDistance", "roc_auc"] > 0.95).all()  # separated classes

    loo = run_benchmark(["MeanDistance"], ["tiny_images"], protocol="leave-one-class-out", seeds=[0, 1],
                        classes=[2], verbose=0)
    assert len(loo) == 4 and set(loo["class"]) == {2}
    text = summarize(pd.concat([df, loo]))
    assert "## tiny_images · leave-one-class-out" in text and "## tiny_images · one-class" in text
    assert "### AUROC per class (mean ± sd over seeds)" in text
    assert "| Detector | 0 | 1 | 2 |" in text


def test_n_jobs_2_gives_same_results_as_n_jobs_1():
    kwargs = dict(seeds=[0, 1], verbose=0)
    one = run_benchmark(["MeanDistance"], ["thyroid"], n_jobs=1, **kwargs)
    two = run_benchmark(["MeanDistance"], ["thyroid"], n_jobs=2, **kwargs)
    cols = ["detector", "seed", "split_hash", "n_train", "n_test", *METRICS]
    pd.testing.assert_frame_equal(one[cols], two[cols])
    assert (two["torch_threads"] >= 1).all()


def test_configuration_errors_raise():
    with pytest.raises(ValueError, match="applies to image datasets"):
        run_benchmark(["MeanDistance"], ["thyroid"], protocol="one-class", verbose=0)
    with pytest.raises(ValueError, match="applies to tabular datasets"):
        run_benchmark(["MeanDistance"], ["tiny_images"], protocol="novelty", verbose=0)
    with pytest.raises(ValueError, match="only used by per-class protocols"):
        run_benchmark(["MeanDistance"], ["thyroid"], classes=[0], verbose=0)
    with pytest.raises(ValueError, match="Unknown dataset"):
        run_benchmark(["MeanDistance"], ["nope"], verbose=0)
    with pytest.raises(ValueError, match="Unknown dataset 'thyriod'. Did you mean 'thyroid'[?] Known datasets: "):
        run_benchmark(["MeanDistance"], ["thyriod"], verbose=0)
    with pytest.raises(ValueError, match="Unknown detector 'meandistance'. Did you mean 'MeanDistance'[?]"):
        run_benchmark(["meandistance"], ["thyroid"], verbose=0)
    with pytest.raises(ValueError, match=r"Did you mean 'MeanDistance\[shift=1\]'[?]"):
        run_benchmark(["MeanDistanse[shift=1]"], ["thyroid"], verbose=0)
    with pytest.raises(ValueError, match="Unknown detector"):
        run_benchmark(["Nope"], ["thyroid"], verbose=0)
    with pytest.raises(ValueError, match="Unknown protocol"):
        run_benchmark(["MeanDistance"], ["thyroid"], protocol="ood-ish", verbose=0)
    with pytest.raises(ValueError, match="Cannot build detector 'MeanDistance'"):
        run_benchmark(["MeanDistance"], ["thyroid"], params={"MeanDistance": {"no_such_param": 1}}, verbose=0)
    with pytest.raises(ValueError, match="not benchmarked"):
        run_benchmark(["MeanDistance"], ["thyroid"], params={"Failing": {}}, verbose=0)
    with pytest.raises(ValueError, match="seeds"):
        run_benchmark(["MeanDistance"], ["thyroid"], seeds=[], verbose=0)
    with pytest.raises(ValueError, match="not in dataset"):
        run_benchmark(["MeanDistance"], ["tiny_images"], protocol="one-class", classes=[7], verbose=0)


def test_format_helpers():
    assert format_mean_sd([0.5, 0.7]) == "0.600 ± 0.141"
    assert format_mean_sd([0.5]) == "0.500"
    assert format_mean_sd([np.nan]) == "–"
    table = markdown_table(["a", "b"], [["x|y", 1.5]])
    assert table.splitlines() == ["| a | b |", "|:---|---:|", "| x\\|y | 1.5 |"]
    with pytest.raises(ValueError):
        markdown_table(["a", "b"], [["only one"]])


def test_pyod_adapter_flips_the_sign():
    pytest.importorskip("pyod")
    from pyod.models.knn import KNN

    rng = np.random.RandomState(0)
    X = rng.randn(200, 3)
    adapter = PyODAdapter(KNN(n_neighbors=5)).fit(X)
    scores = adapter.score_samples(np.vstack([np.zeros(3), np.full(3, 8.0)]))
    assert scores[0] > scores[1]  # the far point is less normal
    assert np.allclose(adapter.score_samples(X), -adapter.detector_.decision_function(X))
    assert adapter.predict(np.full((1, 3), 8.0))[0] == -1


def test_pyod_autoencoder_spec_builds_an_adapter():
    pytest.importorskip("pyod")
    est = DETECTORS["PyOD-AutoEncoder"].build("thyroid", 3, epoch_num=2)
    assert isinstance(est, PyODAdapter)
    assert est.detector.random_state == 3 and est.detector.epoch_num == 2


def test_parse_set_options():
    parsed = parse_set_options(["AutoEncoderDetector.max_epochs=5", "AutoEncoderDetector.activation=relu",
                                "A.b=(64, 32)"])
    assert parsed == {"AutoEncoderDetector": {"max_epochs": 5, "activation": "relu"}, "A": {"b": (64, 32)}}
    assert parse_set_options(["AMA[mirrored=False, lr=1e-3].image_shape=None"]) == {
        "AMA[mirrored=False, lr=1e-3]": {"image_shape": None}}
    for bad in ["max_epochs=5", "A.=5", "A[x=1].=2"]:
        with pytest.raises(ValueError, match="DETECTOR.PARAM=VALUE"):
            parse_set_options([bad])


def test_cli_benchmark_and_errors(tmp_path, capsys):
    out = tmp_path / "bench"
    status = main(["benchmark", "--detectors", "MeanDistance", "--datasets", "thyroid", "--seeds", "0", "1",
                   "--set", "MeanDistance.shift=2.5", "--output", str(out), "-q"])
    captured = capsys.readouterr()
    assert status == 0
    assert "| IsolationForest (reference) | 2/2 |" in captured.out
    stored = read_results(out)
    assert len(stored) == 4
    assert json.loads(stored.loc[stored.detector == "MeanDistance", "params"].iloc[0])["shift"] == 2.5

    assert main(["benchmark", "--detectors", "Failing", "--datasets", "thyroid", "--seeds", "0", "-q"]) == 1
    assert main(["benchmark", "--detectors", "Nope", "--datasets", "thyroid", "-q"]) == 2
    err = capsys.readouterr().err
    assert "Unknown detector 'Nope'. Known detectors: " in err and "Did you mean" not in err
    assert main(["benchmark", "--detectors", "IsolatonForest", "--datasets", "thyroid", "-q"]) == 2
    assert "Unknown detector 'IsolatonForest'. Did you mean 'IsolationForest'?" in capsys.readouterr().err
    assert main(["benchmark", "--detectors", "MeanDistance", "--datasets", "Thyriod", "-q"]) == 2
    assert "Unknown dataset 'Thyriod'. Did you mean 'thyroid'?" in capsys.readouterr().err
    assert main(["benchmark", "--detectors", "MeanDistance", "--datasets", "thyroid", "--set", "oops"]) == 2
    with pytest.raises(SystemExit):
        main(["benchmark", "--datasets", "thyroid"])  # --detectors is required


def test_cli_listings(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "| thyroid | tabular | novelty | minmax | 2.5 % | embedded |" in out
    assert "| kddcup99 | tabular | novelty | minmax | 20 % |" in out
    assert "| multimodal_2d | tabular | novelty | none | 9.09 % | embedded |" in out
    assert main(["detectors"]) == 0
    assert "IsolationForest (reference)" in capsys.readouterr().out


def test_top_k_is_printed_with_three_significant_digits():
    rows = run_benchmark(["MeanDistance"], ["multimodal_2d"], seeds=[0], verbose=0)
    assert "- Top-k: 9.09 % of the test set." in summarize(rows)
    assert "9.0909" not in summarize(rows)


def test_progress_bar_on_a_terminal_and_one_line_per_run_elsewhere(capsys, monkeypatch):
    run_benchmark(["MeanDistance"], ["thyroid"], seeds=[0, 1], verbose=1)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines()[-1] == "[skanomaly benchmark] done: 4 ok, 0 failed, skipped 0 already stored."
    runs = err.splitlines()[:-1]
    assert len(runs) == 4 and all(re.match(r"\[skanomaly benchmark\] \w+ \| thyroid \| novelty \| seed [01]: "
                                           r"roc_auc=", line) for line in runs), err

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_benchmark(["MeanDistance"], ["thyroid"], seeds=[0, 1], verbose=1)
    shown = terminal.getvalue()
    assert "\r" in shown and "4/4" in shown
    assert shown.count("| thyroid | novelty | seed") == 4


def test_cli_demo_one_seed(tmp_path, capsys):
    pytest.importorskip("torch")
    status = main(["demo", "--seeds", "0", "--max-epochs", "1", "--output", str(tmp_path), "-q"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "## thyroid · novelty" in out
    assert re.search(r"\| IsolationForest \(reference\) \| 1/1 \| 0\.\d{3} \|", out)
    assert re.search(r"\| AutoEncoderDetector \| 1/1 \| 0\.\d{3} \|", out)
    stored = read_results(tmp_path)
    ae = stored[stored.detector == "AutoEncoderDetector"].iloc[0]
    assert json.loads(ae["params"])["max_epochs"] == 1
    assert ae["device"] == "cpu"
    assert stored["split_hash"].nunique() == 1


def test_environment_info(monkeypatch):
    info = environment_info()
    assert set(info) == {"skanomaly_version", "git_commit", "git_dirty", "torch_version"}
    from skanomaly.benchmarks import runner

    calls = []
    monkeypatch.setattr(runner, "_git", lambda args, cwd: calls.append((args, cwd)) or "")
    assert runner.environment_info()["git_dirty"] is False
    # "dirty" looks at the package folder only, not at results written into the checkout
    status = [(args, cwd) for args, cwd in calls if args[0] == "status"]
    assert status[0][0][-2:] == ["--", "."] and status[0][1].name == "skanomaly"
    assert info["git_commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", info["git_commit"])


def test_seed_ensemble_factory_wraps_the_base_detector():
    from skanomaly.benchmarks import registry
    from skanomaly.ensemble import SeedEnsembleDetector

    factory = registry.seed_ensemble_factory("MeanDistance", n_estimators=4)
    ensemble = factory("thyroid", 7, shift=1.0)
    assert isinstance(ensemble, SeedEnsembleDetector)
    assert (ensemble.n_estimators, ensemble.random_state, ensemble.estimator.shift) == (4, 7, 1.0)
    # The ensemble's own parameters are taken out of the overrides; the rest reach the base detector.
    ensemble = factory("thyroid", 0, n_estimators=2, combination="median")
    assert (ensemble.n_estimators, ensemble.combination) == (2, "median")
    # Around a spec that is itself a composition: every member runs its own label-free search.
    searched = registry.DetectorSpec("MirroredAEDetector", registry.label_free_selection_factory(
        "MirroredAEDetector", param_grid={"latent_dim": [4, 16]}))
    built = registry.seed_ensemble_factory(searched)("thyroid", 3)
    assert built.estimator.param_grid[2]["latent_dim"] == [4, 16] and built.n_estimators == 5
    assert built.random_state == 3 and built.estimator.cv.random_state == 3
    built = registry.seed_ensemble_factory("OMASGANDetector")("arrhythmia", 2, task1_epochs=200)
    assert (built.n_estimators, built.random_state, built.estimator.task1_epochs) == (5, 2, 200)

    register_detector("MeanDistance-ensemble", factory=factory, replace=True)
    results = run_benchmark(["MeanDistance", "MeanDistance-ensemble"], ["thyroid"], seeds=[0],
                            verbose=0).set_index("detector")
    assert (results["status"] == "ok").all(), results["error"].tolist()
    assert results.loc["MeanDistance-ensemble", "roc_auc"] != results.loc["MeanDistance", "roc_auc"]


def test_preprocessed_factory_runs_the_transformer_before_the_detector():
    from sklearn.preprocessing import PowerTransformer, StandardScaler

    from skanomaly.benchmarks import DetectorSpec, label_free_selection_factory, preprocessed_factory

    transformer = PowerTransformer()
    factory = preprocessed_factory("Ablated", transformer)
    pipe = factory("thyroid", 4, shift=2.0)
    assert pipe.steps[0][1] is not transformer  # a clone per run
    assert (pipe.steps[-1][1].shift, pipe.steps[-1][1].random_state) == (2.0, 4)

    register_detector("Ablated-power", factory=factory, replace=True)
    rows = run_benchmark(["Ablated", "Ablated-power"], ["thyroid"], seeds=[0], verbose=0).set_index("detector")
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert not hasattr(transformer, "lambdas_")  # the runs fitted clones, never the registered transformer
    # The transform changes the detector's ranking (the distance is taken in the transformed space) ...
    assert rows.loc["Ablated-power", "roc_auc"] != pytest.approx(rows.loc["Ablated", "roc_auc"])
    # ... and the run records the detector's own parameters and ablation rows, as for the plain detector.
    assert json.loads(rows.loc["Ablated-power", "params"]) == json.loads(rows.loc["Ablated", "params"])
    assert rows.loc["Ablated-power[power=2]", "roc_auc"] == pytest.approx(rows.loc["Ablated-power", "roc_auc"])
    searched = DetectorSpec("MirroredAEDetector", label_free_selection_factory(
        "MirroredAEDetector", param_grid={"latent_dim": [4, 16]}))
    for step in (PowerTransformer, StandardScaler):
        built = preprocessed_factory(searched, step())("thyroid", 1)
        assert isinstance(built.steps[0][1], step)
        assert built.steps[-1][1].param_grid[2]["latent_dim"] == [4, 16]
