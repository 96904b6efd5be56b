"""Tests of skanomaly.model_selection: the literature's train/test protocols and CV splitters."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import (
    GridSearchCV,
    ShuffleSplit,
    StratifiedKFold,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.metrics import ANOMALY_SCORERS
from skanomaly.model_selection import (
    NoveltyKFold,
    NoveltyShuffleSplit,
    leave_one_class_out_split,
    novelty_train_test_split,
    one_class_split,
    out_of_distribution_split,
)


def anomaly_data(n_normal=160, n_anomaly=40, seed=0):
    """Tabular data whose first column is the row id, plus 0/1 labels (anomalies shuffled in)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomaly, dtype=int)])
    features = rng.normal(size=(y.shape[0], 3)) + 4.0 * y[:, None]
    X = np.column_stack([np.arange(y.shape[0]), features])
    return X, y


def class_data(n_per_class=25, classes=(0, 1, 2, 3, 4), seed=0):
    """Data with class labels; column 0 is the row id."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.asarray(classes), n_per_class))
    X = np.column_stack([np.arange(y.shape[0]), rng.normal(size=(y.shape[0], 2))])
    return X, y


def ids(X):
    return np.asarray(X)[:, 0].astype(int)


# ---------------------------------------------------------------------------------------------------
# novelty_train_test_split
# ---------------------------------------------------------------------------------------------------
def test_novelty_split_protocol():
    X, y = anomaly_data()
    X_train, X_test, y_train, y_test = novelty_train_test_split(X, y, random_state=0)
    assert X_test.shape[0] == y_test.shape[0] == 100  # 50 % of 200
    assert not np.any(y_train)
    np.testing.assert_array_equal(y[ids(X_train)], 0)
    np.testing.assert_array_equal(y[ids(X_test)], y_test)
    assert set(y_test) == {0, 1}
    # train = every normal sample of the other half; no sample in both parts
    assert not set(ids(X_train)) & set(ids(X_test))
    other_half = np.setdiff1d(np.arange(200), ids(X_test))
    np.testing.assert_array_equal(np.sort(ids(X_train)), other_half[y[other_half] == 0])


def test_novelty_split_uses_the_train_test_split_permutation_and_is_deterministic():
    X, y = anomaly_data()
    first = novelty_train_test_split(X, y, random_state=42)
    second = novelty_train_test_split(X, y, random_state=42)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other = novelty_train_test_split(X, y, random_state=7)
    assert not np.array_equal(ids(first[1]), ids(other[1]))
    _, X_test_ref = train_test_split(X, test_size=0.5, random_state=42)
    np.testing.assert_array_equal(first[1], X_test_ref)


def test_novelty_split_test_size_and_stratify():
    X, y = anomaly_data()
    X_train, X_test, y_train, y_test = novelty_train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=True
    )
    assert X_test.shape[0] == 60
    assert y_test.sum() == 12  # exactly 20 % anomalies, as in y
    assert X_train.shape[0] == 112  # 140 training samples, 28 anomalies removed
    X_train, X_test, _, _ = novelty_train_test_split(X, y, test_size=50, random_state=0)
    assert X_test.shape[0] == 50


def test_novelty_split_pandas():
    X, y = anomaly_data()
    index = [f"row{i}" for i in range(len(y))]
    frame = pd.DataFrame(X, columns=["id", "a", "b", "c"], index=index)
    labels = pd.Series(y, index=index, name="label")
    X_train, X_test, y_train, y_test = novelty_train_test_split(frame, labels, random_state=3)
    assert isinstance(X_train, pd.DataFrame) and isinstance(y_test, pd.Series)
    assert list(X_train.columns) == ["id", "a", "b", "c"]
    assert (y_train == 0).all()
    assert (X_test.index == y_test.index).all()
    assert (labels.loc[X_train.index] == 0).all()
    reference = novelty_train_test_split(X, y, random_state=3)
    np.testing.assert_array_equal(X_test.to_numpy(), reference[1])


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, 1, 2, 0], "binary anomaly labels"),
        ([1, -1, 1, -1], "predict"),
        ([1, 1, 1, 1], "no normal sample"),
        (None, "required"),
        ([0, 1, 0], "inconsistent"),
    ],
)
def test_novelty_split_invalid_labels(y, match):
    with pytest.raises(ValueError, match=match):
        novelty_train_test_split(np.zeros((4, 2)), y, random_state=0)


def test_novelty_split_training_half_without_normals():
    y = np.array([0, 1, 1, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="no normal sample after removing"):
        for seed in range(20):  # some seed puts the only normal sample in the test half
            novelty_train_test_split(np.zeros((8, 1)), y, test_size=0.5, random_state=seed)


# ---------------------------------------------------------------------------------------------------
# NoveltyShuffleSplit
# ---------------------------------------------------------------------------------------------------
def test_novelty_shuffle_split_protocol():
    X, y = anomaly_data()
    cv = NoveltyShuffleSplit(n_splits=4, random_state=0)
    assert cv.get_n_splits() == 4
    splits = list(cv.split(X, y))
    assert len(splits) == 4
    reference = list(ShuffleSplit(n_splits=4, test_size=0.5, random_state=0).split(X))
    for (train, test), (ref_train, ref_test) in zip(splits, reference):
        assert y[train].sum() == 0
        assert set(y[test]) == {0, 1}
        np.testing.assert_array_equal(test, ref_test)
        np.testing.assert_array_equal(train, ref_train[y[ref_train] == 0])
    assert not np.array_equal(splits[0][1], splits[1][1])
    # deterministic with an int seed, first split equal to novelty_train_test_split
    again = list(cv.split(X, y))
    for (a_train, a_test), (b_train, b_test) in zip(splits, again):
        np.testing.assert_array_equal(a_train, b_train)
        np.testing.assert_array_equal(a_test, b_test)
    X_train, X_test, _, _ = novelty_train_test_split(X, y, random_state=0)
    np.testing.assert_array_equal(ids(X_test), splits[0][1])
    np.testing.assert_array_equal(ids(X_train), splits[0][0])


def test_novelty_shuffle_split_stratified_and_repr():
    X, y = anomaly_data()
    cv = NoveltyShuffleSplit(n_splits=3, test_size=0.25, random_state=1, stratify=True)
    for train, test in cv.split(X, y):
        assert test.shape[0] == 50 and y[test].sum() == 10
        assert y[train].sum() == 0 and train.shape[0] == 120
    assert "stratify=True" in repr(cv) and "NoveltyShuffleSplit" in repr(cv)


def test_novelty_shuffle_split_in_cross_validate():
    X, y = anomaly_data()
    result = cross_validate(
        IsolationForest(n_estimators=20, random_state=0),
        X[:, 1:],
        y,
        cv=NoveltyShuffleSplit(n_splits=3, random_state=0),
        scoring=ANOMALY_SCORERS,
    )
    assert np.all(result["test_roc_auc"] > 0.9)


def test_novelty_shuffle_split_needs_y():
    with pytest.raises(ValueError, match="required"):
        next(NoveltyShuffleSplit(random_state=0).split(np.zeros((10, 2))))


# ---------------------------------------------------------------------------------------------------
# NoveltyKFold
# ---------------------------------------------------------------------------------------------------
def test_novelty_kfold_protocol():
    X, y = anomaly_data()
    cv = NoveltyKFold(4, random_state=0)
    assert isinstance(cv, StratifiedKFold) and cv.shuffle
    assert cv.get_n_splits(X, y) == 4
    folds = list(cv.split(X, y))
    reference = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    all_test = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(all_test), np.arange(200))  # test folds partition X
    for (train, test), (_, ref_test) in zip(folds, reference):
        np.testing.assert_array_equal(test, ref_test)
        assert y[train].sum() == 0
        assert y[test].sum() == 10 and (y[test] == 0).sum() == 40  # stratified, both classes
        outside = np.setdiff1d(np.arange(200), test)
        np.testing.assert_array_equal(train, outside[y[outside] == 0])
    again = list(NoveltyKFold(4, random_state=0).split(X, y))
    for (a, b), (c, d) in zip(folds, again):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_novelty_kfold_errors():
    with pytest.raises(ValueError, match="required"):
        NoveltyKFold(3).split(np.zeros((6, 1)), None)
    with pytest.raises(ValueError, match="binary anomaly labels"):
        NoveltyKFold(3).split(np.zeros((6, 1)), [0, 1, 2, 0, 1, 2])


class RecordingDetector(OutlierMixin, BaseEstimator):
    """Test double: refuses training rows whose last column (a copy of y) marks an anomaly."""

    def __init__(self, shift=0.0):
        self.shift = shift

    def fit(self, X, y=None):
        X = np.asarray(X)
        if np.any(X[:, -1] == 1):
            raise AssertionError("an anomaly reached a training fold")
        self.center_ = X[:, :-1].mean(axis=0) + self.shift
        return self

    def score_samples(self, X):
        X = np.asarray(X)
        return -np.linalg.norm(X[:, :-1] - self.center_, axis=1)


def test_grid_search_training_folds_contain_no_anomaly():
    X, y = anomaly_data()
    X_marked = np.column_stack([X[:, 1:], y])
    grid = {"shift": [0.0, 1.0]}
    search = GridSearchCV(
        RecordingDetector(), grid, cv=NoveltyKFold(3, random_state=0),
        scoring=ANOMALY_SCORERS, refit=False, error_score="raise",
    )
    search.fit(X_marked, y)
    assert np.all(search.cv_results_["mean_test_roc_auc"] > 0.9)
    # the same test double fails with an ordinary stratified K-fold: the check can fail
    plain = GridSearchCV(
        RecordingDetector(), grid, cv=StratifiedKFold(3), scoring=ANOMALY_SCORERS,
        refit=False, error_score="raise",
    )
    with pytest.raises(AssertionError, match="anomaly reached"):
        plain.fit(X_marked, y)


def test_grid_search_end_to_end_with_pipeline():
    X, y = anomaly_data(n_normal=240, n_anomaly=30, seed=1)
    pipe = make_pipeline(StandardScaler(), IsolationForest(random_state=0))
    search = GridSearchCV(
        pipe,
        {"isolationforest__n_estimators": [10, 40], "isolationforest__max_features": [0.5, 1.0]},
        cv=NoveltyKFold(3, random_state=0),
        scoring=ANOMALY_SCORERS,
        refit="roc_auc",
    )
    search.fit(X[:, 1:], y)
    results = search.cv_results_
    for name in ("roc_auc", "average_precision", "f1_at_k"):
        assert f"mean_test_{name}" in results
    assert np.all(results["mean_test_roc_auc"] > 0.95)
    assert np.all(results["mean_test_f1_at_k"] > 0.7)
    assert search.best_score_ == pytest.approx(results["mean_test_roc_auc"].max())
    assert search.best_params_ == results["params"][results["rank_test_roc_auc"].argmin()]
    assert search.score(X[:, 1:], y) > 0.95  # the refit scorer is ours, not the inverted one


# ---------------------------------------------------------------------------------------------------
# one-class and leave-one-class-out
# ---------------------------------------------------------------------------------------------------
def test_one_class_split_protocol():
    X, y = class_data()
    X_train, X_test, y_train, y_test = one_class_split(X, y, 2, random_state=0)
    _, X_test_ref, _, y_test_ref = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    np.testing.assert_array_equal(X_test, X_test_ref)  # the whole stratified test part
    assert X_test.shape[0] == 25 and np.all(np.bincount(y_test_ref) == 5)
    np.testing.assert_array_equal(y_test, (y_test_ref != 2).astype(int))
    assert y_test.dtype == np.int64 and y_train.dtype == np.int64
    np.testing.assert_array_equal(y[ids(X_train)], 2)  # only the normal class
    assert X_train.shape[0] == 20 and not np.any(y_train)  # every class-2 sample of the train part
    assert not set(ids(X_train)) & set(ids(X_test))


def test_class_splits_share_the_split_across_classes():
    X, y = class_data()
    test_sets = [ids(one_class_split(X, y, c, random_state=5)[1]) for c in range(5)]
    test_sets += [ids(leave_one_class_out_split(X, y, c, random_state=5)[1]) for c in range(5)]
    for test in test_sets[1:]:
        np.testing.assert_array_equal(test, test_sets[0])
    other_seed = ids(one_class_split(X, y, 0, random_state=6)[1])
    assert not np.array_equal(other_seed, test_sets[0])
    # training parts: one-class(c) and leave-c-out partition the train part
    train_part = np.setdiff1d(np.arange(len(y)), test_sets[0])
    for c in range(5):
        normal_c = ids(one_class_split(X, y, c, random_state=5)[0])
        without_c = ids(leave_one_class_out_split(X, y, c, random_state=5)[0])
        np.testing.assert_array_equal(np.sort(np.r_[normal_c, without_c]), train_part)


def test_leave_one_class_out_protocol():
    X, y = class_data()
    X_train, X_test, y_train, y_test = leave_one_class_out_split(X, y, 3, random_state=0)
    assert not np.any(y[ids(X_train)] == 3)
    assert X_train.shape[0] == 80 and not np.any(y_train)
    np.testing.assert_array_equal(y_test, (y[ids(X_test)] == 3).astype(int))
    assert y_test.sum() == 5 and y_test.shape[0] == 25


def test_class_splits_with_lists_strings_and_pandas():
    X, y = class_data(classes=("cat", "dog", "fox", "owl"))
    frame = pd.DataFrame(X, columns=["id", "a", "b"])
    labels = pd.Series(y)
    X_train, X_test, y_train, y_test = one_class_split(
        frame, labels, ["cat", "dog"], random_state=1
    )
    assert isinstance(X_train, pd.DataFrame)
    assert set(labels.loc[X_train.index]) == {"cat", "dog"}
    np.testing.assert_array_equal(y_test, (~labels.loc[X_test.index].isin(["cat", "dog"])).astype(int))
    X_train, X_test, y_train, y_test = leave_one_class_out_split(
        frame, labels, ("owl", "fox"), random_state=1
    )
    assert set(labels.loc[X_train.index]) == {"cat", "dog"}
    assert y_test.sum() == 10


@pytest.mark.parametrize("split", [one_class_split, leave_one_class_out_split])
def test_class_split_errors(split):
    X, y = class_data(classes=(0, 1, 2))
    with pytest.raises(ValueError, match="not a class of y"):
        split(X, y, 7, random_state=0)
    with pytest.raises(ValueError, match="every class"):
        split(X, y, [0, 1, 2], random_state=0)
    with pytest.raises(ValueError, match="empty"):
        split(X, y, [], random_state=0)
    with pytest.raises(ValueError, match="1-D"):
        split(X, y.reshape(-1, 1), 0, random_state=0)


def test_class_splits_on_image_arrays():
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 4, 4))
    y = np.repeat([0, 1, 2, 3], 10)
    X_train, X_test, y_train, y_test = one_class_split(images, y, 0, test_size=0.25, random_state=0)
    assert X_train.shape == (7, 1, 4, 4) and X_test.shape == (10, 1, 4, 4)


# ---------------------------------------------------------------------------------------------------
# out_of_distribution_split
# ---------------------------------------------------------------------------------------------------
def test_ood_split_protocol():
    X_in = np.column_stack([np.arange(50), np.zeros(50)])
    X_out = np.column_stack([1000 + np.arange(80), np.ones(80)])
    X_train, X_test, y_train, y_test = out_of_distribution_split(
        X_in, X_out, test_size=0.2, n_out=15, random_state=0
    )
    assert X_train.shape == (40, 2) and not np.any(y_train)
    assert X_test.shape == (25, 2)
    np.testing.assert_array_equal(y_test, np.r_[np.zeros(10), np.ones(15)])
    np.testing.assert_array_equal(X_test[:, 1], y_test)  # X_in rows first, then X_out
    assert len(set(X_test[10:, 0])) == 15  # subsample without replacement
    assert set(ids(X_train)).isdisjoint(ids(X_test[:10]))
    _, X_test_ref = train_test_split(X_in, test_size=0.2, random_state=0)
    np.testing.assert_array_equal(X_test[:10], X_test_ref)
    again = out_of_distribution_split(X_in, X_out, test_size=0.2, n_out=15, random_state=0)
    np.testing.assert_array_equal(again[1], X_test)
    full = out_of_distribution_split(X_in, X_out, random_state=0)
    assert full[1].shape[0] == 90 and full[3].sum() == 80


def test_ood_split_frames_and_images():
    X_in = pd.DataFrame({"a": np.arange(20.0), "b": 0.0})
    X_out = pd.DataFrame({"a": np.arange(5.0), "b": 1.0})
    X_train, X_test, _, y_test = out_of_distribution_split(X_in, X_out, random_state=0)
    assert isinstance(X_test, pd.DataFrame) and list(X_test.columns) == ["a", "b"]
    np.testing.assert_array_equal(X_test["b"].to_numpy(), y_test)
    with pytest.raises(ValueError, match="different columns"):
        out_of_distribution_split(X_in, X_out.rename(columns={"b": "c"}))
    images_in, images_out = np.zeros((10, 3, 8, 8)), np.ones((6, 3, 8, 8))
    _, X_test, _, y_test = out_of_distribution_split(images_in, images_out, random_state=0)
    assert X_test.shape == (8, 3, 8, 8) and y_test.sum() == 6


def test_ood_split_errors():
    with pytest.raises(ValueError, match=r"same number of features.*\(3,\).*\(4,\)"):
        out_of_distribution_split(np.zeros((10, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="n_out"):
        out_of_distribution_split(np.zeros((10, 3)), np.zeros((5, 3)), n_out=6)
    with pytest.raises(ValueError, match="n_out"):
        out_of_distribution_split(np.zeros((10, 3)), np.zeros((5, 3)), n_out=0)
    with pytest.raises(ValueError, match="2-D"):
        out_of_distribution_split(np.zeros(10), np.zeros(5))
    with pytest.raises(ValueError, match="empty"):
        out_of_distribution_split(np.zeros((10, 3)), np.zeros((0, 3)))


# ---------------------------------------------------------------------------------------------------
# NoveltyGridSearchCV / NoveltyRandomizedSearchCV: the search that never trains on anomalies
# ---------------------------------------------------------------------------------------------------
class IdRecordingDetector(OutlierMixin, BaseEstimator):
    """Test double: column 0 is a row id; remembers the ids of every fit, scores by distance to the mean."""

    fits = []  # ids of every fit, in call order (class-level: clones share it)

    def __init__(self, shift=0.0):
        self.shift = shift

    def fit(self, X, y=None):
        X = np.asarray(X)
        self.fitted_ids_ = X[:, 0].astype(int)
        IdRecordingDetector.fits.append(self.fitted_ids_)
        self.center_ = X[:, 1:].mean(axis=0) + self.shift
        return self

    def score_samples(self, X):
        return -np.linalg.norm(np.asarray(X)[:, 1:] - self.center_, axis=1)


@pytest.fixture
def recorded_fits():
    IdRecordingDetector.fits = []
    yield IdRecordingDetector.fits
    IdRecordingDetector.fits = []


def test_novelty_search_refits_on_the_normal_rows_only(recorded_fits):
    from skanomaly.model_selection import NoveltyGridSearchCV

    X, y = anomaly_data()
    search = NoveltyGridSearchCV(IdRecordingDetector(), {"shift": [0.0, 2.0]}, cv=NoveltyKFold(3, random_state=0))
    search.fit(X, y)
    np.testing.assert_array_equal(np.sort(search.best_estimator_.fitted_ids_), np.flatnonzero(y == 0))
    assert len(recorded_fits) == 2 * 3 + 1 and all(not y[ids].any() for ids in recorded_fits)
    # scikit-learn's own search, same arguments, refits on the anomalies too: the check above can fail
    plain = GridSearchCV(IdRecordingDetector(), {"shift": [0.0, 2.0]}, cv=NoveltyKFold(3, random_state=0),
                         scoring=ANOMALY_SCORERS, refit="roc_auc").fit(X, y)
    assert y[plain.best_estimator_.fitted_ids_].sum() == 40


def test_novelty_search_exposes_scikit_learns_search_api(recorded_fits):
    from skanomaly.model_selection import NoveltyGridSearchCV

    X, y = anomaly_data()
    search = NoveltyGridSearchCV(IdRecordingDetector(), {"shift": [0.0, 3.0]}, cv=NoveltyKFold(3, random_state=0))
    search.fit(X, y)
    results = search.cv_results_
    for name in ("roc_auc", "average_precision", "f1_at_k"):
        assert f"mean_test_{name}" in results  # ANOMALY_SCORERS by default
    assert search.best_params_ == {"shift": 0.0} == results["params"][results["rank_test_roc_auc"].argmin()]
    assert search.best_index_ == 0
    assert search.best_score_ == pytest.approx(results["mean_test_roc_auc"].max())
    assert search.n_splits_ == 3 and search.multimetric_ and search.refit_time_ >= 0
    np.testing.assert_array_equal(search.score_samples(X), search.best_estimator_.score_samples(X))
    assert search.score(X, y) > 0.95  # the refit scorer: AUROC with 1 = anomaly labels


def test_novelty_search_strips_anomalies_from_any_splitter(recorded_fits):
    from skanomaly.model_selection import NoveltyGridSearchCV

    X, y = anomaly_data()
    marked = np.column_stack([X[:, 1:], y])
    search = NoveltyGridSearchCV(RecordingDetector(), {"shift": [0.0, 1.0]}, cv=StratifiedKFold(3),
                                 error_score="raise").fit(marked, y)  # RecordingDetector raises on an anomaly
    assert search.best_estimator_.center_.shape == (3,)
    # an int is NoveltyKFold without shuffling: the same folds on every call
    first = NoveltyGridSearchCV(IdRecordingDetector(), {"shift": [0.0]}, cv=3).fit(X, y)
    again = NoveltyGridSearchCV(IdRecordingDetector(), {"shift": [0.0]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(first.cv_results_["split0_test_roc_auc"], again.cv_results_["split0_test_roc_auc"])


def test_novelty_search_refit_options(recorded_fits):
    from skanomaly.metrics import anomaly_roc_auc_scorer
    from skanomaly.model_selection import NoveltyGridSearchCV

    X, y = anomaly_data()
    grid = {"shift": [0.0, 3.0]}
    cv = NoveltyKFold(3, random_state=0)
    multi = NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv, refit=False).fit(X, y)
    assert not hasattr(multi, "best_estimator_") and not hasattr(multi, "best_params_")  # as in GridSearchCV
    single = NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv, scoring=anomaly_roc_auc_scorer,
                                 refit=False).fit(X, y)
    assert single.best_params_ == {"shift": 0.0} and not hasattr(single, "best_estimator_")
    chosen = NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv, refit=lambda results: 1).fit(X, y)
    assert chosen.best_params_ == {"shift": 3.0} and not hasattr(chosen, "best_score_")
    assert not y[chosen.best_estimator_.fitted_ids_].any()
    by_ap = NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv, refit="average_precision").fit(X, y)
    assert by_ap.best_score_ == pytest.approx(by_ap.cv_results_["mean_test_average_precision"].max())
    with pytest.raises(ValueError, match="scorer key"):
        NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv, refit="accuracy").fit(X, y)
    with pytest.raises(ValueError, match="required"):
        NoveltyGridSearchCV(IdRecordingDetector(), grid, cv=cv).fit(X)


def test_novelty_randomized_search_refits_on_normal_rows(recorded_fits):
    from skanomaly.model_selection import NoveltyRandomizedSearchCV

    X, y = anomaly_data()
    search = NoveltyRandomizedSearchCV(IdRecordingDetector(), {"shift": [0.0, 1.0, 2.0, 3.0]}, n_iter=2,
                                       cv=NoveltyKFold(3, random_state=0), random_state=0).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    np.testing.assert_array_equal(np.sort(search.best_estimator_.fitted_ids_), np.flatnonzero(y == 0))


def test_novelty_search_with_a_pipeline_of_a_detector():
    from skanomaly import AutoEncoderDetector
    from skanomaly.model_selection import NoveltyGridSearchCV

    X, y = anomaly_data(n_normal=150, n_anomaly=15, seed=2)
    frame = pd.DataFrame(X[:, 1:], columns=["a", "b", "c"])
    pipe = make_pipeline(StandardScaler(), AutoEncoderDetector(max_epochs=2, hidden_layer_sizes=(8,),
                                                               batch_size=32, random_state=0))
    search = NoveltyGridSearchCV(pipe, {"autoencoderdetector__latent_dim": [1, 2]},
                                 cv=NoveltyKFold(2, random_state=0)).fit(frame, y)
    assert search.best_params_["autoencoderdetector__latent_dim"] in (1, 2)
    assert list(search.feature_names_in_) == ["a", "b", "c"]
    scaler = search.best_estimator_[0]
    np.testing.assert_allclose(scaler.mean_, frame[y == 0].mean().to_numpy())  # fitted on the normal rows
    assert search.score_samples(frame).dtype == np.float64
