"""The benchmark runner on a real dask.distributed LocalCluster gives the rows of the in-process runner."""

import os

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin

from skanomaly.benchmarks import DetectorSpec, RunStore, run_benchmark

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

PARAMS = {"AutoEncoderDetector": {"max_epochs": 2, "hidden_layer_sizes": (8,), "batch_size": 64}}
SAME = ["detector", "dataset", "protocol", "seed", "split_hash", "n_train", "n_test", "roc_auc",
        "average_precision", "precision_at_k", "recall_at_k", "f1_at_k", "k", "params", "torch_threads", "status"]


class WorkerKiller(OutlierMixin, BaseEstimator):
    """Ends the process that fits it, as an out-of-memory kill would (importable on the spawned workers)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y=None):
        os._exit(1)

    def score_samples(self, X):  # pragma: no cover - never fitted
        return np.zeros(len(X))


@pytest.fixture(scope="module")
def cluster():
    # A dead worker's task comes back to the client at the first death, as with `scheduler="local"`.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as c:
            yield c


def test_local_cluster_rows_equal_the_in_process_rows(tmp_path, cluster):
    kwargs = dict(seeds=[0, 1], params=PARAMS, verbose=0)
    serial = run_benchmark(["AutoEncoderDetector"], ["thyroid"], n_jobs=1, **kwargs)
    dask = run_benchmark(["AutoEncoderDetector"], ["thyroid"], scheduler=cluster.scheduler_address,
                         output_dir=tmp_path, **kwargs)
    assert (serial["status"] == "ok").all(), serial["error"].tolist()
    assert len(dask) == 4
    pd.testing.assert_frame_equal(serial[SAME], dask[SAME])
    with RunStore(tmp_path) as store:
        stored = store.read()
    assert len(stored) == 4 and (stored["status"] == "ok").all()
    # Run again on the cluster: every run is stored, so nothing is submitted.
    again = run_benchmark(["AutoEncoderDetector"], ["thyroid"], scheduler=cluster.scheduler_address,
                          output_dir=tmp_path, **kwargs)
    pd.testing.assert_frame_equal(again[SAME + ["timestamp"]], dask[SAME + ["timestamp"]])


def test_a_run_whose_worker_dies_is_retried_once_then_stored_as_an_error(tmp_path, cluster):
    killer = DetectorSpec("Killer", lambda dataset, seed, **over: WorkerKiller(random_state=seed))
    rows = run_benchmark([killer], ["thyroid"], seeds=[0], scheduler=cluster.scheduler_address,
                         output_dir=tmp_path, verbose=0).set_index("detector")
    assert rows.loc["IsolationForest", "status"] == "ok"
    assert rows.loc["Killer", "status"] == "error"
    assert rows.loc["Killer", "error"].startswith("the run failed twice on the cluster: KilledWorker")
    with RunStore(tmp_path) as store:
        assert store.read().set_index("detector").loc["Killer", "status"] == "error"


@pytest.mark.slow  # the client tries to connect for 20 s before it gives up
def test_bad_scheduler_address_is_a_usage_error(capsys):
    from skanomaly.benchmarks.cli import main

    assert main(["benchmark", "--detectors", "IsolationForest", "--datasets", "thyroid", "--seeds", "0", "-q",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "Cannot connect to the Dask scheduler 'tcp://127.0.0.1:1'" in capsys.readouterr().err
