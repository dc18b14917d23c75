"""The SageMaker built-in XGBoost algorithm (image 3.0-5) run locally: training and serving contracts.

Public API: train_from_channels / TrainingResult (training contract), S3Trainer (the emulator's
training hook), LocalModelHost (the emulator's model host), AlgorithmError / ModelLoadError.
"""

from __future__ import annotations

from pipeline.local_model.algorithm import TrainingResult, train_from_channels
from pipeline.local_model.exceptions import AlgorithmError, ModelLoadError
from pipeline.local_model.host import LocalModelHost
from pipeline.local_model.s3_trainer import S3Trainer

__all__ = [
    "AlgorithmError",
    "LocalModelHost",
    "ModelLoadError",
    "S3Trainer",
    "TrainingResult",
    "train_from_channels",
]
