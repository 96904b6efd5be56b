"""The run store of the benchmark runner: concurrent writers, resume, interrupts, thread counts, usage errors.

Detectors: IsolationForest, tiny AutoEncoderDetector settings and small in-test estimators, on the embedded
Thyroid data.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, OutlierMixin

from skanomaly.benchmarks import DetectorSpec, RunStore, read_results, run_benchmark, write_report
from skanomaly.benchmarks.cli import main
from skanomaly.benchmarks.results import run_key

TINY_AE = ["--set", "AutoEncoderDetector.max_epochs=12", "AutoEncoderDetector.hidden_layer_sizes=(8,)",
           "AutoEncoderDetector.batch_size=32"]


def _cli(*args):
    return [sys.executable, "-m", "skanomaly", *args]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _stored(folder):
    with RunStore(folder) as store:
        return store.read()


class CenterDistance(OutlierMixin, BaseEstimator):
    """Distance to the training mean; ``interrupt`` simulates Ctrl-C inside ``fit``."""

    def __init__(self, interrupt=None, random_state=None):
        self.interrupt = interrupt
        self.random_state = random_state

    def fit(self, X, y=None):
        if self.interrupt == "raise":
            raise KeyboardInterrupt
        if self.interrupt == "swallow":  # a training loop that catches the interrupt and returns normally
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1.0)
            except KeyboardInterrupt:
                pass
        self.center_ = np.asarray(X, dtype=float).mean(axis=0)
        self.offset_ = 0.0
        return self

    def score_samples(self, X):
        return -np.linalg.norm(np.asarray(X, dtype=float) - self.center_, axis=1)


def _spec(name, **params):
    return DetectorSpec(name, lambda dataset, seed, **over: CenterDistance(random_state=seed, **{**params, **over}))


def test_two_processes_writing_one_folder_lose_no_row(tmp_path):
    out = tmp_path / "shared"
    procs = [subprocess.Popen(_cli("benchmark", "--detectors", "IsolationForest", "--datasets", "thyroid",
                                   "--seeds", *seeds, "--output", str(out), "-q"),
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for seeds in (["0", "1", "2", "3"], ["10", "11", "12", "13"])]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    stored = _stored(out)
    assert sorted(stored["seed"]) == [0, 1, 2, 3, 10, 11, 12, 13]
    assert (stored["status"] == "ok").all()
    exported = read_results(out)
    assert sorted(exported["seed"]) == [0, 1, 2, 3, 10, 11, 12, 13]
    assert "Seeds: 0, 1, 2, 3, 10, 11, 12, 13 (8)" in (out / "summary.md").read_text()


def test_sigint_during_the_second_run_keeps_the_first_and_resumes(tmp_path):
    out = tmp_path / "interrupted"
    command = _cli("benchmark", "--detectors", "AutoEncoderDetector", "AutoEncoderDetector[max_epochs=1]",
                   "--datasets", "thyroid", "--seeds", "0", "--output", str(out), "-v", *TINY_AE)
    proc = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, training = [], threading.Event()

    def read_stderr():
        started = False
        for line in proc.stderr:
            lines.append(line)
            if started and line.strip():
                training.set()  # the first epoch line of the second run
            started = started or "started: AutoEncoderDetector |" in line

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert training.wait(timeout=180), "".join(lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    err = "".join(lines)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    stored = _stored(out)
    assert list(stored["detector"]) == ["IsolationForest"] and (stored["status"] == "ok").all()
    assert list(read_results(out)["detector"]) == ["IsolationForest"]  # the export was written
    first = stored.iloc[0]

    again = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "done: 2 ok, 0 failed, skipped 1 already stored" in again.stderr
    assert again.stderr.count("started: ") == 2
    stored = _stored(out).set_index("detector")
    assert sorted(stored.index) == ["AutoEncoderDetector", "AutoEncoderDetector[max_epochs=1]", "IsolationForest"]
    assert (stored["status"] == "ok").all()
    assert stored.loc["IsolationForest", "timestamp"] == first["timestamp"]  # not run again
    assert stored.loc["IsolationForest", "roc_auc"] == first["roc_auc"]


def test_keyboard_interrupt_inside_a_run_is_never_stored_as_ok(tmp_path, capsys):
    for how in ("raise", "swallow"):
        out = tmp_path / how
        with pytest.raises(KeyboardInterrupt):
            run_benchmark([_spec("Center"), _spec("Stopped", interrupt=how), _spec("Never")], "thyroid", seeds=[0],
                          output_dir=out, verbose=1)
        assert "run the same command again to resume" in capsys.readouterr().err
        stored = _stored(out)
        assert list(stored["detector"]) == ["IsolationForest", "Center"], how
        assert (stored["status"] == "ok").all()
        assert len(read_results(out)) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the runner's handlers are gone


def test_resume_skips_stored_runs_and_rerun_forces_them(tmp_path, capsys):
    first = run_benchmark([_spec("Center")], "thyroid", seeds=[0, 1], output_dir=tmp_path, verbose=0)
    assert capsys.readouterr().err == ""  # quiet stays quiet
    second = run_benchmark([_spec("Center")], "thyroid", seeds=[0, 1, 2], output_dir=tmp_path, verbose=1)
    assert "done: 2 ok, 0 failed, skipped 4 already stored" in capsys.readouterr().err
    # The skipped runs' rows come back from the store, in the planned order.
    assert list(second["seed"]) == [0, 0, 1, 1, 2, 2]
    cols = ["detector", "seed", "split_hash", "roc_auc", "timestamp"]
    pd.testing.assert_frame_equal(second[cols].iloc[:4], first[cols])
    run_benchmark([_spec("Center")], "thyroid", seeds=[0], output_dir=tmp_path, verbose=1, rerun=True)
    assert "done: 2 ok, 0 failed, skipped 0 already stored" in capsys.readouterr().err
    assert len(_stored(tmp_path)) == 6


def test_the_runs_thread_count_is_every_skanomaly_detectors_n_threads(tmp_path):
    quick = {"AutoEncoderDetector": {"max_epochs": 1}}
    rows = run_benchmark(["AutoEncoderDetector"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0,
                         torch_threads=2, params=quick)
    row = rows[rows["detector"] == "AutoEncoderDetector"].iloc[0]
    assert row["status"] == "ok" and row["torch_threads"] == 2 and json.loads(row["params"])["n_threads"] == 2
    with pytest.raises(ValueError, match="--torch-threads"):
        run_benchmark(["AutoEncoderDetector"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0,
                      params={"AutoEncoderDetector": {"n_threads": 2}})


def test_thread_count_and_params_are_part_of_the_key(tmp_path):
    one = run_benchmark(["IsolationForest"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0)
    assert one["torch_threads"].tolist() == [1]
    two = run_benchmark(["IsolationForest"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0,
                        torch_threads=2)
    assert two["torch_threads"].tolist() == [2]
    run_benchmark(["IsolationForest"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0,
                  params={"IsolationForest": {"n_estimators": 10}})
    stored = _stored(tmp_path)
    assert len(stored) == 3 and stored["torch_threads"].tolist() == [1, 2, 1]
    assert len({run_key(row) for row in stored.to_dict("records")}) == 3
    exported = read_results(tmp_path)  # one row per (detector, dataset, protocol, seed, class): the last stored
    assert len(exported) == 1 and json.loads(exported["params"].iloc[0])["n_estimators"] == 10


def test_results_csv_without_store_is_imported_and_resumes(tmp_path, capsys):
    run_benchmark([_spec("Center")], "thyroid", seeds=[0, 1], output_dir=tmp_path, verbose=0)
    before = read_results(tmp_path)
    (tmp_path / "runs.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"runs.sqlite{suffix}").unlink(missing_ok=True)
    run_benchmark([_spec("Center")], "thyroid", seeds=[0, 1], output_dir=tmp_path, verbose=1)
    assert "done: 0 ok, 0 failed, skipped 4 already stored" in capsys.readouterr().err
    after = read_results(tmp_path)
    pd.testing.assert_frame_equal(after, before)
    # `skanomaly report` rewrites the same exports from the store.
    (tmp_path / "results.csv").unlink()
    (tmp_path / "summary.md").unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert "| Center | 2/2 |" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_results(tmp_path), before)
    assert len(write_report(tmp_path)) == 4


def test_search_rows_keep_their_build_parameters_in_the_key(tmp_path):
    from sklearn.model_selection import GridSearchCV, KFold

    from skanomaly.metrics import make_synthetic_anomaly_scorer

    def search(dataset, seed, **over):
        return GridSearchCV(CenterDistance(random_state=seed), {"interrupt": [None]}, cv=KFold(2),
                            scoring=make_synthetic_anomaly_scorer("perturb", random_state=seed))

    spec = DetectorSpec("Searched", search)
    first = run_benchmark([spec], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0).set_index("detector")
    row = first.loc["Searched"]
    assert json.loads(row["params"]) == {"interrupt": None, "random_state": 0}  # the chosen model
    assert "GridSearchCV" not in row["params"] and "CenterDistance" in row["run_params"]
    assert " at 0x" not in row["run_params"]
    with RunStore(tmp_path) as store:
        assert len(store.ok_keys()) == 2
    again = run_benchmark([spec], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0)
    assert again.set_index("detector").loc["Searched", "timestamp"] == row["timestamp"]  # skipped


@pytest.mark.parametrize("setup, args, message", [
    ("file", [], "is an existing file"),
    ("under_file", [], "Cannot create the output folder"),
    ("corrupt_store", [], "runs.sqlite is not a readable SQLite database"),
    ("corrupt_csv", [], "results.csv"),
    (None, ["--set", "AutoEncoderDetector.max_epochs=-3"], "max_epochs"),
    (None, ["--set", "AutoEncoderDetector.no_such=1"], "no_such"),
    (None, ["--detectors", "NoSuchDetector"], "Unknown detector 'NoSuchDetector'"),
    (None, ["--protocol", "nope"], "Unknown protocol 'nope'"),
])
def test_usage_errors_exit_2_with_one_message(tmp_path, capsys, setup, args, message):
    out = tmp_path / "out"
    if setup == "file":
        out.write_text("not a folder")
    elif setup == "under_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "out"
    elif setup == "corrupt_store":
        out.mkdir()
        (out / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    elif setup == "corrupt_csv":
        out.mkdir()
        (out / "results.csv").write_bytes(b"\x00\x01garbage\nno,columns\n")
    argv = ["benchmark", "--datasets", "thyroid", "--seeds", "0", "--output", str(out), "-q"]
    if "--detectors" not in args:
        argv += ["--detectors", "AutoEncoderDetector"]
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("skanomaly benchmark: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    if setup is None:  # checked before any run: nothing was stored
        assert not (out / "runs.sqlite").exists()
    if setup == "corrupt_store":
        assert str(out / "runs.sqlite") in err
    if setup == "corrupt_csv":
        assert str(out / "results.csv") in err


def test_cli_runs_a_study_file(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text('protocol = "novelty"\ndatasets = ["thyroid"]\nseeds = [0]\n\n'
                     '[detectors."IsolationForest-10"]\nestimator = "IsolationForest"\n'
                     'params = { n_estimators = 10 }\n')
    assert main(["benchmark", "--study", str(study), "-q"]) == 0
    assert "| IsolationForest-10 | 1/1 |" in capsys.readouterr().out
    assert sorted(read_results(tmp_path)["detector"]) == ["IsolationForest", "IsolationForest-10"]
    assert main(["benchmark", "--study", str(study), "--seeds", "1", "-q"]) == 2
    assert "drop --seeds" in capsys.readouterr().err


def test_report_usage_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no run store" in capsys.readouterr().err


def test_store_is_a_wal_database_with_one_row_per_run_key(tmp_path):
    run_benchmark(["IsolationForest"], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0)
    conn = sqlite3.connect(tmp_path / "runs.sqlite")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT run_key) FROM runs").fetchone() == (1, 1)
    finally:
        conn.close()


def test_parser_imports_neither_torch_nor_sklearn():
    code = ("import sys, skanomaly.benchmarks.cli as cli; cli._build_parser(); "
            "import skanomaly.benchmarks.registry; "
            "print(sorted(m for m in ('torch', 'sklearn', 'pandas', 'skorch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# A file size limit (RLIMIT_FSIZE) that the store's write-ahead log reaches after a few runs: writes past it fail
# with EFBIG (SIGXFSZ ignored), as on a full disk.
_FSIZE_LIMIT = 100_000
_LIMITED = ("import resource, signal, sys\n"
            "from skanomaly.benchmarks.cli import main\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({_FSIZE_LIMIT}, resource.RLIM_INFINITY))\n"
            "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_a_full_disk_stops_with_one_line_and_status_74_keeps_the_store_and_resumes(tmp_path):
    out = tmp_path / "full"
    seeds = [str(seed) for seed in range(40)]
    args = ["benchmark", "--detectors", "IsolationForest", "--datasets", "thyroid", "--seeds", *seeds,
            "--set", "IsolationForest.n_estimators=5", "--output", str(out)]
    full = subprocess.run([sys.executable, "-c", _LIMITED, *args], env=_env(), capture_output=True, text=True,
                          timeout=300)
    assert full.returncode == 74, full.stderr
    errors = [line for line in full.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == full.stderr.splitlines()[-1], full.stderr
    assert errors[0].startswith(f"skanomaly benchmark: error: Cannot write to the run store {out / 'runs.sqlite'}: ")
    assert "disk I/O error" in errors[0] or "database or disk is full" in errors[0]
    assert "run the same command again to resume" in errors[0]
    assert "Traceback" not in full.stderr and "rollback" not in full.stderr
    assert full.stdout == ""  # no summary of a benchmark that stopped

    conn = sqlite3.connect(f"file:{out / 'runs.sqlite'}?mode=ro", uri=True)  # what the failed process left
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        kept = conn.execute("SELECT seed, status FROM runs ORDER BY id").fetchall()
    finally:
        conn.close()
    assert 0 < len(kept) < len(seeds) and {status for _, status in kept} == {"ok"}
    assert [seed for seed, _ in kept] == list(range(len(kept)))
    assert f"The {len(kept)} run" in errors[0]

    again = subprocess.run(_cli(*args), env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"done: {len(seeds) - len(kept)} ok, 0 failed, skipped {len(kept)} already stored" in again.stderr
    stored = _stored(out)
    assert sorted(stored["seed"]) == list(range(len(seeds))) and (stored["status"] == "ok").all()


def test_exports_that_cannot_be_written_exit_74_and_keep_the_stored_runs(tmp_path, capsys, monkeypatch):
    import errno

    from skanomaly.benchmarks import store

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "replace", no_space)
    argv = ["benchmark", "--detectors", "IsolationForest", "--datasets", "thyroid", "--seeds", "0",
            "--output", str(tmp_path), "-q"]
    assert main(argv) == 74
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"Cannot write {tmp_path / 'results.csv'}: No space left on device." in err
    assert f"`skanomaly report {tmp_path}`" in err
    assert list(_stored(tmp_path)["status"]) == ["ok"]
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written export is left behind
    monkeypatch.undo()
    assert main(["report", str(tmp_path)]) == 0
    assert len(read_results(tmp_path)) == 1


def test_rows_record_the_false_alarm_rate_at_a_5_percent_target(tmp_path):
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import MinMaxScaler

    from skanomaly.calibration import CalibratedDetector
    from skanomaly.datasets import load_thyroid
    from skanomaly.model_selection import novelty_train_test_split

    calibrated = DetectorSpec("Calibrated", lambda dataset, seed, **over: CalibratedDetector(
        IsolationForest(random_state=seed), random_state=seed))
    rows = run_benchmark([calibrated], "thyroid", seeds=[0], output_dir=tmp_path, verbose=0).set_index("detector")
    # recomputed by hand on the runner's split: the share of normal test rows flagged
    X, y = load_thyroid(return_X_y=True)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    reference = IsolationForest(random_state=0).fit(scaler.transform(X_train))
    threshold = np.percentile(reference.score_samples(scaler.transform(X_train)), 5)
    expected = np.mean(reference.score_samples(scaler.transform(X_test))[y_test == 0] < threshold)
    assert rows.loc["IsolationForest", "false_alarm_rate_at_5pct"] == pytest.approx(expected)
    model = CalibratedDetector(IsolationForest(random_state=0), random_state=0).fit(scaler.transform(X_train))
    expected = np.mean(model.p_values(scaler.transform(X_test))[y_test == 0] <= 0.05)
    assert rows.loc["Calibrated", "false_alarm_rate_at_5pct"] == pytest.approx(expected)
    assert "false_alarm_rate_at_5pct" in read_results(tmp_path).columns
