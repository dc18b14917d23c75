"""The seams for a real model: what a trainer and a model host look like."""

from __future__ import annotations

from typing import Any, Protocol


class Trainer(Protocol):
    """Runs one training job.

    Called with the CreateTrainingJob request (TrainingJobName, HyperParameters,
    InputDataConfig, OutputDataConfig, ...) and an S3 client on the emulator. It must write
    ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``; raising
    ``pipeline.emulator.TrainingFailed(reason)`` ends the job Failed with that reason. What it
    returns may have a ``log`` (the algorithm's output lines): the job's FinalMetricDataList is
    read from it with the image's metric definitions, as SageMaker reads CloudWatch Logs.
    """

    def __call__(self, request: dict[str, Any], s3_client: Any) -> object: ...


class ModelHost(Protocol):
    """Serves models for endpoints."""

    def load(self, endpoint_name: str, model_data_url: str, s3_client: Any) -> None:
        """Load the model an endpoint serves once it becomes InService on a config."""

    def unload(self, endpoint_name: str) -> object:
        """Forget an endpoint (it was deleted); whatever it returns is ignored."""

    def invoke(self, endpoint_name: str, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """Answer one InvokeEndpoint: (body, content type); may raise ModelError."""
