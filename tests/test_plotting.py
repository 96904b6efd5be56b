import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from skanomaly.plotting import (  # noqa: E402
    plot_boundary_samples_2d,
    plot_image_grid,
    plot_precision_recall,
    plot_reconstructions,
    plot_roc,
    plot_samples_2d,
    plot_score_histogram,
    plot_training_history,
    save_example_figures,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def labelled_scores():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(200), np.ones(10)]
    score = np.r_[rng.exponential(size=200), rng.normal(6, size=10)]
    return y, score


def test_score_histogram_draws_both_classes_on_log_counts_with_threshold(labelled_scores):
    y, score = labelled_scores
    ax = plot_score_histogram(y, score, threshold=3.0, bins=20)
    assert ax.get_yscale() == "log"
    # Per class a filled and an outlined histogram over the same 20 shared bins.
    filled = [p for p in ax.patches if p.get_fill()]
    assert len(filled) == 2 * 20
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[:2] == ["normal (200)", "anomaly (10)"]
    flagged = np.mean(score > 3.0)
    assert labels[2] == f"threshold ({flagged:.1%} flagged)"
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [3.0]
    assert plot_score_histogram(y, score, log=False).get_yscale() == "linear"


def test_score_histogram_rejects_bad_labels_and_scores(labelled_scores):
    y, score = labelled_scores
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        plot_score_histogram(y * 2, score)
    with pytest.raises(ValueError, match="one label per score"):
        plot_score_histogram(y[:-1], score)
    with pytest.raises(ValueError, match="NaN"):
        plot_score_histogram(y, np.r_[score[:-1], np.nan])


def test_roc_and_precision_recall_put_several_detectors_on_one_axis(labelled_scores):
    y, score = labelled_scores
    from sklearn.metrics import average_precision_score, roc_auc_score

    ax = plot_roc(y, {"a": score, "b": -score})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == f"a (AUROC {roc_auc_score(y, score):.3f})"
    assert labels[1] == f"b (AUROC {roc_auc_score(y, -score):.3f})"
    assert labels[2] == "chance"
    ax = plot_precision_recall(y, {"a": score, "b": -score})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0] == f"a (AP {average_precision_score(y, score):.3f})"
    assert labels[1] == f"b (AP {average_precision_score(y, -score):.3f})"
    assert labels[2] == f"chance ({10 / 210:.3f})"
    with pytest.raises(ValueError, match="one class only"):
        plot_roc(np.zeros(210), score)
    with pytest.raises(ValueError, match="'b': 209 scores"):
        plot_precision_recall(y, {"a": score, "b": score[:-1]})


def test_training_history_draws_every_term_and_marks_stages():
    history = pd.DataFrame({
        "stage": ["task1", "task1", "task2", "j"],
        "stage_epoch": [1, 2, 1, 1],
        "dur": [0.1, 0.1, 0.2, 0.1],
        "train_loss": [3.0, 2.0, 1.5, 0.7],
        "critic_loss": [1.0, 0.5, np.nan, np.nan],
        "d_distance": [np.nan, np.nan, 0.2, np.nan],
        "never_recorded": [np.nan] * 4,
    }, index=pd.Index([1, 2, 3, 4], name="epoch"))
    axes = plot_training_history(history)
    assert [ax.get_title() for ax in axes] == [
        "train_loss  [task1, task2, j]", "critic_loss  [task1]", "d_distance  [task2]"]
    np.testing.assert_array_equal(axes[1].get_lines()[0].get_ydata(), [1.0, 0.5])
    # Dotted lines before the first epoch of task2 and of j.
    assert [line.get_xdata()[0] for line in axes[0].get_lines()[1:]] == [2.5, 3.5]
    axes = plot_training_history(history, terms=["critic_loss"])
    assert len(axes) == 1
    with pytest.raises(ValueError, match="not in the history"):
        plot_training_history(history, terms=["nope"])
    with pytest.raises(TypeError, match="history_"):
        plot_training_history(object())


def test_samples_2d_and_image_grids():
    rng = np.random.RandomState(0)
    ax = plot_samples_2d({"data": rng.normal(size=(20, 2)), "boundary": rng.normal(size=(5, 2))})
    assert [c.get_offsets().shape[0] for c in ax.collections] == [20, 5]
    with pytest.raises(ValueError, match="shape"):
        plot_samples_2d({"bad": rng.normal(size=(5, 3))})
    images = rng.rand(10, 1, 28, 28)
    grid = plot_image_grid(images, n_cols=4).get_images()[0].get_array()
    assert grid.shape == (3 * 29 - 1, 4 * 29 - 1)
    flat = plot_image_grid(images.reshape(10, -1), image_shape=(1, 28, 28), n_cols=4).get_images()[0].get_array()
    np.testing.assert_array_equal(flat, grid)
    with pytest.raises(ValueError, match="image_shape"):
        plot_image_grid(images.reshape(10, -1))


def test_reconstructions_pair_each_image_with_its_reconstruction():
    rng = np.random.RandomState(0)
    images = rng.rand(5, 1, 8, 8)
    axes = plot_reconstructions(images.reshape(5, -1), 1 - images.reshape(5, -1), image_shape=(1, 8, 8),
                                anomaly_score=np.arange(5.0), n_images=3)
    assert axes.shape == (2, 3)
    np.testing.assert_array_equal(axes[0, 2].get_images()[0].get_array(), images[2, 0])
    np.testing.assert_array_equal(axes[1, 2].get_images()[0].get_array(), 1 - images[2, 0])
    assert axes[0, 1].get_title() == "1"
    with pytest.raises(ValueError, match="differ in shape"):
        plot_reconstructions(images, images[:, :, :4])


def test_boundary_samples_2d_of_a_fitted_omasgan():
    from skanomaly.datasets import make_multimodal_2d
    from skanomaly.detectors import OMASGANDetector

    X, _ = make_multimodal_2d(200, random_state=0)
    detector = OMASGANDetector(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, batch_size=64,
                               random_state=0).fit(X)
    ax = plot_boundary_samples_2d(detector, X, n_samples=50, resolution=20)
    sizes = [c.get_offsets().shape[0] for c in ax.collections if hasattr(c, "get_offsets")][-3:]
    assert sizes == [200, 50, 50]
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["training data", "G(z), Task 1", "B(z), boundary (Task 2)"]
    with pytest.raises(ValueError, match="shape \\(n, 2\\)"):
        plot_boundary_samples_2d(detector, np.zeros((5, 3)))


def test_save_example_figures_writes_every_open_figure_where_the_variable_says(tmp_path, monkeypatch):
    monkeypatch.setenv("SKANOMALY_EXAMPLES_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setattr("sys.argv", ["examples/plot_something.py"])
    assert save_example_figures() == [] and not (tmp_path / "out").exists()  # nothing open: nothing written
    (tmp_path / "out" / "plot_something").mkdir(parents=True)
    (tmp_path / "out" / "plot_something" / "figure_9.png").write_bytes(b"from an earlier run")
    plt.subplots()
    plt.subplots()
    paths = save_example_figures()
    assert paths == [tmp_path / "out" / "plot_something" / f"figure_{i}.png" for i in (1, 2)]
    assert sorted((tmp_path / "out" / "plot_something").iterdir()) == paths
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)


def test_save_example_figures_defaults_to_a_folder_in_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SKANOMALY_EXAMPLES_OUTPUT", "")  # empty counts as unset
    plt.subplots()
    assert save_example_figures("demo") == [tmp_path / "skanomaly_examples" / "demo" / "figure_1.png"]
    assert save_example_figures("demo", folder="~/elsewhere")[0].parent == tmp_path / "elsewhere" / "demo"

