"""Speed study: AutoEncoderDetector against a bare torch loop and PyOD's AutoEncoder, on one CPU thread.

Measures, in one process with the implementations interleaved round by round (so that load from other programs on
a shared machine falls on every side alike):

- training throughput (rows x epochs per second of ``fit``) at batch sizes 32, 256 and 1024, for
  ``AutoEncoderDetector``, a bare torch loop over the same layers, and PyOD's ``AutoEncoder`` with the same
  widths; paired ratios per round, medians over rounds;
- scoring throughput (rows per second) of ``score_samples`` on float32 input against a bare float32 and a bare
  float64 pass of the same network at the same scoring batch size;
- peak RSS growth while scoring 10k, 100k and 500k float32 rows (one fresh subprocess per size; Linux's
  ``/proc/self/clear_refs`` resets the peak just before scoring);
- import times (``import torch``, ``import skanomaly``, ``from skanomaly import AutoEncoderDetector``) and the
  cost of the first optimizer of a process (which imports ``torch._dynamo``), each in fresh subprocesses.

Usage::

    python docs/benchmarks/speed/speed_study.py             # writes speed_study.md and speed_study.csv here
    python docs/benchmarks/speed/speed_study.py --rounds 3 --output /tmp/speed
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

N_FEATURES = 121  # KDD Cup 99's width after one-hot encoding
HIDDEN, LATENT = 64, 16
N_TRAIN = 10_000
EPOCHS = 10
TRAIN_BATCH_SIZES = (32, 256, 1024)
N_SCORE = 100_000
SCORE_BATCH_SIZE = 4096
RSS_SIZES = (10_000, 100_000, 500_000)
LR = 1e-3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _scripts import git_state  # noqa: E402  (docs/benchmarks/_scripts.py)


# ------------------------------------------------------------------------------------------------- training
def make_data(n_rows, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((n_rows, N_FEATURES)).astype(dtype)


def make_module():
    """The layers of AutoEncoderDetector(hidden_layer_sizes=(64,), latent_dim=16): 121-64-16-64-121, leaky ReLU."""
    from skanomaly.nn import EncoderDecoder, make_decoder, make_encoder

    arch = dict(image_shape=None, hidden_layer_sizes=(HIDDEN,), base_channels=32, activation="leaky_relu",
                dropout=0.0)
    return EncoderDecoder(make_encoder(N_FEATURES, LATENT, **arch), make_decoder(LATENT, N_FEATURES, **arch))


def fit_detector(X, batch_size, seed):
    from skanomaly import AutoEncoderDetector

    detector = AutoEncoderDetector(hidden_layer_sizes=(HIDDEN,), latent_dim=LATENT, activation="leaky_relu",
                                   lr=LR, max_epochs=EPOCHS, batch_size=batch_size, device="cpu",
                                   random_state=seed)
    start = time.perf_counter()
    detector.fit(X)
    return time.perf_counter() - start, detector


def fit_bare(X, batch_size, seed):
    """A plain training loop: float32 tensor, one randperm per epoch, Adam, MSE, the epoch's mean loss."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    module = make_module()
    data = torch.from_numpy(X.astype(np.float32))
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(EPOCHS):
        total = 0.0
        for index in torch.randperm(data.shape[0], generator=generator).split(batch_size):
            batch = data[index]
            optimizer.zero_grad()
            loss = torch.mean((module(batch) - batch) ** 2)
            loss.backward()
            optimizer.step()
            total += loss.item() * batch.shape[0]
        if not np.isfinite(total):
            raise RuntimeError("bare loop diverged")
    return time.perf_counter() - start, module


def fit_pyod(X, batch_size, seed):
    from pyod.models.auto_encoder import AutoEncoder

    model = AutoEncoder(hidden_neuron_list=[HIDDEN, LATENT], hidden_activation_name="leaky_relu", batch_norm=False,
                        dropout_rate=0.0, epoch_num=EPOCHS, batch_size=batch_size, lr=LR,
                        optimizer_params={"weight_decay": 0.0}, preprocessing=False, device="cpu",
                        random_state=seed, verbose=0)
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start, model


TRAINERS = {"AutoEncoderDetector": fit_detector, "bare torch": fit_bare, "PyOD AutoEncoder": fit_pyod}


def rows_trained(name, batch_size):
    """Rows per epoch each implementation trains on: PyOD's loader drops the last partial batch."""
    if name == "PyOD AutoEncoder":
        return N_TRAIN // batch_size * batch_size
    return N_TRAIN


def training_study(rounds, records):
    X = make_data(N_TRAIN, seed=0)
    for name, trainer in TRAINERS.items():  # warm-up: first optimizer, allocator, lazy imports
        trainer(X[:2048], 256, 0)
    for round_ in range(rounds):
        for batch_size in TRAIN_BATCH_SIZES:
            names = list(TRAINERS)
            names = names[round_ % 3:] + names[:round_ % 3]  # rotate who goes first
            for name in names:
                gc.collect()
                seconds, fitted = TRAINERS[name](X, batch_size, round_)
                rows = rows_trained(name, batch_size) * EPOCHS
                row = {"study": "training", "round": round_, "batch_size": batch_size, "implementation": name,
                       "seconds": seconds, "rows_per_s": rows / seconds}
                if name == "AutoEncoderDetector":
                    row["epoch_loop_seconds"] = float(fitted.history_["dur"].sum())
                records.append(row)
                print(f"training round {round_} batch {batch_size:5d} {name:20s} {seconds:7.3f} s", flush=True)


# -------------------------------------------------------------------------------------------------- scoring
def bare_score(module, X32, dtype):
    """Mean squared reconstruction error per row, batch by batch, computed in ``dtype``; float64 result."""
    out = np.empty(X32.shape[0], dtype=np.float64)
    with torch.no_grad():
        for start in range(0, X32.shape[0], SCORE_BATCH_SIZE):
            batch = torch.from_numpy(X32[start:start + SCORE_BATCH_SIZE]).to(dtype)
            out[start:start + SCORE_BATCH_SIZE] = torch.mean((module(batch) - batch) ** 2, dim=1).numpy()
    return out


def scoring_study(rounds, records):
    import copy

    _, detector = fit_detector(make_data(4096, seed=1), 256, 0)
    detector.set_params(score_batch_size=SCORE_BATCH_SIZE)
    module64 = copy.deepcopy(detector.net_.module_).double().eval()
    module32 = copy.deepcopy(detector.net_.module_).float().eval()
    X32 = make_data(N_SCORE, seed=2, dtype=np.float32)
    scorers = {
        "AutoEncoderDetector.score_samples": lambda: -detector.score_samples(X32),
        "bare float32 pass": lambda: bare_score(module32, X32, torch.float32),
        "bare float64 pass": lambda: bare_score(module64, X32, torch.float64),
    }
    reference = scorers["bare float64 pass"]()
    agreement = float(np.max(np.abs(scorers["AutoEncoderDetector.score_samples"]() - reference)))
    for name, scorer in scorers.items():
        scorer()  # warm-up
    for round_ in range(rounds):
        names = list(scorers)
        names = names[round_ % 3:] + names[:round_ % 3]
        for name in names:
            gc.collect()
            start = time.perf_counter()
            scorers[name]()
            seconds = time.perf_counter() - start
            records.append({"study": "scoring", "round": round_, "batch_size": SCORE_BATCH_SIZE,
                            "implementation": name, "seconds": seconds, "rows_per_s": N_SCORE / seconds})
            print(f"scoring round {round_} {name:34s} {seconds:7.3f} s", flush=True)
    return agreement


# --------------------------------------------------------------------------------------------------- memory
def _proc_status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def rss_child(n_rows):
    """Run in a fresh process: peak RSS growth of score_samples on ``n_rows`` float32 rows (printed as JSON)."""
    torch.set_num_threads(1)
    _, detector = fit_detector(make_data(2048, seed=1), 256, 0)
    detector.set_params(score_batch_size=SCORE_BATCH_SIZE)
    detector.score_samples(make_data(SCORE_BATCH_SIZE, seed=3, dtype=np.float32))  # allocator warm-up
    X32 = make_data(n_rows, seed=2, dtype=np.float32)
    gc.collect()
    before = _proc_status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # reset the peak (VmHWM) to the current RSS
    scores = detector.score_samples(X32)
    peak = _proc_status_kib("VmHWM")
    print(json.dumps({"n_rows": n_rows, "rss_before_kib": before, "peak_kib": peak,
                      "growth_mib": (peak - before) / 1024, "input_mib": X32.nbytes / 2**20,
                      "float64_copy_mib": X32.size * 8 / 2**20, "scores_mib": scores.nbytes / 2**20}))


def memory_study(records):
    results = []
    for n_rows in RSS_SIZES:
        out = subprocess.run([sys.executable, __file__, "--rss-child", str(n_rows)], capture_output=True, text=True,
                             check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        records.append({"study": "memory", "round": 0, "batch_size": SCORE_BATCH_SIZE,
                        "implementation": f"score_samples {n_rows} float32 rows", "seconds": "",
                        "rows_per_s": "", "peak_rss_growth_mib": result["growth_mib"]})
        print(f"memory {n_rows:7d} rows: peak RSS growth {result['growth_mib']:.1f} MiB", flush=True)
    return results


# -------------------------------------------------------------------------------------------- fresh processes
IMPORT_SNIPPETS = {
    "import torch": "import torch",
    "import skanomaly": "import skanomaly",
    "from skanomaly import AutoEncoderDetector": "from skanomaly import AutoEncoderDetector",
}

FIRST_OPTIMIZER = """
import sys, time, json
import torch
net = torch.nn.Linear(8, 8)
start = time.perf_counter()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
init = time.perf_counter() - start
dynamo_after_init = "torch._dynamo" in sys.modules
net(torch.randn(4, 8)).sum().backward()
start = time.perf_counter()
optimizer.step()
step = time.perf_counter() - start
start = time.perf_counter()
second = torch.optim.Adam(net.parameters(), lr=1e-3)
second.step()
again = time.perf_counter() - start
print(json.dumps({"first_init_s": init, "first_step_s": step, "second_init_and_step_s": again,
                  "dynamo_imported_by_init": dynamo_after_init}))
"""


def fresh_process_study(rounds, records):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    imports = {name: [] for name in IMPORT_SNIPPETS}
    for round_ in range(rounds):
        names = list(IMPORT_SNIPPETS)
        names = names[round_ % 3:] + names[:round_ % 3]
        for name in names:
            code = f"import time; t = time.perf_counter(); {IMPORT_SNIPPETS[name]}; print(time.perf_counter() - t)"
            seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                           check=True).stdout)
            imports[name].append(seconds)
            records.append({"study": "import", "round": round_, "batch_size": "", "implementation": name,
                            "seconds": seconds, "rows_per_s": ""})
    optimizer = {"": [], "TORCH_COMPILE_DISABLE=1": []}
    for round_ in range(rounds):
        for setting, results in optimizer.items():
            run_env = {**env, "TORCH_COMPILE_DISABLE": "1"} if setting else env
            out = subprocess.run([sys.executable, "-c", FIRST_OPTIMIZER], capture_output=True, text=True,
                                 env=run_env, check=True).stdout
            results.append(json.loads(out))
            records.append({"study": "first optimizer", "round": round_, "batch_size": "",
                            "implementation": f"torch.optim.Adam {setting}".strip(),
                            "seconds": results[-1]["first_init_s"], "rows_per_s": ""})
    dynamo_code = ("import time, torch; t = time.perf_counter(); import torch._dynamo; "
                   "print(time.perf_counter() - t)")
    dynamo = [float(subprocess.run([sys.executable, "-c", dynamo_code], capture_output=True, text=True, env=env,
                                   check=True).stdout) for _ in range(rounds)]
    return imports, optimizer, dynamo


# -------------------------------------------------------------------------------------------------- report
def _median(values):
    return statistics.median(values)


def _yes_no(flags):
    return "yes" if all(flags) else "no" if not any(flags) else f"in {sum(flags)} of {len(flags)} rounds"


def paired_ratios(records, study, batch_size, numerator, denominator):
    """Per round: throughput of ``numerator`` / throughput of ``denominator`` (same round, same batch size)."""
    by_round = {}
    for row in records:
        if row["study"] == study and row["batch_size"] == batch_size:
            by_round.setdefault(row["round"], {})[row["implementation"]] = row["rows_per_s"]
    return [speeds[numerator] / speeds[denominator] for _, speeds in sorted(by_round.items())]


def write_report(output, rounds, records, agreement, memory, imports, optimizer, dynamo, load, commit):
    import pyod
    import sklearn
    import skorch

    lines = [
        "# Speed study: AutoEncoderDetector, a bare torch loop and PyOD's AutoEncoder",
        "",
        f"Generated by `speed_study.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit} "
        "(read when the study started).",
        f"Python {platform.python_version()}, torch {torch.__version__}, skorch {skorch.__version__}, "
        f"scikit-learn {sklearn.__version__}, PyOD {pyod.__version__}; {os.cpu_count()} CPU cores, "
        f"**one torch thread** (`torch.set_num_threads(1)`, `OMP_NUM_THREADS=1`).",
        "",
        "The machine is shared with other programs: the load average was "
        f"{load[0][0]:.2f} / {load[0][1]:.2f} / {load[0][2]:.2f} at the start and "
        f"{load[1][0]:.2f} / {load[1][1]:.2f} / {load[1][2]:.2f} at the end (1 / 5 / 15 min). The implementations "
        "run interleaved, in one process, their order rotated each round, so the load falls on every side alike; "
        "each ratio is taken between runs of the same round, and the tables give the median over rounds.",
        "",
        f"## Training: {N_TRAIN} rows x {N_FEATURES} features, {EPOCHS} epochs, {rounds} rounds",
        "",
        f"Layers {N_FEATURES}-{HIDDEN}-{LATENT}-{HIDDEN}-{N_FEATURES} (leaky ReLU), Adam lr {LR}, mean squared "
        "error, N(0, 1) float64 data, seeds = round number. Throughput is rows x epochs / wall time of the whole "
        "`fit` call. `AutoEncoderDetector.fit` also validates and converts the input, scores the training rows "
        "once in float64 (for `offset_`) and converts the net for scoring; the *epoch loop* column counts only "
        "its epochs (skorch's per-epoch `dur`). The bare loop converts the data to a float32 tensor, draws one "
        "`randperm` per epoch, and sums the epoch's loss. PyOD's `AutoEncoder` has the same widths "
        "(`hidden_neuron_list=[64, 16]`, leaky ReLU, no batch norm, no dropout, no preprocessing, weight decay 0); "
        "its latent layer also has an activation, ours is linear, and its loader drops the last partial batch of "
        "each epoch (its throughput counts the rows it trained on).",
        "",
        "| batch | bare torch rows/s | AutoEncoderDetector rows/s | detector / bare | detector epoch loop / bare "
        "| PyOD rows/s | PyOD / bare |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for batch_size in TRAIN_BATCH_SIZES:
        rows = [r for r in records if r["study"] == "training" and r["batch_size"] == batch_size]
        speed = {name: _median([r["rows_per_s"] for r in rows if r["implementation"] == name]) for name in TRAINERS}
        ratio = paired_ratios(records, "training", batch_size, "AutoEncoderDetector", "bare torch")
        pyod_ratio = paired_ratios(records, "training", batch_size, "PyOD AutoEncoder", "bare torch")
        bare = {r["round"]: r["rows_per_s"] for r in rows if r["implementation"] == "bare torch"}
        loop_ratio = [N_TRAIN * EPOCHS / r["epoch_loop_seconds"] / bare[r["round"]] for r in rows
                      if r["implementation"] == "AutoEncoderDetector"]
        lines.append(
            f"| {batch_size} | {speed['bare torch']:,.0f} | {speed['AutoEncoderDetector']:,.0f} | "
            f"**{_median(ratio):.2f}x** ({', '.join(f'{v:.2f}' for v in ratio)}) | "
            f"{_median(loop_ratio):.2f}x | {speed['PyOD AutoEncoder']:,.0f} | {_median(pyod_ratio):.2f}x |"
        )
    lines += [
        "",
        "Target: AutoEncoderDetector >= 0.9x the bare loop at batch 256 and 1024 (whole `fit`).",
        "",
        f"## Scoring: {N_SCORE} float32 rows, batches of {SCORE_BATCH_SIZE}, {rounds} rounds",
        "",
        "The fitted detector's network (trained for the study on 4096 rows) scores float32 input with "
        f"`score_samples` (`score_batch_size={SCORE_BATCH_SIZE}`); the bare passes run the same weights under "
        "`torch.no_grad()` in eval mode, batch by batch, in float32 or in float64 (each batch converted from the "
        "float32 input), writing the per-row mean squared error into a float64 array. The detector's scores "
        f"equal the bare float64 pass's (largest absolute difference {agreement:.3g}).",
        "",
        "| pass | rows/s | detector / this pass |",
        "|---|---:|---:|",
    ]
    score_rows = [r for r in records if r["study"] == "scoring"]
    detector_name = "AutoEncoderDetector.score_samples"
    for name in (detector_name, "bare float64 pass", "bare float32 pass"):
        speed = _median([r["rows_per_s"] for r in score_rows if r["implementation"] == name])
        if name == detector_name:
            lines.append(f"| `{name}` | {speed:,.0f} | |")
        else:
            ratio = paired_ratios(records, "scoring", SCORE_BATCH_SIZE, detector_name, name)
            lines.append(f"| {name} | {speed:,.0f} | **{_median(ratio):.2f}x** "
                         f"({', '.join(f'{v:.2f}' for v in ratio)}) |")
    lines += [
        "",
        "Target: `score_samples` >= 0.8x a bare float64 pass at the same scoring batch size.",
        "",
        "## Peak memory while scoring float32 rows",
        "",
        "One fresh process per size: fit on 2048 rows, build the float32 input, reset the peak resident set "
        "(`/proc/self/clear_refs`), call `score_samples`; growth = peak RSS during scoring - RSS before it.",
        "",
        "| rows | input (float32) MiB | a float64 copy would be MiB | peak RSS growth MiB |",
        "|---:|---:|---:|---:|",
    ]
    for result in memory:
        lines.append(f"| {result['n_rows']:,} | {result['input_mib']:.1f} | {result['float64_copy_mib']:.1f} | "
                     f"**{result['growth_mib']:.1f}** |")
    lines += [
        "",
        "Target: peak RSS growth < 100 MiB at 500k float32 rows.",
        "",
        f"## Imports and the first optimizer ({rounds} fresh processes each, median)",
        "",
        "| fresh process runs | seconds (median) | per round |",
        "|---|---:|---|",
    ]
    for name, values in imports.items():
        lines.append(f"| `{name}` | {_median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")
    plain, disabled = optimizer[""], optimizer["TORCH_COMPILE_DISABLE=1"]
    inits = [o["first_init_s"] for o in plain]
    steps = [o["first_step_s"] for o in plain]
    again = [o["second_init_and_step_s"] for o in plain]
    inits_disabled = [o["first_init_s"] for o in disabled]
    lines += [
        f"| first `torch.optim.Adam(...)` after `import torch` | {_median(inits):.2f} | "
        f"{', '.join(f'{v:.2f}' for v in inits)} |",
        f"| the same with `TORCH_COMPILE_DISABLE=1` | {_median(inits_disabled):.2f} | "
        f"{', '.join(f'{v:.2f}' for v in inits_disabled)} |",
        f"| its first `step()` | {_median(steps):.4f} | {', '.join(f'{v:.4f}' for v in steps)} |",
        f"| a second optimizer, built and stepped | {_median(again):.4f} | {', '.join(f'{v:.4f}' for v in again)} |",
        f"| `import torch._dynamo` after `import torch` | {_median(dynamo):.2f} | "
        f"{', '.join(f'{v:.2f}' for v in dynamo)} |",
        "",
        "`torch._dynamo` imported by the first optimizer's constructor: "
        f"{_yes_no([o['dynamo_imported_by_init'] for o in plain])}; with `TORCH_COMPILE_DISABLE=1`: "
        f"{_yes_no([o['dynamo_imported_by_init'] for o in disabled])}. "
        "`Optimizer.__init__` calls `add_param_group`, which torch wraps in `torch._disable_dynamo`; that wrapper "
        "imports `torch._dynamo` on its first call, and `Optimizer.step` (`_use_grad_for_differentiable`) imports "
        "it too. `TORCH_COMPILE_DISABLE` is read by `torch._dynamo.config`, that is, after the import, and torch "
        "has no other setting that skips it; avoiding it would mean patching torch's private wrappers, which "
        "skanomaly does not do. Every process that builds an optimizer therefore pays the import once: each CLI "
        "call and each joblib worker (loky reuses its workers across tasks).",
        "",
    ]
    (output / "speed_study.md").write_text("\n".join(lines))
    with open(output / "speed_study.csv", "w", newline="") as handle:
        fields = ["study", "round", "batch_size", "implementation", "seconds", "rows_per_s", "epoch_loop_seconds",
                  "peak_rss_growth_mib"]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in records:
            writer.writerow({key: (f"{value:.6g}" if isinstance(value, float) else value)
                             for key, value in row.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each interleaved measurement (>= 3)")
    parser.add_argument("--output", type=Path, default=HERE, help="folder of speed_study.md and speed_study.csv")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.rss_child:
        rss_child(args.rss_child)
        return
    load = [os.getloadavg()]
    commit = git_state()
    records = []
    training_study(args.rounds, records)
    agreement = scoring_study(args.rounds, records)
    memory = memory_study(records)
    imports, optimizer, dynamo = fresh_process_study(args.rounds, records)
    load.append(os.getloadavg())
    args.output.mkdir(parents=True, exist_ok=True)
    write_report(args.output, args.rounds, records, agreement, memory, imports, optimizer, dynamo, load, commit)


if __name__ == "__main__":
    main()
