"""The emulator's exception classes, imported when raised: importing ``pipeline.emulator``
loads moto, which training and serving on their own do not need."""

from __future__ import annotations


def training_failed(reason: str) -> Exception:
    """A ``pipeline.emulator.TrainingFailed`` carrying reason."""
    from pipeline.emulator.errors import TrainingFailed

    return TrainingFailed(reason)


def model_error(status_code: int, message: str) -> Exception:
    """A ``pipeline.emulator.ModelError`` carrying the container's status code and body."""
    from pipeline.emulator.errors import ModelError

    return ModelError(status_code, message)
