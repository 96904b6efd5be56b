"""Tables of the global-anomalies study, from ``results.csv`` in this folder.

``python docs/benchmarks/global_anomalies/summarize.py`` writes ``summary.md``, which the page includes, so no
number on the page is typed by hand. Cells are the mean AUROC over the seeds, with the lowest seed in brackets.
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DETECTORS = ("AutoEncoderDetector", "DeepSVDDDetector", "MirroredAEDetector", "AMADetector", "OMASGANDetector",
             "IsolationForest")
DATASETS = ("thyroid-global", "arrhythmia-global", "kddcup99-global", "gmm8-global", "gmm32-global")
# What each part of a score is, in the order the page discusses them.
PART_LABELS = {
    ("AMADetector", "score_type=feature_l1"): "AMA: the feature-L1 score alone (`score_type=\"feature_l1\"`)",
    ("OMASGANDetector", "stop_after=task1"): "OMASGAN: Task 1's critic (`stop_after=\"task1\"`)",
    ("OMASGANDetector", "stop_after=task3"): "OMASGAN: Task 3's retrained critic, the fD term alone "
                                             "(`stop_after=\"task3\"`)",
    ("OMASGANDetector", "fD term alone"): "OMASGAN: the fD term of the full model alone",
    ("OMASGANDetector", "lambda_fd=0.0"): "OMASGAN: the J term alone (`lambda_fd=0.0`)",
}


def _order(values, preferred):
    present = [value for value in preferred if value in set(values)]
    return present + sorted(set(values) - set(present))


def _cell(values):
    return f"{values.mean():.3f} ({values.min():.3f})" if len(values) else "–"


def _table(rows, metric, label_rows, datasets):
    lines = ["| " + label_rows + " | " + " | ".join(f"`{name}`" for name in datasets) + " |",
             "|---|" + "---:|" * len(datasets)]
    for label, part in rows:
        cells = [_cell(part.loc[part["dataset"] == name, metric].dropna()) for name in datasets]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _drop_duplicate_fd(parts):
    """The full model's fD term is Task 3's critic score: keep one row when the two agree on every split."""
    omasgan = parts[parts["detector"] == "OMASGANDetector"].set_index(["dataset", "seed", "part"])["roc_auc_networks"]
    try:
        same = (omasgan.xs("fD term alone", level="part") - omasgan.xs("stop_after=task3", level="part")).abs()
    except KeyError:
        return parts
    if len(same) and same.max() < 1e-9:
        return parts[~((parts["detector"] == "OMASGANDetector") & (parts["part"] == "fD term alone"))]
    return parts


def summary(results):
    """The lines of ``summary.md``."""
    results = results.copy()
    results["part"] = results["part"].fillna("score")
    scores = results[results["part"] == "score"]
    datasets = _order(scores["dataset"], DATASETS)
    detectors = _order(scores["detector"], DETECTORS)
    seeds = sorted(set(scores["seed"]))
    lines = [f"Seeds {', '.join(map(str, seeds))}; each cell is the mean AUROC over the seeds, the lowest seed's in "
             "brackets.", "", "### AUROC of each detector's score", ""]
    lines += _table([(name, scores[scores["detector"] == name]) for name in detectors], "roc_auc", "detector",
                    datasets)
    lines += ["", "### The same, without the cap on far rows (the networks' own score)", ""]
    networks = scores[scores["roc_auc_networks"].notna()]
    lines += _table([(name, networks[networks["detector"] == name]) for name in detectors
                     if name in set(networks["detector"])], "roc_auc_networks", "detector", datasets)
    parts = results[results["part"] != "score"]
    if not parts.empty:
        lines += ["", "### Parts of the adversarial detectors' scores, without the cap", ""]
        parts = _drop_duplicate_fd(parts)
        groups = dict(tuple(parts.groupby(["detector", "part"], sort=True)))
        keys = [key for key in PART_LABELS if key in groups] + sorted(set(groups) - set(PART_LABELS))
        labelled = [(PART_LABELS.get(key, ": ".join(key)), groups[key]) for key in keys]
        lines += _table(labelled, "roc_auc_networks", "part of the score", datasets)
    geometry = scores.drop_duplicates(["dataset", "seed"]).groupby("dataset")[
        ["beyond_support", "beyond_guard", "normal_beyond_support", "mean_margin"]].mean()
    lines += ["", "### Where the anomalies lie", "",
              "Share of the test anomalies farther from the training mean than every training row (*beyond the "
              "support*) and than twice that (*beyond the cap's start*), the same share for normal test rows, and "
              "the anomalies' mean margin beyond the support in units of its radius; means over the seeds.", "",
              "| data set | anomalies beyond the support | beyond the cap's start | normal rows beyond the support "
              "| mean margin |", "|---|---:|---:|---:|---:|"]
    for name in datasets:
        row = geometry.loc[name]
        lines.append(f"| `{name}` | {row['beyond_support']:.0%} | {row['beyond_guard']:.0%} | "
                     f"{row['normal_beyond_support']:.1%} | {row['mean_margin']:+.2f} |")
    return lines


def main(results_path=HERE / "results.csv", output=HERE / "summary.md"):
    lines = summary(pd.read_csv(results_path))
    Path(output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
