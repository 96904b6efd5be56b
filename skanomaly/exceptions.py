"""Exceptions and warnings raised by skanomaly."""

__all__ = ["TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss, or a fitted model produced non-finite scores.

    Raised instead of returning NaN scores. Scaling the input, lowering the learning rate or strengthening the
    Lipschitz control of the critics usually helps.
    """
