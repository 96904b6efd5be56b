"""The detectors: one module per method."""

from .autoencoder import AutoEncoderDetector
from .mirrored_ae import MirroredAEDetector
from .omasgan import OMASGANDetector

__all__ = ["AutoEncoderDetector", "MirroredAEDetector", "OMASGANDetector"]
