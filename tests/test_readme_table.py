"""The README's results table is generated from the committed results (docs/benchmarks/make_readme_table.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "benchmarks" / "make_readme_table.py"


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("make_readme_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(detector, dataset, protocol, values, classes=(None,), status="ok"):
    rows = []
    for seed, value in enumerate(values):
        for cls in classes:
            rows.append({"detector": detector, "dataset": dataset, "protocol": protocol, "seed": seed,
                         "class": cls, "status": status, "f1_at_k": value, "roc_auc": value})
    return rows


def _write(folder, rows):
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)


def test_cells_are_mean_sd_and_seed_count_with_the_best_in_bold(table, tmp_path):
    _write(tmp_path / "tabular", [
        *_rows("IsolationForest", "thyroid", "novelty", [0.7, 0.8, 0.9, 0.6, 0.7, 0.1]),  # seed 5 is not read
        *_rows("AutoEncoderDetector", "thyroid", "novelty", [0.5, 0.6]),
        *_rows("AutoEncoderDetector", "thyroid", "novelty", [0.99], status="error"),
    ])
    lines = table.build_table(tmp_path)
    header = lines[0]
    assert "IsolationForest" in header and "AutoEncoderDetector" in header
    assert "AMADetector" not in header  # a column without any result is left out
    thyroid = next(line for line in lines if line.startswith("| [Thyroid]"))
    cells = [cell.strip() for cell in thyroid.split("|")[2:-1]]
    columns = [cell.strip() for cell in header.split("|")[2:-1]]
    values = dict(zip(columns, cells))
    iforest = np.array([0.7, 0.8, 0.9, 0.6, 0.7])
    assert values["IsolationForest"] == f"**{iforest.mean():.3f} ± {iforest.std(ddof=1):.3f}** (5)"
    assert values["AutoEncoderDetector"] == f"0.550 ± {np.std([0.5, 0.6], ddof=1):.3f} (2)"
    assert values["published"] == "0.70 (Mirrored AE [1])"
    arrhythmia = next(line for line in lines if line.startswith("| [Arrhythmia]"))
    assert "—" in arrhythmia and "**" not in arrhythmia


def test_per_class_rows_average_the_classes_and_drop_incomplete_seeds(table, tmp_path):
    rows = _rows("IsolationForest", "mnist", "one-class", [0.8, 0.6], classes=(0, 1))
    rows[0]["roc_auc"] = 0.9  # seed 0: classes 0.9 and 0.8
    rows.append({**rows[-1], "seed": 2, "class": 0, "roc_auc": 0.1})  # seed 2 has one class only
    _write(tmp_path / "mnist_one_class", rows)
    lines = table.build_table(tmp_path)
    line = next(line for line in lines if line.startswith("| [MNIST-5k one-class]"))
    per_seed = np.array([0.85, 0.6])
    assert f"**{per_seed.mean():.3f} ± {per_seed.std(ddof=1):.3f}** (2)" in line


def test_check_mode_compares_the_block_between_the_markers(table, tmp_path, capsys):
    _write(tmp_path / "tabular", _rows("IsolationForest", "thyroid", "novelty", [0.7, 0.8]))
    readme = tmp_path / "README.md"
    block = [table.START, *table.build_table(tmp_path), table.END]
    readme.write_text("# title\n\n" + "\n".join(block) + "\n\nmore text\n", encoding="utf-8")
    assert table.main(["--check", str(readme), "--root", str(tmp_path)]) == 0
    readme.write_text(readme.read_text(encoding="utf-8").replace("0.750", "0.751"), encoding="utf-8")
    assert table.main(["--check", str(readme), "--root", str(tmp_path)]) == 1
    assert "differs from the committed results" in capsys.readouterr().err
    readme.write_text("# no table\n", encoding="utf-8")
    assert table.main(["--check", str(readme), "--root", str(tmp_path)]) == 1
    assert "no table block" in capsys.readouterr().err


def test_readme_table_matches_the_committed_results(table, capsys):
    status = table.main(["--check", str(ROOT / "README.md")])
    assert status == 0, capsys.readouterr().err
