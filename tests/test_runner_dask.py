"""The benchmark runner on a real dask.distributed LocalCluster gives the rows of the in-process runner.

Worker deaths are ordered by events the tests wait for (a row in the run store, a finished task), not by how long
something takes, so the tests take the same path on a loaded machine.
"""

import os
import signal
import sqlite3
import time

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


def _wait_until(condition, what, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def _reference_is_stored(store):
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM runs WHERE detector = 'IsolationForest' AND status = 'ok'"
                                ).fetchone()[0] > 0
        finally:
            conn.close()
    except sqlite3.Error:  # not created yet, or busy
        return False


class WorkerKiller(OutlierMixin, BaseEstimator):
    """Ends the process that fits it, as an out-of-memory kill would (importable on the spawned workers).

    It first waits until the reference's row is in the run store ``store``, leaving its worker thread meanwhile
    (``secede``) so that the reference can run on the same worker: no finished result is ever on the worker it
    kills, whichever worker the scheduler chose.
    """

    def __init__(self, store=None, random_state=None):
        self.store = store
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.store is not None:
            from distributed import secede

            secede()
            _wait_until(lambda: _reference_is_stored(self.store), "the reference's row in the store")
        os._exit(1)

    def score_samples(self, X):  # pragma: no cover - never fitted
        return np.zeros(len(X))


class _KillWorkersAtFirstResult:
    """``as_completed`` that kills every worker process right before it hands out the first finished task.

    The finished task's result, and the split it was computed from, die with the workers before the runner asks
    for them, as when a worker dies in the moment between the end of a run and the transfer of its result.
    """

    def __init__(self, original):
        self._original = original
        self.killed = []

    def __call__(self, *args, **kwargs):
        futures = self._original(*args, **kwargs)
        return _Killing(futures, self)


class _Killing:
    def __init__(self, futures, owner):
        self._futures, self._owner = futures, owner

    def add(self, future):
        self._futures.add(future)

    def __iter__(self):
        for future in self._futures:
            if not self._owner.killed and future.status == "finished":
                for pid in future.client.run(os.getpid).values():
                    os.kill(pid, signal.SIGKILL)
                    self._owner.killed.append(pid)
            yield future


@pytest.fixture(scope="module")
def cluster():
    # A dead worker's task comes back to the client at the first death, as with `scheduler="local"`.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as c:
            yield c


@pytest.fixture(autouse=True)
def both_workers_up(request):
    """Start each test on the cluster with both workers running (a test that kills workers leaves them
    restarting)."""
    if "cluster" in request.fixturenames:
        with distributed.Client(request.getfixturevalue("cluster")) as client:
            client.wait_for_workers(2, timeout=120)


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
    store = str(tmp_path / "runs.sqlite")
    killer = DetectorSpec("Killer", lambda dataset, seed, **over: WorkerKiller(store=store, random_state=seed))
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


def test_a_finished_run_whose_result_is_lost_with_its_worker_is_run_again(tmp_path, cluster, monkeypatch, capsys):
    killing = _KillWorkersAtFirstResult(distributed.as_completed)
    monkeypatch.setattr(distributed, "as_completed", killing)
    rows = run_benchmark(["IsolationForest"], ["thyroid"], seeds=[0], scheduler=cluster.scheduler_address,
                         output_dir=tmp_path, verbose=1)
    assert len(killing.killed) == 2  # both workers died, with the finished run's result and its split
    assert rows["status"].tolist() == ["ok"], rows["error"].tolist()
    err = capsys.readouterr().err
    assert ("IsolationForest | thyroid | novelty | seed 0: its result or its split was lost with a worker that "
            "died (") in err and "; retrying once" in err, err
    assert "done: 1 ok, 0 failed" in err
    expected = run_benchmark(["IsolationForest"], ["thyroid"], seeds=[0], verbose=0)
    pd.testing.assert_frame_equal(rows[SAME], expected[SAME])
    with RunStore(tmp_path) as store:
        assert store.read()["status"].tolist() == ["ok"]


def test_a_split_sent_to_a_worker_that_just_died_is_sent_again():
    from distributed.comm import CommClosedError

    from skanomaly.benchmarks.runner import _scatter

    class DyingWorkersClient:
        """Its scatter fails ``n_dead`` times, as when the scheduler still lists workers that have died."""

        def __init__(self, n_dead):
            self.n_dead, self.calls = n_dead, 0

        def scatter(self, data, hash=True):
            self.calls += 1
            if self.calls <= self.n_dead:
                raise CommClosedError("in <TCP (closed) ConnectionPool.scatter>: Stream is closed")
            return ("future", data)

    client = DyingWorkersClient(n_dead=2)
    assert _scatter(client, "split", delays=(0, 0)) == ("future", "split") and client.calls == 3
    client = DyingWorkersClient(n_dead=3)
    with pytest.raises(CommClosedError):
        _scatter(client, "split", delays=(0, 0))
    assert client.calls == 3
