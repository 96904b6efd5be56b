"""Scoring Dask arrays and DataFrames on a LocalCluster (:func:`skanomaly.distributed.score_dask`).

The scores of every chunk equal the in-memory scores of its rows to the bit, for every scoring method, for a
detector and a Pipeline; each output chunk depends on its own rows and on the detector only, which is one key of
the graph; errors in a chunk surface on compute with the estimator's own message.
"""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.detectors import AutoEncoderDetector, DeepSVDDDetector
from skanomaly.distributed import score_dask

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

RNG = np.random.RandomState(0)
X_TRAIN = RNG.rand(300, 6)
# Uneven row chunks, features in two chunks (rechunked to whole rows), rows far outside the training data.
X_NEW = np.vstack([RNG.rand(950, 6) * 1.3, RNG.rand(50, 6) * 30]).astype(np.float32)
METHODS = ["score_samples", "decision_function", "predict", "anomaly_score"]


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def detectors():
    return {
        "autoencoder": AutoEncoderDetector(max_epochs=2, hidden_layer_sizes=(8,), random_state=0).fit(X_TRAIN),
        "pipeline": make_pipeline(MinMaxScaler(), DeepSVDDDetector(max_epochs=2, hidden_layer_sizes=(8,),
                                                                   random_state=0)).fit(X_TRAIN),
    }


@pytest.mark.parametrize("name", ["autoencoder", "pipeline"])
def test_scores_equal_in_memory_scores_to_the_bit(client, detectors, name):
    estimator = detectors[name]
    X = da.from_array(X_NEW, chunks=((300, 300, 250, 150), (4, 2)))
    for method in METHODS:
        if not hasattr(estimator, method):  # a Pipeline has no anomaly_score
            continue
        lazy = score_dask(estimator, X, method=method)
        assert lazy.chunks == ((300, 300, 250, 150),)
        scores = lazy.compute()
        expected = getattr(estimator, method)(X_NEW)
        assert scores.dtype == (np.int64 if method == "predict" else np.float64)
        np.testing.assert_array_equal(scores, expected, err_msg=method)


def test_each_chunk_depends_on_its_rows_and_one_copy_of_the_detector(detectors):
    X = da.from_array(X_NEW, chunks=(250, 6))
    scores = score_dask(detectors["autoencoder"], X)
    graph = dict(scores.__dask_graph__())
    dependencies = {key: set(graph[key].dependencies) for key in scores.__dask_keys__()}
    detector_keys = set.intersection(*dependencies.values())
    assert len(detector_keys) == 1  # the one key that holds the detector
    rows = [sorted(deps - detector_keys) for deps in dependencies.values()]
    assert [len(keys) for keys in rows] == [1, 1, 1, 1]
    assert [keys[0][1] for keys in rows] == [0, 1, 2, 3]  # chunk i of the scores reads chunk i of the rows


def test_dataframes_keep_their_index_and_feature_names(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    columns = [f"f{i}" for i in range(6)]
    detector = AutoEncoderDetector(max_epochs=2, hidden_layer_sizes=(8,), random_state=0)
    detector.fit(pd.DataFrame(X_TRAIN, columns=columns))
    frame = pd.DataFrame(X_NEW, columns=columns, index=np.arange(len(X_NEW)) * 3)
    scores = score_dask(detector, dd.from_pandas(frame, npartitions=3)).compute()
    assert isinstance(scores, pd.Series) and scores.dtype == np.float64
    pd.testing.assert_index_equal(scores.index, frame.index)
    np.testing.assert_array_equal(scores.to_numpy(), detector.score_samples(frame))
    with pytest.raises(ValueError, match="feature names"):
        score_dask(detector, dd.from_pandas(frame.rename(columns=str.upper), npartitions=2)).compute()


def test_bad_chunks_fail_on_compute_with_the_estimators_message(client, detectors):
    bad = X_NEW.copy()
    bad[700, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        score_dask(detectors["autoencoder"], da.from_array(bad, chunks=(250, 6))).compute()
    with pytest.raises(ValueError, match="X has 5 features, but AutoEncoderDetector is expecting 6"):
        score_dask(detectors["autoencoder"], da.from_array(X_NEW[:, :5], chunks=(250, 5))).compute()


def test_bad_calls_are_refused_before_anything_runs(detectors):
    X = da.from_array(X_NEW, chunks=(250, 6))
    with pytest.raises(ValueError, match="method must be one of"):
        score_dask(detectors["autoencoder"], X, method="fit")
    with pytest.raises(AttributeError):
        score_dask(detectors["pipeline"], X, method="anomaly_score")
    with pytest.raises(NotFittedError):
        score_dask(AutoEncoderDetector(), X)
    with pytest.raises(ValueError, match="2-D Dask array"):
        score_dask(detectors["autoencoder"], X[:, 0])
    with pytest.raises(ValueError, match="needs a Dask array or DataFrame"):
        score_dask(detectors["autoencoder"], X_NEW)
