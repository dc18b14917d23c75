"""Data capture on the emulator: invocations written to S3 as SageMaker writes them.

Each sampled InvokeEndpoint on an endpoint whose config has ``DataCaptureConfig`` becomes one
JSON Lines object at ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``
(SageMaker buffers several records per file; the emulator writes one per call, so a read sees it
at once). Sampling is deterministic: ``InitialSamplingPercentage`` of the calls, evenly spread.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from pipeline.emulator import runtime as rt


def _encoded(data: bytes, content_type: str, header: dict[str, Any]) -> tuple[str, str]:
    base = content_type.split(";")[0].strip()
    if base in (header.get("CsvContentTypes") or ["text/csv"]):
        return data.decode("utf-8", "replace"), "CSV"
    if base in (header.get("JsonContentTypes") or ["application/json"]):
        return data.decode("utf-8", "replace"), "JSON"
    return base64.b64encode(data).decode("ascii"), "BASE64"


def _sampled(seen: dict[tuple[str, str, str], int], key: tuple[str, str, str], percent: int) -> bool:
    count = seen.get(key, 0) + 1
    seen[key] = count
    return (count * percent) // 100 > ((count - 1) * percent) // 100


def capture(
    backend: Any, endpoint_name: str, request: bytes, request_type: str, answer: bytes, answer_type: str
) -> None:
    """Write one capture record for this call if the serving config captures it."""
    runtime = rt.current()
    endpoint = backend.endpoints.get(endpoint_name)
    if runtime is None or endpoint is None or endpoint.endpoint_config_name not in backend.endpoint_configs:
        return
    config = backend.endpoint_configs[endpoint.endpoint_config_name]
    settings = getattr(config, "data_capture_config", None) or {}
    if not settings.get("EnableCapture", True) or not settings.get("DestinationS3Uri"):
        return
    key = (backend.account_id, backend.region_name, endpoint_name)
    if not _sampled(runtime.capture_counts, key, int(settings.get("InitialSamplingPercentage", 0))):
        return
    modes = {option.get("CaptureMode") for option in settings.get("CaptureOptions") or []}
    header = settings.get("CaptureContentTypeHeader") or {}
    data: dict[str, Any] = {}
    # One side of the exchange per captured mode: (record field, CaptureMode, payload, content type).
    sides = (("endpointInput", "Input", request, request_type), ("endpointOutput", "Output", answer, answer_type))
    for field, mode, payload, content_type in sides:
        if modes & {mode, "InputAndOutput"}:
            text, encoding = _encoded(payload, content_type, header)
            data[field] = {
                "observedContentType": content_type,
                "mode": mode.upper(),
                "data": text,
                "encoding": encoding,
            }
    now = runtime.utcnow()
    event_id = str(uuid.uuid4())
    record = {
        "captureData": data,
        "eventMetadata": {"eventId": event_id, "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"},
        "eventVersion": "0",
    }
    variant = config.production_variants[0]["VariantName"]
    bucket, _, prefix = settings["DestinationS3Uri"].removeprefix("s3://").partition("/")
    name = f"{now:%M-%S}-{now.microsecond // 1000:03d}-{event_id}.jsonl"
    object_key = "/".join(
        part for part in (prefix.strip("/"), endpoint_name, variant, f"{now:%Y/%m/%d/%H}", name) if part
    )
    runtime.s3_client_factory(backend.region_name).put_object(
        Bucket=bucket, Key=object_key, Body=(json.dumps(record) + "\n").encode(), ContentType="application/jsonl"
    )
