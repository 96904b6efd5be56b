"""Tables and figure of the calibration study, from ``results.csv`` and ``nonconform_results.csv`` in this folder.

``python docs/benchmarks/calibration/summarize.py`` writes ``summary.md`` (the page includes it); the documentation
build calls :func:`draw` for the figure, so neither is typed by hand.

The goal checked: for every detector, data set and ``alpha``, the realized false-alarm rate averaged over the seeds
is below ``alpha`` or within two standard errors of it (standard error = sd over seeds / sqrt(seeds)).
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WAYS = ("percentile", "split", "cross")
DETECTORS = ("IsolationForest", "recommended_detector", "AutoEncoderDetector", "DeepSVDDDetector",
             "MirroredAEDetector", "AMADetector", "OMASGANDetector")
DATASETS = ("thyroid", "arrhythmia", "kddcup99", "adbench-local", "adbench-global", "adbench-dependency",
            "adbench-clustered")


def load(folder=HERE):
    """The study's rows (decisions at each alpha) and its Benjamini-Hochberg rows, and nonconform's, or None."""
    results = pd.read_csv(Path(folder) / "results.csv")
    decisions, fdr = results[results["alpha"].notna()], results[results["alpha"].isna()]
    side = Path(folder) / "nonconform_results.csv"
    return decisions, fdr, (pd.read_csv(side) if side.exists() else None)


def _order(frame, column, names):
    present = [name for name in names if name in set(frame[column])]
    return present + sorted(set(frame[column]) - set(present))


def goal_table(decisions):
    """Per way and alpha: the (detector, data set) cells meeting the goal, and the worst mean rate."""
    reachable = decisions[decisions["reachable"].astype(bool)]
    cells = reachable.groupby(["way", "alpha", "detector", "dataset"])["false_alarm_rate"].agg(["mean", "sem", "count"])
    cells["met"] = cells["mean"] <= cells.index.get_level_values("alpha") + 2 * cells["sem"].fillna(0)
    lines = ["| way | alpha | cells meeting the goal | worst mean rate (detector, data set) | unreachable cells |",
             "|---|---:|---:|---|---:|"]
    for way in WAYS:
        for alpha in sorted(set(decisions["alpha"])):
            if (way, alpha) not in cells.index.droplevel(["detector", "dataset"]):
                continue
            part = cells.loc[(way, alpha)]
            worst = part["mean"].idxmax()
            unreachable = decisions[(decisions["way"] == way) & (decisions["alpha"] == alpha)
                                    & ~decisions["reachable"].astype(bool)][["detector", "dataset"]].drop_duplicates()
            lines.append(f"| {way} | {alpha:.0%} | {int(part['met'].sum())} / {len(part)} | "
                         f"{part['mean'].max():.1%} ({worst[0]}, {worst[1]}) | {len(unreachable)} |")
    return lines


def _detector_by_dataset(frame, cell):
    """A table with a row per detector and a column per data set; ``cell(detector, dataset)`` writes a cell."""
    datasets = _order(frame, "dataset", DATASETS)
    lines = ["| detector | " + " | ".join(f"`{d}`" for d in datasets) + " |",
             "|---|" + "---:|" * len(datasets)]
    for detector in _order(frame, "detector", DETECTORS):
        lines.append(f"| {detector} | " + " | ".join(cell(detector, dataset) for dataset in datasets) + " |")
    return lines


def _cell_table(decisions, alpha, column, fmt):
    part = decisions[decisions["alpha"] == alpha]
    means = part.groupby(["detector", "dataset", "way"])[column].mean()

    def cell(detector, dataset):
        values = [means.get((detector, dataset, way), np.nan) for way in WAYS]
        return " / ".join("–" if np.isnan(v) else fmt(v) for v in values)
    return _detector_by_dataset(part, cell)


def fdr_table(fdr):
    means = fdr.groupby(["detector", "dataset", "way"])[["fdp", "power"]].mean()

    def cell(detector, dataset):
        parts = [f"{means.loc[(detector, dataset, way), 'fdp']:.2f} / {means.loc[(detector, dataset, way), 'power']:.2f}"
                 for way in ("split", "cross") if (detector, dataset, way) in means.index]
        return " · ".join(parts) if parts else "–"
    return _detector_by_dataset(fdr, cell)


def nonconform_table(decisions, side):
    ours = decisions[decisions["detector"] == "IsolationForest"]
    both = pd.concat([ours[ours["way"].isin(["split", "cross"])], side[side["alpha"].notna()]])
    means = both.groupby(["dataset", "way", "alpha"])["false_alarm_rate"].mean()
    ways = ["split", "nonconform-split", "cross", "nonconform-cross"]
    alphas = sorted(set(side["alpha"].dropna()))
    lines = ["| data set | " + " | ".join(f"{way} {alpha:.0%}" for way in ways for alpha in alphas) + " |",
             "|---|" + "---:|" * (len(ways) * len(alphas))]
    for dataset in _order(both, "dataset", DATASETS):
        cells = [means.get((dataset, way, alpha), np.nan) for way in ways for alpha in alphas]
        lines.append(f"| `{dataset}` | " + " | ".join("–" if np.isnan(v) else f"{v:.1%}" for v in cells) + " |")
    return lines


def summary(folder=HERE):
    decisions, fdr, side = load(folder)
    seeds = sorted(set(decisions["seed"]))
    commits = ", ".join(sorted(set(decisions.get("git_commit", pd.Series(["unknown"])).astype(str))))
    lines = [f"Seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), commit {commits}; {len(decisions) + len(fdr)} rows.", "",
             "### The goal: realized false-alarm rate at or below the target", "",
             "A cell is a detector on a data set at one `alpha`; it meets the goal when its false-alarm rate, "
             "averaged over the seeds, is at most `alpha` plus two standard errors. Unreachable cells (`alpha` "
             "below `1 / (n + 1)`) are refused by `CalibratedDetector` and left out.", ""]
    lines += goal_table(decisions) + [""]
    for alpha in sorted(set(decisions["alpha"])):
        lines += [f"### False-alarm rate on unseen normal rows at {alpha:.0%}", "",
                  "Mean over the seeds, `percentile / split / cross`; `–`: unreachable.", ""]
        lines += _cell_table(decisions, alpha, "false_alarm_rate", lambda v: f"{v:.1%}") + [""]
    for alpha in sorted(set(decisions["alpha"])):
        lines += [f"### Share of the anomalies flagged at {alpha:.0%}", "",
                  "Mean over the seeds, `percentile / split / cross`: what the calibration costs in detection.", ""]
        lines += _cell_table(decisions, alpha, "detection_rate", lambda v: f"{v:.2f}") + [""]
    lines += [f"### Benjamini-Hochberg at q = {fdr['fdr_target'].iloc[0]:g}", "",
              "False discovery proportion / power on the test half, mean over the seeds, `split · cross`.", ""]
    lines += fdr_table(fdr) + [""]
    if side is not None:
        lines += ["### nonconform side by side (IsolationForest)", "",
                  "Realized false-alarm rate, mean over the seeds, on the same splits: this module's split and "
                  "cross-fitted calibrations and nonconform 2.0.0's `Split(n_calib=0.3)` and "
                  "`CrossValidation(k=5, mode=\"plus\")` (Python 3.12). nonconform does not refuse unreachable "
                  "rates: it then flags nothing.", ""]
        lines += nonconform_table(decisions, side) + [""]
    return "\n".join(lines)


def draw(output, folder=HERE):
    """Write ``figure.png`` into ``output``: realized against asked false-alarm rate, per way, every detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not (Path(folder) / "results.csv").exists():
        return None
    decisions, _, _ = load(folder)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    alphas = sorted(set(decisions["alpha"]))
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 3.4), sharey=True)
    for ax, way in zip(axes, WAYS):
        part = decisions[decisions["way"] == way]
        cells = part.groupby(["detector", "dataset", "alpha"])["false_alarm_rate"].mean().reset_index()
        for alpha_index, alpha in enumerate(alphas):
            values = cells.loc[cells["alpha"] == alpha, "false_alarm_rate"].dropna()
            jitter = np.linspace(-0.25, 0.25, len(values)) if len(values) > 1 else np.zeros(len(values))
            ax.scatter(alpha_index + jitter, 100 * values, s=12, alpha=0.6, color=f"C{alpha_index}")
            ax.hlines(100 * alpha, alpha_index - 0.4, alpha_index + 0.4, color="black", linewidth=1.5)
        ax.set_xticks(range(len(alphas)), [f"{a:.0%}" for a in alphas])
        ax.set_title(way, fontsize=10)
        ax.set_xlabel("false-alarm rate asked for", fontsize=10)
    axes[0].set_ylabel("realized on unseen normal rows (%)", fontsize=10)
    fig.suptitle("One dot per detector and data set (mean over seeds); black line: the rate asked for", fontsize=10)
    fig.tight_layout()
    path = output / "figure.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    (HERE / "summary.md").write_text(summary() + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'summary.md'}")
