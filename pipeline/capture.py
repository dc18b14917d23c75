"""Data capture: what the endpoint was asked and answered, in SageMaker's JSON Lines format.

The endpoint config carries ``DataCaptureConfig`` (:func:`data_capture_config`); SageMaker then
writes records under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``, one JSON
object per line: ``captureData.endpointInput`` / ``endpointOutput`` (``observedContentType``,
``mode``, ``data``, ``encoding``: CSV, JSON or BASE64), ``eventMetadata`` (``eventId``,
``inferenceTime``) and ``eventVersion``. :func:`latest_records` reads the newest back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.alarms import VARIANT_NAME
from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def data_capture_config(config: PipelineConfig) -> dict[str, Any] | None:
    """CreateEndpointConfig's DataCaptureConfig, or None when capture is off."""
    c = config.capture
    if not c.enabled:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": c.sampling_percent,
        "DestinationS3Uri": config.capture_uri,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": list(c.csv_content_types)},
    }


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (bucket, ``key/prefix``)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


@dataclass(frozen=True)
class CapturedRecord:
    """One captured request and response."""

    key: str
    event_id: str
    inference_time: str
    input: str
    output: str

    def line(self, width: int = 60) -> str:
        """``time  event  input -> output``, each side cut to ``width`` characters."""

        def cut(text: str) -> str:
            flat = text.replace("\n", "\\n")
            return flat if len(flat) <= width else flat[: width - 3] + "..."

        return f"{self.inference_time}  {self.event_id}  {cut(self.input)} -> {cut(self.output)}"


def _parse(key: str, line: str) -> CapturedRecord:
    record = json.loads(line)
    data = record["captureData"]
    metadata = record.get("eventMetadata", {})
    return CapturedRecord(
        key=key,
        event_id=metadata.get("eventId", ""),
        inference_time=metadata.get("inferenceTime", ""),
        input=data.get("endpointInput", {}).get("data", ""),
        output=data.get("endpointOutput", {}).get("data", ""),
    )


def latest_records(s3: S3Client, config: PipelineConfig, limit: int) -> list[CapturedRecord]:
    """The ``limit`` newest captured records of the environment's endpoint, newest first.

    Keys sort by time (``yyyy/mm/dd/hh/mm-ss-mmm-...``), so the newest files are read first and
    reading stops once ``limit`` records are found.
    """
    bucket, prefix = split_s3_uri(config.capture_uri)
    root = f"{prefix}/{config.endpoint.name}/{VARIANT_NAME}/"
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root):
        keys.extend(item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".jsonl"))
    records: list[CapturedRecord] = []
    for key in sorted(keys, reverse=True):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        lines = [line for line in body.splitlines() if line.strip()]
        records.extend(_parse(key, line) for line in reversed(lines))
        if len(records) >= limit:
            break
    return records[:limit]
