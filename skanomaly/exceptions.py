"""Exceptions and warnings raised by skanomaly."""

__all__ = ["DetectorUnavailableError", "TrainingDivergedError"]


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
