"""Print the README's results table from the committed results of each protocol folder.

One row per benchmark, one column per detector at its documented setting, IsolationForest, PyOD's
AutoEncoder and the published number. A cell is the mean ± sd over seeds of the benchmark's metric, with the
number of seeds in brackets; for the per-class protocols each seed's value is first averaged over the classes
(only seeds with every class count). The best measured cell of each row is bold.

Usage::

    python docs/benchmarks/make_readme_table.py                    # print the table block
    python docs/benchmarks/make_readme_table.py --check README.md  # exit 1 when README's block differs

The block sits between the two marker lines ``<!-- results-table:start -->`` and ``<!-- results-table:end -->``;
``--check`` compares the lines between the markers with a fresh rendering.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"

# (row label, protocol folder, dataset, metric, seeds). Tabular rows use F1 of the anomaly class at the top k %
# (the literature's metric for these sets); the image and 2-D rows use AUROC. A cell reads only the row's seeds
# (the splits every column was run on), so a reference run on more seeds does not change the comparison.
BENCHMARKS = [
    ("Thyroid", "tabular", "thyroid", "f1_at_k", range(5)),
    ("Arrhythmia", "tabular", "arrhythmia", "f1_at_k", range(5)),
    ("KDD99", "tabular", "kddcup99", "f1_at_k", range(3)),
    ("MNIST-5k one-class", "mnist_one_class", "mnist", "roc_auc", range(2)),
    ("MNIST-5k leave-one-class-out", "mnist_loo", "mnist", "roc_auc", range(2)),
    ("Fashion-MNIST-5k one-class", "fashion_mnist_one_class", "fashion_mnist_5k", "roc_auc", range(2)),
    ("Fashion-MNIST vs MNIST out-of-distribution", "ood_fashion_mnist", "fashion_mnist[1000]:mnist", "roc_auc",
     range(2)),
    ("2-D rings", "synthetic_2d", "multimodal_2d", "roc_auc", range(5)),
]
PER_CLASS = {"one-class", "leave-one-class-out"}
METRIC_NAMES = {"f1_at_k": "F1@k", "roc_auc": "AUROC"}

# Column header -> the detector name whose rows a cell reads. A column applies to every benchmark unless
# SETTING_BY_FOLDER names another row for a folder (e.g. the conv networks on images).
COLUMNS = {
    "AutoEncoderDetector": "AutoEncoderDetector",
    "MirroredAEDetector": "MirroredAEDetector",
    "AMADetector": "AMADetector",
    "OMASGANDetector": "OMASGANDetector",
    "DeepSVDDDetector": "DeepSVDDDetector",
    "IsolationForest": "IsolationForest",
    "PyOD AutoEncoder": "PyOD-AutoEncoder",
}
IMAGE_AMA = "AMADetector[image_shape=(1, 28, 28), atypical_selection=None]"  # the mnist preset's setting
SETTING_BY_FOLDER = {
    # Images: the conv networks (image_shape) at the dataset preset, as the user guides advise.
    ("mnist_one_class", "MirroredAEDetector"): "MirroredAEDetector[image_shape=(1, 28, 28)]",
    ("mnist_one_class", "AMADetector"): IMAGE_AMA,
    ("fashion_mnist_one_class", "AMADetector"): IMAGE_AMA,
    ("mnist_loo", "OMASGANDetector"): "OMASGANDetector[image_shape=(1, 28, 28)]",
    # Out-of-distribution: the Fashion-MNIST presets, with the study's shortened budgets for the two critics.
    ("ood_fashion_mnist", "MirroredAEDetector"): "MirroredAEDetector[max_epochs=8, selection_warmup_epochs=2]",
    ("ood_fashion_mnist", "AMADetector"): "AMADetector[max_epochs=5]",
}

# Published numbers: (value as printed in the paper, method, source key). The papers ran the full MNIST, not
# the 5k subset, and their own splits; they are a reference, not a like-for-like row.
SOURCES = {
    "Wu": "Wu, Balaji, Vinzamuri, Feizi, *Mirrored Autoencoders with Simplex Interpolation for Unsupervised "
          "Anomaly Detection*: Table 2 (tabular F1), Table 3 (MNIST leave-one-class-out AUROC, full MNIST)",
    "Somepalli": "Somepalli et al., *Unsupervised Anomaly Detection with Adversarial Mirrored AutoEncoders*, "
                 "UAI 2021: Table 1 (Fashion-MNIST vs MNIST AUROC, all training images), Table 2 (MNIST one-class "
                 "AUROC, full MNIST)",
    "Dionelis": "Dionelis, Yaghoobi, Tsaftaris, *OMASGAN* (2021): 2-D evaluation, full model",
}
PUBLISHED = {
    "Thyroid": ("0.70", "Mirrored AE", "Wu"),
    "Arrhythmia": ("0.545", "Mirrored AE", "Wu"),
    "KDD99": ("0.960", "Mirrored AE", "Wu"),
    "MNIST-5k one-class": ("0.938", "AMA", "Somepalli"),
    "Fashion-MNIST vs MNIST out-of-distribution": ("0.987", "AMA", "Somepalli"),
    "MNIST-5k leave-one-class-out": ("0.979", "Mirrored AE", "Wu"),
    "2-D rings": ("0.99", "OMASGAN", "Dionelis"),
}


def load_results(folder, root=HERE):
    """The ``status == "ok"`` rows of ``root/folder/results.csv`` (an empty frame when the file is absent)."""
    path = Path(root) / folder / "results.csv"
    if not path.exists():
        return pd.DataFrame(columns=["detector", "dataset", "protocol", "seed", "class", "status"])
    frame = pd.read_csv(path)
    return frame[frame["status"] == "ok"]


def per_seed(rows, metric):
    """One value per seed: the metric itself, or its mean over the classes for per-class protocols.

    Seeds whose class set is smaller than the largest one among the seeds are dropped, so every value averages
    the same classes.
    """
    if rows.empty:
        return pd.Series(dtype=float)
    if not set(rows["protocol"]) & PER_CLASS:
        return rows.groupby("seed")[metric].mean()
    classes = rows.groupby("seed")["class"].nunique()
    complete = classes[classes == classes.max()].index
    rows = rows[rows["seed"].isin(complete)]
    return rows.groupby("seed")[metric].mean()


def cell_values(results, folder, dataset, detector, metric, seeds):
    """Per-seed values of one cell."""
    name = SETTING_BY_FOLDER.get((folder, detector), detector)
    rows = results[(results["dataset"] == dataset) & (results["detector"] == name)
                   & results["seed"].isin(list(seeds))]
    return per_seed(rows, metric)


def format_cell(values, bold=False):
    """``mean ± sd (n)``; the sd is left out for one seed."""
    if len(values) == 0:
        return "—"
    text = f"{values.mean():.3f}"
    if len(values) > 1:
        text += f" ± {values.std(ddof=1):.3f}"
    text = f"**{text}**" if bold else text
    return f"{text} ({len(values)})"


def build_table(root=HERE):
    """The table block (markdown lines, without the markers)."""
    frames = {}
    cells = {}
    for label, folder, dataset, metric, seeds in BENCHMARKS:
        if folder not in frames:
            frames[folder] = load_results(folder, root)
        for column, detector in COLUMNS.items():
            cells[label, column] = cell_values(frames[folder], folder, dataset, detector, metric, seeds)
    columns = [column for column in COLUMNS if any(len(cells[label, column]) for label, *_ in BENCHMARKS)]
    lines = ["| benchmark (metric) | " + " | ".join(columns) + " | published |",
             "|---" * (len(columns) + 2) + "|"]
    notes = []
    for label, folder, dataset, metric, seeds in BENCHMARKS:
        means = {column: round(cells[label, column].mean(), 3) for column in columns if len(cells[label, column])}
        best = max(means.values(), default=None)
        row = [format_cell(cells[label, column], bold=means.get(column) == best) for column in columns]
        published = "—"
        if label in PUBLISHED:
            value, method, source = PUBLISHED[label]
            if source not in notes:
                notes.append(source)
            published = f"{value} ({method} [{notes.index(source) + 1}])"
        lines.append(f"| [{label}](docs/benchmarks/{folder}/index.md) ({METRIC_NAMES[metric]}) | "
                     + " | ".join(row) + f" | {published} |")
    lines.append("")
    lines.append("Mean ± sd over seeds (number of seeds: Thyroid and Arrhythmia 0-4, KDD99 0-2, images 0-1, 2-D "
                 "0-4, where run); per-class rows average the classes first. Best measured cell in bold. Tabular "
                 "F1 at the top k % (Thyroid 2.5 %, Arrhythmia 15 %, KDD99 20 %); on KDD99 the deep detectors train "
                 "shorter than their presets (AMA 5 epochs, Mirrored AE 10, OMASGAN stages 5/2/2/2; study file "
                 "`docs/benchmarks/tabular/kddcup99.toml`); OMASGAN's tabular rows ran at `lr=2e-4`, its class default "
                 "before `\"auto\"`. Images: conv networks at the "
                 "`mnist` preset, except the MNIST-5k leave-one-class-out Mirrored AE (MLP with 256-unit layers). "
                 "Out-of-distribution: trained on 10,000 of the 60,000 Fashion-MNIST training images (1,000 per "
                 "class), tested on its 10,000 test images and MNIST-5k, at the `fashion_mnist` presets with AMA "
                 "at 5 epochs and the Mirrored AE at 8 (study file `docs/benchmarks/ood_fashion_mnist/study.toml`). "
                 "2-D: OMASGAN at the settings of its gallery example, the others at their class defaults. "
                 "Published numbers come from the papers' own splits and the full image sets.")
    lines.append("")
    lines.append("Sources: " + "; ".join(f"[{i}] {SOURCES[source]}" for i, source in enumerate(notes, 1)) + ".")
    return lines


def readme_block(path):
    """The lines between the markers of ``path``; ``None`` without both markers."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if START not in lines or END not in lines:
        return None
    return lines[lines.index(START) + 1:lines.index(END)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="README", help="exit 1 when the README's table block differs")
    parser.add_argument("--root", default=str(HERE), help="the folder holding the protocol folders")
    args = parser.parse_args(argv)
    lines = build_table(args.root)
    if args.check is None:
        print("\n".join([START, *lines, END]))
        return 0
    current = readme_block(args.check)
    if current is None:
        print(f"{args.check}: no table block (the lines {START} and {END} are missing).", file=sys.stderr)
        return 1
    if current != lines:
        print(f"{args.check}: the results table differs from the committed results; regenerate it with "
              f"python docs/benchmarks/make_readme_table.py", file=sys.stderr)
        for line in sorted(set(current) ^ set(lines)):
            print(("- " if line in current else "+ ") + line, file=sys.stderr)
        return 1
    print(f"{args.check}: the results table matches the committed results.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
