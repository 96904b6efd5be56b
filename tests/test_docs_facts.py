"""Numbers quoted on the pages agree with the data and with the committed results they were read from.

tests/test_readme_table.py keeps the README's results table in step with the results files; this module does the
same for facts typed into the prose: the size of the embedded data sets wherever a page states it, the training
split of the quick start, and the measurements the "Choosing a detector" page quotes. A failure names the page,
the sentence as the data now make it, and what to do: correct the page (or rerun the study the page cites).
"""

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest

from skanomaly.datasets import load_arrhythmia, load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.model_selection import novelty_train_test_split

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LOADERS = {"Thyroid": load_thyroid, "Arrhythmia": load_arrhythmia}
# "Thyroid (3,772 rows, 6 features)" anywhere in a sentence, and the protocols table's "(93 / 3772)".
SHAPE = re.compile(r"\b(Thyroid|Arrhythmia)\b[^()]{0,40}\((\d[\d,]*) rows, (\d[\d,]*) features")
ANOMALIES = re.compile(r"^\| (Thyroid|Arrhythmia) \(ODDS\) \|.*\((\d[\d,]*) / (\d[\d,]*)\)", re.MULTILINE)


def _pages():
    """Every hand-written page: the docs' Markdown (not the generated folders), the README and the examples."""
    skip = {"_build", "generated", "auto_examples"}
    pages = [path for path in DOCS.rglob("*.md") if not skip & set(path.relative_to(DOCS).parts)]
    return sorted(pages) + [ROOT / "README.md", *sorted((ROOT / "examples").glob("*.py"))]


def _text(path):
    """The page's text with line breaks and repeated spaces folded, so a quote may span wrapped lines."""
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def _number(text):
    return int(text.replace(",", ""))


def test_data_set_sizes_quoted_on_any_page_are_those_of_the_loaders():
    found = []
    for page in _pages():
        raw, text = page.read_text(encoding="utf-8"), _text(page)
        for name, rows, features in SHAPE.findall(text):
            data = LOADERS[name]().data
            assert (_number(rows), _number(features)) == data.shape, (
                f"{page.relative_to(ROOT)} says {name} has {rows} rows and {features} features; "
                f"the loader gives {data.shape[0]:,} rows and {data.shape[1]:,} features")
            found.append(name)
        for name, anomalies, rows in ANOMALIES.findall(raw):
            target = LOADERS[name]().target
            assert (_number(anomalies), _number(rows)) == (int(target.sum()), len(target)), (
                f"{page.relative_to(ROOT)} says {name} has {anomalies} anomalies in {rows} rows; "
                f"the loader gives {int(target.sum())} in {len(target)}")
            found.append(name)
    # The choosing page and the protocols table state both sizes: the patterns still match what pages write.
    assert sorted(set(found)) == ["Arrhythmia", "Thyroid"] and len(found) >= 4


def test_the_quick_start_states_the_size_of_its_training_split():
    X, y = load_thyroid(return_X_y=True)
    X_train = novelty_train_test_split(X, y, random_state=0)[0]
    sentence = f"The fit trains {AutoEncoderDetector().max_epochs} epochs on {len(X_train):,} rows"
    assert sentence in _text(DOCS / "quickstart.md")


def _module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recommendation():
    """Per data set and candidate: the seed means of the recommendation study, and the family tables."""
    choose = _module(DOCS / "benchmarks" / "recommendation" / "choose.py")
    results = pd.read_csv(DOCS / "benchmarks" / "recommendation" / "results.csv", keep_default_na=False)
    per_dataset = results.groupby(["dataset", "detector"])[["roc_auc", "f1_at_k"]].mean()
    return per_dataset, choose.family_metrics(results), choose.family_ranks(results), choose.FAMILIES


def _choosing_quotes(recommendation):
    per_dataset, metrics, ranks, families = recommendation
    table = _module(DOCS / "benchmarks" / "make_readme_table.py")

    def f1(dataset, detector):
        return per_dataset.loc[(dataset, detector), "f1_at_k"]

    def row(label, detector, bold=()):
        cells = [f"{metrics.loc[detector, ('f1_at_k', family)]:.3f}" for family in families]
        cells = [f"**{cell}**" if family in bold else cell for cell, family in zip(cells, families)]
        return f"| {label} | " + " | ".join(cells) + f" | {ranks.loc[detector, 'score']:.1f} |"

    def images(folder, detector):
        rows = table.load_results(folder, DOCS / "benchmarks")
        name = table.SETTING_BY_FOLDER.get((folder, detector), detector)
        return table.per_seed(rows[rows["detector"] == name], "roc_auc").mean()

    tabular = table.load_results("tabular", DOCS / "benchmarks")
    kdd = tabular[tabular["dataset"] == "kddcup99"]

    def kdd_f1(detector):
        return kdd.loc[kdd["detector"] == detector, "f1_at_k"].mean()

    choice = "IF+LOF (standard, mean)"
    return [
        row("`recommended_detector()`", choice),
        row("IsolationForest", "IsolationForest", bold=("real",)),
        row("LocalOutlierFactor", "LOF", bold=("local", "dependency")),
        row("AutoEncoderDetector (20 epochs)", "AutoEncoder"),
        f"fails on KDD Cup 99 (AUROC {per_dataset.loc[('kddcup99', 'LOF'), 'roc_auc']:.3f})",
        f"(Thyroid {f1('thyroid', choice):.3f} vs {f1('thyroid', 'IsolationForest'):.3f}, "
        f"Arrhythmia {f1('arrhythmia', choice):.3f} vs {f1('arrhythmia', 'IsolationForest'):.3f}, "
        f"KDD Cup 99 {f1('kddcup99', choice):.3f} vs {f1('kddcup99', 'IsolationForest'):.3f})",
        f"AMADetector reaches F1@k {kdd_f1('AMADetector'):.3f} and a 5-seed ensemble of MirroredAEDetector "
        f"{kdd_f1('MirroredAEDetector-ensemble'):.3f}, against IsolationForest's {kdd_f1('IsolationForest'):.3f}",
        f"best of the three on the KDD Cup 99 subsample ({f1('kddcup99', 'AutoEncoder'):.3f})",
        f"(mean F1@k {metrics.loc['IsolationForest', ('f1_at_k', 'local')]:.3f} on local, "
        f"{metrics.loc['IsolationForest', ('f1_at_k', 'dependency')]:.3f} on dependency anomalies)",
        f"fell to F1@k {f1('kddcup99', 'IF+LOF (rank, mean)'):.3f} on KDD Cup 99",
        f"mean AUROC of {images('mnist_one_class', 'AMADetector'):.3f} over the ten digits (seeds 0 and 1), "
        f"against {images('mnist_one_class', 'IsolationForest'):.3f} for IsolationForest and "
        f"{images('mnist_one_class', 'MirroredAEDetector'):.3f} for the conv MirroredAEDetector",
        f"one Mirrored AE {images('mnist_loo', 'MirroredAEDetector'):.3f}, a 5-seed ensemble "
        f"{images('mnist_loo', 'MirroredAEDetector-ensemble'):.3f}, IsolationForest "
        f"{images('mnist_loo', 'IsolationForest'):.3f}",
    ]


def test_the_choosing_page_quotes_the_committed_results(recommendation):
    text = _text(DOCS / "choosing.md")
    stale = [quote for quote in _choosing_quotes(recommendation) if quote not in text]
    assert not stale, ("docs/choosing.md no longer matches the committed results; as the results now read:\n"
                       + "\n".join(stale))
