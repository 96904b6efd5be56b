"""Detectors inside scikit-learn's model-selection tools, end to end."""

import numpy as np
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.metrics import ANOMALY_SCORERS
from skanomaly.model_selection import NoveltyKFold


def _pipeline():
    return Pipeline([
        ("scale", StandardScaler()),
        ("detector", AutoEncoderDetector(max_epochs=3, batch_size=256, hidden_layer_sizes=(16,), random_state=0)),
    ])


def test_grid_search_with_novelty_folds_and_anomaly_scorers():
    X, y = load_thyroid(return_X_y=True)
    rows = np.random.RandomState(0).choice(len(X), 1200, replace=False)
    X, y = X[rows], y[rows]
    search = GridSearchCV(
        _pipeline(),
        {"detector__latent_dim": [1, 3]},
        scoring=ANOMALY_SCORERS,
        refit=False,
        cv=NoveltyKFold(n_splits=3, random_state=0),
    )
    search.fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 2
    for name in ANOMALY_SCORERS:
        scores = results[f"mean_test_{name}"]
        assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    # The detectors learn something on every fold: AUROC well above chance (0.5), which an inverted
    # scorer (sklearn's "roc_auc" on 1 = anomaly labels) would turn into well below.
    assert np.all(results["mean_test_roc_auc"] > 0.7)
    best = results["params"][int(np.argmin(results["rank_test_roc_auc"]))]
    model = _pipeline().set_params(**best).fit(X[y == 0])
    assert model.score_samples(X[y == 1]).mean() < model.score_samples(X[y == 0]).mean()


def test_training_folds_hold_no_anomalies_inside_cross_validate():
    X, y = load_thyroid(return_X_y=True)
    seen = []

    class Recorder(AutoEncoderDetector):
        def fit(self, X, y=None):
            seen.append(len(X))
            return super().fit(X, y)

    rows = np.random.RandomState(1).choice(len(X), 900, replace=False)
    X, y = X[rows], y[rows]
    cv = NoveltyKFold(n_splits=3, random_state=0)
    out = cross_validate(
        Pipeline([("scale", StandardScaler()), ("detector", Recorder(max_epochs=1, random_state=0))]),
        X, y, cv=cv, scoring=ANOMALY_SCORERS,
    )
    expected = [int(np.sum(y[train] == 0)) for train, _ in cv.split(X, y)]
    assert seen == expected and all(np.sum(y[train]) == 0 for train, _ in cv.split(X, y))
    assert np.all(out["test_roc_auc"] > 0.5)
