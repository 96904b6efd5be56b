"""The detectors: one module per method."""

from .autoencoder import AutoEncoderDetector
from .mirrored_ae import MirroredAEDetector

__all__ = ["AutoEncoderDetector", "MirroredAEDetector"]
