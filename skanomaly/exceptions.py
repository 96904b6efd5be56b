"""Exceptions and warnings raised by skanomaly."""

__all__ = ["DatasetUnavailableError", "DetectorUnavailableError", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Training diverged, or a fitted model produced non-finite scores.

    Raised instead of returning NaN scores or a silently broken model. During ``fit``, every detector's
    training is watched by one guard (:class:`skanomaly.base.DivergenceGuard`): a non-finite loss term, a loss
    term far beyond the scale of the training data, or one growing by many orders of magnitude over its first
    epoch's value stops training, and so do non-finite scores of the training data after training. The message
    names the detector, the stage, the epoch and the loss term, and what to change in that detector's own
    parameters (usually: scale the input, lower the learning rate, strengthen the critics' Lipschitz control).
    The detector is then left unfitted.
    """


class DetectorUnavailableError(ImportError):
    """A registered detector cannot be built because its code or an optional dependency is missing.

    The benchmark runner records such detectors as ``status="skipped"`` with the message, instead of failing.
    """


class DatasetUnavailableError(ValueError):
    """A dataset a benchmark needs cannot be loaded: its data file is missing, unreadable or damaged, or an
    optional package its loader needs is not installed.

    The benchmark runner loads every dataset once before the first run and raises this instead of starting, so
    one message (the loader's: which file, the folders looked in, how to get it and where to put it) replaces a
    failed row per run. The command line exits with status 66.
    """
