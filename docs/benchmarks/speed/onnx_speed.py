"""ONNX speed study: scoring throughput of exported detectors in onnxruntime against the detectors in Python.

One CPU thread on each side (``torch.set_num_threads(1)`` and ``OMP_NUM_THREADS=1`` for the detectors,
``intra_op_num_threads=1``, ``inter_op_num_threads=1`` and sequential execution for onnxruntime). For each detector
(AutoEncoderDetector and AMADetector, on tabular rows and on 1x28x28 images), in one process with the two sides
interleaved round by round and their order alternated (so that load from other programs on a shared machine falls
on both alike):

- bulk scoring: rows per second of ``score_samples`` on float32 input, ``score_batch_size`` rows per batch, against
  one ``InferenceSession.run`` per batch of the same size on the exported model;
- one row at a time: rows per second of ``score_samples`` called on one row, against ``run`` on one row (what a
  service that scores each request as it arrives does).

The ratio ONNX / Python is taken within each round, and the report gives the median over rounds. The scores of
the two sides are compared on the bulk rows (the export's own check, :func:`skanomaly.export.check_onnx`, runs at
export time).

Usage::

    python docs/benchmarks/speed/onnx_speed.py              # writes onnx_speed.md and onnx_speed.csv here
    python docs/benchmarks/speed/onnx_speed.py --rounds 2 --output /tmp/onnx_speed
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import git_state  # noqa: E402  (docs/benchmarks/_scripts.py)
N_FEATURES = 121  # KDD Cup 99's width after one-hot encoding, as in speed_study.py
IMAGE_SHAPE = (1, 28, 28)
N_FIT = {"tabular": 2048, "images": 512}
BULK_ROWS = {"tabular": 100_000, "images": 2_000}
BULK_BATCH = {"tabular": 4096, "images": 256}
SINGLE_ROWS = {"tabular": 2_000, "images": 200}


def make_rows(kind, n_rows, seed):
    rng = np.random.default_rng(seed)
    if kind == "tabular":
        return rng.standard_normal((n_rows, N_FEATURES)).astype(np.float32)
    return rng.uniform(size=(n_rows, *IMAGE_SHAPE)).astype(np.float32)


def make_detectors():
    """The detectors of the study, unfitted: ``{(name, kind): detector}`` (few epochs: speed does not depend on
    how well they learned)."""
    from skanomaly.detectors import AMADetector, AutoEncoderDetector

    common = {"device": "cpu", "n_threads": 1, "random_state": 0}
    return {
        ("AutoEncoderDetector", "tabular"): AutoEncoderDetector(hidden_layer_sizes=(64,), latent_dim=16,
                                                                max_epochs=2, **common),
        ("AMADetector", "tabular"): AMADetector(hidden_layer_sizes=(64,), critic_hidden_layer_sizes=(64,),
                                                latent_dim=16, max_epochs=2, **common),
        ("AutoEncoderDetector", "images"): AutoEncoderDetector(latent_dim=16, max_epochs=1, **common),
        ("AMADetector", "images"): AMADetector(latent_dim=16, max_epochs=1, **common),
    }


def onnx_session(model):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def python_bulk(detector, X):
    return detector.score_samples(X)


def onnx_bulk(session, X, batch):
    out = np.empty(X.shape[0], dtype=np.float32)
    for start in range(0, X.shape[0], batch):
        (out[start:start + batch],) = session.run(["score_samples"], {"X": X[start:start + batch]})
    return out


def python_single(detector, X):
    for i in range(X.shape[0]):
        detector.score_samples(X[i:i + 1])


def onnx_single(session, X):
    for i in range(X.shape[0]):
        session.run(["score_samples"], {"X": X[i:i + 1]})


def timed(fn):
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def study(rounds, records, agreements):
    from skanomaly.export import to_onnx

    torch.set_num_threads(1)
    for (name, kind), detector in make_detectors().items():
        X_fit = make_rows(kind, N_FIT[kind], seed=0)
        start = time.perf_counter()
        detector.fit(X_fit)
        detector.set_params(score_batch_size=BULK_BATCH[kind])
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model = to_onnx(detector, X_fit)
        export_seconds = time.perf_counter() - start
        session = onnx_session(model)
        bulk = make_rows(kind, BULK_ROWS[kind], seed=1)
        single = make_rows(kind, SINGLE_ROWS[kind], seed=2)
        python_scores = python_bulk(detector, bulk)
        onnx_scores = onnx_bulk(session, bulk, BULK_BATCH[kind])
        scale = float(np.ptp(detector.score_samples(X_fit)))
        agreements[(name, kind)] = {
            "max_relative_difference": float(np.max(np.abs(onnx_scores - python_scores)
                                                    / np.maximum(scale, np.abs(python_scores)))),
            "fit_seconds": fit_seconds, "export_seconds": export_seconds,
        }
        passes = {
            ("bulk", "python"): lambda: python_bulk(detector, bulk),
            ("bulk", "onnxruntime"): lambda: onnx_bulk(session, bulk, BULK_BATCH[kind]),
            ("one row", "python"): lambda: python_single(detector, single),
            ("one row", "onnxruntime"): lambda: onnx_single(session, single),
        }
        for run in passes.values():  # warm-up
            run()
        for round_ in range(rounds):
            for mode in ("bulk", "one row"):
                sides = ["python", "onnxruntime"][::1 if round_ % 2 == 0 else -1]
                for side in sides:
                    seconds = timed(passes[(mode, side)])
                    n_rows = BULK_ROWS[kind] if mode == "bulk" else SINGLE_ROWS[kind]
                    records.append({"detector": name, "data": kind, "mode": mode, "round": round_, "side": side,
                                    "batch_size": BULK_BATCH[kind] if mode == "bulk" else 1, "rows": n_rows,
                                    "seconds": seconds, "rows_per_s": n_rows / seconds})
                    print(f"{name:20s} {kind:8s} {mode:8s} round {round_} {side:12s} {seconds:8.3f} s", flush=True)


def ratios(records, name, kind, mode):
    by_round = {}
    for row in records:
        if (row["detector"], row["data"], row["mode"]) == (name, kind, mode):
            by_round.setdefault(row["round"], {})[row["side"]] = row["rows_per_s"]
    return [speeds["onnxruntime"] / speeds["python"] for _, speeds in sorted(by_round.items())]


def write_report(output, rounds, records, agreements, load, commit):
    import onnx
    import onnxruntime
    import sklearn

    lines = [
        "# ONNX speed study: exported detectors in onnxruntime against the detectors in Python",
        "",
        f"Generated by `onnx_speed.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit} "
        "(read when the study started).",
        f"Python {platform.python_version()}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}; {os.cpu_count()} CPU cores, "
        "**one thread on each side** (torch: `torch.set_num_threads(1)`, `OMP_NUM_THREADS=1`; onnxruntime: "
        "`intra_op_num_threads=1`, `inter_op_num_threads=1`, sequential execution).",
        "",
        "The machine is shared with other programs: the load average was "
        f"{load[0][0]:.2f} / {load[0][1]:.2f} / {load[0][2]:.2f} at the start and "
        f"{load[1][0]:.2f} / {load[1][1]:.2f} / {load[1][2]:.2f} at the end (1 / 5 / 15 min). The two sides run "
        "interleaved in one process, their order alternated each round; each ratio is taken within a round, and "
        "the table gives the median over rounds (the rounds' ratios in brackets).",
        "",
        "Detectors: `AutoEncoderDetector` and `AMADetector` with 64-unit MLPs and a 16-dimensional code on "
        f"{N_FEATURES} N(0, 1) features (fitted on {N_FIT['tabular']} rows, 2 epochs), and with their default conv "
        f"nets on {'x'.join(map(str, IMAGE_SHAPE))} uniform images (fitted on {N_FIT['images']} images, 1 epoch). "
        "Python scores float32 input with `score_samples` (networks in float64, far-row cap included); the "
        "exported model (`skanomaly.export.to_onnx`, float32) returns `score_samples` with the same cap. *Bulk*: "
        f"{BULK_ROWS['tabular']:,} rows in batches of {BULK_BATCH['tabular']} (`score_batch_size`, and one `run` "
        f"per batch), {BULK_ROWS['images']:,} images in batches of {BULK_BATCH['images']}. *One row*: "
        f"{SINGLE_ROWS['tabular']:,} rows ({SINGLE_ROWS['images']} images) scored by one call each.",
        "",
        "Part of the difference in bulk is float32 against float64 arithmetic: the detectors score in float64 so "
        "that a score does not depend on the batch size (`speed_study.md` measures a bare float32 pass of the "
        "autoencoder at about 2.8x a float64 one). One row at a time, Python's per-call work (input validation, "
        "batching, the far-row distance) dominates.",
        "",
        "| detector | data | mode | Python rows/s | onnxruntime rows/s | onnxruntime / Python |",
        "|---|---|---|---:|---:|---:|",
    ]
    for (name, kind) in agreements:
        for mode in ("bulk", "one row"):
            rows = [r for r in records if (r["detector"], r["data"], r["mode"]) == (name, kind, mode)]
            speed = {side: statistics.median(r["rows_per_s"] for r in rows if r["side"] == side)
                     for side in ("python", "onnxruntime")}
            ratio = ratios(records, name, kind, mode)
            lines.append(f"| `{name}` | {kind} | {mode} | {speed['python']:,.0f} | {speed['onnxruntime']:,.0f} | "
                         f"**{statistics.median(ratio):.2f}x** ({', '.join(f'{v:.2f}' for v in ratio)}) |")
    lines += [
        "",
        "## Agreement and cost of the export",
        "",
        "Largest `|onnx - python| / max(scale, |python|)` over the bulk rows (`scale`: the range of the detector's "
        "scores of its training rows), and the wall time of `fit` and of `to_onnx` (export and its check) in "
        "this run.",
        "",
        "| detector | data | largest relative difference | fit s | to_onnx s |",
        "|---|---|---:|---:|---:|",
    ]
    for (name, kind), values in agreements.items():
        lines.append(f"| `{name}` | {kind} | {values['max_relative_difference']:.2g} | {values['fit_seconds']:.1f} | "
                     f"{values['export_seconds']:.1f} |")
    lines.append("")
    (output / "onnx_speed.md").write_text("\n".join(lines), encoding="utf-8")
    fields = ["detector", "data", "mode", "round", "side", "batch_size", "rows", "seconds", "rows_per_s"]
    with open(output / "onnx_speed.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in records:
            writer.writerow({key: (f"{value:.6g}" if isinstance(value, float) else value)
                             for key, value in row.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=HERE)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    commit = git_state()
    load = [os.getloadavg()]
    records, agreements = [], {}
    study(args.rounds, records, agreements)
    load.append(os.getloadavg())
    write_report(args.output, args.rounds, records, agreements, load, commit)
    print(f"wrote {args.output / 'onnx_speed.md'} and {args.output / 'onnx_speed.csv'}")


if __name__ == "__main__":
    main()
