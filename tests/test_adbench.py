"""make_adbench_anomalies: the four ADBench anomaly types, the normal rows, seeding and errors."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from skanomaly.datasets import ADBENCH_ANOMALY_KINDS, make_adbench_anomalies


@pytest.fixture(scope="module")
def gaussian():
    return np.random.RandomState(0).normal(loc=1.0, scale=0.2, size=(600, 3))


@pytest.mark.parametrize("kind", sorted(ADBENCH_ANOMALY_KINDS))
def test_shapes_labels_and_seeding(gaussian, kind):
    X, y = make_adbench_anomalies(gaussian, kind, n_anomalies=40, max_components=2, random_state=0)
    assert X.shape == (640, 3) and X.dtype == np.float64 and np.all(np.isfinite(X))
    assert y.dtype == np.int64 and int(y.sum()) == 40 and set(np.unique(y)) == {0, 1}
    assert 0 < y[-40:].sum() < 40  # shuffled: neither the anomalies nor the normal rows come last as a block
    again, y_again = make_adbench_anomalies(gaussian, kind, n_anomalies=40, max_components=2, random_state=0)
    np.testing.assert_array_equal(X, again)
    np.testing.assert_array_equal(y, y_again)
    other, _ = make_adbench_anomalies(gaussian, kind, n_anomalies=40, max_components=2, random_state=1)
    assert not np.array_equal(X, other)


def test_default_count_is_ten_percent(gaussian):
    _, y = make_adbench_anomalies(gaussian, "global", max_components=1, random_state=0)
    assert int(y.sum()) == 60


def test_local_anomalies_have_alpha_times_the_covariance(gaussian):
    X, y = make_adbench_anomalies(gaussian, "local", n_anomalies=2000, max_components=1, random_state=0)
    ratio = X[y == 1].var(axis=0) / X[y == 0].var(axis=0)
    assert np.all((ratio > 4.0) & (ratio < 6.0))  # alpha = 5
    np.testing.assert_allclose(X[y == 1].mean(axis=0), X[y == 0].mean(axis=0), atol=0.05)
    X3, y3 = make_adbench_anomalies(gaussian, "local", n_anomalies=2000, alpha=3.0, max_components=1,
                                    random_state=0)
    assert np.all(np.abs(X3[y3 == 1].var(axis=0) / X3[y3 == 0].var(axis=0) - 3.0) < 0.6)


def test_clustered_anomalies_sit_at_alpha_times_the_means(gaussian):
    X, y = make_adbench_anomalies(gaussian, "clustered", n_anomalies=500, max_components=1, random_state=0)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), 5.0 * X[y == 0].mean(axis=0), rtol=0.05)
    np.testing.assert_allclose(X[y == 1].std(axis=0), X[y == 0].std(axis=0), rtol=0.15)


def test_global_anomalies_are_uniform_over_the_widened_box(gaussian):
    X, y = make_adbench_anomalies(gaussian, "global", n_anomalies=3000, max_components=1, random_state=0)
    low, high = 1.1 * gaussian.min(axis=0), 1.1 * gaussian.max(axis=0)
    anomalies = X[y == 1]
    assert np.all(anomalies >= low) and np.all(anomalies <= high)
    for j in range(3):  # uniform: a quarter of the rows in each quarter of the range
        counts = np.histogram(anomalies[:, j], bins=4, range=(low[j], high[j]))[0]
        assert np.all(np.abs(counts / 3000 - 0.25) < 0.04)


def test_dependency_anomalies_keep_the_marginals_and_lose_the_dependence():
    rng = np.random.RandomState(0)
    x = rng.normal(size=800)
    binary = (rng.uniform(size=800) < 0.3).astype(float)
    X_normal = np.column_stack([x, x + 0.1 * rng.normal(size=800), binary])
    X, y = make_adbench_anomalies(X_normal, "dependency", n_anomalies=800, random_state=0)
    normal, anomalies = X[y == 0], X[y == 1]
    assert np.corrcoef(normal[:, 0], normal[:, 1])[0, 1] > 0.9  # the normal rows keep the dependence
    assert abs(np.corrcoef(anomalies[:, 0], anomalies[:, 1])[0, 1]) < 0.15
    for j in range(2):
        assert ks_2samp(anomalies[:, j], X_normal[:, j]).pvalue > 0.01
    assert set(np.unique(X[:, 2])) == {0.0, 1.0}  # a binary feature stays binary
    assert abs(anomalies[:, 2].mean() - binary.mean()) < 0.06


def test_original_normal_rows_are_returned_as_given(gaussian):
    for kind in ("local", "dependency"):
        X, y = make_adbench_anomalies(gaussian, kind, normal="original", max_components=1, random_state=0)
        normal = X[y == 0]
        np.testing.assert_array_equal(normal[np.lexsort(normal.T)], gaussian[np.lexsort(gaussian.T)])


def test_an_isolation_forest_finds_global_anomalies(gaussian):
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    X, y = make_adbench_anomalies(gaussian, "global", max_components=1, random_state=0)
    model = IsolationForest(random_state=0).fit(X[y == 0][:300])
    assert roc_auc_score(y, -model.score_samples(X)) > 0.85


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "contextual"}, "kind must be one of"),
    ({"kind": "dependency", "alpha": 2.0}, "no scaling factor"),
    ({"kind": "local", "alpha": 0.0}, "alpha must be"),
    ({"kind": "local", "alpha": np.inf}, "alpha must be"),
    ({"kind": "local", "normal": "both"}, "normal must be"),
    ({"kind": "local", "n_anomalies": 0}, "n_anomalies"),
    ({"kind": "local", "max_components": 0}, "max_components"),
])
def test_clear_errors_on_bad_arguments(gaussian, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_adbench_anomalies(gaussian, **kwargs)


def test_clear_errors_on_bad_normal_rows(gaussian):
    bad = gaussian.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make_adbench_anomalies(bad, "local")
    with pytest.raises(ValueError, match="minimum of 2"):
        make_adbench_anomalies(gaussian[:1], "local")
