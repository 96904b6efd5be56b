"""The detectors: one module per method.

Each detector's module is imported on first use of its name (PEP 562): ``from skanomaly.detectors import
AMADetector`` loads ``ama`` only.
"""

import importlib

# public name -> submodule that defines it
_LAZY_NAMES = {
    "AMADetector": "ama",
    "AutoEncoderDetector": "autoencoder",
    "DeepSVDDDetector": "deep_svdd",
    "MirroredAEDetector": "mirrored_ae",
    "OMASGANDetector": "omasgan",
}

__all__ = list(_LAZY_NAMES)


def __getattr__(name):
    if name not in _LAZY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
