"""ScoreCombinationDetector: normalisation on training scores, combination rules, named members, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from skanomaly.detectors import AutoEncoderDetector
from skanomaly.ensemble import ScoreCombinationDetector, SeedEnsembleDetector
from skanomaly.metrics import anomaly_roc_auc, make_anomaly_scorer
from skanomaly.model_selection import NoveltyKFold


def _members():
    return [("iforest", IsolationForest(n_estimators=50, random_state=0)),
            ("lof", LocalOutlierFactor(n_neighbors=15, novelty=True))]


def _tiny_ae(**params):
    return AutoEncoderDetector(max_epochs=3, batch_size=64, hidden_layer_sizes=(8,), latent_dim=2, **params)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X_train = rng.normal(size=(300, 5))
    X_test = np.vstack([rng.normal(size=(60, 5)), rng.normal(loc=3.5, size=(20, 5))])
    y_test = np.r_[np.zeros(60), np.ones(20)].astype(int)
    return X_train, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data):
    X_train, _, _ = data
    return ScoreCombinationDetector(_members(), normalization="rank").fit(X_train)


def test_members_are_fitted_clones_on_the_same_rows(data, fitted):
    X_train, X_test, _ = data
    assert [type(m) for m in fitted.estimators_] == [IsolationForest, LocalOutlierFactor]
    assert fitted.named_estimators_.iforest is fitted.estimators_[0]
    assert not hasattr(fitted.estimators[0][1], "estimators_")  # the given members stay unfitted
    own = IsolationForest(n_estimators=50, random_state=0).fit(X_train)
    np.testing.assert_allclose(fitted.named_estimators_.iforest.score_samples(X_test), own.score_samples(X_test))
    assert fitted.n_features_in_ == 5
    np.testing.assert_allclose(fitted.weights_, [0.5, 0.5])


def test_rank_normalisation_is_the_mid_rank_among_training_scores(data, fitted):
    X_train, X_test, _ = data
    iforest = fitted.named_estimators_.iforest
    train = iforest.score_samples(X_train)
    test = iforest.score_samples(X_test)
    mapped = fitted.member_scores(X_test)[:, 0]
    inside = (test >= train.min()) & (test <= train.max())
    assert inside.sum() > 20 and (~inside).sum() > 5
    # inside the training range the mapped score is the training ECDF at the score, to half a rank step
    below = np.array([np.mean(train < s) for s in test[inside]])
    at_or_below = np.array([np.mean(train <= s) for s in test[inside]])
    step = 1.0 / X_train.shape[0]
    assert np.all(np.abs(mapped[inside] - (below + at_or_below) / 2) <= step / 2 + 1e-12)
    # training scores map to their mid-ranks; below the lowest training score the order is kept without ties
    np.testing.assert_allclose(np.sort(fitted.member_scores(X_train)[:, 0]),
                               (np.arange(X_train.shape[0]) + 0.5) / X_train.shape[0])
    low = test < train.min()
    assert np.all(mapped[low] < 0.5 / X_train.shape[0])
    order = np.argsort(test[low])
    raw_steps, mapped_steps = np.diff(test[low][order]), np.diff(mapped[low][order])
    assert np.any(raw_steps > 0) and np.all(mapped_steps[raw_steps > 0] > 0)


def test_lof_members_are_normalised_with_their_leave_self_out_training_scores(data, fitted):
    X_train, _, _ = data
    lof = fitted.named_estimators_.lof
    np.testing.assert_allclose(fitted.score_means_[1], lof.negative_outlier_factor_.mean())
    biased = lof.score_samples(X_train)  # each row among its own neighbours: more normal
    assert biased.mean() > lof.negative_outlier_factor_.mean()


def test_standard_normalisation_is_the_default_and_the_combination_rules(data):
    X_train, X_test, _ = data
    model = ScoreCombinationDetector(_members()).fit(X_train)
    assert model.normalization == "standard"
    raw = np.column_stack([m.score_samples(X_test) for m in model.estimators_])
    z = (raw - model.score_means_) / model.score_scales_
    np.testing.assert_allclose(model.member_scores(X_test), z)
    np.testing.assert_allclose(model.score_samples(X_test), z.mean(axis=1))
    model.set_params(combination="max")  # the strongest anomaly evidence: the lowest normality
    np.testing.assert_allclose(model.score_samples(X_test), z.min(axis=1))
    weighted = ScoreCombinationDetector(_members(), normalization="standard", weights=[3, 1]).fit(X_train)
    np.testing.assert_allclose(weighted.score_samples(X_test), z @ np.array([0.75, 0.25]))


@pytest.mark.parametrize("normalization", ["rank", "standard"])
@pytest.mark.parametrize("combination", ["mean", "max"])
def test_it_learns_scores_are_float64_and_offset_flags_the_contamination(data, normalization, combination):
    X_train, X_test, y_test = data
    model = ScoreCombinationDetector(_members(), normalization=normalization, combination=combination,
                                     contamination=0.2).fit(X_train)
    scores = model.score_samples(X_test)
    assert scores.dtype == np.float64 and np.all(np.isfinite(scores))
    assert anomaly_roc_auc(y_test, -scores) > 0.95
    assert np.mean(model.predict(X_train) == -1) == pytest.approx(0.2, abs=0.01)
    np.testing.assert_allclose(model.decision_function(X_test), scores - model.offset_)
    # a row's score does not depend on the rows scored with it
    np.testing.assert_allclose(model.score_samples(X_test[:7]), scores[:7])


def test_nested_params_like_voting_classifier():
    model = ScoreCombinationDetector(_members())
    params = model.get_params()
    assert params["lof__n_neighbors"] == 15 and params["iforest"] is model.estimators[0][1]
    model.set_params(lof__n_neighbors=7, iforest__n_estimators=10)
    assert model.estimators[1][1].n_neighbors == 7 and model.estimators[0][1].n_estimators == 10
    replacement = IsolationForest(random_state=1)
    model.set_params(iforest=replacement)
    assert model.estimators[0][1] is replacement
    assert "lof__n_neighbors" not in model.get_params(deep=False)
    cloned = clone(model)
    assert cloned.estimators[1][1] is not model.estimators[1][1] and cloned.get_params()["lof__n_neighbors"] == 7


def test_dropped_members_and_their_weights(data):
    X_train, X_test, _ = data
    model = ScoreCombinationDetector(_members(), weights=[1, 5]).set_params(lof="drop").fit(X_train)
    assert len(model.estimators_) == 1 and list(model.named_estimators_) == ["iforest"]
    np.testing.assert_allclose(model.weights_, [1.0])
    np.testing.assert_allclose(model.score_samples(X_test), model.member_scores(X_test)[:, 0])


def test_grid_search_over_nested_params_in_a_pipeline(data):
    X_train, X_test, y_test = data
    X = np.vstack([X_train, X_test])
    y = np.r_[np.zeros(len(X_train), dtype=int), y_test]
    pipe = make_pipeline(MinMaxScaler(), ScoreCombinationDetector(_members()))
    search = GridSearchCV(pipe, {"scorecombinationdetector__lof__n_neighbors": [5, 20]},
                          scoring=make_anomaly_scorer(anomaly_roc_auc), cv=NoveltyKFold(n_splits=2, shuffle=True,
                                                                                          random_state=0))
    search.fit(X, y)
    assert search.best_params_["scorecombinationdetector__lof__n_neighbors"] in (5, 20)
    assert search.predict(X_test).shape == (len(X_test),)


def test_skanomaly_members_a_seed_ensemble_around_it_and_persistence(data):
    X_train, X_test, y_test = data
    combination = ScoreCombinationDetector([("iforest", IsolationForest(n_estimators=20)),
                                            ("ae", make_pipeline(StandardScaler(), _tiny_ae()))])
    ensemble = SeedEnsembleDetector(combination, n_estimators=2, random_state=0).fit(X_train)
    first, second = ensemble.estimators_
    assert first.get_params()["iforest__random_state"] != second.get_params()["iforest__random_state"]
    assert first.get_params()["ae__autoencoderdetector__random_state"] == first.get_params()["iforest__random_state"]
    scores = ensemble.score_samples(X_test)
    assert scores.dtype == np.float64 and anomaly_roc_auc(y_test, -scores) > 0.9
    restored = pickle.loads(pickle.dumps(ensemble))
    np.testing.assert_allclose(restored.score_samples(X_test), scores)


def test_pre_fitted_members_through_frozen_estimator(data):
    X_train, X_test, _ = data
    lof = LocalOutlierFactor(n_neighbors=15, novelty=True).fit(X_train)
    iforest = IsolationForest(n_estimators=50, random_state=0).fit(X_train)
    frozen = ScoreCombinationDetector([("iforest", FrozenEstimator(iforest)), ("lof", FrozenEstimator(lof))])
    fresh = ScoreCombinationDetector(_members())
    np.testing.assert_allclose(frozen.fit(X_train).score_samples(X_test), fresh.fit(X_train).score_samples(X_test))


@pytest.mark.parametrize("params, error, match", [
    ({"estimators": []}, ValueError, "non-empty"),
    ({"estimators": [IsolationForest()]}, ValueError, r"\(name, estimator\) tuples"),
    ({"estimators": [("a", IsolationForest()), ("a", IsolationForest())]}, ValueError, "unique"),
    ({"estimators": [("a", StandardScaler())]}, TypeError, "score_samples"),
    ({"estimators": [("a", "drop")]}, ValueError, "at least one"),
    ({"weights": [1.0]}, ValueError, "one entry per member"),
    ({"weights": [1.0, -1.0]}, ValueError, "non-negative"),
    ({"weights": [1.0, 1.0], "combination": "max"}, ValueError, "combination='mean' only"),
])
def test_clear_errors_on_bad_parameters(data, params, error, match):
    X_train, _, _ = data
    model = ScoreCombinationDetector(**{"estimators": _members(), **params})
    with pytest.raises(error, match=match):
        model.fit(X_train)


class _NaNDetector(IsolationForest):
    def score_samples(self, X):
        scores = super().score_samples(X)
        scores[0] = np.nan
        return scores


def test_a_member_with_non_finite_scores_is_named(data):
    X_train, _, _ = data
    model = ScoreCombinationDetector([("broken", _NaNDetector(n_estimators=5, random_state=0))])
    with pytest.raises(ValueError, match="member 'broken'.*non-finite"):
        model.fit(X_train)


def test_recommended_detector_reproduces_its_committed_development_row():
    """Thyroid, split seed 0: the recommended detector gives the row of the study that chose it."""
    from pathlib import Path

    from skanomaly import recommended_detector
    from skanomaly.datasets import load_thyroid
    from skanomaly.metrics import precision_recall_f1_at_k
    from skanomaly.model_selection import novelty_train_test_split

    results = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "recommendation" / "results.csv"
    rows = pd.read_csv(results, keep_default_na=False)
    row = rows[(rows.dataset == "thyroid") & (rows.seed == 0) & (rows.detector == "IF+LOF (standard, mean)")]
    assert len(row) == 1
    X, y = load_thyroid(return_X_y=True)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=0)
    model = recommended_detector(random_state=0).fit(X_train)
    assert isinstance(model, ScoreCombinationDetector) and model.normalization == "standard"
    anomaly_score = -model.score_samples(X_test)
    assert anomaly_roc_auc(y_test, anomaly_score) == pytest.approx(row.roc_auc.iloc[0], rel=1e-5)
    assert precision_recall_f1_at_k(y_test, anomaly_score, 0.025)[2] == pytest.approx(row.f1_at_k.iloc[0], rel=1e-5)


class _DivergingDetector(IsolationForest):
    def fit(self, X, y=None):
        from skanomaly.exceptions import TrainingDivergedError

        raise TrainingDivergedError("loss became nan")


def test_a_failed_fit_leaves_the_combination_unfitted_and_names_the_member(data):
    from sklearn.exceptions import NotFittedError

    from skanomaly.exceptions import TrainingDivergedError

    X_train, X_test, _ = data
    model = ScoreCombinationDetector(_members()).fit(X_train)
    model.set_params(lof=_DivergingDetector())
    with pytest.raises(TrainingDivergedError, match="member 'lof': loss became nan"):
        model.fit(X_train)
    assert not hasattr(model, "estimators_") and not hasattr(model, "offset_")
    with pytest.raises(NotFittedError):
        model.score_samples(X_test)
    model.set_params(lof=LocalOutlierFactor(novelty=True)).fit(X_train)  # a refit works again
    assert model.score_samples(X_test).shape == (len(X_test),)


def test_fit_on_a_dataframe_warns_nothing_and_keeps_offset(recwarn):
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(120, 3), columns=["a", "b", "c"])
    model = ScoreCombinationDetector(
        [("forest", IsolationForest(n_estimators=20, random_state=0)), ("lof", LocalOutlierFactor(novelty=True))]
    ).fit(X)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)], [str(w.message) for w in recwarn]
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    assert model.offset_ == np.percentile(model.score_samples(X), 100 * model.contamination)
