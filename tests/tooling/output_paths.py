"""Check every path the definition reads from an AWS answer against botocore's output shapes.

A path into a Task's result (``$.endpoint.EndpointConfigName`` after a DescribeEndpoint whose
ResultPath is ``$.endpoint``, or ``$.EndpointConfigName`` in its ResultSelector) that crosses a
member botocore does not mark required must be guarded by an ``IsPresent: true`` rule on that
member's path: reading a missing field fails the execution with States.Runtime, which no
``States.ALL`` Catch sees. A ResultSelector cannot be guarded at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from botocore.model import Shape, StructureShape

from tests.tooling.service_model import service_model, task_operation

# Paths inside intrinsic functions and plain references; "$$." (the context object) is not an answer.
PATH = re.compile(r"(?<!\$)\$(?:\.[A-Za-z0-9_]+)+")
COMPARISON_PATHS = ("StringEqualsPath", "NumericEqualsPath", "BooleanEqualsPath", "TimestampEqualsPath")


def _output_shape(resource: str) -> StructureShape | None:
    called = task_operation(resource)
    if called is None:
        return None
    service, operation = called
    model = service_model(service)
    if resource.endswith(".sync") and operation.startswith("Create"):
        # A .sync task's result is the final Describe of what it created.
        operation = "Describe" + operation[len("Create") :]
    shape = model.operation_model(operation).output_shape
    return shape if isinstance(shape, StructureShape) else None


def _values(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _values(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)
    else:
        yield key, node


def _reads(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, path) for every path a state reads: Choice variables, ``.$`` values, ResultSelector."""
    for key, value in _values(state.get("Choices", [])):
        if key == "Variable" or key in COMPARISON_PATHS:
            yield "state input", value
    for key, value in _values(state.get("Parameters", {})):
        if key.endswith(".$") and isinstance(value, str):
            for path in PATH.findall(value):
                yield "state input", path
    for key, value in _values(state.get("ResultSelector", {})):
        if key.endswith(".$") and isinstance(value, str):
            for path in PATH.findall(value):
                yield "task result", path


def _guards(definition: dict[str, Any]) -> set[str]:
    return {path for state in definition["States"].values() for path in _is_present_paths(state.get("Choices", []))}


def _is_present_paths(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("IsPresent") is True and "Variable" in node:
            yield node["Variable"]
        for value in node.values():
            yield from _is_present_paths(value)
    elif isinstance(node, list):
        for item in node:
            yield from _is_present_paths(item)


def _optional_members(shape: Shape, parts: list[str]) -> list[tuple[int, str]]:
    """(index, problem) of every member along ``parts`` that is optional, up to an unknown one."""
    found = []
    for index, part in enumerate(parts):
        if not isinstance(shape, StructureShape):
            break  # into a list or map: beyond what this check follows
        if part not in shape.members:
            return [*found, (index, f"{shape.name} has no member {part!r}")]
        if part not in shape.required_members:
            found.append((index, f"{shape.name}.{part} is optional in botocore's model"))
        shape = shape.members[part]
    return found


# A ResultSelector value this check can follow: a plain path, or the first item of a list.
_ARRAY_ITEM = re.compile(r"^States\.ArrayGetItem\((\$(?:\.[A-Za-z0-9_]+)+),\s*\d+\)$")


class _Selected:
    """What a ResultSelector keeps: each key with the shape (and path) of what it selects."""

    def __init__(self, members: dict[str, tuple[Shape, str]]):
        self.members = members


def _selected(shape: StructureShape | None, selector: dict[str, Any]) -> _Selected | StructureShape | None:
    if shape is None or not selector:
        return shape
    members: dict[str, tuple[Shape, str]] = {}
    for key, value in selector.items():
        if not key.endswith(".$") or not isinstance(value, str):
            continue
        item = _ARRAY_ITEM.match(value)
        path = item.group(1) if item else value
        target: Shape | None = shape
        for part in path.split(".")[1:]:
            target = target.members.get(part) if isinstance(target, StructureShape) else None
        if item and target is not None and target.type_name == "list":
            target = target.member  # type: ignore[attr-defined]
        if target is not None:
            members[key[:-2]] = (target, value)
    return _Selected(members)


def unguarded_reads(definition: dict[str, Any]) -> list[str]:
    """Problems, one line each: reads of optional (or unknown) members of AWS answers with no guard.

    A Task with a ResultSelector keeps only what it selects: a read below its ResultPath follows
    the selected key to the member it came from. A read is guarded when an ``IsPresent: true``
    rule names the deepest optional member it crosses, or a path below it (which implies it).
    """
    states = definition["States"]
    results = {
        state["ResultPath"]: (name, _selected(_output_shape(state["Resource"]), state.get("ResultSelector", {})))
        for name, state in states.items()
        if state.get("Type") == "Task" and isinstance(state.get("ResultPath"), str)
    }
    guards = _guards(definition)
    problems = []
    for name, state in states.items():
        own = _output_shape(state["Resource"]) if state.get("Type") == "Task" else None
        for where, path in _reads(state):
            if where == "task result":
                base, shape, rest, task = "$", own, path.split(".")[1:], name
            else:
                match = next((p for p in results if path == p or path.startswith(p + ".")), None)
                if match is None:
                    continue  # execution input or a Pass's own data, not an AWS answer
                task, shape = results[match]
                base, rest = match, path[len(match) + 1 :].split(".") if path != match else []
            if isinstance(shape, _Selected):
                if not rest:
                    continue
                if rest[0] not in shape.members:
                    problems.append(
                        f"{name}: reads {path} from {task}'s answer, but its ResultSelector keeps no {rest[0]!r}"
                    )
                    continue
                shape, _ = shape.members[rest[0]]
                base, rest = f"{base}.{rest[0]}", rest[1:]
            if shape is None or not rest:
                continue
            optional = _optional_members(shape, rest)
            if not optional:
                continue
            index, problem = optional[-1]
            deepest = ".".join([base, *rest[: index + 1]])
            if where == "state input" and "has no member" not in problem and _guarded(deepest, guards):
                continue
            problems.append(f"{name}: reads {path} from {task}'s answer, but {problem} and nothing guards it")
    return problems


def _guarded(member_path: str, guards: set[str]) -> bool:
    return any(g == member_path or g.startswith(member_path + ".") for g in guards)
