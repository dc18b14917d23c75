"""The emulator's exception classes, imported when raised so this package imports without it.

The emulator (pipeline/emulator/, another engineer's) defines ``TrainingFailed(reason)`` and
``ModelError(status_code, message)``; they live in ``pipeline.emulator.errors`` and may also be
re-exported by ``pipeline.emulator``.
"""

from __future__ import annotations

import importlib


def _emulator_class(name: str) -> type[Exception]:
    for module_name in ("pipeline.emulator.errors", "pipeline.emulator"):
        try:
            cls = getattr(importlib.import_module(module_name), name, None)
        except ImportError:
            continue
        if cls is not None:
            return cls
    raise ImportError(f"pipeline.emulator does not define {name} (needed by pipeline.local_model)")


def training_failed(reason: str) -> Exception:
    """A ``pipeline.emulator.TrainingFailed`` carrying reason."""
    return _emulator_class("TrainingFailed")(reason)


def model_error(status_code: int, message: str) -> Exception:
    """A ``pipeline.emulator.ModelError`` carrying the container's status code and body."""
    return _emulator_class("ModelError")(status_code, message)
