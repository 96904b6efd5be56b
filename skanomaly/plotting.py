"""Plots for anomaly detection: score histograms, ROC curves, 2-D samples and image grids.

Needs matplotlib (``pip install "skanomaly[plot]"``). Every function draws on ``ax`` (a new figure when
``None``) and returns it.
"""

import numpy as np

__all__ = ["plot_score_histogram", "plot_roc", "plot_samples_2d", "plot_image_grid"]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('skanomaly.plotting needs matplotlib: pip install "skanomaly[plot]"') from exc
    return plt.figure().add_subplot()


def plot_score_histogram(y_true, anomaly_score, *, bins=50, ax=None):
    """Overlaid histograms of the anomaly scores of normal (0) and anomalous (1) samples.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous (e.g. ``-detector.score_samples(X)``).
    bins : int, default=50
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    y_true = np.asarray(y_true)
    anomaly_score = np.asarray(anomaly_score, dtype=float)
    edges = np.histogram_bin_edges(anomaly_score, bins=bins)
    for label, name in ((0, "normal"), (1, "anomaly")):
        ax.hist(anomaly_score[y_true == label], bins=edges, alpha=0.6, density=True, label=name)
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("density")
    ax.legend()
    return ax


def plot_roc(y_true, anomaly_scores, *, ax=None):
    """ROC curves of one or several detectors, with their AUROC in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    anomaly_scores : dict of str to array-like, or array-like
        Anomaly scores (higher = more anomalous) per detector name; a single array is named "detector".
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    ax = _axes(ax)
    if not isinstance(anomaly_scores, dict):
        anomaly_scores = {"detector": anomaly_scores}
    for name, score in anomaly_scores.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right")
    return ax


def plot_samples_2d(samples, *, ax=None, size=4, alpha=0.6):
    """Scatter several 2-D point sets (e.g. data, generated samples, boundary samples) on one axis.

    Parameters
    ----------
    samples : dict of str to array-like of shape (n, 2)
        Point sets by legend label, drawn in order.
    ax : matplotlib Axes or None
    size : float, default=4
        Marker size.
    alpha : float, default=0.6

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    for label, points in samples.items():
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"{label!r}: expected points of shape (n, 2), got {points.shape}.")
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=alpha, label=label)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3)
    return ax


def plot_image_grid(images, *, image_shape=None, n_cols=8, ax=None):
    """Tile images (e.g. generated boundary samples) into one picture.

    Parameters
    ----------
    images : array-like of shape (n, C*H*W), (n, H, W) or (n, C, H, W)
        Values are shown as they are (clipped to [0, 1] for colour images).
    image_shape : tuple of int or None
        ``(C, H, W)`` for flat rows.
    n_cols : int, default=8
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 2:
        if image_shape is None:
            raise ValueError("Flat image rows need image_shape=(C, H, W).")
        images = images.reshape(len(images), *image_shape)
    if images.ndim == 3:
        images = images[:, None]
    n, channels, height, width = images.shape
    n_rows = int(np.ceil(n / n_cols))
    canvas = np.ones((n_rows * (height + 1) - 1, n_cols * (width + 1) - 1, channels))
    for i, image in enumerate(images):
        row, col = divmod(i, n_cols)
        canvas[row * (height + 1):row * (height + 1) + height, col * (width + 1):col * (width + 1) + width] = (
            image.transpose(1, 2, 0)
        )
    ax = _axes(ax)
    if channels == 1:
        ax.imshow(canvas[..., 0], cmap="gray")
    else:
        ax.imshow(np.clip(canvas, 0, 1))
    ax.set_axis_off()
    return ax
