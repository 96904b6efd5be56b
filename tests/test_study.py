"""Study files (TOML): parsing, validation messages, composition order, the committed studies and their rows."""

import glob
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, PowerTransformer, StandardScaler

from skanomaly.benchmarks import registry
from skanomaly.benchmarks.study import Study, StudyError, load_study
from skanomaly.datasets import load_multimodal_2d, multimodal_2d_support_distance
from skanomaly.detectors import AMADetector, MirroredAEDetector
from skanomaly.ensemble import SeedEnsembleDetector

BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
HEADER = 'protocol = "novelty"\ndatasets = ["thyroid"]\nseeds = [0]\n'


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_study_reads_its_settings_and_builds_one_spec_per_entry(tmp_path):
    path = write(tmp_path, """
        protocol = "leave-one-class-out"
        datasets = ["mnist"]
        seeds = [1, 0]
        classes = [3, 5]
        output = "store"

        [detectors.MirroredAEDetector]

        [detectors."AMADetector[mirrored=False, hidden_layer_sizes=(32,)]"]

        [detectors.Wide]
        estimator = "AMADetector"
        params = { hidden_layer_sizes = [64, 32], latent_dim = 8 }
        """)
    study = load_study(path)
    assert isinstance(study, Study)
    assert (study.protocol, study.datasets, study.seeds, study.classes) == ("leave-one-class-out", ["mnist"],
                                                                             [1, 0], [3, 5])
    assert study.output_dir == (tmp_path / "store").resolve()
    assert [entry.name for entry in study.detectors] == [
        "MirroredAEDetector", "AMADetector[mirrored=False, hidden_layer_sizes=(32,)]", "Wide"]
    specs = study.detector_specs
    assert all(isinstance(spec, registry.DetectorSpec) for spec in specs)
    assert [spec.name for spec in specs] == [entry.name for entry in study.detectors]
    # The key's variant syntax and the params table both reach the detector; TOML arrays become tuples.
    variant = specs[1].build("mnist", 4)
    assert isinstance(variant, AMADetector)
    assert (variant.mirrored, variant.hidden_layer_sizes, variant.random_state) == (False, (32,), 4)
    wide = specs[2].build("mnist", 0)
    assert (wide.hidden_layer_sizes, wide.latent_dim) == ((64, 32), 8)
    # The dataset preset sits under the study's params, which sit under the runner's overrides.
    preset = registry.PRESETS["AMADetector"]["mnist"]
    assert all(wide.get_params()[key] == value for key, value in preset.items() if key not in ("hidden_layer_sizes",
                                                                                                  "latent_dim"))
    assert specs[2].build("mnist", 0, latent_dim=2).latent_dim == 2
    # Nothing was registered.
    assert "Wide" not in registry.list_detectors()


def test_compositions_nest_inside_out(tmp_path):
    path = write(tmp_path, HEADER + """
        [detectors.Everything]
        estimator = "MirroredAEDetector"
        params = { max_epochs = 7 }
        label_free_search = { method = "shuffle", n_splits = 2, param_grid = { latent_dim = [4, 16] } }
        seed_ensemble = { n_estimators = 3, combination = "median" }
        preprocessing = "power"

        [detectors.Scaled]
        estimator = "IsolationForest"
        preprocessing = "standard"

        [detectors.MinMax]
        estimator = "IsolationForest"
        preprocessing = "minmax"
        """)
    specs = {spec.name: spec for spec in load_study(path).detector_specs}
    built = specs["Everything"].build("thyroid", 5)
    # preprocessing -> seed ensemble -> label-free search -> estimator(+params)
    assert isinstance(built, Pipeline) and isinstance(built.steps[0][1], PowerTransformer)
    ensemble = built.steps[-1][1]
    assert isinstance(ensemble, SeedEnsembleDetector)
    assert (ensemble.n_estimators, ensemble.combination, ensemble.random_state) == (3, "median", 5)
    search = ensemble.estimator
    assert isinstance(search, GridSearchCV)
    assert search.scoring.method == "shuffle" and search.cv.get_n_splits() == 2 and search.cv.random_state == 5
    assert search.param_grid[-1]["latent_dim"] == [4, 16]
    assert isinstance(search.estimator, MirroredAEDetector) and search.estimator.max_epochs == 7
    assert "max_epochs" not in search.param_grid[0]  # a parameter the study sets is not searched
    assert isinstance(specs["Scaled"].build("thyroid", 0).steps[0][1], StandardScaler)
    assert isinstance(specs["MinMax"].build("thyroid", 0).steps[0][1], MinMaxScaler)
    assert isinstance(specs["MinMax"].build("thyroid", 0).steps[-1][1], IsolationForest)


def test_detector_names_list_the_reference_and_the_ablation_rows(tmp_path):
    path = write(tmp_path, HEADER + """
        [detectors.AMADetector]
        [detectors.Ensemble]
        estimator = "AMADetector"
        seed_ensemble = { n_estimators = 2 }
        [detectors.MirroredAEDetector]
        """)
    names = load_study(path).detector_names()["thyroid"]
    assert names == ["IsolationForest", "AMADetector", "AMADetector[score_type=feature_l1]", "Ensemble",
                     "MirroredAEDetector"]


BAD_STUDIES = [
    # (file text, fragment of the message that names the entry, fragment that says what is wrong)
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = [0]\nfoo = 1\n[detectors.IsolationForest]\n", "",
     "unknown key(s) 'foo'"),
    ("datasets = ['thyroid']\nseeds = [0]\n[detectors.IsolationForest]\n", "", "missing `protocol`"),
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = [0]\n", "", "missing `detectors`"),
    ("protocol = 'cross'\ndatasets = ['thyroid']\nseeds = [0]\n[detectors.IsolationForest]\n", "protocol",
     "unknown protocol 'cross'"),
    ("protocol = 'novelty'\ndatasets = ['thyroidd']\nseeds = [0]\n[detectors.IsolationForest]\n", "datasets",
     "Unknown dataset 'thyroidd'"),
    ("protocol = 'novelty'\ndatasets = ['mnist']\nseeds = [0]\n[detectors.IsolationForest]\n", "datasets",
     "'mnist' is image (use protocol 'one-class' or 'leave-one-class-out')"),
    ("protocol = 'novelty'\ndatasets = ['thyroid', 'thyroid']\nseeds = [0]\n[detectors.IsolationForest]\n",
     "datasets", "twice"),
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = [0, -1]\n[detectors.IsolationForest]\n", "seeds",
     "integers >= 0"),
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = []\n[detectors.IsolationForest]\n", "seeds",
     "non-empty"),
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = [0]\nclasses = [1]\n[detectors.IsolationForest]\n",
     "classes", "per-class protocols"),
    ("protocol = 'one-class'\ndatasets = ['mnist']\nseeds = [0]\nclasses = ['a']\n[detectors.IsolationForest]\n",
     "classes", "integers >= 0"),
    ("protocol = 'novelty'\ndatasets = ['thyroid']\nseeds = [0]\ndetectors = {}\n", "detectors", "at least one"),
    (HEADER + "[detectors.IsolationForest]\nestimatr = 'x'\n", "[detectors.IsolationForest]",
     "unknown key(s) 'estimatr'"),
    (HEADER + "[detectors.NoSuchDetector]\n", "[detectors.NoSuchDetector]", "unknown detector 'NoSuchDetector'"),
    (HEADER + "[detectors.X]\nestimator = 'NoSuch'\n", "[detectors.X] estimator", "unknown detector 'NoSuch'"),
    (HEADER + "[detectors.X]\nestimator = 'AMADetectr[mirrored=False]'\n", "[detectors.X] estimator",
     "unknown detector 'AMADetectr'"),
    (HEADER + "[detectors.X]\nestimator = 'AMADetector[mirrored=False]'\nparams = { mirrored = true }\n",
     "[detectors.X]", "both in its estimator and in params"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nparams = { no_such_param = 1 }\n",
     "[detectors.X]", "no_such_param"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nparams = { max_epochs = -2 }\n",
     "[detectors.X]", "max_epochs"),
    (HEADER + "[detectors.\"MirroredAEDetector[max_epochs=3]\"]\nparams = { max_epochs = 4 }\n",
     '[detectors."MirroredAEDetector[max_epochs=3]"]', "both in its name and in params"),
    (HEADER + "[detectors.\"MirroredAEDetector[max_epochs]\"]\n", '[detectors."MirroredAEDetector[max_epochs]"]',
     "Name[param=value"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nlabel_free_search = { metod = 'shuffle' }\n",
     "[detectors.X] label_free_search", "unknown key(s) 'metod'"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nlabel_free_search = { method = 'labels' }\n",
     "[detectors.X]", "method must be"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nlabel_free_search = { n_splits = 1 }\n",
     "[detectors.X]", "n_splits"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\n"
              "label_free_search = { param_grid = { latnt_dim = [4] } }\n", "[detectors.X]", "'latnt_dim'"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\n"
              "label_free_search = { param_grid = { latent_dim = [4, -1] } }\n", "[detectors.X]", "latent_dim"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\n"
              "label_free_search = { param_grid = { latent_dim = 4 } }\n",
     "[detectors.X] label_free_search.param_grid.latent_dim", "non-empty array"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nseed_ensemble = { n_estimators = 0 }\n",
     "[detectors.X]", "n_estimators"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nseed_ensemble = { combination = 'max' }\n",
     "[detectors.X]", "combination"),
    (HEADER + "[detectors.X]\nestimator = 'MirroredAEDetector'\nseed_ensemble = { size = 2 }\n",
     "[detectors.X] seed_ensemble", "unknown key(s) 'size'"),
    (HEADER + "[detectors.X]\nestimator = 'IsolationForest'\nparams = { n_estimators = 5 }\n"
              "seed_ensemble = { n_estimators = 2 }\n", "[detectors.X] params", "belong in seed_ensemble"),
    (HEADER + "[detectors.X]\nestimator = 'IsolationForest'\npreprocessing = 'log'\n",
     "[detectors.X] preprocessing", "unknown preprocessing 'log'"),
    (HEADER + "[detectors.X]\nestimator = 'IsolationForest'\nparams = [1]\n", "[detectors.X] params",
     "must be a table"),
    ("protocol = 'novelty\n", "", "not valid TOML"),
]


@pytest.mark.parametrize("text, where, what", BAD_STUDIES, ids=[str(i) for i in range(len(BAD_STUDIES))])
def test_a_bad_study_names_the_file_and_the_entry(tmp_path, text, where, what):
    path = write(tmp_path, text, name="bad.toml")
    with pytest.raises(StudyError) as info:
        load_study(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{path}: ")
    assert where in message and what in message, message


def test_a_missing_study_file_is_a_study_error(tmp_path):
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "missing.toml")


def test_an_output_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    path = write(tmp_path, HEADER + 'output = "taken"\n[detectors.IsolationForest]\n')
    with pytest.raises(StudyError, match="output.*not a folder"):
        load_study(path)


def test_study_run_keeps_its_own_settings(tmp_path):
    study = load_study(write(tmp_path, HEADER + "[detectors.IsolationForest]\n"))
    with pytest.raises(ValueError, match="seeds come from the study file"):
        study.run(seeds=[1])


def test_a_tiny_study_runs_end_to_end(tmp_path):
    path = write(tmp_path, """
        protocol = "novelty"
        datasets = ["thyroid"]
        seeds = [0]
        output = "out"

        [detectors.AutoEncoderDetector-1epoch]
        estimator = "AutoEncoderDetector"
        params = { max_epochs = 1 }
        """)
    results = load_study(path).run(verbose=0).set_index("detector")
    assert set(results.index) == {"IsolationForest", "AutoEncoderDetector-1epoch"}
    assert (results["status"] == "ok").all(), results["error"].tolist()
    assert (results["dataset"] == "thyroid").all() and (results["seed"] == 0).all()
    assert results.loc["AutoEncoderDetector-1epoch", "split_hash"] == results.loc["IsolationForest", "split_hash"]
    assert 0.0 <= results.loc["AutoEncoderDetector-1epoch", "roc_auc"] <= 1.0
    assert '"max_epochs":1' in results.loc["AutoEncoderDetector-1epoch", "params"].replace(" ", "")
    stored = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(stored["detector"]) == {"IsolationForest", "AutoEncoderDetector-1epoch"}
    assert (tmp_path / "out" / "summary.md").exists()


def test_the_registry_lists_detectors_only():
    names = registry.list_detectors()
    assert {"IsolationForest", "AutoEncoderDetector", "PyOD-AutoEncoder", "AMADetector", "MirroredAEDetector",
            "OMASGANDetector"} <= set(names)
    for suffix in ("-selected", "-searched", "-ensemble", "-power", "-standard"):
        assert not any(suffix in name for name in names)
    # Every registered name builds a detector itself, never a search, an ensemble or a pipeline around one.
    for name in names:
        try:
            built = registry.get_detector_spec(name).build("thyroid", 0)
        except registry.DetectorUnavailableError:
            continue
        assert not isinstance(built, (GridSearchCV, SeedEnsembleDetector, Pipeline)), name


# ----------------------------------------------------------------------------------------------------------------
# The committed studies and results
# ----------------------------------------------------------------------------------------------------------------

STUDY_FILES = sorted(glob.glob(str(BENCHMARKS / "*" / "*.toml")))
#: The protocol folders: each holds the run store's export results.csv and the study files that produce it. Other
#: folders (the recommendation study, the speed study, the reports) are made by their own scripts.
#: A folder with study files and a results.csv is checked the same way.
PROTOCOL_FOLDERS = ["tabular", "mnist_one_class", "mnist_loo", "fashion_mnist_one_class", "synthetic_2d"]
RESULT_FILES = sorted({str(BENCHMARKS / folder / "results.csv") for folder in PROTOCOL_FOLDERS}
                      | {str(Path(path).parent / "results.csv") for path in STUDY_FILES
                         if (Path(path).parent / "results.csv").exists()})


def test_the_committed_studies_are_found():
    folders = {Path(path).parent.name for path in STUDY_FILES}
    assert set(PROTOCOL_FOLDERS) <= folders
    assert all(Path(path).exists() for path in RESULT_FILES)


@pytest.mark.parametrize("path", STUDY_FILES, ids=[str(Path(p).relative_to(BENCHMARKS)) for p in STUDY_FILES])
def test_every_committed_study_parses(path):
    study = load_study(path)  # checks every detector, dataset and parameter against the registry
    assert study.output_dir == Path(path).resolve().parent
    for entry in study.detectors:
        assert entry.estimator in registry.list_detectors()
    assert all(registry.get_dataset_spec(dataset).name == dataset for dataset in study.datasets)


@pytest.mark.parametrize("path", RESULT_FILES, ids=[Path(p).parent.name for p in RESULT_FILES])
def test_every_committed_row_is_produced_by_a_study_in_its_folder(path):
    folder = Path(path).parent
    studies = [load_study(study) for study in sorted(folder.glob("*.toml"))]
    assert studies, f"{folder} has results but no study file"
    produced = set()  # class None: a study without `classes`, which runs every class of its dataset
    for study in studies:
        names = study.detector_names()
        for dataset in study.datasets:
            for seed in study.seeds:
                for name in names[dataset]:
                    for cls in study.classes or [None]:
                        produced.add((name, dataset, study.protocol, seed, cls))
    rows = pd.read_csv(path)
    assert len(rows) and not rows.duplicated(["detector", "dataset", "protocol", "seed", "class"]).any()
    missing = []
    for detector, dataset, protocol, seed, cls in zip(rows["detector"], rows["dataset"], rows["protocol"],
                                                      rows["seed"], rows["class"]):
        key = (detector, dataset, protocol, int(seed))
        cls = None if pd.isna(cls) else int(cls)
        if (*key, None) not in produced and (*key, cls) not in produced:
            missing.append((*key, cls))
    assert not missing, f"{len(missing)} rows of {path} come from no study file, e.g. {missing[:3]}"


@pytest.mark.parametrize("path", RESULT_FILES, ids=[Path(p).parent.name for p in RESULT_FILES])
def test_every_committed_row_ran_on_the_runners_default_thread_count(path):
    """Scores depend on the torch thread count (adversarial training amplifies the last-bit differences), so a
    study file reproduces its rows only at the count they ran with: the runner's default, one thread."""
    rows = pd.read_csv(path)
    other = rows[rows["torch_threads"] != 1]
    assert other.empty, (f"{len(other)} rows of {path} ran on another thread count, e.g. "
                         f"{other[['detector', 'dataset', 'seed', 'torch_threads']].head(3).to_dict('records')}")


@pytest.mark.parametrize("path", RESULT_FILES, ids=[Path(p).parent.name for p in RESULT_FILES])
def test_every_committed_row_has_the_parameters_its_study_builds(path):
    """A study file reproduces its rows only if it builds the detector the rows record: every parameter both the
    row and the built detector have must agree (a parameter added to a class after the run is not compared). Rows
    of a label-free search record the candidate the search chose, so they are left out."""
    import json

    from skanomaly.benchmarks.registry import get_dataset_spec
    from skanomaly.benchmarks.results import params_json
    from skanomaly.benchmarks.runner import _build_estimator, _fitted_detector, _recorded_params
    from skanomaly.exceptions import DetectorUnavailableError

    folder = Path(path).parent
    rows = pd.read_csv(path)
    checked, mismatches = 0, []
    for study_path in sorted(folder.glob("*.toml")):
        study = load_study(study_path)
        for entry in study.detectors:
            if entry.label_free_search is not None:
                continue
            spec = entry.spec()
            for dataset in study.datasets:
                for seed in study.seeds:
                    stored = rows.loc[(rows["detector"] == entry.name) & (rows["dataset"] == dataset)
                                      & (rows["protocol"] == study.protocol) & (rows["seed"] == seed), "params"]
                    if stored.empty:
                        continue
                    # As the runner builds it: a pair's detectors get IN's presets, and an image detector left
                    # without image_shape gets the data's.
                    ds_spec = get_dataset_spec(dataset)
                    image_shape = ds_spec.image_shape if ds_spec.kind in ("image", "image-pair") else None
                    try:
                        detector = _build_estimator(spec, dataset, seed, {}, ds_spec, image_shape).steps[-1][1]
                    except (ImportError, DetectorUnavailableError):  # an optional package (PyOD) is missing
                        break
                    built = json.loads(params_json(_recorded_params(_fitted_detector(detector))))
                    for text in stored.unique():
                        recorded = json.loads(text)
                        checked += 1
                        differ = {key: (recorded[key], built[key]) for key in recorded.keys() & built.keys()
                                  if recorded[key] != built[key]}
                        if differ:
                            mismatches.append((study_path.name, entry.name, dataset, seed, differ))
    assert checked
    assert not mismatches, f"{len(mismatches)} entries build other parameters than their rows, e.g. {mismatches[:2]}"


# ----------------------------------------------------------------------------------------------------------------
# The 2-D benchmark set
# ----------------------------------------------------------------------------------------------------------------


def test_the_2d_set_has_normal_rows_and_both_kinds_of_anomaly():
    data = load_multimodal_2d()
    X, y = data.data, data.target
    assert X.shape == (2200, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert int(y.sum()) == 200 and data.anomaly_ratio == pytest.approx(200 / 2200)
    assert set(data.anomaly_type[y == 1]) == {"between", "outside"}
    assert set(data.anomaly_type[y == 0]) == {"normal"}
    distance = multimodal_2d_support_distance(X)
    assert distance[y == 1].min() > 5 * 0.05 > distance[y == 0].max()
    between, outside = X[data.anomaly_type == "between"], X[data.anomaly_type == "outside"]
    assert np.abs(between).max() <= 2.0 and (np.abs(outside).max(axis=1) > 2.0).all()
    assert np.abs(outside).max() <= 3.0
    again = load_multimodal_2d()
    np.testing.assert_array_equal(again.data, X)
    other = load_multimodal_2d(n_normal=50, n_anomalies=5, random_state=1)
    assert other.data.shape == (55, 2) and int(other.target.sum()) == 5
    assert (other.anomaly_type == "between").sum() == 3


@pytest.mark.parametrize("kwargs, match", [({"n_normal": 0}, "n_normal"), ({"n_anomalies": 1.5}, "n_anomalies"),
                                           ({"margin": 0}, "margin"), ({"noise": 0}, "min_distance"),
                                           ({"kind": "stars"}, "kind")])
def test_the_2d_set_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_multimodal_2d(**kwargs)


def test_the_2d_set_is_registered_for_the_novelty_protocol():
    spec = registry.get_dataset_spec("multimodal_2d")
    assert (spec.kind, spec.scaler, spec.anomaly_ratio) == ("tabular", None, pytest.approx(200 / 2200))
    assert spec.load().data.shape == (2200, 2)


@pytest.mark.parametrize("wrap", ["", 'preprocessing = "minmax"\n'])
def test_an_estimator_variant_keeps_image_shape_none_on_images_while_the_plain_name_gets_the_images_shape(
        tmp_path, wrap):
    from skanomaly.benchmarks.runner import _build_estimator

    path = write(tmp_path, 'protocol = "one-class"\ndatasets = ["mnist"]\nseeds = [0]\n'
                           '[detectors.MirroredAEDetector]\nestimator = "MirroredAEDetector[image_shape=None]"\n'
                           + wrap + '[detectors."MirroredAEDetector-conv"]\nestimator = "MirroredAEDetector"\n' + wrap)
    study = load_study(path)
    ds_spec = registry.get_dataset_spec("mnist")
    shapes = {}
    for entry in study.detectors:
        assert entry.estimator == "MirroredAEDetector"
        built = _build_estimator(entry.spec(), "mnist", 0, {}, ds_spec, ds_spec.image_shape).steps[-1][1]
        shapes[entry.name] = built.image_shape
    assert shapes == {"MirroredAEDetector": None, "MirroredAEDetector-conv": (1, 28, 28)}
