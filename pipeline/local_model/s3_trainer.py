"""S3Trainer: the emulator's training hook, a CreateTrainingJob request run by the local algorithm.

What SageMaker does around the container, reproduced here: each channel's S3 prefix is copied
into the channel directory (keys relative to the prefix, so sub-folders survive), the container
trains, and /opt/ml/model is packed to ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.local_model._seam import training_failed
from pipeline.local_model.algorithm import TrainingResult, train_from_channels
from pipeline.local_model.artifact import ARTIFACT_NAME, write_model_tar
from pipeline.local_model.exceptions import AlgorithmError
from pipeline.local_model.images import check_training_image

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


def _split_s3_uri(uri: str, what: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise AlgorithmError(f"{what} {uri!r} is not an s3://bucket/prefix URI")
    return parsed.netloc, parsed.path.lstrip("/")


def artifact_s3_uri(output_path: str, job_name: str) -> str:
    """Where SageMaker puts the model: ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``."""
    return f"{output_path.rstrip('/')}/{job_name}/output/{ARTIFACT_NAME}"


def _download_prefix(s3_client: S3Client, uri: str, target: Path, channel: str) -> int:
    bucket, prefix = _split_s3_uri(uri, f"Channel {channel} S3Uri")
    count = 0
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue  # a console "folder" marker, not data
            relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
            parts = PurePosixPath(relative).parts
            if ".." in parts:
                raise AlgorithmError(f"Channel {channel}: S3 key {key!r} would leave the channel directory")
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            s3_client.download_file(bucket, key, str(destination))
            count += 1
    if count == 0:
        raise AlgorithmError(f"Channel {channel}: no S3 objects found under S3 URL {uri}")
    return count


class S3Trainer:
    """Callable ``trainer(request, s3_client)`` the emulator runs for each CreateTrainingJob.

    Raises ``pipeline.emulator.TrainingFailed(reason)`` when the job must end Failed: image whose
    xgboost is not the installed one, bad hyperparameters, channels or data, S3 errors.
    Returns the TrainingResult (the emulator may ignore it).
    """

    def __init__(self, log: Callable[[str], None] | None = None):
        """log receives the per-round evaluation lines (default: this module's logger)."""
        self._log = log or logger.info

    def __call__(self, request: Mapping[str, Any], s3_client: S3Client) -> TrainingResult:
        """Run the training job described by request, reading and writing through s3_client."""
        try:
            return self._run(request, s3_client)
        except AlgorithmError as error:
            raise training_failed(f"AlgorithmError: {error}") from None
        except (ClientError, BotoCoreError, OSError) as error:
            # SageMaker reports S3 problems of a job as a ClientError failure reason.
            raise training_failed(f"ClientError: {error}") from None

    def _run(self, request: Mapping[str, Any], s3_client: S3Client) -> TrainingResult:
        job_name = request["TrainingJobName"]
        check_training_image(request.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
        output_path = request.get("OutputDataConfig", {}).get("S3OutputPath")
        if not output_path:
            raise AlgorithmError("OutputDataConfig.S3OutputPath is missing")
        out_bucket, _ = _split_s3_uri(output_path, "S3OutputPath")
        with tempfile.TemporaryDirectory(prefix=f"{job_name}-") as tmp:
            root = Path(tmp)
            channels: dict[str, Path] = {}
            content_types: dict[str, str | None] = {}
            for config in request.get("InputDataConfig", []):
                name = config["ChannelName"]
                source = config.get("DataSource", {}).get("S3DataSource", {})
                if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise AlgorithmError(
                        f"Channel {name}: S3DataType {source['S3DataType']} is not supported locally; use S3Prefix"
                    )
                if not source.get("S3Uri"):
                    raise AlgorithmError(f"Channel {name}: DataSource.S3DataSource.S3Uri is missing")
                channels[name] = root / "input" / "data" / name
                channels[name].mkdir(parents=True)
                _download_prefix(s3_client, source["S3Uri"], channels[name], name)
                content_types[name] = config.get("ContentType")
            result = train_from_channels(
                request.get("HyperParameters", {}),
                channels,
                root / "model",
                content_types=content_types,
                log=self._log,
            )
            tar_path = write_model_tar(root / "model", root / "output" / ARTIFACT_NAME)
            destination = artifact_s3_uri(output_path, job_name)
            _, key = _split_s3_uri(destination, "artifact")
            s3_client.upload_file(str(tar_path), out_bucket, key)
            self._log(f"Uploaded {destination}")
        return result
