"""Tables and figure of the explanation study, from ``results.csv`` in this folder.

``python docs/benchmarks/explanations/summarize.py`` writes ``summary.md`` from ``results.csv`` (``study.py``) and
``libraries.csv`` (``libraries.py``); both scripts run it at their end and the page includes it. The documentation
build calls :func:`draw` for the figure, so neither is typed by hand.

The goal checked: on the shift anomalies, a mean hit rate of at least 0.9 in every (data set, detector / method,
``m``) cell whose mean AUROC is at least 0.9 (means over the seeds).
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2, 3, 4)
DATASETS = ("thyroid", "arrhythmia", "kddcup99", "gmm8", "gmm32")
KINDS = ("shift", "dependence")
CHANGED = (1, 2, 3)


def _labelled(results):
    frame = results.copy()
    frame["label"] = frame["detector"] + " / " + frame["method"]
    return frame


def _datasets(frame):
    """The study's data sets present in ``frame``, in the study's order."""
    return [name for name in DATASETS if name in set(frame["dataset"])]


def summary(results):
    """The page's tables, as markdown, from the study's rows."""
    frame = _labelled(results)
    datasets = _datasets(frame)
    present = sorted(frame["seed"].unique())
    seeds = f"{present[0]}-{present[-1]}" if len(present) > 1 else f"{present[0]}"
    lines = []
    means = frame.groupby(["dataset", "label", "kind", "m"], sort=False)[["auroc", "hit_rate"]].mean()
    for kind in KINDS:
        lines += [f"### {kind.capitalize()} anomalies: hit rate (AUROC), mean of seeds {seeds}", ""]
        header = "| detector / method | " + " | ".join(f"{d} m={m}" for d in datasets for m in CHANGED) + " |"
        lines += [header, "|---" * (1 + len(datasets) * len(CHANGED)) + "|"]
        for label in frame["label"].drop_duplicates():
            cells = []
            for dataset in datasets:
                for m in CHANGED:
                    key = (dataset, label, kind, m)
                    if key not in means.index:
                        cells.append("–")
                        continue
                    hit, auroc = means.loc[key, "hit_rate"], means.loc[key, "auroc"]
                    cells.append(f"{hit:.2f} ({auroc:.2f})")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        random = frame.groupby(["dataset", "m"])["random_hit_rate"].first()
        lines.append("| random ranking (m/d) | " + " | ".join(f"{random[(d, m)]:.3f}" for d in datasets
                                                               for m in CHANGED) + " |")
        lines.append("")
    lines += ["### The goal on shift anomalies: cells with AUROC >= 0.9", ""]
    shift = means.xs("shift", level="kind").reset_index()
    detected = shift[shift["auroc"] >= 0.9]
    lines.append(f"{len(detected)} of {len(shift)} (data set, detector / method, m) cells have a mean AUROC >= 0.9; "
                 f"{int((detected['hit_rate'] >= 0.9).sum())} of them a mean hit rate >= 0.9.")
    lines.append("")
    missed = detected[detected["hit_rate"] < 0.9]
    if len(missed):
        lines += ["| data set | detector / method | m | AUROC | hit rate |", "|---|---|---|---|---|"]
        lines += [f"| {r.dataset} | {r.label} | {r.m} | {r.auroc:.3f} | {r.hit_rate:.3f} |"
                  for r in missed.itertuples()]
        lines.append("")
    if "sensitive_share" in frame:
        lines += ["### What the detectors react to: share of the changed features whose restoration alone lowers the "
                  "anomaly score (shift / dependence), mean of m and seeds", ""]
        share = frame.dropna(subset=["sensitive_share"]).drop_duplicates(["dataset", "seed", "detector", "kind", "m"])
        share = share.groupby(["detector", "dataset", "kind"], sort=False)["sensitive_share"].mean()
        lines += ["| detector | " + " | ".join(datasets) + " |", "|---" * (1 + len(datasets)) + "|"]
        for detector in share.index.get_level_values(0).unique():
            cells = [f"{share[(detector, d, 'shift')]:.2f} / {share[(detector, d, 'dependence')]:.2f}"
                     if (detector, d, "shift") in share.index else "–" for d in datasets]
            lines.append(f"| {detector} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Cost: CPU seconds per 1,000 explained rows (one thread), median over seeds", ""]
    cost = frame.drop_duplicates(["dataset", "seed", "label"]).groupby(["label", "dataset"], sort=False)[
        ["explain_cpu_per_1000", "score_cpu_per_1000"]].median()
    lines += ["| detector / method | " + " | ".join(datasets) + " |", "|---" * (1 + len(datasets)) + "|"]
    for label in frame["label"].drop_duplicates():
        cells = []
        for dataset in datasets:
            if (label, dataset) in cost.index:
                explain_cost, score_cost = cost.loc[(label, dataset)]
                cells.append(f"{explain_cost:.3g} (score {score_cost:.2g})")
            else:
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    if "bulk_explain_cpu_per_1000" in frame:
        lines += ["### The networks' own methods on 5,000 rows: CPU seconds per 1,000 rows, explain / score_samples, "
                  "median over seeds", ""]
        bulk = frame.dropna(subset=["bulk_explain_cpu_per_1000"]).drop_duplicates(["dataset", "seed", "label"])
        bulk = bulk.groupby(["label", "dataset"], sort=False)[["bulk_explain_cpu_per_1000",
                                                               "bulk_score_cpu_per_1000"]].median()
        lines += _pair_table(bulk, datasets, "{:.3g} / {:.2g}")
    if "median_relative_delta" in frame:
        lines += ["### Completeness: |delta| / |anomaly score - baseline score|, median (largest) over rows, "
                  "median over data sets and seeds", ""]
        gaps = frame.dropna(subset=["median_relative_delta"]).drop_duplicates(["dataset", "seed", "label"])
        gaps = gaps.groupby("label", sort=False)[["median_relative_delta", "max_relative_delta"]].median()
        lines += ["| detector / method | median | largest |", "|---|---|---|"]
        lines += [f"| {label} | {r.median_relative_delta:.2g} | {r.max_relative_delta:.2g} |"
                  for label, r in gaps.iterrows()]
        lines.append("")
    if "repeat_top_m_agreement" in frame:
        lines += ["### Spread of Shapley sampling (seed 0, two random_state values): top-m agreement / relative "
                  "RMS difference, mean over cells", ""]
        spread = frame.dropna(subset=["repeat_top_m_agreement"]).groupby(["label", "dataset"], sort=False)[
            ["repeat_top_m_agreement", "repeat_relative_difference"]].mean()
        lines += _pair_table(spread, datasets, "{:.2f} / {:.2f}")
    return "\n".join(lines)


def _pair_table(pairs, datasets, cell):
    """Markdown lines of a table with a row per label and a column per data set; ``pairs`` is indexed by
    (label, dataset) and has two columns, written into a cell with the format ``cell``."""
    lines = ["| detector / method | " + " | ".join(datasets) + " |", "|---" * (1 + len(datasets)) + "|"]
    for label in pairs.index.get_level_values(0).unique():
        cells = [cell.format(*pairs.loc[(label, d)].iloc[:2]) if (label, d) in pairs.index else "–"
                 for d in datasets]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines + [""]


def draw(output, folder=HERE):
    """Draw ``figure.png`` into ``output``: hit rates per detector, method and data set, shift and dependence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Path(folder) / "results.csv"
    if not results.exists():
        return
    frame = _labelled(pd.read_csv(results))
    datasets = _datasets(frame)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)

    labels = list(frame["label"].drop_duplicates())
    fig, axes = plt.subplots(1, len(KINDS), figsize=(13, 0.42 * len(labels) + 1.8), sharey=True)
    for ax, kind in zip(axes, KINDS):
        part = frame[frame["kind"] == kind].groupby(["label", "dataset"])[["hit_rate", "auroc"]].mean()
        hits = np.full((len(labels), len(datasets)), np.nan)
        aurocs = np.full_like(hits, np.nan)
        for i, label in enumerate(labels):
            for j, dataset in enumerate(datasets):
                if (label, dataset) in part.index:
                    hits[i, j], aurocs[i, j] = part.loc[(label, dataset)]
        ax.imshow(hits, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(len(labels)):
            for j in range(len(datasets)):
                if np.isfinite(hits[i, j]):
                    weight = "bold" if aurocs[i, j] >= 0.9 else "normal"
                    ax.text(j, i, f"{hits[i, j]:.2f}", ha="center", va="center", fontsize=7, weight=weight,
                            color="black" if hits[i, j] > 0.6 else "white")
        ax.set_xticks(range(len(datasets)), datasets, rotation=30)
        ax.set_title(f"{kind} anomalies: hit rate, mean of m = 1-3 and seeds\n(bold: mean AUROC >= 0.9)", fontsize=9)
    axes[0].set_yticks(range(len(labels)), labels, fontsize=8)
    fig.tight_layout()
    fig.savefig(output / "figure.png", dpi=110)
    plt.close(fig)


def library_tables(frame):
    """The tables of ``libraries.csv`` (captum and shap against skanomaly's own code), as markdown."""
    lines = ["### Weight", "", "| library | version | packages it adds to skanomaly's | MiB on disk | import, CPU s |",
             "|---|---|---|---|---|"]
    for r in frame[frame.part == "weight"].itertuples():
        lines.append(f"| {r.library} | {r.version} | {r.added_packages} | {r.added_mib:.0f} | "
                     f"{r.import_cpu_seconds:.2f} |")
    lines += ["", "### Integrated gradients (AMADetector, Thyroid, 200 rows, 64 points)", "",
              "| code | CPU s | largest difference to skanomaly's | largest delta on a linear score |",
              "|---|---|---|---|"]
    for r in frame[frame.part == "integrated_gradients"].itertuples():
        lines.append(f"| {r.library} | {r.cpu_seconds:.2f} | {r.largest_difference_to_skanomaly:.1e} | "
                     f"{r.largest_linear_delta:.1e} |")
    lines += ["", "### Shapley values (IsolationForest, 10 reference rows, 20 rows, 5 seeds)", "",
              "| data (features) | code | coalitions per row | CPU ms per row | relative RMS error to the exact "
              "values | completeness gap | changes NumPy's global random state |", "|---|---|---|---|---|---|---|"]
    for r in frame[frame.part == "shapley"].itertuples():
        error = "–" if pd.isna(r.relative_rms_error) else f"{r.relative_rms_error:.3f}"
        lines.append(f"| {r.dataset} ({int(r.n_features)}) | {r.library} | {int(r.coalitions_per_row)} | "
                     f"{1000 * r.cpu_seconds_per_row:.1f} | {error} | {r.largest_completeness_gap:.0e} | "
                     f"{'yes' if r.changes_global_numpy_state else 'no'} |")
    return "\n".join(lines)


def main(results=HERE / "results.csv"):
    """Write ``summary.md`` beside ``results``: the study's tables, then the library measurements (when there)."""
    results = Path(results)
    parts = []
    if results.exists():
        parts.append(summary(pd.read_csv(results)))
    libraries = results.with_name("libraries.csv")
    if libraries.exists():
        parts.append("## captum and shap against skanomaly's own code (libraries.py)\n\n"
                     + library_tables(pd.read_csv(libraries)))
    results.with_name("summary.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results.csv")
    main(parser.parse_args().results)
