"""Changes to moto's Step Functions engine: SageMaker .sync, AWS error names, alias/version
ARNs in StartExecution, States.ALL semantics, and the time scale for Wait/Retry."""

from __future__ import annotations

import copy
import datetime
import functools
import json
import random
import threading
import time
import uuid
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.exceptions import ResourceNotFound, StateMachineDoesNotExist
from moto.stepfunctions.parser.api import InvalidExecutionInput
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.backend.execution import Execution

from pipeline.emulator import runtime as rt
from pipeline.emulator.sfn_sagemaker import StateTaskServiceSageMaker

# SageMaker's modelled exceptions, by error code -> the AWS SDK (Java v2) class Step Functions
# names aws-sdk errors after; anything unmodelled (ValidationException, ThrottlingException)
# is the service's base class, SageMakerException.
_SAGEMAKER_SDK_EXCEPTIONS = {
    "ResourceLimitExceeded": "ResourceLimitExceededException",
    "ResourceInUse": "ResourceInUseException",
    "ResourceNotFound": "ResourceNotFoundException",
    "ConflictException": "ConflictException",
}

# Errors that States.ALL does not match on AWS.
_NOT_MATCHED_BY_ALL = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}


def aws_sdk_error_name(service: str, code: str) -> str | None:
    """``SageMaker.<ExceptionClass>`` for an aws-sdk:sagemaker error; None for other services."""
    if service.lower() != "sagemaker":
        return None
    return "SageMaker." + _SAGEMAKER_SDK_EXCEPTIONS.get(code, "SageMakerException")


def state_task_service_for(original: Any, service_name: str) -> Any:
    """moto's factory, but ``sagemaker`` gets the emulator's optimised integration."""
    if service_name == "sagemaker":
        return StateTaskServiceSageMaker()
    return original(service_name)


def aws_sdk_from_error(original: Any, task: Any, env: Any, ex: Exception) -> Any:
    """aws-sdk task errors named as AWS names them (``SageMaker.SageMakerException``)."""
    if isinstance(ex, ClientError):
        name = aws_sdk_error_name(task.resource.api_name, ex.response["Error"]["Code"])
        if name is not None:
            meta = ex.response.get("ResponseMetadata", {})
            cause = (
                f"{ex.response['Error'].get('Message', '')} (Service: SageMaker, "
                f"Status Code: {meta.get('HTTPStatusCode', 400)}, Request ID: {meta.get('RequestId', '')})"
            )
            return task._get_task_failure_event(env=env, error=name, cause=cause)
    return original(task, env, ex)


def _iso_timestamps(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        utc = value.astimezone(datetime.timezone.utc) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dict):
        return {k: _iso_timestamps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_timestamps(v) for v in value]
    return value


def aws_sdk_eval_service_task(original: Any, task: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
    """An aws-sdk task's result with timestamps as ISO 8601 strings, as JSON can carry them.

    moto leaves botocore's datetime objects in the state, so a task whose whole answer stays in
    the state (DescribeEndpoint without a ResultSelector) breaks DescribeExecution's output.
    """
    result = original(task, env, *args, **kwargs)
    if rt.current() is not None and env.stack:
        env.stack[-1] = _iso_timestamps(env.stack[-1])
    return result


def error_equals_eval(original: Any, decl: Any, env: Any) -> None:
    """States.ALL does not match States.Runtime or States.DataLimitExceeded (AWS semantics)."""
    error_name: ErrorName = env.stack[-1]
    if (
        rt.current() is not None
        and isinstance(error_name, StatesErrorName)
        and error_name.typ in _NOT_MATCHED_BY_ALL
        and all(isinstance(n, StatesErrorName) and n.typ == StatesErrorNameType.StatesALL for n in decl.error_names)
    ):
        env.stack.pop()
        env.stack.append(False)
        return
    original(decl, env)


class _ScaledTime:
    """Stands in for the ``time`` module in moto's retrier: sleeps follow the time scale."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        runtime = rt.current()
        time.sleep(runtime.scaled(seconds) if runtime is not None else seconds)


# Values a JSON document is made of that never change once built (datetime: the engine's history
# timestamps), so a copy may share them.
_IMMUTABLE = (str, int, float, bool, type(None), bytes, datetime.datetime)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-like value (dicts, lists and immutable leaves), several times faster
    than ``copy.deepcopy``, which keeps a memo of every object; anything else is deep-copied."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


class _JsonCopy:
    """Stands in for the ``copy`` module where moto's engine copies state data (the state input
    on every read, results, string fields, the history): JSON documents, copied by
    :func:`copy_json`. A document has no shared or cyclic parts, so nothing that deepcopy's memo
    would preserve is lost."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if memo is not None or rt.current() is None:
            return copy.deepcopy(value, memo)
        return copy_json(value)


def wait_interval(original: Any, wait_fn: Any, env: Any, wait_seconds: float) -> None:
    """A Wait state's pause after the time scale; ends early if the execution stops."""
    runtime = rt.current()
    if runtime is None:
        return original(wait_fn, env, wait_seconds)
    deadline = time.monotonic() + runtime.scaled(wait_seconds)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if env.program_state_event.wait(remaining) and env.is_running():
            # Woken for an unrelated reason: avoid spinning on a set event.
            time.sleep(min(remaining, 0.01))
    return None


def _resolve_target(backend: Any, arn: str) -> tuple[Any, Any, str | None, str | None]:
    """(base state machine, instance to run, version ARN, alias ARN) for any of the three ARNs."""
    parts = arn.split(":")
    if len(parts) == 8:
        base_arn, qualifier = ":".join(parts[:7]), parts[7]
        base = backend.describe_state_machine(base_arn)
        if qualifier.isdigit():
            version = base.versions.get(int(qualifier))
            if version is None:
                raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
            return base, version, version.arn, None
        alias = base.aliases.get(qualifier)
        if alias is None:
            raise ResourceNotFound(f"State Machine Alias Does Not Exist: '{arn}'")
        routes = alias.routing_configuration
        chosen = random.choices(routes, weights=[r.get("weight", 100) for r in routes])[0]  # noqa: S311 - alias traffic weighting, not security
        version_arn = chosen["stateMachineVersionArn"]
        version = base.versions.get(int(version_arn.rsplit(":", 1)[1]))
        if version is None:
            raise StateMachineDoesNotExist(f"State Machine Version Does Not Exist: '{version_arn}'")
        return base, version, version.arn, alias.arn
    base = backend.describe_state_machine(arn)
    return base, base, None, None


def start_execution(
    original: Any,
    backend: Any,
    state_machine_arn: str,
    name: Any = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    """StartExecution that also takes version and alias ARNs and names unnamed executions."""
    if rt.current() is None:
        return original(backend, state_machine_arn, name, execution_input, trace_header)
    base, target, version_arn, alias_arn = _resolve_target(backend, state_machine_arn)
    name = name or str(uuid.uuid4())
    input_data = execution_input if execution_input is not None else "{}"
    existing = base._handle_name_input_idempotency(name, input_data)
    if existing is not None:
        return existing
    try:
        json.loads(input_data)
    except ValueError as exc:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{exc}'") from exc
    # A snapshot of the definition to run; executions and the backend are shared, not copied
    # (they hold threads and locks), as moto's own start_execution does.
    memo: dict[int, Any] = {id(target.executions): []}
    if hasattr(target, "backend"):
        memo[id(target.backend)] = target.backend
    snapshot = copy.deepcopy(target, memo)
    execution = Execution(
        name=name,
        sm_type=snapshot.sm_type,
        role_arn=snapshot.roleArn,
        exec_arn=f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:execution:{base.name}:{name}",
        account_id=backend.account_id,
        region_name=backend.region_name,
        state_machine=snapshot,
        start_date=datetime.datetime.now(tz=datetime.timezone.utc),
        cloud_watch_logging_session=None,
        input_data=input_data,
        trace_header=trace_header,
        activity_store={},
    )
    # Reported by DescribeExecution as AWS does: the unqualified ARN plus version/alias ARNs.
    execution.state_machine_arn = base.arn
    # Extra attributes on moto's Execution, read back by describe_execution.
    execution.emulator_version_arn = version_arn  # type: ignore[attr-defined]
    execution.emulator_alias_arn = alias_arn  # type: ignore[attr-defined]
    base.executions.append(execution)
    execution.start()
    return execution


def describe_execution(original: Any, response: Any) -> Any:
    """DescribeExecution with stateMachineVersionArn / stateMachineAliasArn, like AWS."""
    result = original(response)
    if rt.current() is None:
        return result
    execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
    body = result.result
    for attr, key in (
        ("emulator_version_arn", "stateMachineVersionArn"),
        ("emulator_alias_arn", "stateMachineAliasArn"),
    ):
        value = getattr(execution, attr, None)
        if value:
            body[key] = value
    return result


# moto's intrinsic-function lexer has no ``\'`` escape, which AWS accepts inside string
# literals (``States.Format('this run\'s {}', ...)``). The escape becomes a private-use
# character before lexing and an apostrophe again when the literal's text is read.
_QUOTE_STANDIN = "\ue000"


def intrinsic_parse(original: Any, src: str) -> Any:
    """Parse an intrinsic function, accepting AWS's ``\\'`` escape."""
    if rt.current() is not None and "\\'" in src:
        src = src.replace("\\'", _QUOTE_STANDIN)
    return original(src)


def intrinsic_text_of_str(original: Any, parse_tree: Any) -> str:
    """A string literal's text, with escaped apostrophes restored."""
    return original(parse_tree).replace(_QUOTE_STANDIN, "'")


# Programs of definitions that parsed without error, by definition text (bounded: a test session
# creates many state machines), each with whether executions may share it.
_PROGRAMS_LIMIT = 64
_programs: dict[str, tuple[Any, Any, bool]] = {}
_programs_lock = threading.Lock()
_building_lock = threading.RLock()
# States whose components keep one run's workers and items on themselves (moto's state_map and
# state_parallel); every other component keeps a run's state in its Environment.
_STATEFUL_STATES = ("Map", "Parallel")


def _shareable(definition: str) -> bool:
    """True when no state is a Map or Parallel (states nested in one are inside it)."""
    try:
        states = json.loads(definition).get("States") or {}
    except (ValueError, AttributeError):
        return False
    return not any(isinstance(state, dict) and state.get("Type") in _STATEFUL_STATES for state in states.values())


def _components(program: Any) -> list[Any]:
    """Every moto evaluation component reachable from ``program``."""
    from moto.stepfunctions.parser.asl.component.component import Component

    seen: dict[int, Any] = {}
    todo = [program]
    while todo:
        value = todo.pop()
        if isinstance(value, Component):
            if id(value) not in seen:
                seen[id(value)] = value
                todo.extend(vars(value).values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            todo.extend(value)
        elif isinstance(value, dict):
            todo.extend(value.values())
    return list(seen.values())


def parse_definition(original: Any, definition: str) -> tuple[Any, Any]:
    """moto's ASL parse, lexing, parsing and building each definition's program once per process.

    moto parses the whole definition with its ANTLR grammar at CreateStateMachine /
    UpdateStateMachine (to validate it) and again at every StartExecution (0.3-2 s for this
    project's definition), then builds the program (the evaluation components an execution runs)
    from the parse tree with its Preprocessor (0.1 s more, most of it lexing and parsing every
    intrinsic function again). Both are pure functions of the text.

    Executions share the kept program: its components hold the definition only, and an execution
    keeps its state (input, stack, retry counts under each component's heap key) in its own
    Environment. The heap keys, which moto draws lazily, are drawn once here, so two executions
    running at once never draw different keys for one component. A definition with a Map or
    Parallel state gets a deep copy of the kept program at every call instead: those components
    keep a run's workers and items on themselves. A definition that fails to parse is never kept,
    and raises as before.
    """
    if rt.current() is None:
        return original(definition)
    with _programs_lock:
        kept = _programs.get(definition)
    if kept is None:
        # One build at a time: two executions starting at once (their definition validated in an
        # earlier process, so nothing parsed it here yet) parse it once, not twice.
        with _building_lock:
            with _programs_lock:
                kept = _programs.get(definition)
            if kept is None:
                kept = _build(original, definition)
                with _programs_lock:
                    if len(_programs) >= _PROGRAMS_LIMIT:
                        _programs.pop(next(iter(_programs)))
                    _programs[definition] = kept
    program, tree, shared = kept
    return (program if shared else copy.deepcopy(program)), tree


def _build(original: Any, definition: str) -> tuple[Any, Any, bool]:
    """Parse and build ``definition``'s program; draw its heap keys when executions may share it."""
    program, tree = original(definition)
    shared = _shareable(definition)
    if shared:
        from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

        for component in _components(program):
            if isinstance(component, EvalComponent):
                _ = component.heap_key  # drawn now, once
    return program, tree, shared


# JSONPath expressions, parsed (bounded: each definition has a few hundred).
_JSONPATH_LIMIT = 4096


@functools.lru_cache(maxsize=_JSONPATH_LIMIT)
def _parsed_path(parse: Any, path: str) -> Any:
    return parse(path)


def jsonpath_parse(original: Any, path: str) -> Any:
    """jsonpath_ng's ``parse`` as moto's engine calls it, each path text parsed once.

    moto parses a path again at every evaluation (InputPath, ResultPath, every ``.$`` parameter
    and Choice variable): jsonpath_ng builds a new PLY parser each time, a third of an execution's
    engine time. The parsed expression is immutable (``find`` and ``update_or_create`` build new
    DatumInContext objects and never write to it), so one can serve every execution.
    """
    if rt.current() is None:
        return original(path)
    return _parsed_path(original, path)
