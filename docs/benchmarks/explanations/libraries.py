"""Measurements behind the attribution code of ``skanomaly.explanations``: captum and shap against its own code.

Writes ``libraries.csv`` in this folder, then ``summary.md`` (``summarize.py``, which shows these measurements
after the study's)::

    OMP_NUM_THREADS=1 python docs/benchmarks/explanations/libraries.py

Needs captum and shap installed beside skanomaly (``pip install captum shap``). Three measurements:

- weight: the files (MiB on disk, from each distribution's RECORD) of the packages a library adds to skanomaly's
  own dependencies, its dependencies included, and the CPU seconds of importing it in a fresh interpreter that
  has imported torch, scikit-learn and skanomaly already (median of 5);
- integrated gradients: an AMADetector (Thyroid, min-max scaled normal rows of a 50/50 split, 10 epochs,
  seed 0) explained on 200 held-out rows from the training mean with 64 Gauss-Legendre points, by
  ``explain`` and by ``captum.attr.IntegratedGradients`` on the same differentiable score (internal batches of
  512 rows): CPU seconds, the largest difference, and the largest completeness gap ``|delta|`` of both on a
  linear score, where integrated gradients are exact;
- Shapley values against 10 reference rows: an IsolationForest on the same Thyroid split (6 features) and on
  Arrhythmia (274 features), 20 held-out rows, explained by ``explain(method="shapley_sampling",
  n_neighbors=None)`` (every row against all 10) and by
  ``shap.PermutationExplainer`` (masker ``Independent`` with the same 10 rows), both at about the same number of
  detector evaluations per row; on Thyroid the error against the exact Shapley values (all 64 coalitions), over
  5 seeds. Also whether a call changes NumPy's global random state.
"""

import importlib.metadata as metadata
import itertools
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from packaging.requirements import Requirement
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import load_arrhythmia, load_thyroid
from skanomaly.detectors import AMADetector
from skanomaly.explanations import _network_anomaly_score, explain

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summarize  # noqa: E402  (the tables of summary.md, in this folder)

HERE = Path(__file__).resolve().parent
REPEATS = 5


def _name(text):
    return re.sub(r"[-_.]+", "-", text).lower()


def closure(package):
    """Names of ``package`` and of every package it needs (markers evaluated, extras not followed)."""
    seen, todo = set(), [package]
    while todo:
        name = _name(todo.pop())
        if name in seen:
            continue
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for line in requirements:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def size_mib(package):
    files = metadata.distribution(package).files or []
    return sum(f.size or 0 for f in files) / 2**20


def import_seconds(module):
    code = ("import time, torch, sklearn, skanomaly.explanations; t = time.process_time(); "
            f"import {module}; print(time.process_time() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(REPEATS)]
    return float(np.median(runs))


def weight_rows():
    own = closure("skanomaly")
    rows = []
    for package, module in (("captum", "captum.attr"), ("shap", "shap")):
        added = sorted(closure(package) - own)
        rows.append({"part": "weight", "library": package, "version": metadata.version(package),
                     "added_packages": " ".join(added), "added_mib": sum(size_mib(p) for p in added),
                     "import_cpu_seconds": import_seconds(module)})
    return rows


def _cpu(fn):
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def integrated_gradient_rows():
    from captum.attr import IntegratedGradients

    X, y = load_thyroid(return_X_y=True)
    normal = X[y == 0][np.random.RandomState(0).permutation(int((y == 0).sum()))]
    scaler = MinMaxScaler().fit(normal[: len(normal) // 2])
    train, held = scaler.transform(normal[: len(normal) // 2]), scaler.transform(normal[len(normal) // 2:][:200])
    detector = AMADetector(max_epochs=10, random_state=0).fit(train)
    score = _network_anomaly_score(detector)
    x = torch.as_tensor(held)
    reference = torch.as_tensor(detector.support_center_)[None].expand_as(x)
    mine, mine_seconds = _cpu(lambda: explain(detector, held, n_steps=64))
    theirs, captum_seconds = _cpu(lambda: IntegratedGradients(score).attribute(
        x, baselines=reference, n_steps=64, method="gausslegendre", internal_batch_size=512).detach().numpy())
    linear = torch.nn.Linear(held.shape[1], 1).double()
    linear_score = lambda rows: linear(rows).squeeze(1)  # noqa: E731
    with torch.no_grad():
        difference = (linear_score(x) - linear_score(reference)).numpy()
    nodes, weights = np.polynomial.legendre.leggauss(64)
    own_linear = np.zeros_like(held)
    for node, weight in zip((nodes + 1) / 2, weights / 2):
        point = (reference + float(node) * (x - reference)).requires_grad_(True)
        (gradient,) = torch.autograd.grad(linear_score(point).sum(), point)
        own_linear += float(weight) * gradient.numpy()
    own_linear *= (x - reference).numpy()
    captum_linear = IntegratedGradients(linear_score).attribute(
        x, baselines=reference, n_steps=64, method="gausslegendre").detach().numpy()
    common = {"part": "integrated_gradients", "rows": held.shape[0], "n_steps": 64}
    return [
        {**common, "library": "skanomaly", "cpu_seconds": mine_seconds,
         "largest_difference_to_skanomaly": 0.0,
         "largest_linear_delta": float(np.abs(own_linear.sum(axis=1) - difference).max())},
        {**common, "library": "captum", "version": metadata.version("captum"), "cpu_seconds": captum_seconds,
         "largest_difference_to_skanomaly": float(np.abs(theirs - mine.contributions).max()),
         "largest_linear_delta": float(np.abs(captum_linear.sum(axis=1) - difference).max())},
    ]


def exact_shapley(fn, x, references):
    d = x.shape[0]
    coalitions = np.array(list(itertools.product([False, True], repeat=d)))
    rows = np.where(coalitions[None], x[None, None], references[:, None])
    values = fn(rows.reshape(-1, d)).reshape(len(references), -1).mean(axis=0)
    index = {tuple(c): i for i, c in enumerate(coalitions)}
    phi = np.zeros(d)
    for i, coalition in enumerate(coalitions):
        size = int(coalition.sum())
        for j in np.flatnonzero(~coalition):
            added = coalition.copy()
            added[j] = True
            phi[j] += (math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                       * (values[index[tuple(added)]] - values[i]))
    return phi


def shapley_rows():
    import shap

    rows = []
    for name, loader in (("thyroid", load_thyroid), ("arrhythmia", load_arrhythmia)):
        X, y = loader(return_X_y=True)
        normal = X[y == 0][np.random.RandomState(0).permutation(int((y == 0).sum()))]
        scaler = MinMaxScaler().fit(normal[: len(normal) // 2])
        train, held = scaler.transform(normal[: len(normal) // 2]), scaler.transform(normal[len(normal) // 2:][:20])
        detector = IsolationForest(random_state=0).fit(train)
        references = train[np.random.RandomState(1).choice(len(train), 10, replace=False)]
        d = train.shape[1]

        def anomaly(rows_):
            return -detector.score_samples(rows_)

        exact = np.array([exact_shapley(anomaly, x, references) for x in held]) if d <= 10 else None
        for n_permutations in (1, 8):
            # explain: n_permutations * (2d - 2) coalitions; shap: max_evals coalitions, at least 2d + 1
            budget = max(n_permutations * (2 * d - 2), 2 * d + 1)
            for library in ("skanomaly", "shap"):
                errors, seconds, reseeds = [], [], []
                for seed in range(REPEATS):
                    state = np.random.get_state()[1].copy()
                    if library == "skanomaly":
                        result, cpu = _cpu(lambda: explain(detector, held, baseline=references, n_neighbors=None,
                                                           n_permutations=n_permutations, random_state=seed))
                        values, base = result.contributions, result.baseline_scores
                    else:
                        explainer = shap.PermutationExplainer(anomaly, shap.maskers.Independent(references, 10),
                                                              seed=seed)
                        result, cpu = _cpu(lambda: explainer(held, max_evals=budget, silent=True))
                        values, base = result.values, result.base_values
                    reseeds.append(not np.array_equal(state, np.random.get_state()[1]))
                    seconds.append(cpu)
                    completeness = float(np.abs(values.sum(axis=1) + base - anomaly(held)).max())
                    if exact is not None:
                        errors.append(np.sqrt(np.mean((values - exact) ** 2)) / np.sqrt(np.mean(exact ** 2)))
                rows.append({"part": "shapley", "dataset": name, "n_features": d, "library": library,
                             "version": metadata.version("shap") if library == "shap" else "",
                             "n_permutations": n_permutations, "coalitions_per_row": budget,
                             "cpu_seconds_per_row": float(np.median(seconds)) / len(held),
                             "relative_rms_error": float(np.mean(errors)) if errors else np.nan,
                             "largest_completeness_gap": completeness,
                             "changes_global_numpy_state": bool(any(reseeds))})
    return rows


def main():
    torch.set_num_threads(1)
    frame = pd.DataFrame(weight_rows() + integrated_gradient_rows() + shapley_rows())
    frame.to_csv(HERE / "libraries.csv", index=False)
    summarize.main()


if __name__ == "__main__":
    main()
