"""Tests of skanomaly.metrics: top-k% labels, P/R/F1 at k, AUROC/AP wrappers, report and scorers."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    get_scorer,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.metrics import (
    ANOMALY_SCORERS,
    anomaly_average_precision,
    anomaly_average_precision_scorer,
    anomaly_report,
    anomaly_roc_auc,
    anomaly_roc_auc_scorer,
    make_anomaly_scorer,
    make_f1_at_k_scorer,
    make_synthetic_anomaly_scorer,
    n_top_k,
    precision_recall_f1_at_k,
    top_k_labels,
)


@pytest.fixture(scope="module")
def blobs():
    """Normal Gaussian cluster for training and a test set with far-away anomalies."""
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(300, 4))
    X_test = np.vstack([rng.normal(size=(90, 4)), rng.normal(loc=5.0, size=(10, 4))])
    y_test = np.r_[np.zeros(90, dtype=int), np.ones(10, dtype=int)]
    return X_train, X_test, y_test


# ---------------------------------------------------------------------------------------------------
# n_top_k / top_k_labels
# ---------------------------------------------------------------------------------------------------
def test_top_k_labels_simple():
    labels = top_k_labels([0.1, 0.9, 0.5, 0.7], k=0.5)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])


@pytest.mark.parametrize(
    "n, k, expected",
    [
        (100, 0.2, 20),
        (10, 0.25, 3),  # percentile rule flags 3, round(2.5) would give 2
        (10, 0.21, 2),  # percentile rule flags 2, ceil(2.1) would give 3
        (11, 0.2, 3),  # k * (n - 1) = 2 exactly: the sample at the threshold is flagged (>=)
        (101, 0.29, 30),  # 0.29 * 100 = 28.999999999999996 in floating point
        (1886, 0.025, 48),  # Thyroid test half
        (1, 0.5, 1),
        (5, 0.01, 1),  # at least one sample
        (5, 0.99, 4),
    ],
)
def test_n_top_k_values(n, k, expected):
    assert n_top_k(n, k) == expected


def test_n_top_k_matches_percentile_rule_of_the_literature():
    # ALAD/DAGMM evaluation: flag score >= np.percentile(score, 100 * (1 - k)); distinct scores.
    rng = np.random.default_rng(1)
    checked = 0
    for n in range(1, 260, 7):
        score = rng.permutation(n).astype(float)
        for k in (0.013, 0.025, 0.05, 0.1, 0.146, 0.15, 0.197, 0.2, 0.33, 0.5):
            position = k * (n - 1)
            if abs(position - round(position)) < 1e-6:
                continue  # NumPy's own rounding decides these ties; covered by exact cases above
            expected = int(np.sum(score >= np.percentile(score, 100 * (1 - k))))
            assert n_top_k(n, k) == expected, (n, k)
            np.testing.assert_array_equal(
                top_k_labels(score, k), (score >= np.percentile(score, 100 * (1 - k))).astype(int)
            )
            checked += 1
    assert checked > 300


def test_n_top_k_at_exact_anomaly_ratio_flags_the_number_of_anomalies():
    for n in range(2, 120):
        for m in range(1, n):
            assert n_top_k(n, m / n) == m, (n, m)


def test_top_k_labels_ties_are_stable_lowest_index_first():
    np.testing.assert_array_equal(top_k_labels([1.0, 1.0, 1.0, 1.0], 0.5), [1, 1, 0, 0])
    # ties at the boundary only: the clear winner first, then the earliest tied samples
    np.testing.assert_array_equal(top_k_labels([0.5, 0.5, 2.0, 0.5, 0.5], 0.5), [1, 1, 1, 0, 0])
    score = np.r_[np.zeros(50), np.ones(50)]
    assert top_k_labels(score, 0.7).sum() == n_top_k(100, 0.7)
    np.testing.assert_array_equal(top_k_labels(score, 0.7)[50:], 1)


def test_top_k_labels_accepts_pandas_and_lists():
    np.testing.assert_array_equal(top_k_labels(pd.Series([3.0, 1.0, 2.0]), 0.3), [1, 0, 0])


@pytest.mark.parametrize("k", [0, 1, 1.0, -0.1, 1.5, True, "0.2", None, np.nan])
def test_invalid_k(k):
    with pytest.raises(ValueError, match="k must be"):
        top_k_labels([0.1, 0.2, 0.3], k)


def test_k_given_as_percentage_gets_a_hint():
    with pytest.raises(ValueError, match="percentage.*k=0.2"):
        top_k_labels([0.1, 0.2, 0.3], 20)


@pytest.mark.parametrize(
    "score, match",
    [
        ([[0.1, 0.2], [0.3, 0.4]], "1-D"),
        ([0.1, np.nan, 0.3], "NaN or infinite"),
        ([0.1, np.inf, 0.3], "NaN or infinite"),
        ([], "empty"),
        (["a", "b"], "real numbers"),
    ],
)
def test_top_k_labels_invalid_scores(score, match):
    with pytest.raises(ValueError, match=match):
        top_k_labels(score, 0.5)


def test_n_top_k_invalid_n():
    with pytest.raises(ValueError, match="n_samples"):
        n_top_k(0, 0.2)


# ---------------------------------------------------------------------------------------------------
# precision / recall / F1 at k
# ---------------------------------------------------------------------------------------------------
def test_prf_at_k_perfect_and_reversed():
    y = np.array([0, 0, 0, 1, 0, 1, 0, 0, 0, 0])
    perfect = y + 0.01 * np.arange(10)
    assert precision_recall_f1_at_k(y, perfect, 0.2) == (1.0, 1.0, 1.0)
    assert precision_recall_f1_at_k(y, -perfect, 0.2) == (0.0, 0.0, 0.0)


def test_prf_at_k_hand_computed():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]
    score = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5]  # ranking: 1, 0, 1, 0, ...; last anomaly ranked last
    # k = 0.25 -> floor(0.25 * 9) + 1 = 3 flagged: two anomalies among them
    precision, recall, f1 = precision_recall_f1_at_k(y, score, 0.25)
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 / 3)
    # k = 0.5 -> 5 flagged, still two anomalies: precision 2/5, recall 2/3, F1 = 0.5
    precision, recall, f1 = precision_recall_f1_at_k(y, score, 0.5)
    assert (precision, recall, f1) == pytest.approx((0.4, 2 / 3, 0.5))


def test_prf_at_k_agrees_with_sklearn_on_random_data():
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.15).astype(int)
    score = rng.normal(size=200) + y
    for k in (0.05, 0.15, 0.3):
        expected = precision_recall_fscore_support(
            y, top_k_labels(score, k), average="binary", zero_division=0
        )[:3]
        assert precision_recall_f1_at_k(y, score, k) == pytest.approx(expected)


def test_prf_at_k_label_types():
    score = [0.1, 0.9, 0.3, 0.8]
    expected = precision_recall_f1_at_k([0, 1, 0, 1], score, 0.5)
    assert precision_recall_f1_at_k([False, True, False, True], score, 0.5) == expected
    assert precision_recall_f1_at_k(pd.Series([0.0, 1.0, 0.0, 1.0]), score, 0.5) == expected


def test_prf_at_k_input_errors():
    with pytest.raises(ValueError, match="no anomaly"):
        precision_recall_f1_at_k([0, 0, 0], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="same length"):
        precision_recall_f1_at_k([0, 1, 0], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="predict"):
        precision_recall_f1_at_k([1, -1, 1], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="binary anomaly labels"):
        precision_recall_f1_at_k([0, 2, 1], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="binary anomaly labels"):
        precision_recall_f1_at_k(["a", "b", "a"], [0.1, 0.2, 0.3], 0.5)
    with pytest.raises(ValueError, match="1-D"):
        precision_recall_f1_at_k([[0], [1], [0]], [0.1, 0.2, 0.3], 0.5)


# ---------------------------------------------------------------------------------------------------
# AUROC / AP / report
# ---------------------------------------------------------------------------------------------------
def test_roc_auc_values():
    y = [0, 0, 1, 1]
    assert anomaly_roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert anomaly_roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert anomaly_roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert anomaly_roc_auc(y, [0.1, 0.8, 0.2, 0.9]) == 0.75  # 3 of 4 pairs ordered
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    score = rng.normal(size=50)
    assert anomaly_roc_auc(y, score) == pytest.approx(roc_auc_score(y, score))


def test_average_precision_values():
    assert anomaly_average_precision([0, 0, 1], [0.1, 0.2, 0.9]) == 1.0
    # ranking 1, 0, 1: precision 1 at recall 1/2, 2/3 at recall 1 -> (1 + 2/3) / 2
    assert anomaly_average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(5 / 6)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50)
    score = rng.normal(size=50)
    assert anomaly_average_precision(y, score) == pytest.approx(average_precision_score(y, score))


@pytest.mark.parametrize("metric", [anomaly_roc_auc, anomaly_average_precision])
@pytest.mark.parametrize("y", [[0, 0, 0], [1, 1, 1]])
def test_threshold_free_metrics_need_both_classes(metric, y):
    with pytest.raises(ValueError, match="only one class"):
        metric(y, [0.1, 0.2, 0.3])


def test_anomaly_report_keys_and_values():
    y = np.array([0, 0, 0, 1, 0, 0, 1, 0])
    score = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.35, 0.0])
    report = anomaly_report(y, score, k=0.25)
    assert set(report) == {
        "roc_auc", "average_precision", "precision_at_k", "recall_at_k", "f1_at_k", "k"
    }
    assert all(isinstance(value, float) for value in report.values())
    assert report["k"] == 0.25
    assert report["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert report["average_precision"] == pytest.approx(average_precision_score(y, score))
    # n_top_k(8, 0.25) = 2 flagged: 0.9 (anomaly) and 0.5 (normal)
    assert (report["precision_at_k"], report["recall_at_k"]) == (0.5, 0.5)


def test_anomaly_report_default_k_is_anomaly_ratio():
    y = np.array([0, 0, 0, 1, 0, 0, 1, 0])
    score = np.arange(8.0)
    report = anomaly_report(y, score)
    assert report["k"] == 0.25
    # as many flagged as there are anomalies: precision = recall = F1
    assert report["precision_at_k"] == report["recall_at_k"] == report["f1_at_k"] == 0.5


def test_anomaly_report_errors():
    with pytest.raises(ValueError, match="only one class"):
        anomaly_report([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="k must be"):
        anomaly_report([0, 1], [0.1, 0.2], k=15)


# ---------------------------------------------------------------------------------------------------
# scorers
# ---------------------------------------------------------------------------------------------------
def test_sklearn_roc_auc_scorer_is_inverted_and_ours_is_right(blobs):
    X_train, X_test, y_test = blobs
    forest = IsolationForest(random_state=0).fit(X_train)
    ours = anomaly_roc_auc_scorer(forest, X_test, y_test)
    builtin = get_scorer("roc_auc")(forest, X_test, y_test)
    assert ours > 0.95
    assert ours == pytest.approx(roc_auc_score(y_test, -forest.score_samples(X_test)))
    # scikit-learn ranks by decision_function (higher = normal) for the positive label 1 = anomaly
    assert builtin == pytest.approx(1.0 - ours)
    assert builtin < 0.05
    assert get_scorer("average_precision")(forest, X_test, y_test) < 0.5
    assert anomaly_average_precision_scorer(forest, X_test, y_test) > 0.9


def test_scorers_on_pipeline_and_f1_at_k(blobs):
    X_train, X_test, y_test = blobs
    pipe = make_pipeline(StandardScaler(), IsolationForest(random_state=0)).fit(X_train)
    anomaly_score = -pipe.score_samples(X_test)
    assert anomaly_roc_auc_scorer(pipe, X_test, y_test) == anomaly_roc_auc(y_test, anomaly_score)
    assert make_f1_at_k_scorer(0.2)(pipe, X_test, y_test) == pytest.approx(
        precision_recall_f1_at_k(y_test, anomaly_score, 0.2)[2]
    )
    # k=None: the fold's anomaly ratio (10 %)
    assert make_f1_at_k_scorer()(pipe, X_test, y_test) == pytest.approx(
        precision_recall_f1_at_k(y_test, anomaly_score, 0.1)[2]
    )
    results = {name: scorer(pipe, X_test, y_test) for name, scorer in ANOMALY_SCORERS.items()}
    assert set(results) == {"roc_auc", "average_precision", "f1_at_k"}
    assert results["f1_at_k"] > 0.8


def test_scorers_never_use_decision_function():
    class PyODLike:
        """decision_function with higher = more anomalous, no score_samples."""

        def decision_function(self, X):
            return np.asarray(X)[:, 0]

    with pytest.raises(AttributeError, match="score_samples"):
        anomaly_roc_auc_scorer(PyODLike(), np.zeros((4, 1)), [0, 1, 0, 1])


def test_scorer_errors_and_repr():
    with pytest.raises(ValueError, match="k must be"):
        make_f1_at_k_scorer(20)
    with pytest.raises(ValueError, match="callable"):
        make_anomaly_scorer("roc_auc")
    assert repr(anomaly_roc_auc_scorer) == "make_anomaly_scorer(anomaly_roc_auc)"
    assert repr(make_f1_at_k_scorer(0.2)) == "make_anomaly_scorer(f1_at_k, k=0.2)"
    forest = IsolationForest(n_estimators=5, random_state=0).fit(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="sample_weight"):
        anomaly_roc_auc_scorer(forest, np.zeros((2, 2)), [0, 1], sample_weight=[1, 1])


def test_scorers_pickle(blobs):
    X_train, X_test, y_test = blobs
    forest = IsolationForest(n_estimators=20, random_state=0).fit(X_train)
    for scorer in [*ANOMALY_SCORERS.values(), make_f1_at_k_scorer(0.2)]:
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored(forest, X_test, y_test) == scorer(forest, X_test, y_test)


def test_custom_metric_scorer(blobs):
    X_train, X_test, y_test = blobs
    forest = IsolationForest(n_estimators=20, random_state=0).fit(X_train)

    def recall_at_k(y_true, anomaly_score, k):
        return precision_recall_f1_at_k(y_true, anomaly_score, k)[1]

    scorer = make_anomaly_scorer(recall_at_k, k=0.1)
    assert scorer(forest, X_test, y_test) == pytest.approx(
        recall_at_k(y_test, -forest.score_samples(X_test), 0.1)
    )


# ---------------------------------------------------------------------------------------------------
# label-free scorer (synthetic anomalies)
# ---------------------------------------------------------------------------------------------------


class _ConstantScore:
    """Scores every sample the same: no separation at all."""

    def score_samples(self, X):
        return np.zeros(len(X))


def test_synthetic_anomaly_scorer_measures_separation_without_labels(blobs):
    X_train, _, _ = blobs
    forest = IsolationForest(random_state=0).fit(X_train[:200])
    held_out = X_train[200:]
    far = make_synthetic_anomaly_scorer("perturb", noise_scale=4.0)
    near = make_synthetic_anomaly_scorer("perturb", noise_scale=0.2)
    assert far(forest, held_out) > 0.9
    assert 0.4 < near(forest, held_out) < far(forest, held_out)
    assert far(forest, held_out, y_true=np.ones(100)) == far(forest, held_out)  # labels are ignored
    assert far(_ConstantScore(), held_out) == 0.5
    # same fold, same anomalies: repeated calls agree
    assert make_synthetic_anomaly_scorer("shuffle")(forest, held_out) == \
        make_synthetic_anomaly_scorer("shuffle")(forest, held_out)
    assert "method='perturb'" in repr(far) and "noise_scale=4.0" in repr(far)


def test_synthetic_anomaly_scorer_selects_in_gridsearch_on_unlabelled_data(blobs):
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KernelDensity

    X_train, X_test, y_test = blobs
    # A far too narrow kernel gives held-out normals near-zero density: the label-free criterion must see it.
    search = GridSearchCV(KernelDensity(), {"bandwidth": [0.02, 1.0]}, cv=KFold(3, shuffle=True, random_state=0),
                          scoring=make_synthetic_anomaly_scorer("uniform")).fit(X_train)
    assert search.best_params_ == {"bandwidth": 1.0}
    assert anomaly_roc_auc(y_test, -search.score_samples(X_test)) > 0.95


def test_synthetic_anomaly_scorer_keeps_dataframe_columns(blobs):
    X = pd.DataFrame(blobs[0], columns=list("abcd"))
    model = make_pipeline(StandardScaler(), IsolationForest(random_state=0)).fit(X)
    seen = []

    class Spy:
        def score_samples(self, data):
            seen.append(list(data.columns))
            return model.score_samples(data)

    make_synthetic_anomaly_scorer()(Spy(), X)
    assert seen == [list("abcd")] * 2


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("swap",), {}, ValueError, "method must be one of"),
        ((), {"random_state": None}, ValueError, "must be an int"),
        ((), {"random_state": np.random.RandomState(0)}, ValueError, "must be an int"),
        ((), {"n_anomalies": 0}, ValueError, "n_anomalies must be"),
        ((), {"scale": 2.0}, TypeError, "Unexpected keyword"),
    ],
)
def test_synthetic_anomaly_scorer_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_synthetic_anomaly_scorer(*args, **kwargs)
