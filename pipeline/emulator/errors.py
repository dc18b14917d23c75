"""Exceptions of the embedded AWS emulator, and the ones its hooks raise."""

from __future__ import annotations

from pipeline.errors import PipelineError, UsageError


class EmulatorError(PipelineError):
    """The emulator cannot start or cannot do what was asked."""


class MotoIncompatibleError(EmulatorError):
    """The installed moto is not the version whose internals the emulator extends."""


class FaultSpecError(UsageError):
    """A fault specification (Python or JSON) is malformed; the message names the bad value."""


class TrainingFailed(Exception):
    """Raised by a trainer hook: the training job ends Failed with this reason."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class ModelError(Exception):
    """Raised by a model host's invoke: surfaces as SageMaker Runtime's ModelError (HTTP 424)."""

    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(f"{status_code}: {message}")
