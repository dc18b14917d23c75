"""ListExecutions, ListStateMachineVersions and GetExecutionHistory as AWS answers them.

moto 5.2.5 lists executions of a state machine ARN only (an alias ARN: StateMachineDoesNotExist;
a version ARN: always empty, since executions belong to the machine), leaves out the
``stateMachineVersionArn`` / ``stateMachineAliasArn`` of each item, and has no
ListStateMachineVersions (HTTP 500). AWS's ListExecutions documents both ARNs ("to list the
executions associated with a specific alias or version"); items carry both fields when the
execution was started through them. moto's GetExecutionHistory ignores ``reverseOrder``,
``maxResults`` and ``nextToken`` and answers the whole history every time; AWS pages it (100
events by default, at most 1000), newest first when asked.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import datetime
import json
from enum import Enum
from typing import Any

from botocore.model import Shape
from botocore.utils import parse_to_aware_datetime
from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import InvalidToken, ResourceNotFound, StateMachineDoesNotExist

from pipeline.emulator import runtime as rt

# AWS's page size when maxResults is not given or 0 (ListExecutions, ListStateMachineVersions,
# GetExecutionHistory).
DEFAULT_PAGE = 100


def _target(backend: Any, arn: str) -> tuple[Any, str | None]:
    """(state machine, attribute an execution must match with ``arn``) for any kind of ARN."""
    parts = arn.split(":")
    if len(parts) != 8:
        return backend.describe_state_machine(arn), None
    base = backend.describe_state_machine(":".join(parts[:7]))
    qualifier = parts[7]
    if qualifier.isdigit():
        if int(qualifier) not in base.versions:
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
        return base, "emulator_version_arn"
    if qualifier not in base.aliases:
        raise ResourceNotFound(f"State Machine Alias Does Not Exist: '{arn}'")
    return base, "emulator_alias_arn"


def _page(items: list[Any], response: Any) -> tuple[list[Any], str | None]:
    token = response._get_param("nextToken")
    size = response._get_int_param("maxResults") or DEFAULT_PAGE
    if token is not None and not (str(token).isdigit() and int(token) <= len(items)):
        raise InvalidToken(f"Invalid token: {token!r}")
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _item(execution: Any, machine_arn: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "executionArn": execution.execution_arn,
        "stateMachineArn": machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": execution.start_date,
    }
    if execution.status != "RUNNING" and execution.stop_date is not None:
        item["stopDate"] = execution.stop_date
    for attr, key in (
        ("emulator_version_arn", "stateMachineVersionArn"),
        ("emulator_alias_arn", "stateMachineAliasArn"),
    ):
        if getattr(execution, attr, None):
            item[key] = getattr(execution, attr)
    return item


def list_executions(original: Any, response: Any) -> Any:
    """ListExecutions of a state machine, version or alias ARN, newest first."""
    if rt.current() is None:
        return original(response)
    arn = response._get_param("stateMachineArn")
    if not arn:  # a Map Run ARN: moto's own handling
        return original(response)
    machine, attr = _target(response.stepfunction_backend, arn)
    status = response._get_param("statusFilter")
    executions = [
        execution
        for execution in machine.executions
        if (attr is None or getattr(execution, attr, None) == arn) and (not status or execution.status == status)
    ]
    executions.sort(key=lambda execution: execution.start_date, reverse=True)
    page, token = _page(executions, response)
    body: dict[str, Any] = {"executions": [_item(execution, machine.arn) for execution in page]}
    if token:
        body["nextToken"] = token
    return ActionResult(body)


def list_state_machine_versions(response: Any) -> ActionResult:
    """ListStateMachineVersions, newest first (moto has none)."""
    machine = response.stepfunction_backend.describe_state_machine(response._get_param("stateMachineArn"))
    versions = [machine.versions[number] for number in sorted(machine.versions, reverse=True)]
    page, token = _page(versions, response)
    body: dict[str, Any] = {
        "stateMachineVersions": [
            {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date} for version in page
        ]
    }
    if token:
        body["nextToken"] = token
    return ActionResult(body)


def get_execution_history(original: Any, response: Any) -> Any:
    """GetExecutionHistory in AWS's order and pages: oldest first, or newest first with
    ``reverseOrder``; ``maxResults`` events a page (0 or none: 100); ``nextToken`` continues after
    the last event of the previous page, so events added meanwhile are neither lost nor repeated.
    """
    if rt.current() is None:
        return original(response)
    execution_arn = response._get_param("executionArn")
    events = response.stepfunction_backend.get_execution_history(execution_arn)["events"]
    reverse = bool(response._get_param("reverseOrder"))
    ordered = sorted(events, key=lambda event: int(event["id"]), reverse=reverse)
    token = response._get_param("nextToken")
    if token is not None:
        if not str(token).isdigit():
            raise InvalidToken(f"Invalid token: {token!r}")
        last = int(token)
        ordered = [event for event in ordered if (int(event["id"]) < last if reverse else int(event["id"]) > last)]
    size = response._get_int_param("maxResults") or DEFAULT_PAGE
    body: dict[str, Any] = {"events": ordered[:size]}
    if len(ordered) > size:
        body["nextToken"] = str(ordered[size - 1]["id"])
    output = _output_shape(response, "GetExecutionHistory")
    try:
        serialized = json.dumps(to_json(body, output))
    except _NotJson:
        return ActionResult(body)
    response.response_headers["Content-Type"] = "application/x-amz-json-1.0"
    return serialized


class _NotJson(Exception):
    """A value the fast path does not serialize; moto's serializer does it instead."""


def _output_shape(response: Any, operation: str) -> Shape:
    from moto.core.responses import get_service_model

    return get_service_model(response.boto3_service_name).operation_model(operation).output_shape


def _unix_time(value: Any) -> int | float:
    # As moto's JSON serializer writes timestamps: epoch seconds of the time as written (the
    # engine writes ISO 8601 strings), milliseconds kept. fromisoformat reads the engine's form
    # in microseconds; botocore's parser (dateutil, which moto uses) anything else.
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.datetime.fromisoformat(value)
    if not isinstance(value, datetime.datetime):
        value = parse_to_aware_datetime(value)
    seconds = calendar.timegm(value.timetuple())
    return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds


def to_json(value: Any, shape: Shape) -> Any:
    """``value`` as moto's JSON serializer writes it for ``shape``, visiting only the members the
    value has (moto's serializer probes every member of the shape, with name variants, for every
    history event: tens of milliseconds a page). Members the shape lacks and None are left out as
    moto leaves them out; anything but plain dicts, lists and scalars raises _NotJson."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _NotJson(shape.name)
        members = shape.members  # type: ignore[attr-defined]
        out = {}
        for key, item in value.items():
            member = members.get(key)
            if member is not None and item is not None:
                out[member.serialization.get("name", key)] = to_json(item, member)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _NotJson(shape.name)
        return [to_json(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if kind == "map":
        if not isinstance(value, dict):
            raise _NotJson(shape.name)
        return {key: to_json(item, shape.value) for key, item in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        if shape.serialization.get("timestampFormat", "unixtimestamp") != "unixtimestamp":
            raise _NotJson(shape.name)
        return _unix_time(value)
    if kind == "string":
        value = value.value if isinstance(value, Enum) else value
        return str(value) if value not in (None, {}, []) else value
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else value
        return base64.b64encode(raw).strip().decode("utf-8")
    raise _NotJson(shape.name)
