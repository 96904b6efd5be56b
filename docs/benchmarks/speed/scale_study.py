"""Scale study: AutoEncoderDetector trained incrementally on millions of rows read from disk, scored on Dask.

Data: the KDD Cup 99 (10 %) novelty split of the tabular benchmark (seed 0, one-hot, min-max scaled on the
training half). The training stream replicates the training half's rows with noise: row ``i`` is a training row
drawn at random plus N(0, 0.01^2) noise on every feature, written as float32 to a ``.npy`` file. The model is
judged on the test half (its real rows, 20 % anomalies) by AUROC.

Training, each run in a fresh process on one torch thread:

- **stream**: ``partial_fit`` once per chunk of 100,000 rows read with :func:`skanomaly.streaming.iter_chunks`
  (plain reads, no memory map), one pass over 1, 2 and 5 million rows; peak RSS (``VmHWM``) of the process;
- **in memory**: ``fit`` on the first 10 % of the same rows, held in memory, for 10 epochs: as many
  mini-batch steps as one pass of the stream;
- throughput: rows x epochs per second of the training call(s); the stream's time includes reading the file.
  Measured in one process where stream segments (2 chunks, continuing through the file) and in-memory fits with
  as many steps (20,000 rows x 10 epochs) alternate for 12 rounds; the ratio of each round is reported.

Scoring on a Dask ``LocalCluster`` (2 worker processes, 1 thread each): the 5-million-row stream model scores
rows generated inside the tasks (test-half rows drawn at random plus the same noise, 100,000 rows per chunk);
the scores are reduced on the cluster (outlier count, mean, histogram). Peak RSS of each worker is reset before
each computation (``/proc/self/clear_refs``) and read after it; runs: 5 and 50 million rows in chunks of
100,000, and 5 million rows in chunks of 400,000. Two chunks are scored in memory too and compared bitwise. When
dask-ml is installed, its ``ParallelPostFit.predict`` and ``score_dask(..., method="predict")`` are timed
alternately on 1 million rows.

Usage::

    SKANOMALY_DATA=/path/to/data python docs/benchmarks/speed/scale_study.py            # writes scale_study.md/.csv
    python docs/benchmarks/speed/scale_study.py --quick --output /tmp/scale              # a smoke run, small sizes
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import git_state  # noqa: E402  (docs/benchmarks/_scripts.py)
NOISE = 0.01
CHUNK_ROWS = 100_000
EPOCHS_IN_MEMORY = 10
SEED = 0


# ------------------------------------------------------------------------------------------------------ data
def kdd_split():
    """KDD Cup 99 novelty split (seed 0), min-max scaled on the training half: float32 arrays."""
    from sklearn.preprocessing import MinMaxScaler

    from skanomaly.datasets import fetch_kddcup99
    from skanomaly.model_selection import novelty_train_test_split

    X, y = fetch_kddcup99(return_X_y=True)
    X_train, X_test, _, y_test = novelty_train_test_split(X, y, random_state=SEED)
    scaler = MinMaxScaler().fit(X_train)
    return (scaler.transform(X_train).astype(np.float32), scaler.transform(X_test).astype(np.float32),
            np.asarray(y_test))


def noisy_rows(base, n_rows, seed):
    """``n_rows`` rows of ``base`` drawn at random, plus N(0, NOISE^2) noise: float32, without float64 copies."""
    rng = np.random.default_rng(seed)
    rows = base[rng.integers(0, base.shape[0], n_rows)]
    noise = rng.standard_normal(rows.shape, dtype=np.float32)
    noise *= np.float32(NOISE)
    rows += noise
    return rows


def write_stream(path, base, n_rows):
    """Write ``n_rows`` noisy replicas of ``base`` to a ``.npy`` file, a chunk at a time (plain writes)."""
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                    "fortran_order": False, "shape": (n_rows, base.shape[1])})
        for index, start in enumerate(range(0, n_rows, CHUNK_ROWS)):
            noisy_rows(base, min(CHUNK_ROWS, n_rows - start), seed=1000 + index).tofile(file)


def _status_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _auroc(detector, X_test, y_test):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_test, -detector.score_samples(X_test)))


# ------------------------------------------------------------------------------------------ training children
def child_stream(path, n_rows, test_path, model_path):
    """Fresh process: one pass of partial_fit over the first ``n_rows`` rows of ``path``."""
    from skanomaly import io
    from skanomaly.detectors import AutoEncoderDetector
    from skanomaly.streaming import iter_chunks

    test = np.load(test_path)
    detector = AutoEncoderDetector(random_state=SEED)
    rss_start = _status_mib("VmRSS")
    start = time.perf_counter()
    for chunk in itertools.islice(iter_chunks(path, CHUNK_ROWS), n_rows // CHUNK_ROWS):
        detector.partial_fit(chunk)
    seconds = time.perf_counter() - start
    peak = _status_mib("VmHWM")
    result = {"rows_per_s": n_rows / seconds, "seconds": seconds, "peak_rss_mib": peak, "rss_start_mib": rss_start,
              "epoch_seconds": float(detector.history_["dur"].sum()), "n_samples_seen": detector.n_samples_seen_,
              "auroc": _auroc(detector, test["X"], test["y"])}
    if model_path:
        io.save(detector, model_path)
    return result


def child_memory(path, n_rows, test_path, model_path):
    """Fresh process: fit for EPOCHS_IN_MEMORY epochs on the first ``n_rows`` rows of ``path``, in memory."""
    from skanomaly.detectors import AutoEncoderDetector

    test = np.load(test_path)
    X = np.array(np.load(path, mmap_mode="r")[:n_rows])
    detector = AutoEncoderDetector(max_epochs=EPOCHS_IN_MEMORY, random_state=SEED)
    rss_start = _status_mib("VmRSS")
    start = time.perf_counter()
    detector.fit(X)
    seconds = time.perf_counter() - start
    return {"rows_per_s": n_rows * EPOCHS_IN_MEMORY / seconds, "seconds": seconds,
            "peak_rss_mib": _status_mib("VmHWM"), "rss_start_mib": rss_start,
            "epoch_seconds": float(detector.history_["dur"].sum()), "auroc": _auroc(detector, test["X"], test["y"])}


def child_throughput(path, rounds, segment_rows, test_path, model_path):
    """Fresh process: stream segments and in-memory fits with as many steps alternate, round by round."""
    from skanomaly.detectors import AutoEncoderDetector
    from skanomaly.streaming import iter_chunks

    chunks = iter_chunks(path, CHUNK_ROWS)  # the stream goes on through the file from round to round
    in_memory = np.array(np.load(path, mmap_mode="r")[:segment_rows // EPOCHS_IN_MEMORY])
    detector = AutoEncoderDetector(random_state=SEED).partial_fit(next(chunks))  # the first call, not timed
    results = []
    for index in range(rounds):
        for kind in ("stream", "memory") if index % 2 == 0 else ("memory", "stream"):
            start = time.perf_counter()
            if kind == "stream":
                epochs_before = float(detector.history_["dur"].sum())
                for chunk in itertools.islice(chunks, segment_rows // CHUNK_ROWS):
                    detector.partial_fit(chunk)
                epochs = float(detector.history_["dur"].sum()) - epochs_before
            else:
                fitted = AutoEncoderDetector(max_epochs=EPOCHS_IN_MEMORY, random_state=SEED).fit(in_memory)
                epochs = float(fitted.history_["dur"].sum())
            seconds = time.perf_counter() - start
            results.append({"round": index, "kind": kind, "rows": segment_rows, "seconds": seconds,
                            "epoch_seconds": epochs, "rows_per_s": segment_rows / seconds})
    return {"rounds": results}


def run_child(kind, path, n_rows, test_path, model_path=""):
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([kind, str(path), n_rows, str(test_path),
                                                                          str(model_path)])],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{kind} {n_rows} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def training_study(folder, sizes, rounds, round_rows, records):
    X_train, X_test, y_test = kdd_split()
    test_path = folder / "test.npz"
    np.savez(test_path, X=X_test, y=y_test)
    largest = max(sizes)
    stream_path = folder / "stream.npy"
    start = time.perf_counter()
    write_stream(stream_path, X_train, largest)
    print(f"wrote {largest:,} rows ({stream_path.stat().st_size / 2**30:.2f} GiB) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    # Alternating segments of equal steps in one process: stream round_rows rows once, in memory a tenth x 10.
    for result in run_child("throughput", stream_path, [rounds, round_rows], test_path)["rounds"]:
        records.append({"study": "throughput", **result})
        print(f"round {result['round']} {result['kind']}: {result['rows_per_s']:,.0f} rows/s", flush=True)
    model_path = folder / "stream_model.skan"
    for n_rows in sizes:
        result = run_child("stream", stream_path, n_rows, test_path, model_path if n_rows == largest else "")
        records.append({"study": "stream", "round": 0, "kind": "stream", "rows": n_rows, **result})
        print(f"stream {n_rows:,} rows: {result['rows_per_s']:,.0f} rows/s, peak RSS {result['peak_rss_mib']:.0f} "
              f"MiB, AUROC {result['auroc']:.4f}", flush=True)
    n_rows = largest // EPOCHS_IN_MEMORY
    result = run_child("memory", stream_path, n_rows, test_path)
    records.append({"study": "memory", "round": 0, "kind": "memory", "rows": n_rows, **result})
    print(f"in memory {n_rows:,} rows x {EPOCHS_IN_MEMORY} epochs: {result['rows_per_s']:,.0f} rows/s, peak RSS "
          f"{result['peak_rss_mib']:.0f} MiB, AUROC {result['auroc']:.4f}", flush=True)
    return model_path, X_test, X_train.shape[0]


# -------------------------------------------------------------------------------------------------- scoring
def _block_rows(block_info=None, base=None):
    """The rows of one chunk, generated inside its task from its position (seeded by the chunk's number)."""
    (start, stop), _ = block_info[None]["array-location"]
    index = block_info[None]["chunk-location"][0]
    return noisy_rows(base, stop - start, seed=10_000_000 + index)


def lazy_rows(base, n_features, n_rows, chunk_rows):
    import dask.array as da

    chunks = ((chunk_rows,) * (n_rows // chunk_rows) + ((n_rows % chunk_rows,) if n_rows % chunk_rows else ()),
              (n_features,))
    return da.map_blocks(_block_rows, dtype=np.float32, chunks=chunks, base=base)


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _status_mib("VmRSS")


def _peak():
    return _status_mib("VmHWM")


def scoring_study(model_path, base, configs, ppf_rows, ppf_rounds, records):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    from skanomaly import io
    from skanomaly.distributed import score_dask

    detector = io.load(model_path)
    n_features = base.shape[1]
    base = base[np.random.default_rng(5).permutation(base.shape[0])[:20_000]]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        base = client.scatter(base, broadcast=True)  # 9 MiB of base rows on every worker, once
        # Warm-up: every worker imports torch and skanomaly and loads the detector before the measurements.
        score_dask(detector, lazy_rows(base, n_features, 40_000, 10_000)).sum().compute()
        for n_rows, chunk_rows in configs:
            X = lazy_rows(base, n_features, n_rows, chunk_rows)
            scores = score_dask(detector, X)
            reductions = [(scores < detector.offset_).sum(), scores.mean(),
                          da.histogram(scores, bins=20, range=(-0.05, 0.0))[0]]
            before = client.run(_reset_peak)
            start = time.perf_counter()
            outliers, mean, _ = dask.compute(*reductions)
            seconds = time.perf_counter() - start
            peaks = client.run(_peak)
            for worker, peak in peaks.items():
                records.append({"study": "dask", "round": 0, "kind": f"chunks of {chunk_rows}", "rows": n_rows,
                                "seconds": seconds, "rows_per_s": n_rows / seconds, "peak_rss_mib": peak,
                                "rss_start_mib": before[worker], "outlier_share": int(outliers) / n_rows,
                                "mean_score": float(mean), "chunk_mib": chunk_rows * n_features * 4 / 2**20})
            print(f"dask {n_rows:,} rows, chunks of {chunk_rows:,}: {seconds:.0f} s, {n_rows / seconds:,.0f} rows/s, "
                  f"peak RSS per worker {', '.join(f'{p:.0f}' for p in peaks.values())} MiB (after start "
                  f"{', '.join(f'{b:.0f}' for b in before.values())}), outliers {int(outliers) / n_rows:.4f}",
                  flush=True)
        X = lazy_rows(base, n_features, configs[0][0], configs[0][1])
        same = []
        for block in (0, X.numblocks[0] - 1):
            rows = X.blocks[block].compute()
            same.append(bool(np.array_equal(score_dask(detector, X).blocks[block].compute(),
                                            detector.score_samples(rows))))
        records.append({"study": "dask-equality", "round": 0, "kind": "blocks 0 and last", "rows": 0,
                        "equal": all(same)})
        print(f"chunks scored on the cluster equal in-memory scores bitwise: {same}", flush=True)
        ppf_study(client, detector, lazy_rows(base, n_features, ppf_rows, CHUNK_ROWS), ppf_rows, ppf_rounds,
                  records)


def ppf_study(client, detector, X, n_rows, rounds, records):
    try:
        from dask_ml.wrappers import ParallelPostFit
    except ImportError:
        print("dask-ml is not installed: ParallelPostFit not measured", flush=True)
        return
    import warnings

    from skanomaly.distributed import score_dask

    for index in range(rounds):
        ways = [("score_dask", lambda: score_dask(detector, X, method="predict")),
                ("ParallelPostFit", lambda: ParallelPostFit(detector).predict(X))]
        for name, make in (ways if index % 2 == 0 else ways[::-1]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                outliers = int((make() == -1).sum().compute())
                seconds = time.perf_counter() - start
            records.append({"study": "ppf", "round": index, "kind": name, "rows": n_rows, "seconds": seconds,
                            "rows_per_s": n_rows / seconds, "outlier_share": outliers / n_rows})
            print(f"round {index} {name}: {seconds:.1f} s, outliers {outliers}", flush=True)


# ---------------------------------------------------------------------------------------------------- report
def _versions():
    import dask
    import skorch
    import sklearn
    import torch

    versions = (f"Python {platform.python_version()}, torch {torch.__version__}, skorch {skorch.__version__}, "
                f"scikit-learn {sklearn.__version__}, dask {dask.__version__}")
    try:
        import dask_ml

        versions += f", dask-ml {dask_ml.__version__}"
    except ImportError:
        pass
    return versions


def _joined(rows, field):
    return ", ".join(f"{row[field]:.0f}" for row in rows)


def write_report(output, records, load, commit, settings):
    fields = sorted({key for record in records for key in record}, key=lambda k: (k not in ("study", "round", "kind",
                                                                                             "rows"), k))
    with open(output / "scale_study.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields)
        writer.writeheader()
        writer.writerows(records)

    def rows_of(study):
        return [r for r in records if r["study"] == study]

    lines = [
        "# Scale study: incremental training from disk and scoring on Dask",
        "",
        f"Generated by `scale_study.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}. "
        f"{_versions()}; {os.cpu_count()} CPU cores, one torch thread per process. The machine is shared: load "
        f"average {load[0][0]:.1f} / {load[0][1]:.1f} / {load[0][2]:.1f} at the start and {load[1][0]:.1f} / "
        f"{load[1][1]:.1f} / {load[1][2]:.1f} at the end (1 / 5 / 15 min); compare numbers within this page only.",
        "",
        "Data: KDD Cup 99 (10 %), novelty split of seed 0 (anomalies removed from the training half), one-hot "
        "encoded (121 features), min-max scaled on the training half. The training stream repeats the training "
        f"half's {settings['n_train']:,} rows drawn at random with N(0, {NOISE}^2) noise on every feature, as "
        "float32 in one `.npy` file; AUROC is measured on the real test half. `AutoEncoderDetector` at its "
        "defaults (121-64-30-64-121, Adam 1e-3, batch 128), `random_state=0`.",
        "",
        "## Training: one pass of `partial_fit` over a stream against `fit` in memory",
        "",
        f"Each run is a fresh process. *Stream*: `partial_fit` on every chunk of {CHUNK_ROWS:,} rows that "
        "`iter_chunks` reads from the file (plain reads), one pass; its time includes the reads. *In memory*: "
        f"`fit(max_epochs={EPOCHS_IN_MEMORY})` on the file's first 10 % of the rows, loaded before the clock "
        "starts: the same number of mini-batch steps. Throughput = rows x epochs / seconds of the training "
        "call(s). Peak RSS is the process's `VmHWM` (Python, torch and the test half included).",
        "",
        "| run | rows x epochs | seconds | rows/s | peak RSS MiB | AUROC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows_of("stream"):
        lines.append(f"| stream, {r['rows']:,} rows | {r['rows']:,} x 1 | {r['seconds']:.0f} | {r['rows_per_s']:,.0f} "
                     f"| {r['peak_rss_mib']:.0f} | {r['auroc']:.4f} |")
    for r in rows_of("memory"):
        lines.append(f"| in memory, {r['rows']:,} rows | {r['rows']:,} x {EPOCHS_IN_MEMORY} | {r['seconds']:.0f} | "
                     f"{r['rows_per_s']:,.0f} | {r['peak_rss_mib']:.0f} | {r['auroc']:.4f} |")
    stream = rows_of("stream")
    peaks = [r["peak_rss_mib"] for r in stream]
    spread = (max(peaks) - min(peaks)) / min(peaks)
    pairs = {}
    for r in rows_of("throughput"):
        pairs.setdefault(r["round"], {})[r["kind"]] = r
    ratios = [p["stream"]["rows_per_s"] / p["memory"]["rows_per_s"] for p in pairs.values() if len(p) == 2]
    epoch_ratios = [(p["stream"]["rows"] / p["stream"]["epoch_seconds"]) / (p["memory"]["rows"] /
                                                                           p["memory"]["epoch_seconds"])
                    for p in pairs.values() if len(p) == 2]
    lines += [
        "",
        "Each of these runs had the shared machine at another load, so their rows/s do not compare with one "
        "another; the alternating measurement below compares the two ways.",
        "",
        f"Peak RSS from {min(r['rows'] for r in stream):,} to {max(r['rows'] for r in stream):,} rows: "
        f"{min(peaks):.0f} to {max(peaks):.0f} MiB, a spread of **{100 * spread:.1f} %** of the smallest "
        "(goal: within 10 %).",
        "",
        "Throughput, measured in one fresh process where the two ways alternate (which runs first alternates too), "
        "so that the machine's load falls on both alike: a *stream* segment is `partial_fit` on the next "
        f"{settings['round_rows'] // CHUNK_ROWS} chunks of {CHUNK_ROWS:,} rows read from the file "
        f"({settings['round_rows']:,} steps' rows; the detector goes on from segment to segment, its first call "
        f"before the clock), an *in memory* segment is `fit(max_epochs={EPOCHS_IN_MEMORY})` of a new detector on "
        f"{settings['round_rows'] // EPOCHS_IN_MEMORY:,} rows held in memory. *Epochs only* counts the epochs' "
        "durations (`history_['dur']`), without reading, validation and the scoring for `offset_`.",
        "",
        "| round | stream rows/s | in memory rows/s | stream / in memory | epochs only |",
        "|---:|---:|---:|---:|---:|",
    ]
    for index, pair in sorted(pairs.items()):
        if len(pair) == 2:
            epochs = (pair["stream"]["rows"] / pair["stream"]["epoch_seconds"]) / (
                pair["memory"]["rows"] / pair["memory"]["epoch_seconds"])
            lines.append(f"| {index} | {pair['stream']['rows_per_s']:,.0f} | {pair['memory']['rows_per_s']:,.0f} | "
                         f"{pair['stream']['rows_per_s'] / pair['memory']['rows_per_s']:.2f}x | {epochs:.2f}x |")
    if ratios:
        lines += ["", f"Median ratio **{float(np.median(ratios)):.2f}x** (goal: at least 0.8x); epochs only "
                      f"{float(np.median(epoch_ratios)):.2f}x."]
    dask_rows = rows_of("dask")
    lines += [
        "",
        "## Scoring on a Dask LocalCluster",
        "",
        "Two worker processes with one thread each score the 5-million-row stream model's `score_samples` through "
        "`skanomaly.distributed.score_dask`; every chunk's rows are generated inside its task (test-half rows "
        "drawn at random, with the same noise), and only reductions leave the workers (outlier count, mean, a "
        "20-bin histogram). Each worker's peak RSS is reset before the computation and read after it; the "
        "*after start* column is its RSS before the computation (Python, torch, skanomaly and the detector).",
        "",
        "| rows | chunk rows (float32 MiB) | seconds | rows/s | peak RSS per worker MiB | after start MiB | "
        "outliers |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    grouped = {}
    for r in dask_rows:
        grouped.setdefault((r["rows"], r["kind"]), []).append(r)
    for (n_rows, kind), group in grouped.items():
        chunk_rows = int(kind.split()[-1])
        lines.append(f"| {n_rows:,} | {chunk_rows:,} ({chunk_rows * 121 * 4 / 2**20:.0f}) | {group[0]['seconds']:.0f} "
                     f"| {group[0]['rows_per_s']:,.0f} | {_joined(group, 'peak_rss_mib')} | "
                     f"{_joined(group, 'rss_start_mib')} | "
                     f"{100 * group[0]['outlier_share']:.2f} % |")
    equality = rows_of("dask-equality")
    if equality:
        lines += ["", f"The first and last chunks, scored in memory with `score_samples`, equal the cluster's scores "
                      f"bitwise: **{'yes' if equality[0]['equal'] else 'no'}**."]
    ppf = rows_of("ppf")
    if ppf:
        by_round = {}
        for r in ppf:
            by_round.setdefault(r["round"], {})[r["kind"]] = r["seconds"]
        lines += ["", "### dask-ml's `ParallelPostFit` against `score_dask`", "",
                  f"`predict` of {ppf[0]['rows']:,} rows, outlier count reduced on the cluster, alternating which "
                  "runs first (`ParallelPostFit` has no `score_samples` or `decision_function`):", "",
                  "| round | score_dask s | ParallelPostFit s | ParallelPostFit / score_dask |", "|---:|---:|---:|---:|"]
        for index, pair in sorted(by_round.items()):
            lines.append(f"| {index} | {pair['score_dask']:.1f} | {pair['ParallelPostFit']:.1f} | "
                         f"{pair['ParallelPostFit'] / pair['score_dask']:.2f}x |")
    (output / "scale_study.md").write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=HERE)
    parser.add_argument("--data-dir", type=Path, default=None, help="where the stream file is written (a temporary "
                        "folder by default; it takes 2.3 GiB at 5 million rows)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import torch

        torch.set_num_threads(1)
        kind, path, n_rows, test_path, model_path = json.loads(args.child)
        if kind == "throughput":
            result = child_throughput(path, *n_rows, test_path, model_path)
        else:
            result = (child_stream if kind == "stream" else child_memory)(path, n_rows, test_path, model_path)
        print(json.dumps(result))
        return
    if args.quick:
        settings = {"sizes": [200_000, 400_000], "rounds": 2, "round_rows": 200_000,
                    "dask": [(1_000_000, 100_000), (2_000_000, 100_000), (1_000_000, 400_000)], "ppf_rows": 500_000,
                    "ppf_rounds": 2}
    else:
        settings = {"sizes": [1_000_000, 2_000_000, 5_000_000], "rounds": 12, "round_rows": 200_000,
                    "dask": [(5_000_000, 100_000), (50_000_000, 100_000), (5_000_000, 400_000)],
                    "ppf_rows": 1_000_000, "ppf_rounds": 4}
    args.output.mkdir(parents=True, exist_ok=True)
    load = [os.getloadavg()]
    commit = git_state()
    records = []
    with tempfile.TemporaryDirectory(dir=args.data_dir, prefix="skanomaly-scale-") as folder:
        folder = Path(folder)
        model_path, X_test, settings["n_train"] = training_study(folder, settings["sizes"], settings["rounds"],
                                                                 settings["round_rows"], records)
        scoring_study(model_path, X_test, settings["dask"], settings["ppf_rows"], settings["ppf_rounds"], records)
    load.append(os.getloadavg())
    write_report(args.output, records, load, commit, settings)


if __name__ == "__main__":
    main()
