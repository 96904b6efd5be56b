"""The detectors: one module per method."""

from .autoencoder import AutoEncoderDetector

__all__ = ["AutoEncoderDetector"]
