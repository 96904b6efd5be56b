"""The benchmark runner on a real dask.distributed LocalCluster gives the rows of the in-process runner."""

import pandas as pd
import pytest

from skanomaly.benchmarks import RunStore, run_benchmark

distributed = pytest.importorskip("distributed")

PARAMS = {"AutoEncoderDetector": {"max_epochs": 2, "hidden_layer_sizes": (8,), "batch_size": 64}}
SAME = ["detector", "dataset", "protocol", "seed", "split_hash", "n_train", "n_test", "roc_auc",
        "average_precision", "precision_at_k", "recall_at_k", "f1_at_k", "k", "params", "torch_threads", "status"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
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


@pytest.mark.slow  # the client tries to connect for 20 s before it gives up
def test_bad_scheduler_address_is_a_usage_error(capsys):
    from skanomaly.benchmarks.cli import main

    assert main(["benchmark", "--detectors", "IsolationForest", "--datasets", "thyroid", "--seeds", "0", "-q",
                 "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "Cannot connect to the Dask scheduler 'tcp://127.0.0.1:1'" in capsys.readouterr().err
