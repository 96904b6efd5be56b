"""Plots for anomaly detection: scores, ROC and precision-recall curves, training history, samples, images,
explanations.

Needs matplotlib (``pip install "skanomaly[plot]"``), which is imported only when a function is called. Every
function draws on the ``ax`` it is given (a new figure when ``None``) and returns what it drew on.

Scores follow the plotting convention of the literature: the x axes show *anomaly* scores (higher = more
anomalous), i.e. ``-detector.score_samples(X)``; the detector's threshold on that axis is ``-detector.offset_``.
Labels are 1 = anomaly, 0 = normal.
"""

import os
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "plot_score_histogram",
    "plot_roc",
    "plot_precision_recall",
    "plot_training_history",
    "plot_samples_2d",
    "plot_boundary_samples_2d",
    "plot_image_grid",
    "plot_reconstructions",
    "plot_contributions",
    "plot_contribution_map",
    "save_example_figures",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('skanomaly.plotting needs matplotlib: pip install "skanomaly[plot]"') from exc
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    return _pyplot().figure().add_subplot()


def _labels(y_true, n):
    y_true = np.asarray(y_true)
    if y_true.shape != (n,):
        raise ValueError(f"y_true has shape {y_true.shape}; expected ({n},), one label per score.")
    values = set(np.unique(y_true).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"y_true must hold 0 (normal) and 1 (anomaly); got the values {sorted(values)}.")
    return y_true.astype(int)


def _score_dict(y_true, anomaly_scores):
    if not isinstance(anomaly_scores, dict):
        anomaly_scores = {"detector": anomaly_scores}
    if not anomaly_scores:
        raise ValueError("anomaly_scores is empty: pass at least one detector's scores.")
    scores = {name: np.asarray(score, dtype=float).ravel() for name, score in anomaly_scores.items()}
    n = len(next(iter(scores.values())))
    y_true = _labels(y_true, n)
    if len(set(y_true.tolist())) < 2:
        raise ValueError("y_true holds one class only; curves need normal (0) and anomalous (1) rows.")
    for name, score in scores.items():
        if score.shape != (n,):
            raise ValueError(f"{name!r}: {score.shape[0]} scores for {n} labels.")
        if not np.all(np.isfinite(score)):
            raise ValueError(f"{name!r}: the scores hold NaN or infinite values.")
    return y_true, scores


def plot_score_histogram(y_true, anomaly_score, *, threshold=None, bins=50, log=True, ax=None):
    """Histograms of the anomaly scores of normal (0) and anomalous (1) rows, with the detector's threshold.

    Both classes share the bin edges and are drawn as outlines over a light fill, so the smaller class stays
    visible. Counts are on a log axis by default: anomaly scores are usually skewed (most normal rows near the
    lowest score, a long tail), and on a linear axis the tail and the anomalies vanish beside the first bin.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    anomaly_score : array-like of shape (n_samples,)
        Higher = more anomalous, e.g. ``-detector.score_samples(X)``.
    threshold : float or None, default=None
        Drawn as a vertical line: rows to its right are flagged. For a fitted skanomaly detector
        (or any detector with sklearn's ``offset_``) pass ``-detector.offset_``.
    bins : int, default=50
        Number of shared bins.
    log : bool, default=True
        Log-scaled counts. ``False`` draws densities on a linear axis instead.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    anomaly_score = np.asarray(anomaly_score, dtype=float).ravel()
    y_true = _labels(y_true, len(anomaly_score))
    if not np.all(np.isfinite(anomaly_score)):
        raise ValueError("anomaly_score holds NaN or infinite values.")
    edges = np.histogram_bin_edges(anomaly_score, bins=bins)
    for label, name, color in ((0, "normal", "tab:blue"), (1, "anomaly", "tab:red")):
        values = anomaly_score[y_true == label]
        if len(values) == 0:
            continue
        kwargs = dict(bins=edges, density=not log, log=log, color=color)
        ax.hist(values, alpha=0.25, **kwargs)
        ax.hist(values, histtype="step", linewidth=1.5, label=f"{name} ({len(values)})", **kwargs)
    if threshold is not None:
        flagged = np.mean(anomaly_score > threshold)
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2,
                   label=f"threshold ({flagged:.1%} flagged)")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("rows (log scale)" if log else "density")
    ax.legend()
    return ax


def plot_roc(y_true, anomaly_scores, *, ax=None):
    """ROC curves of one or several detectors on one axis, with their AUROC in the legend.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    anomaly_scores : dict of str to array-like, or array-like
        Anomaly scores (higher = more anomalous) per detector name; a single array is named "detector".
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    y_true, scores = _score_dict(y_true, anomaly_scores)
    ax = _axes(ax)
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y_true, score)
        ax.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC")
    ax.legend(loc="lower right")
    return ax


def plot_precision_recall(y_true, anomaly_scores, *, ax=None):
    """Precision-recall curves of the anomaly class for several detectors, with average precision (AP).

    The dotted line is the precision of flagging at random (the share of anomalies). With few anomalies this
    curve separates detectors that the ROC curve shows as close.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 = anomaly, 0 = normal.
    anomaly_scores : dict of str to array-like, or array-like
        Anomaly scores (higher = more anomalous) per detector name; a single array is named "detector".
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y_true, scores = _score_dict(y_true, anomaly_scores)
    ax = _axes(ax)
    for name, score in scores.items():
        precision, recall, _ = precision_recall_curve(y_true, score)
        ax.step(recall, precision, where="post",
                label=f"{name} (AP {average_precision_score(y_true, score):.3f})")
    ax.axhline(y_true.mean(), color="grey", linestyle=":", linewidth=1, label=f"chance ({y_true.mean():.3f})")
    ax.set_xlabel("recall of the anomaly class")
    ax.set_ylabel("precision of the anomaly class")
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall")
    ax.legend(loc="upper right")
    return ax


_NOT_LOSS_COLUMNS = {"dur", "stage", "stage_epoch", "epoch"}


def plot_training_history(history, *, terms=None, n_cols=3, axes=None):
    """Every loss term of a fit per epoch, one panel per term, with stage boundaries marked.

    Parameters
    ----------
    history : pandas.DataFrame or fitted detector
        A detector's ``history_`` (one row per epoch, one column per term), or the detector itself.
    terms : list of str or None, default=None
        Columns to draw; ``None`` draws every numeric column except the epoch duration and stage counters.
    n_cols : int, default=3
        Panels per row; a new figure gives each panel 3.6 x 2.6 inches with 10-point labels, which a page
        column about 850 pixels wide shows at 11 pixels or more when ``n_cols`` is 3.
    axes : array of matplotlib Axes or None, default=None
        At least ``len(terms)`` axes to draw on; a new figure when ``None``.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The panels drawn on, in the order of ``terms``.

    Notes
    -----
    A detector trained in stages (OMASGAN's ``task1``, ``task2``, ``task3``, ``j``) has a ``stage`` column; each
    stage's first epoch is marked by a dotted line and named in the panels' titles. A term is drawn only for the
    epochs where it was recorded.
    """
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    if not isinstance(history, pd.DataFrame):
        if not hasattr(history, "history_"):
            raise TypeError("history must be a DataFrame or a fitted detector with a history_ attribute.")
        history = history.history_
    if len(history) == 0:
        raise ValueError("The history is empty: no epoch was recorded.")
    if terms is None:
        terms = [column for column in history.columns
                 if column not in _NOT_LOSS_COLUMNS and pd.api.types.is_numeric_dtype(history[column])
                 and history[column].notna().any()]
    else:
        missing = [term for term in terms if term not in history.columns]
        if missing:
            raise ValueError(f"Terms {missing} are not in the history; it has {list(history.columns)}.")
    if not terms:
        raise ValueError("The history has no numeric loss column to draw.")
    epochs = np.arange(1, len(history) + 1)
    new_figure = axes is None
    if new_figure:
        n_rows = int(np.ceil(len(terms) / n_cols))
        width = min(n_cols, len(terms))
        fig, axes = _pyplot().subplots(n_rows, width, figsize=(3.6 * width, 2.6 * n_rows), squeeze=False)
        for extra in axes.ravel()[len(terms):]:
            extra.set_visible(False)
    axes = np.asarray(axes).ravel()
    if len(axes) < len(terms):
        raise ValueError(f"{len(terms)} terms need {len(terms)} axes; got {len(axes)}.")
    starts = {}
    if "stage" in history.columns:
        stage = history["stage"].to_numpy()
        starts = {epochs[i]: stage[i] for i in range(len(stage)) if i == 0 or stage[i] != stage[i - 1]}
    for ax, term in zip(axes, terms):
        values = history[term].to_numpy(dtype=float)
        recorded = np.isfinite(values)
        ax.plot(epochs[recorded], values[recorded], marker="." if recorded.sum() < 30 else None, linewidth=1.2)
        for epoch in list(starts)[1:]:
            ax.axvline(epoch - 0.5, color="grey", linestyle=":", linewidth=1)
        title = term
        if starts:
            stages = sorted({history["stage"].iloc[i] for i in np.flatnonzero(recorded)},
                            key=list(starts.values()).index)
            title += f"  [{', '.join(map(str, stages))}]"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=10)
    if new_figure:
        axes[0].figure.tight_layout()
    return axes[:len(terms)]


def plot_samples_2d(samples, *, ax=None, size=4, alpha=0.6):
    """Scatter several 2-D point sets (e.g. data, generated samples, boundary samples) on one axis.

    Parameters
    ----------
    samples : dict of str to array-like of shape (n, 2)
        Point sets by legend label, drawn in order.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.
    size : float, default=4
        Marker size.
    alpha : float, default=0.6
        Marker opacity.

    Returns
    -------
    ax : matplotlib Axes
    """
    for label, points in samples.items():
        points = np.asarray(points)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"{label!r}: expected points of shape (n, 2), got {points.shape}.")
    ax = _axes(ax)
    for label, points in samples.items():
        points = np.asarray(points)
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=alpha, label=label)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3)
    return ax


def plot_boundary_samples_2d(detector, X, *, n_samples=500, resolution=120, random_state=0, ax=None):
    """A fitted 2-D OMASGAN: its anomaly score over the plane, the data, ``G(z)`` and the boundary ``B(z)``.

    Parameters
    ----------
    detector : fitted OMASGANDetector
        Fitted on 2-D rows, with a boundary generator (``stop_after`` is not ``"task1"``).
    X : array-like of shape (n, 2)
        The training rows (drawn in black).
    n_samples : int, default=500
        Samples drawn from ``G`` (Task 1) and from ``B`` (Task 2).
    resolution : int, default=120
        Grid points per side for the score background.
    random_state : int, default=0
        Seeds the latent codes of the samples.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2); got {X.shape}.")
    if getattr(detector, "n_features_in_", None) != 2:
        raise ValueError("plot_boundary_samples_2d needs a detector fitted on 2-D rows.")
    generated = detector.generate(n_samples, network="task1", random_state=random_state)
    boundary = detector.boundary_samples(n_samples, random_state=random_state)
    points = np.vstack([X, generated, boundary])
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.05 * (high - low)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid = np.column_stack([g.ravel() for g in np.meshgrid(xs, ys)])
    score = -detector.score_samples(grid).reshape(resolution, resolution)
    ax = _axes(ax)
    image = ax.contourf(xs, ys, score, levels=20, cmap="Greys", alpha=0.6)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="anomaly score")
    ax.scatter(X[:, 0], X[:, 1], s=2, c="black", alpha=0.5, label="training data")
    ax.scatter(generated[:, 0], generated[:, 1], s=5, c="tab:blue", alpha=0.7, label="G(z), Task 1")
    ax.scatter(boundary[:, 0], boundary[:, 1], s=5, c="tab:red", alpha=0.7, label="B(z), boundary (Task 2)")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3, fontsize=8)
    return ax


def _as_images(images, image_shape, name="images"):
    images = np.asarray(images, dtype=float)
    if images.ndim == 2:
        if image_shape is None:
            raise ValueError(f"Flat rows of {name} need image_shape=(C, H, W).")
        images = images.reshape(len(images), *image_shape)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise ValueError(f"{name} must be flat rows, (n, H, W) or (n, C, H, W); got shape {images.shape}.")
    return images


def _tile(images, n_cols):
    n, channels, height, width = images.shape
    n_rows = int(np.ceil(n / n_cols))
    canvas = np.ones((n_rows * (height + 1) - 1, n_cols * (width + 1) - 1, channels))
    for i, image in enumerate(images):
        row, col = divmod(i, n_cols)
        top, left = row * (height + 1), col * (width + 1)
        canvas[top:top + height, left:left + width] = image.transpose(1, 2, 0)
    return canvas


def _show(ax, canvas):
    if canvas.shape[-1] == 1:
        ax.imshow(canvas[..., 0], cmap="gray")
    else:
        ax.imshow(np.clip(canvas, 0, 1))
    ax.set_axis_off()


def plot_image_grid(images, *, image_shape=None, n_cols=8, ax=None):
    """Tile images (e.g. generated boundary samples) into one picture.

    Parameters
    ----------
    images : array-like of shape (n, C*H*W), (n, H, W) or (n, C, H, W)
        Grey images are shown with their own value range; colour images are clipped to [0, 1].
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` for flat rows.
    n_cols : int, default=8
        Images per row.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    canvas = _tile(_as_images(images, image_shape), n_cols)
    ax = _axes(ax)
    _show(ax, canvas)
    return ax


def plot_reconstructions(images, reconstructions, *, image_shape=None, anomaly_score=None, n_images=8,
                         axes=None):
    """Images above their reconstructions (autoencoder detectors), with each image's anomaly score.

    Parameters
    ----------
    images : array-like of shape (n, C*H*W), (n, H, W) or (n, C, H, W)
        The inputs.
    reconstructions : array-like of the same shape
        What the detector's autoencoder made of them.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` for flat rows.
    anomaly_score : array-like of shape (n,) or None, default=None
        Written above each column when given.
    n_images : int, default=8
        The first ``n_images`` pairs are drawn.
    axes : array of 2 x n_images matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    axes : ndarray of shape (2, n_images) of matplotlib Axes
        Top row the inputs, bottom row the reconstructions.
    """
    images = _as_images(images, image_shape)
    reconstructions = _as_images(reconstructions, image_shape, "reconstructions")
    if images.shape != reconstructions.shape:
        raise ValueError(f"images {images.shape} and reconstructions {reconstructions.shape} differ in shape.")
    n_images = min(n_images, len(images))
    if axes is None:
        _, axes = _pyplot().subplots(2, n_images, figsize=(1.3 * n_images, 3.0), squeeze=False)
    axes = np.asarray(axes).reshape(2, -1)
    if axes.shape[1] < n_images:
        raise ValueError(f"{n_images} image pairs need 2 x {n_images} axes; got {axes.shape}.")
    score = None if anomaly_score is None else np.asarray(anomaly_score, dtype=float).ravel()
    for i in range(n_images):
        _show(axes[0, i], _tile(images[i:i + 1], 1))
        _show(axes[1, i], _tile(reconstructions[i:i + 1], 1))
        if score is not None:
            axes[0, i].set_title(f"{score[i]:.3g}", fontsize=8)
    axes[0, 0].text(-0.1, 0.5, "input", transform=axes[0, 0].transAxes, rotation=90, ha="right", va="center")
    axes[1, 0].text(-0.1, 0.5, "reconstruction", transform=axes[1, 0].transAxes, rotation=90, ha="right",
                    va="center")
    return axes


def plot_contributions(explanation, row=0, *, n_features=10, ax=None):
    """Bar chart of the features that contribute most to one row's anomaly score.

    Parameters
    ----------
    explanation : Bunch
        What :func:`skanomaly.explanations.explain` returns.
    row : int, default=0
        Which explained row to draw.
    n_features : int, default=10
        The features with the largest absolute contributions are drawn, the largest on top; red bars make the row
        more anomalous, blue ones more normal.
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.

    Returns
    -------
    ax : matplotlib Axes
    """
    contributions = np.asarray(explanation["contributions"], dtype=float)
    if contributions.ndim != 2 or not -contributions.shape[0] <= row < contributions.shape[0]:
        raise ValueError(f"row={row} is not a row of the {contributions.shape[0]} explained rows.")
    values = contributions[row]
    names = np.asarray(explanation["feature_names"], dtype=object)
    order = np.argsort(-np.abs(values), kind="stable")[:max(1, int(n_features))][::-1]
    ax = _axes(ax)
    ax.barh(np.arange(len(order)), values[order], color=np.where(values[order] > 0, "tab:red", "tab:blue"))
    ax.set_yticks(np.arange(len(order)), [str(name) for name in names[order]])
    ax.axvline(0.0, color="black", linewidth=0.8)
    score, base = explanation["anomaly_scores"][row], explanation["baseline_scores"][row]
    ax.set_xlabel("contribution to the anomaly score")
    ax.set_title(f"anomaly score {score:.3g} (reference {base:.3g}), {explanation['method']}", fontsize=9)
    return ax


def plot_contribution_map(image, contributions, *, image_shape=None, ax=None, alpha=0.6):
    """One image with its per-pixel contributions to the anomaly score laid over it.

    Parameters
    ----------
    image : array-like of shape (C*H*W,), (H, W) or (C, H, W)
        The explained image.
    contributions : array-like of the same number of values
        Its contributions (a row of ``explain(...)["contributions"]``); colour channels are summed per pixel.
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` for flat rows (``explain(...)["image_shape"]``).
    ax : matplotlib Axes or None, default=None
        Axes to draw on; a new figure when ``None``.
    alpha : float, default=0.6
        Opacity of the map; red pixels make the image more anomalous, blue ones more normal, on a colour scale
        symmetric about 0.

    Returns
    -------
    ax : matplotlib Axes
    """
    picture = _as_images(np.asarray(image, dtype=float).reshape(1, -1) if np.ndim(image) == 1
                         else np.asarray(image, dtype=float)[None], image_shape)[0]
    values = np.asarray(contributions, dtype=float).reshape(-1)
    if values.size != picture.size:
        raise ValueError(f"contributions has {values.size} values; the image has {picture.size}.")
    heat = values.reshape(picture.shape).sum(axis=0)
    ax = _axes(ax)
    _show(ax, _tile(picture[None], 1))
    limit = float(np.max(np.abs(heat))) or 1.0
    overlay = ax.imshow(heat, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=alpha)
    ax.figure.colorbar(overlay, ax=ax, fraction=0.046, label="contribution")
    return ax


EXAMPLES_OUTPUT = "SKANOMALY_EXAMPLES_OUTPUT"


def save_example_figures(name=None, *, folder=None, dpi=100):
    """Save every open matplotlib figure as a PNG file: how a gallery example run from a terminal keeps its figures.

    The examples end with this call in a block of its own. Run as scripts (``python examples/plot_....py``), they
    save their figures to ``<folder>/<name>/figure_1.png``, ``figure_2.png``, ... before ``plt.show()``, so a
    headless run (no display, matplotlib's Agg backend) leaves them on disk. In the documentation's gallery
    every block's figures are collected and closed after the block, so this call finds none and writes nothing.

    Parameters
    ----------
    name : str or None, default=None
        Subfolder of this run's figures; ``None`` uses the running script's file name without ``.py``.
    folder : str or os.PathLike or None, default=None
        Where the subfolder goes: this argument, else the environment variable ``SKANOMALY_EXAMPLES_OUTPUT``
        when it is set and not empty, else ``~/skanomaly_examples``. A leading ``~`` is expanded.
    dpi : float, default=100
        Resolution of the PNG files.

    Returns
    -------
    paths : list of pathlib.Path
        The files written, in figure order; empty (and nothing created) when no figure is open. Files
        ``figure_*.png`` left in the subfolder by an earlier run are removed first.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from skanomaly.plotting import save_example_figures
    >>> plt.close("all")
    >>> save_example_figures("nothing_open")
    []
    """
    plt = _pyplot()
    numbers = plt.get_fignums()
    if not numbers:
        return []
    if folder is None:
        folder = os.environ.get(EXAMPLES_OUTPUT) or "~/skanomaly_examples"
    if name is None:
        name = Path(sys.argv[0]).stem or "figures"
    target = Path(folder).expanduser().resolve() / name
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("figure_*.png"):
        stale.unlink()
    paths = []
    for i, number in enumerate(numbers, start=1):
        path = target / f"figure_{i}.png"
        plt.figure(number).savefig(path, dpi=dpi)
        paths.append(path)
    return paths
