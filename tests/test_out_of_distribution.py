"""The out-of-distribution protocol of the benchmark runner: dataset pairs "IN[n]:OUT", their split and their errors.

Small generated image datasets are registered for these tests; the real Fashion-MNIST and MNIST are not loaded.
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import Bunch, check_random_state

from skanomaly.benchmarks import DATASETS, DETECTORS, PRESETS, DatasetSpec, register_dataset, register_detector
from skanomaly.benchmarks import registry
from skanomaly.benchmarks.cli import main
from skanomaly.benchmarks.protocols import PROTOCOLS
from skanomaly.benchmarks.runner import run_benchmark
from skanomaly.benchmarks.study import StudyError, load_study
from skanomaly.exceptions import DatasetUnavailableError

N_CLASSES, N_TRAIN_PER_CLASS, N_TEST_PER_CLASS, N_OUT = 3, 12, 4, 9


class CenterDistance(OutlierMixin, BaseEstimator):
    """Distance to the mean of a seeded random half of the training rows; records the image shape it is given."""

    def __init__(self, scale=1.0, image_shape=None, random_state=None):
        self.scale = scale
        self.image_shape = image_shape
        self.random_state = random_state

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        rows = check_random_state(self.random_state).choice(len(X), size=max(1, len(X) // 2), replace=False)
        self.center_ = X[rows].mean(axis=0)
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -self.scale * np.linalg.norm(np.asarray(X, dtype=float) - self.center_, axis=1)


def _images(n_per_class, shift, seed, shape=(1, 2, 2)):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(N_CLASSES), n_per_class)
    X = np.clip(0.2 + 0.1 * y[:, None] + shift + 0.02 * rng.randn(len(y), int(np.prod(shape))), 0, 1)
    return X, y


def _fake_in(subset="all"):
    """IN: three classes of 2x2 images, an official training part (12 per class) and test part (4 per class)."""
    X_train, y_train = _images(N_TRAIN_PER_CLASS, 0.0, 1)
    X_test, y_test = _images(N_TEST_PER_CLASS, 0.0, 2)
    parts = {"train": (X_train, y_train), "test": (X_test, y_test),
             "all": (np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test]))}
    X, y = parts[subset]
    return Bunch(data=X, target=y, image_shape=(1, 2, 2))


def _fake_out():
    """OUT: brighter 2x2 images."""
    X, y = _images(N_OUT // N_CLASSES, 0.5, 3)
    return Bunch(data=X, target=y, image_shape=(1, 2, 2))


def _fake_wide(**kwargs):
    X, y = _images(3, 0.5, 4, shape=(1, 3, 3))
    return Bunch(data=X, target=y, image_shape=(1, 3, 3))


@pytest.fixture(autouse=True)
def registered():
    """Register the fake datasets and detector, and restore the registries afterwards."""
    detectors, datasets = dict(DETECTORS), dict(DATASETS)
    presets = {name: dict(entries) for name, entries in PRESETS.items()}
    register_detector("CenterDistance", CenterDistance, presets={"fake_in": {"scale": 2.0}}, replace=True)
    for spec in [
        DatasetSpec("fake_in", _fake_in, kind="image", scaler=None, image_shape=(1, 2, 2), official_split=True),
        DatasetSpec("fake_out", _fake_out, kind="image", scaler=None, image_shape=(1, 2, 2)),
        DatasetSpec("fake_wide", _fake_wide, kind="image", scaler=None, image_shape=(1, 3, 3), official_split=True),
        # Declares no shape: a mismatch shows only when the pair is loaded.
        DatasetSpec("fake_wide_undeclared", _fake_wide, kind="image", scaler=None),
        DatasetSpec("fake_in_copy", _fake_in, kind="image", scaler=None, official_split=True),
    ]:
        register_dataset(spec, replace=True)
    yield
    DETECTORS.clear()
    DETECTORS.update(detectors)
    DATASETS.clear()
    DATASETS.update(datasets)
    PRESETS.clear()
    PRESETS.update(presets)


# ----------------------------------------------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------------------------------------------


def test_pair_names_resolve_to_a_pair_spec():
    spec = registry.get_dataset_spec(" Fake-In [5] : FAKE_OUT ")
    assert spec.name == "fake_in[5]:fake_out" and spec.kind == "image-pair"
    assert spec.scaler is None and spec.anomaly_ratio is None and spec.image_shape == (1, 2, 2)
    assert registry.get_dataset_spec("fake_in:fake_out").name == "fake_in:fake_out"
    assert "5 training images per class of fake_in (seed 0)" in spec.description
    assert registry.presets_dataset_name("fake_in[5]:fake_out") == "fake_in"
    assert registry.presets_dataset_name("fake-in:fake_out") == "fake_in"
    assert registry.presets_dataset_name("thyroid") == "thyroid"
    # Pairs are resolved from their name, never registered.
    assert "fake_in[5]:fake_out" not in registry.list_datasets()
    with pytest.raises(ValueError, match="cannot hold ':'"):
        register_dataset(DatasetSpec("a:b", _fake_out, kind="image", scaler=None))
    with pytest.raises(ValueError, match="named 'IN:OUT', not registered"):
        register_dataset(DatasetSpec("ab", _fake_out, kind="image-pair", scaler=None))


@pytest.mark.parametrize("name, message", [
    ("fake_in:fake_out:fake_wide", "written 'IN:OUT' or 'IN\\[n\\]:OUT'"),
    (":fake_out", "written 'IN:OUT'"),
    ("fake_in:", "written 'IN:OUT'"),
    ("fake_in[0]:fake_out", "integer >= 1; got '0'"),
    ("fake_in[-3]:fake_out", "integer >= 1; got '-3'"),
    ("fake_in[2.5]:fake_out", "integer >= 1; got '2.5'"),
    ("fake_in[]:fake_out", "integer >= 1; got ''"),
    ("fake_in:fake_out[3]", "goes after IN; OUT is always used whole"),
    ("fake_inn:fake_out", "Unknown dataset 'fake_inn' \\(IN of the pair 'fake_inn:fake_out'\\). Did you mean 'fake_in'"),
    ("fake_in:fake_ot", "Unknown dataset 'fake_ot' \\(OUT of the pair"),
    ("thyroid:fake_out", "'thyroid' \\(IN of the pair 'thyroid:fake_out'\\) is a tabular dataset"),
    ("fake_in:thyroid", "\\(OUT of the pair 'fake_in:thyroid'\\) is a tabular dataset"),
    ("fake_out:fake_in", "'fake_out' cannot be IN of the pair 'fake_out:fake_in': it has no official training"),
    ("fake_in:fake_in", "come from the same data"),
    ("fake_in:fake_in_copy", "come from the same data"),
    ("fake_in:fake_wide", "differ in shape: IN 'fake_in' is \\(1, 2, 2\\), OUT 'fake_wide' is \\(1, 3, 3\\)"),
])
def test_malformed_or_impossible_pairs_are_refused_by_name(name, message):
    with pytest.raises(ValueError, match=message):
        registry.get_dataset_spec(name)


# ----------------------------------------------------------------------------------------------------------------
# Loading and splitting
# ----------------------------------------------------------------------------------------------------------------


def test_a_pair_loads_in_training_then_in_test_then_out():
    bunch = registry.get_dataset_spec("fake_in:fake_out").load()
    n_train, n_normal = N_CLASSES * N_TRAIN_PER_CLASS, N_CLASSES * N_TEST_PER_CLASS
    assert (bunch.n_train, bunch.n_test_normal, bunch.n_test_anomalous) == (n_train, n_normal, N_OUT)
    np.testing.assert_array_equal(bunch.target, [-1] * n_train + [0] * n_normal + [1] * N_OUT)
    np.testing.assert_array_equal(bunch.data[:n_train], _fake_in("train").data)
    np.testing.assert_array_equal(bunch.data[n_train:n_train + n_normal], _fake_in("test").data)
    np.testing.assert_array_equal(bunch.data[n_train + n_normal:], _fake_out().data)
    assert bunch.image_shape == (1, 2, 2) and bunch.in_dataset == "fake_in" and bunch.out_dataset == "fake_out"
    X_train, X_test, y_test = PROTOCOLS["out-of-distribution"].split(bunch.data, bunch.target, 7, None)
    np.testing.assert_array_equal(X_train, _fake_in("train").data)
    assert X_test.shape == (n_normal + N_OUT, 4) and y_test.tolist() == [0] * n_normal + [1] * N_OUT
    with pytest.raises(ValueError, match="splits a dataset pair"):
        PROTOCOLS["out-of-distribution"].split(bunch.data, np.zeros(len(bunch.data), int), 0, None)


def test_n_per_class_draws_the_same_stratified_sample_whatever_the_run():
    bunch = registry.get_dataset_spec("fake_in[5]:fake_out").load()
    train = _fake_in("train")
    X_train = bunch.data[bunch.target == -1]
    assert bunch.n_train == 5 * N_CLASSES and bunch.n_per_class == 5 and bunch.subsample_seed == 0
    rows = [int(np.flatnonzero((train.data == x).all(axis=1))[0]) for x in X_train]
    assert rows == sorted(rows)  # file order kept
    np.testing.assert_array_equal(np.bincount(train.target[rows]), [5] * N_CLASSES)
    again = registry.get_dataset_spec("fake_in[5]:fake_out").load()
    np.testing.assert_array_equal(again.data, bunch.data)
    # The draw is load_fashion_mnist's per-class draw with seed 0 on the training part.
    from skanomaly.datasets._images import _subsample_per_class

    np.testing.assert_array_equal(X_train, _subsample_per_class(train.data, train.target, 5, 0)[0])
    # The test part is the same with or without [n].
    full = registry.get_dataset_spec("fake_in:fake_out").load()
    np.testing.assert_array_equal(full.data[full.target >= 0], bunch.data[bunch.target >= 0])


def test_errors_found_only_when_loading():
    with pytest.raises(ValueError, match=f"asks for 13 training images per class of 'fake_in': n_per_class=13 "
                                         f"exceeds the {N_TRAIN_PER_CLASS} images"):
        registry.get_dataset_spec("fake_in[13]:fake_out").load()
    spec = registry.get_dataset_spec("fake_in:fake_wide_undeclared")  # no declared shape: resolves
    with pytest.raises(ValueError, match="differ in shape"):
        spec.load()


# ----------------------------------------------------------------------------------------------------------------
# The runner, the study file and the command line
# ----------------------------------------------------------------------------------------------------------------


def test_runs_share_the_split_record_the_composition_and_use_in_presets():
    df = run_benchmark(["CenterDistance"], ["fake_in[6]:fake_out"], protocol="out-of-distribution", seeds=[0, 1],
                       verbose=0)
    assert (df["status"] == "ok").all(), df["error"].tolist()
    assert list(df["detector"]) == ["IsolationForest", "CenterDistance"] * 2
    assert (df["dataset"] == "fake_in[6]:fake_out").all() and (df["protocol"] == "out-of-distribution").all()
    assert df["class"].isna().all() and (df["scaler"] == "").all()
    n_test = N_CLASSES * N_TEST_PER_CLASS + N_OUT
    assert (df["n_train"] == 6 * N_CLASSES).all() and (df["n_test"] == n_test).all()
    assert np.allclose(df["test_anomaly_ratio"], N_OUT / n_test) and np.allclose(df["k"], N_OUT / n_test)
    assert df["split_hash"].nunique() == 1  # the run seed does not change the split
    params = [json.loads(text) for text in df.loc[df["detector"] == "CenterDistance", "params"]]
    assert [p["random_state"] for p in params] == [0, 1]  # ...it seeds the detector
    assert all(p["scale"] == 2.0 and p["image_shape"] == [1, 2, 2] for p in params)  # IN's preset, image shape
    assert (df.loc[df["detector"] == "CenterDistance", "roc_auc"] == 1.0).all()  # OUT is far brighter


def test_pairs_and_protocols_must_match():
    with pytest.raises(ValueError, match="Protocol 'one-class' applies to image datasets; 'fake_in:fake_out' is "
                                         "image-pair \\(use protocol 'out-of-distribution'\\)"):
        run_benchmark(["CenterDistance"], ["fake_in:fake_out"], protocol="one-class", seeds=[0], verbose=0)
    with pytest.raises(ValueError, match="'fake_in' is image \\(use protocol 'one-class' or "
                                         "'leave-one-class-out'\\).*name the pair 'IN:OUT' or 'IN\\[n\\]:OUT'"):
        run_benchmark(["CenterDistance"], ["fake_in"], protocol="out-of-distribution", seeds=[0], verbose=0)
    with pytest.raises(ValueError, match="classes is only used by per-class protocols"):
        run_benchmark(["CenterDistance"], ["fake_in:fake_out"], protocol="out-of-distribution", seeds=[0],
                      classes=[0], verbose=0)
    with pytest.raises(DatasetUnavailableError, match="exceeds"):  # found before any run
        run_benchmark(["CenterDistance"], ["fake_in[99]:fake_out"], protocol="out-of-distribution", seeds=[0],
                      verbose=0)


def _study(folder, datasets='["fake_in[4]:fake_out"]', protocol="out-of-distribution", extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(f'protocol = "{protocol}"\ndatasets = {datasets}\nseeds = [0, 1]\n{extra}'
                    '[detectors.CenterDistance]\n', encoding="utf-8")
    return path


def test_a_study_file_names_the_pair_and_reproduces_its_rows(tmp_path):
    study = load_study(_study(tmp_path))
    assert study.datasets == ["fake_in[4]:fake_out"] and study.protocol == "out-of-distribution"
    first = study.run(verbose=0)
    stored = pd.read_csv(tmp_path / "results.csv")
    assert set(stored["dataset"]) == {"fake_in[4]:fake_out"} and len(stored) == 4
    again = load_study(_study(tmp_path / "again")).run(verbose=0)
    columns = ["detector", "seed", "split_hash", "roc_auc", "average_precision", "f1_at_k", "params"]
    pd.testing.assert_frame_equal(first[columns].reset_index(drop=True), again[columns].reset_index(drop=True))
    with pytest.raises(StudyError, match="'fake_in' is image .*name the pair"):
        load_study(_study(tmp_path / "single", datasets='["fake_in"]'))
    with pytest.raises(StudyError, match="is image-pair \\(use protocol 'out-of-distribution'\\)"):
        load_study(_study(tmp_path / "wrong", protocol="one-class"))
    with pytest.raises(StudyError, match="only the per-class protocols"):
        load_study(_study(tmp_path / "classes", extra="classes = [0]\n"))
    with pytest.raises(StudyError, match="Unknown dataset 'fake_ot' \\(OUT of the pair"):
        load_study(_study(tmp_path / "unknown", datasets='["fake_in:fake_ot"]'))


def test_cli_runs_a_pair_and_explains_the_syntax(tmp_path, capsys):
    status = main(["benchmark", "--detectors", "CenterDistance", "--datasets", "fake_in[3]:fake_out",
                   "--protocol", "out-of-distribution", "--seeds", "0", "--output", str(tmp_path), "-q"])
    assert status == 0
    assert "## fake_in[3]:fake_out · out-of-distribution" in capsys.readouterr().out
    assert main(["benchmark", "--detectors", "CenterDistance", "--datasets", "fake_in:fake_out", "--protocol",
                 "one-class", "-q"]) == 2
    assert "use protocol 'out-of-distribution'" in capsys.readouterr().err
    assert main(["benchmark", "--detectors", "CenterDistance", "--datasets", "fake_in:fake_wide", "--protocol",
                 "out-of-distribution", "-q"]) == 2
    assert main(["benchmark", "--detectors", "CenterDistance", "--datasets", "fake_in[50]:fake_out", "--protocol",
                 "out-of-distribution", "-q"]) == 66
    assert main(["datasets"]) == 0
    listing = capsys.readouterr().out
    assert "'IN:OUT' or 'IN[n]:OUT'" in listing
    assert "out-of-distribution (as IN or OUT of a pair)" in listing  # fake_in has an official split
    assert "out-of-distribution (as OUT of a pair)" in listing


def test_recommended_detector_is_registered_with_the_run_seed():
    from skanomaly.ensemble import ScoreCombinationDetector

    built = registry.get_detector_spec("recommended_detector").build("fake_in:fake_out", 3)
    assert isinstance(built, ScoreCombinationDetector)
    assert built.get_params()["iforest__isolationforest__random_state"] == 3
