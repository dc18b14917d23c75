"""Fault injection at moto's request dispatch: any service:Action can fail or be slow."""

from __future__ import annotations

import warnings
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult

from pipeline.emulator import credentials
from pipeline.emulator import runtime as rt


class InjectedError(ServiceException):
    """An AWS error the fault plan asked for."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def call_action(original: Any, response: Any) -> Any:
    """Run moto's handler unless the credentials expired or a fault says this call fails."""
    runtime = rt.current()
    if runtime is None:
        return original(response)
    try:
        operation = f"{response.service_name}:{response._get_action()}"
    except Exception:
        return original(response)
    runtime.calls[operation] += 1
    expired = credentials.expired_error(runtime, response)
    if expired is not None:
        return _error_response(response, *expired)
    delay = runtime.faults.call_delay(operation)
    if delay is not None:
        runtime.sleep(delay.seconds)
    fault = runtime.faults.call_error(operation)
    if fault is None:
        return original(response)
    return _error_response(response, fault.status, fault.code, fault.message)


def _error_response(response: Any, status: int, code: str, message: str) -> Any:
    with warnings.catch_warnings():
        # Codes like ThrottlingException are not in the service model; AWS sends them anyway.
        warnings.simplefilter("ignore", UserWarning)
        _, headers, body = response.serialized(ActionResult(InjectedError(code, message)))
    headers["status"] = status
    headers, body = response._enrich_response(headers, body)
    return status, headers, body
