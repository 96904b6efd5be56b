"""The detectors: one module per method."""

from .ama import AMADetector
from .autoencoder import AutoEncoderDetector
from .mirrored_ae import MirroredAEDetector
from .omasgan import OMASGANDetector

__all__ = ["AMADetector", "AutoEncoderDetector", "MirroredAEDetector", "OMASGANDetector"]
