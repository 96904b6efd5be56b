import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skanomaly.plotting import plot_image_grid, plot_roc, plot_samples_2d, plot_score_histogram  # noqa: E402


def test_plots_draw_what_they_are_given():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(50), np.ones(10)]
    score = np.r_[rng.normal(size=50), rng.normal(3, size=10)]
    assert len(plot_score_histogram(y, score).patches) == 2 * 50
    ax = plot_roc(y, {"a": score, "b": -score})
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("a (AUROC 0.9") and labels[1].startswith("b (AUROC 0.0")
    ax = plot_samples_2d({"data": rng.normal(size=(20, 2)), "boundary": rng.normal(size=(5, 2))})
    assert [c.get_offsets().shape[0] for c in ax.collections] == [20, 5]
    with pytest.raises(ValueError, match="shape"):
        plot_samples_2d({"bad": rng.normal(size=(5, 3))})


def test_image_grid_tiles_flat_and_shaped_images():
    images = np.random.RandomState(0).rand(10, 1, 28, 28)
    grid = plot_image_grid(images, n_cols=4).get_images()[0].get_array()
    assert grid.shape == (3 * 29 - 1, 4 * 29 - 1)
    flat = plot_image_grid(images.reshape(10, -1), image_shape=(1, 28, 28), n_cols=4).get_images()[0].get_array()
    np.testing.assert_array_equal(flat, grid)
    with pytest.raises(ValueError, match="image_shape"):
        plot_image_grid(images.reshape(10, -1))
