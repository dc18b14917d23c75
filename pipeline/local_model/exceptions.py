"""Exceptions of the local built-in XGBoost algorithm and model host."""

from __future__ import annotations

from pipeline.errors import PipelineError


class AlgorithmError(PipelineError):
    """The training job cannot run: bad hyperparameter, channel, data or image; the message says why."""


class ModelLoadError(PipelineError):
    """A model artifact cannot be downloaded, unpacked or loaded by the local model host."""
