"""Check Task ``Parameters`` against botocore's service models, so a misspelt parameter fails
in the test suite instead of in a production execution."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

OPTIMISED = re.compile(r"^arn:aws:states:::(?P<service>[a-z-]+):(?P<action>[A-Za-z]+)(\.sync|\.waitForTaskToken)?$")
AWS_SDK = re.compile(
    r"^arn:aws:states:::aws-sdk:(?P<service>[a-z0-9-]+):(?P<action>[A-Za-z]+)(\.sync|\.waitForTaskToken)?$"
)
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (str,),
    "blob": (str,),
}


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's model of one service, loaded once per process (SageMaker's JSON is large)."""
    return botocore.session.get_session().get_service_model(service)


def task_operation(resource: str) -> tuple[str, str] | None:
    """(service, OperationName) that a Task resource ARN calls, or None for non-service tasks."""
    match = OPTIMISED.match(resource) or AWS_SDK.match(resource)
    if not match:
        return None
    action = match.group("action")
    return match.group("service"), action[0].upper() + action[1:]


def check_definition(definition: dict[str, Any]) -> list[str]:
    """Problems with every service Task's Parameters, as 'State: path: message' lines."""
    problems = []
    for name, state in definition["States"].items():
        if state.get("Type") != "Task":
            continue
        called = task_operation(state.get("Resource", ""))
        if called is None:
            problems.append(f"{name}: resource {state.get('Resource')!r} is not a service integration this check knows")
            continue
        service, operation = called
        model = service_model(service)
        if operation not in model.operation_names:
            problems.append(f"{name}: {service} has no operation {operation!r}")
            continue
        shape = model.operation_model(operation).input_shape
        problems.extend(f"{name}: {p}" for p in check_value(state.get("Parameters", {}), shape, "Parameters"))
    return problems


def check_value(value: Any, shape: Shape, path: str) -> list[str]:
    """Check one value against a botocore shape, recursively."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [f"{path}: expected an object for {shape.name}, got {type(value).__name__}"]
        problems = []
        given = set()
        for key, item in value.items():
            member = key[:-2] if key.endswith(".$") else key
            given.add(member)
            if member not in shape.members:
                problems.append(
                    f"{path}.{key}: {shape.name} has no member {member!r} (members: {', '.join(shape.members)})"
                )
            elif not key.endswith(".$"):
                problems.extend(check_value(item, shape.members[member], f"{path}.{key}"))
        for required in shape.required_members:
            if required not in given:
                problems.append(f"{path}: required member {required!r} of {shape.name} is missing")
        return problems
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{path}: expected a list for {shape.name}, got {type(value).__name__}"]
        return [p for index, item in enumerate(value) for p in check_value(item, shape.member, f"{path}[{index}]")]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [f"{path}: expected a map for {shape.name}, got {type(value).__name__}"]
        return [
            p
            for key, item in value.items()
            if not key.endswith(".$")
            for p in check_value(item, shape.value, f"{path}.{key}")
        ]
    expected = PYTHON_TYPES.get(shape.type_name)
    if expected is None:
        return []
    if isinstance(value, bool) and bool not in expected:
        return [f"{path}: expected {shape.type_name}, got a boolean"]
    if not isinstance(value, expected):
        return [f"{path}: expected {shape.type_name}, got {type(value).__name__} {value!r}"]
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} is not one of {', '.join(shape.enum)}"]
    return []
