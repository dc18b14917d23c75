"""The prepared data in S3: where it lives and how it gets there."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.aws_errors import error_code
from pipeline.config import PipelineConfig
from pipeline.data import Encoding, PreparedData
from pipeline.errors import PipelineError

ENCODING_KEY = "encoding.json"
# User metadata on the uploaded CSVs: whether they are synthetic, which the registry records.
SYNTHETIC_METADATA = "synthetic"
CHANNEL_FILES = {"train": "train/train.csv", "validation": "validation/validation.csv"}


def data_location(config: PipelineConfig) -> tuple[str, str]:
    """(bucket, key prefix) of the prepared data, matching the definition's channels."""
    return config.bucket, f"{config.prefix}/data"


def upload_prepared(prepared: PreparedData, s3: Any, config: PipelineConfig, *, synthetic: bool) -> list[str]:
    """Upload train/validation CSVs and the encoding where the state machine reads them.

    ``synthetic`` is stored as the objects' user metadata, so the registry can tell what a model
    was trained on. Returns the S3 URIs written. Fails with a clear message when the bucket is
    missing or access is denied.
    """
    bucket, prefix = data_location(config)
    objects = {
        f"{prefix}/{CHANNEL_FILES['train']}": prepared.csv("train"),
        f"{prefix}/{CHANNEL_FILES['validation']}": prepared.csv("validation"),
        f"{prefix}/{ENCODING_KEY}": prepared.encoding.to_json().encode(),
    }
    metadata = {SYNTHETIC_METADATA: "true" if synthetic else "false"}
    written = []
    for key, body in objects.items():
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
        except ClientError as exc:
            code = error_code(exc)
            raise PipelineError(
                f"cannot upload s3://{bucket}/{key}: {code}: {exc.response['Error'].get('Message', '')}"
            ) from None
        written.append(f"s3://{bucket}/{key}")
    return written


def download_encoding(s3: Any, config: PipelineConfig) -> Encoding:
    """The encoding saved with the training data, for preparing rows exactly as training did."""
    bucket, prefix = data_location(config)
    key = f"{prefix}/{ENCODING_KEY}"
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = error_code(exc)
        raise PipelineError(
            f"cannot read s3://{bucket}/{key} ({code}): upload the prepared data first (python -m pipeline run --upload-data)"
        ) from None
    return Encoding.from_json(body.decode())
