"""Sphinx extension: tables, figures and study listings of the benchmark pages, built from the committed results.

At ``builder-inited`` it reads ``docs/benchmarks/<folder>/results.csv`` of every protocol folder and writes, into
``docs/generated/benchmarks/<folder>/`` (ignored by git, excluded from the page search):

- ``results.md``: the figure, then per dataset a table of the headline detectors and one of every
  configuration in the file, each cell the mean ± sd over seeds (per-class protocols: averaged over the classes first);
- ``figure.png``: F1@k and AUROC with their spread over seeds (tabular), or per-class AUROC bars (per-class);
- ``histogram.png``: when the folder holds a ``scores.csv`` (one detector's test labels and anomaly scores, written
  by a script of the folder, under a ``#`` line of JSON naming the detector), the histograms of the normal and the
  anomalous test rows' scores, drawn by :func:`skanomaly.plotting.plot_score_histogram`;
- ``studies.md``: each study file of the folder, shown in full, with the command that runs it.

The pages (``docs/benchmarks/<folder>/index.md``) pull these in with ``{include}``, so no number on them is
typed by hand.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

DOCS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DOCS / "benchmarks"))

from make_readme_table import (  # noqa: E402
    BENCHMARKS,
    COLUMNS,
    PER_CLASS,
    SETTING_BY_FOLDER,
    load_results,
    per_seed,
)

FOLDERS = ["tabular", "mnist_one_class", "mnist_loo", "fashion_mnist_one_class", "ood_fashion_mnist", "synthetic_2d"]
METRICS = {"roc_auc": "AUROC", "average_precision": "AP", "f1_at_k": "F1@k"}
OUTPUT = DOCS / "generated" / "benchmarks"
REFERENCE = "IsolationForest"  # the reference of every benchmark, marked in the figures
RECOMMENDED = "recommended_detector"
# Figures are drawn 9 inches wide at 110 dpi: the article column shows them at about 85 % of their size, so
# 10-point text reads at about 13 px.
FIGURE_WIDTH, FIGURE_DPI = 9.0, 110


def _cell(values):
    if len(values) == 0:
        return "—"
    if len(values) == 1:
        return f"{values.mean():.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def _seed_text(seeds):
    """Sorted seeds as ranges: [0, 1, 2, 5] -> "0-2, 5"."""
    seeds = sorted(int(s) for s in seeds)
    parts, start = [], None
    for i, seed in enumerate(seeds):
        if start is None:
            start = seed
        if i + 1 == len(seeds) or seeds[i + 1] != seed + 1:
            parts.append(str(start) if start == seed else f"{start}-{seed}")
            start = None
    return ", ".join(parts)


def _headline_seeds(folder, dataset):
    """The seeds of the README row of this folder and dataset (every seed when it has none)."""
    for _, row_folder, row_dataset, _, seeds in BENCHMARKS:
        if (row_folder, row_dataset) == (folder, dataset):
            return list(seeds)
    return None


def _headline_rows(folder, rows, dataset):
    seeds = _headline_seeds(folder, dataset)
    return rows if seeds is None else rows[rows["seed"].isin(seeds)]


def _headline(folder, results, dataset):
    """Detector names of the headline columns present for ``dataset``, with their column labels, and the
    recommended detector where it ran (the default a user is offered is always shown beside the others)."""
    present = set(results.loc[results["dataset"] == dataset, "detector"])
    names = {}
    for label, detector in COLUMNS.items():
        name = SETTING_BY_FOLDER.get((folder, detector), detector)
        if name in present:
            names[name] = label
    if RECOMMENDED in present:
        names[RECOMMENDED] = "recommended_detector()"
    return names


def _summary(rows, metrics):
    """Per detector: seeds, and mean ± sd over seeds of each metric; sorted by the first metric."""
    records = []
    for detector, group in rows.groupby("detector"):
        values = {metric: per_seed(group, metric) for metric in metrics}
        first = values[metrics[0]]
        record = {"detector": detector, "seeds": _seed_text(first.index),
                  "_sort": first.mean()}
        record.update({METRICS[metric]: _cell(values[metric]) for metric in metrics})
        if not set(group["protocol"]) & PER_CLASS:
            record["fit s (median)"] = f"{group['fit_seconds'].median():.1f}"
        records.append(record)
    frame = pd.DataFrame(records).sort_values("_sort", ascending=False).drop(columns="_sort")
    return frame


def _markdown(frame, bold_column):
    header = "| " + " | ".join(frame.columns) + " |"
    lines = [header, "|" + "---|" * len(frame.columns)]
    best = frame[bold_column].iloc[0] if len(frame) else None
    for _, row in frame.iterrows():
        cells = [f"`{value}`" if column == "detector" else str(value) for column, value in row.items()]
        if row[bold_column] == best:
            index = list(frame.columns).index(bold_column)
            cells[index] = f"**{cells[index]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _per_class_table(rows, names):
    """Headline detectors x classes: AUROC averaged over seeds."""
    table = rows[rows["detector"].isin(names)].groupby(["detector", "class"])["roc_auc"].mean().unstack()
    table.index = [names[name] for name in table.index]
    table.columns = [str(int(c)) for c in table.columns]
    lines = ["| detector | " + " | ".join(table.columns) + " |", "|" + "---|" * (len(table.columns) + 1)]
    for label, row in table.iterrows():
        lines.append(f"| {label} | " + " | ".join("—" if pd.isna(v) else f"{v:.3f}" for v in row) + " |")
    return lines


def _figure(folder, results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(results["dataset"]))
    per_class = bool(set(results["protocol"]) & PER_CLASS)
    with plt.rc_context({"font.size": 10, "axes.titlesize": 10.5, "legend.fontsize": 9.5}):
        fig = (_per_class_figure if per_class else _tabular_figure)(folder, results, datasets)
        fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def _per_class_figure(folder, results, datasets):
    """Per dataset: grouped AUROC bars per class, the reference grey and hatched."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(datasets), 1, figsize=(FIGURE_WIDTH, 4.6 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        rows = _headline_rows(folder, results[results["dataset"] == dataset], dataset)
        names = _headline(folder, results, dataset)
        classes = sorted(rows["class"].dropna().unique())
        width = 0.8 / max(len(names), 1)
        for i, (name, label) in enumerate(names.items()):
            by_seed = rows[rows["detector"] == name].groupby(["class", "seed"])["roc_auc"].mean().unstack()
            by_seed = by_seed.reindex(classes)
            spread = by_seed.std(axis=1, ddof=1) if by_seed.shape[1] > 1 else None
            reference = label == REFERENCE
            ax.bar(np.arange(len(classes)) + (i - (len(names) - 1) / 2) * width, by_seed.mean(axis=1),
                   width, yerr=spread, capsize=2, hatch="//" if reference else None,
                   color="0.55" if reference else None, edgecolor="white" if reference else None,
                   label=f"{label}{' (reference)' if reference else ''} ({by_seed.shape[1]} seed"
                         f"{'s' if by_seed.shape[1] > 1 else ''})")
        ax.set_xticks(np.arange(len(classes)), [str(int(c)) for c in classes])
        ax.set_xlabel("class" + (" left out (the anomaly)" if "leave-one-class-out" in set(rows["protocol"])
                                 else " trained on (the normal class)"))
        ax.set_ylabel("AUROC")
        ax.set_ylim(0, 1.05)
        ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{dataset}: AUROC per class, mean over seeds (error bar: sd over seeds)")
        ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    fig.tight_layout()
    return fig


def _tabular_figure(folder, results, datasets):
    """Per dataset: F1@k and AUROC bars of the headline detectors, the reference grey with a dashed line."""
    import matplotlib.pyplot as plt

    n_names = max(len(_headline(folder, results, dataset)) for dataset in datasets)
    fig, axes = plt.subplots(len(datasets), 2, figsize=(FIGURE_WIDTH, (0.36 * n_names + 1.0) * len(datasets) + 0.6),
                             squeeze=False, sharey="row")
    for row_axes, dataset in zip(axes, datasets):
        rows = _headline_rows(folder, results[results["dataset"] == dataset], dataset)
        names = _headline(folder, results, dataset)
        for ax, metric in zip(row_axes, ("f1_at_k", "roc_auc")):
            labels, means, sds, colors = [], [], [], []
            for name, label in names.items():
                values = per_seed(rows[rows["detector"] == name], metric)
                labels.append(f"{label} ({len(values)})")
                means.append(values.mean())
                sds.append(values.std(ddof=1) if len(values) > 1 else 0.0)
                colors.append("0.55" if label == REFERENCE else "tab:blue")
                if label == REFERENCE:
                    ax.axvline(values.mean(), color="0.3", linestyle="--", linewidth=1)
            y = np.arange(len(labels))
            ax.barh(y, means, xerr=sds, capsize=3, color=colors, alpha=0.85)
            ax.set_yticks(y, labels)
            ax.set_xlim(0, 1)
            ax.set_title(f"{dataset}: {METRICS[metric]}")
        row_axes[0].invert_yaxis()  # shared y: once per row
    fig.tight_layout(rect=(0, 0.045, 1, 1))
    fig.text(0.01, 0.01, f"Mean ± sd over seeds; (n) = number of seeds. Grey with a dashed line: {REFERENCE}, "
             "the reference.", fontsize=9.5)
    return fig


def _histogram(scores_path, path):
    """Draw the score histogram of a folder's ``scores.csv``; returns the JSON header of the file."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skanomaly.plotting import plot_score_histogram

    with open(scores_path, encoding="utf-8") as handle:
        header = json.loads(handle.readline().lstrip("#"))
    scores = pd.read_csv(scores_path, comment="#")
    with plt.rc_context({"font.size": 10, "axes.titlesize": 10.5, "legend.fontsize": 9.5}):
        fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.2))
        plot_score_histogram(scores["label"], scores["anomaly_score"],
                             threshold=header.get("threshold_5pct_false_alarms"), ax=ax)
        ax.set_title(f"{header['detector']} on {header['dataset']}, seed {header['seed']}: test scores "
                     f"(AUROC {header['roc_auc']:.3f})\ndashed line: the threshold that flags 5 % of the training rows")
        fig.tight_layout()
        fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)
    return header


def build_folder(folder, output=OUTPUT):
    """Write the generated files of one protocol folder; returns False when it has no results yet."""
    target = Path(output) / folder
    target.mkdir(parents=True, exist_ok=True)
    studies = sorted((DOCS / "benchmarks" / folder).glob("*.toml"))
    lines = []
    for study in studies:
        lines += [f"**`{study.name}`**", "", "```bash", f"skanomaly benchmark --study docs/benchmarks/{folder}/"
                  f"{study.name}", "```", "", f"```{{literalinclude}} /benchmarks/{folder}/{study.name}",
                  ":language: toml", "```", ""]
    if not studies:
        lines = ["No study file is committed in this folder yet."]
    (target / "studies.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = load_results(folder, DOCS / "benchmarks")
    if results.empty:
        (target / "results.md").write_text(
            "No results are committed in this folder yet: run its study files (below) to produce them.\n",
            encoding="utf-8")
        return False
    per_class = bool(set(results["protocol"]) & PER_CLASS)
    lines = [f"```{{image}} /generated/benchmarks/{folder}/figure.png", f":alt: {folder} results per detector",
             "```", ""]
    scores_path = DOCS / "benchmarks" / folder / "scores.csv"
    if scores_path.exists():
        header = _histogram(scores_path, target / "histogram.png")
        lines += [f"```{{image}} /generated/benchmarks/{folder}/histogram.png",
                  f":alt: score histograms of {header['detector']} on the normal and the anomalous test rows", "```",
                  "", f"Score histograms of `{header['detector']}` (seed {header['seed']}; {header['chosen']}), from "
                  "the folder's `scores.csv`: normal test rows in blue, anomalies in red, counts on a log scale.", ""]
    elif (target / "histogram.png").exists():
        (target / "histogram.png").unlink()
    for dataset, rows in results.groupby("dataset", sort=False):
        protocol = ", ".join(sorted(set(rows["protocol"])))
        names = _headline(folder, results, dataset)
        lines += [f"### `{dataset}` ({protocol})", ""]
        if per_class:
            lines += ["Mean AUROC over the classes (each seed first averaged over its classes), then mean ± sd "
                      "over seeds.", ""]
            metrics = ["roc_auc", "average_precision", "f1_at_k"]
        else:
            k = rows["k"].iloc[0]
            lines += [f"F1 of the anomaly class when the top {k * 100:.3g} % of the test scores are flagged, AUROC and "
                      "average precision; mean ± sd over seeds.", ""]
            metrics = ["f1_at_k", "roc_auc", "average_precision"]
        chosen = _headline_rows(folder, rows, dataset)
        headline = _summary(chosen[chosen["detector"].isin(names)], metrics)
        headline["detector"] = [names[name] for name in headline["detector"]]
        seeds = _headline_seeds(folder, dataset)
        lines += ["Headline detectors, at the settings and on the seeds of the README table"
                  + (f" (seeds {_seed_text(seeds)}, where run)" if seeds else "") + ":", ""]
        lines += _markdown(headline, METRICS[metrics[0]]) + [""]
        if per_class:
            lines += ["AUROC per class, mean over those seeds:", ""] + _per_class_table(chosen, names) + [""]
        everything = _summary(rows, metrics)
        if len(everything) > len(headline):
            lines += [f"Every configuration in `results.csv` ({len(everything)}, on every seed it ran; a "
                      "bracketed name is a variant or a score-only ablation of the detector it starts with):", ""]
            lines += _markdown(everything, METRICS[metrics[0]]) + [""]
    (target / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _figure(folder, results, target / "figure.png")
    return True


def _draw_study_figures(output=OUTPUT):
    """Figures of the studies that are not runner protocols: every ``docs/benchmarks/<folder>/summarize.py`` with a
    ``draw(output_folder)`` function draws into ``docs/generated/benchmarks/<folder>/``."""
    import importlib.util

    for script in sorted((DOCS / "benchmarks").glob("*/summarize.py")):
        spec = importlib.util.spec_from_file_location(f"_summarize_{script.parent.name}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "draw"):
            module.draw(Path(output) / script.parent.name)


def _build_all(app):
    for folder in FOLDERS:
        built = build_folder(folder)
        figure = OUTPUT / folder / "figure.png"
        if not built and figure.exists():
            figure.unlink()
    _draw_study_figures()


def setup(app):
    app.connect("builder-inited", _build_all)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
