"""SageMaker Runtime InvokeEndpoint routed to the model host, with invoke-time faults."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends

from pipeline.emulator import capture, endpoints
from pipeline.emulator import runtime as rt
from pipeline.emulator.errors import ModelError
from pipeline.emulator.faults import InvokeFault


def _error(status: int, code: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    # moto takes the status from the "status" header, not from the tuple.
    headers = {"x-amzn-ErrorType": code, "Content-Type": "application/json", "status": str(status)}
    return status, headers, json.dumps({"__type": code, **body})


def _model_error(account: str, name: str, status: int, message: str) -> tuple[int, dict[str, str], str]:
    # AWS wraps a container failure in ModelError (HTTP 424) with the original status.
    return _error(
        424,
        "ModelError",
        {
            "message": f'Received server error ({status}) from primary with message "{message}". '
            f"See https://console.aws.amazon.com/cloudwatch/home?#logEventViewer:group="
            f"/aws/sagemaker/Endpoints/{name} in account {account} for more information.",
            "OriginalStatusCode": status,
            "OriginalMessage": message,
        },
    )


def _rows(body: bytes) -> int:
    return max(1, sum(1 for line in body.decode("utf-8", "replace").splitlines() if line.strip()))


def invoke_endpoint(original: Any, response: Any) -> Any:
    """InvokeEndpoint: AWS's errors for missing/not-InService endpoints, faults, model host."""
    runtime = rt.current()
    if runtime is None:
        return original(response)
    name = response.path.split("/")[2]  # /endpoints/<name>/invocations
    account, region = response.current_account, response.region
    backend = sagemaker_backends[account][region]
    endpoints.advance(backend, name)
    endpoint = backend.endpoints.get(name)
    if endpoint is None or endpoint.endpoint_status not in endpoints.SERVING_STATUSES:
        return _error(400, "ValidationError", {"message": f"Endpoint {name} of account {account} not found."})
    body = response.body if isinstance(response.body, bytes) else (response.body or "").encode()
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    accept = response.headers.get("Accept")
    fault: InvokeFault | None = runtime.faults.invoke_fault(name)
    if fault is not None and fault.behaviour == "latency":
        runtime.sleep(fault.seconds)
        fault = None
    if fault is not None and fault.behaviour == "error":
        return _model_error(account, name, fault.status, fault.message)
    if fault is not None and fault.behaviour == "garbage":
        return 200, {"Content-Type": "text/csv"}, b"\x00\xffnot a prediction<html>"
    if fault is not None and fault.behaviour == "nan":
        return 200, {"Content-Type": "text/csv"}, ("nan\n" * _rows(body)).encode()
    if runtime.model_host is None:
        if fault is not None:  # wrong_count without a model: one value fewer than rows
            return 200, {"Content-Type": "text/csv"}, ("0.0\n" * (_rows(body) - 1)).encode()
        return _captured(backend, name, body, content_type, original(response))
    try:
        out, out_type = runtime.model_host.invoke(name, body, content_type, accept)
    except ModelError as exc:
        return _model_error(account, name, exc.status_code, exc.message)
    if fault is not None:  # wrong_count: drop the last prediction
        lines = out.decode("utf-8", "replace").splitlines()
        out = ("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else "")).encode()
    return _captured(backend, name, body, content_type, (200, {"Content-Type": out_type}, out))


def _captured(backend: Any, name: str, body: bytes, content_type: str, answer: Any) -> Any:
    """The answer, after writing its capture record when the serving config captures data."""
    _status, headers, out = answer
    data = out if isinstance(out, bytes) else str(out).encode()
    # As on AWS, a capture that cannot be written never fails the invocation.
    with contextlib.suppress(ClientError):
        capture.capture(backend, name, body, content_type, data, headers.get("Content-Type", "text/csv"))
    return answer
