"""Fault injection: what should go wrong, on which call, and a JSON format for it.

Every fault matches by name pattern (``fnmatch``) and, optionally, only on some of the calls
it matches (``calls``: 1-based numbers, counted per fault; ``None`` = every matching call).
"""

from __future__ import annotations

import fnmatch
import json
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from pipeline.emulator.errors import FaultSpecError
from pipeline.emulator.lifecycle import ENDPOINT_OPERATIONS, ENDPOINT_STATUSES
from pipeline.emulator.timings import Timings

# Step Functions calls itself "states" in ARNs and "stepfunctions" in moto/boto3.
_SERVICE_ALIASES = {"states": "stepfunctions", "sfn": "stepfunctions"}

INVOKE_BEHAVIOURS = ("garbage", "nan", "wrong_count", "error", "latency")


def normalise_operation(operation: str) -> str:
    """``"states:StartExecution"`` -> ``"stepfunctions:StartExecution"``; checks the shape."""
    service, sep, action = operation.partition(":")
    if not sep or not service or not action:
        raise FaultSpecError(f"operation must look like 'sagemaker:CreateTrainingJob', got {operation!r}")
    return f"{_SERVICE_ALIASES.get(service.lower(), service.lower())}:{action}"


def _check_calls(calls: Any) -> tuple[int, ...] | None:
    if calls is None:
        return None
    if not isinstance(calls, (list, tuple)) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in calls
    ):
        raise FaultSpecError(f"calls must be a list of call numbers >= 1, got {calls!r}")
    return tuple(calls)


@dataclass
class _Fault:
    calls: tuple[int, ...] | None = field(default=None, kw_only=True)
    seen: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.calls = _check_calls(self.calls)

    def _take(self) -> bool:
        # Count this matching call, and say whether the fault fires on it.
        self.seen += 1
        return self.calls is None or self.seen in self.calls


@dataclass
class CallError(_Fault):
    """The matching call of ``operation`` fails with AWS error ``code`` and HTTP ``status``."""

    operation: str
    code: str
    message: str = "Injected fault"
    status: int = 400
    kind = "error"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.operation = normalise_operation(self.operation)


@dataclass
class CallDelay(_Fault):
    """The matching call of ``operation`` takes ``seconds`` longer (before it runs)."""

    operation: str
    seconds: float
    kind = "delay"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.operation = normalise_operation(self.operation)


@dataclass
class TrainingFailure(_Fault):
    """Training jobs matching ``job`` end ``status`` (Failed or Stopped) with ``reason``."""

    reason: str
    job: str = "*"
    status: str = "Failed"
    kind = "training_failure"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.status not in ("Failed", "Stopped"):
            raise FaultSpecError(f"training_failure status must be Failed or Stopped, got {self.status!r}")


@dataclass
class EndpointCreateFailure(_Fault):
    """Endpoints matching ``endpoint`` go Creating -> Failed with ``reason``."""

    reason: str
    endpoint: str = "*"
    kind = "endpoint_create_failure"


@dataclass
class UpdateRollback(_Fault):
    """An update of a matching endpoint fails and rolls back (InService on the old config).

    ``final_status="UpdateRollbackFailed"`` makes the rollback itself fail instead.
    """

    reason: str = ""
    endpoint: str = "*"
    final_status: str = "InService"
    kind = "update_rollback"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.final_status not in ENDPOINT_OPERATIONS["rollback"].ends:
            raise FaultSpecError(
                f"update_rollback final_status must be InService or UpdateRollbackFailed, got {self.final_status!r}"
            )


@dataclass
class InvokeFault(_Fault):
    """InvokeEndpoint on a matching endpoint misbehaves.

    ``behaviour``: ``garbage`` (unparseable body), ``nan`` (NaN predictions), ``wrong_count``
    (one prediction fewer than rows), ``error`` (ModelError with ``status`` from the model),
    ``latency`` (``seconds`` extra, then a normal answer).
    """

    behaviour: str
    endpoint: str = "*"
    status: int = 500
    seconds: float = 0.0
    message: str = "Injected model failure"
    kind = "invoke"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.behaviour not in INVOKE_BEHAVIOURS:
            raise FaultSpecError(f"invoke behaviour must be one of {INVOKE_BEHAVIOURS}, got {self.behaviour!r}")


@dataclass
class TrainingLog(_Fault):
    """Without a trainer, jobs matching ``job`` log ``lines`` instead of the placeholder's.

    The lines are what the built-in algorithm prints (``[99]\\ttrain-rmse:10.5\\tvalidation-rmse:12.1``);
    the job's FinalMetricDataList is read from them with the image's metric definitions.
    """

    lines: list[str]
    job: str = "*"
    kind = "training_log"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.lines, list) or not all(isinstance(line, str) for line in self.lines):
            raise FaultSpecError(f"training_log lines must be a list of strings, got {self.lines!r}")


Fault = CallError | CallDelay | TrainingFailure | EndpointCreateFailure | UpdateRollback | InvokeFault | TrainingLog
_F = TypeVar("_F", bound=Fault)
FAULT_KINDS: dict[str, type] = {
    cls.kind: cls
    for cls in (CallError, CallDelay, TrainingFailure, EndpointCreateFailure, UpdateRollback, InvokeFault, TrainingLog)
}


def fault_from_dict(data: dict[str, Any]) -> Fault:
    """Build one fault from its JSON object (``{"kind": "error", ...}``)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise FaultSpecError(f"each fault must be an object with a 'kind', got {data!r}")
    kind = data["kind"]
    cls = FAULT_KINDS.get(kind)
    if cls is None:
        raise FaultSpecError(f"unknown fault kind {kind!r}; allowed: {sorted(FAULT_KINDS)}")
    allowed = {f.name for f in fields(cls) if f.init}
    args = {k: v for k, v in data.items() if k != "kind"}
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise FaultSpecError(f"fault kind {kind!r} has unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    try:
        return cls(**args)
    except TypeError as exc:
        raise FaultSpecError(f"fault kind {kind!r}: {exc}") from exc


def fault_to_dict(fault: Fault) -> dict[str, Any]:
    """JSON-ready form of one fault (the format ``fault_from_dict`` reads)."""
    data = {"kind": fault.kind, **asdict(fault)}
    data.pop("seen", None)
    if data.get("calls") is not None:
        data["calls"] = list(data["calls"])
    return data


class FaultPlan:
    """The active faults; thread-safe, because moto serves requests from several threads."""

    def __init__(self, faults: list[Fault] | None = None):
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])

    def add(self, fault: _F) -> _F:
        """Activate one fault and return it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        """A snapshot of the active faults."""
        with self._lock:
            return list(self._faults)

    def _first(self, cls: type, match: Any) -> Any:
        # Every matching fault counts the call, so each fault's ``calls`` are its own.
        fired = None
        with self._lock:
            for fault in self._faults:
                if isinstance(fault, cls) and match(fault) and fault._take() and fired is None:
                    fired = fault
        return fired

    def call_error(self, operation: str) -> CallError | None:
        """The error to raise for this call of ``service:Action``, if any."""
        return self._first(CallError, lambda f: fnmatch.fnmatchcase(operation, f.operation))

    def call_delay(self, operation: str) -> CallDelay | None:
        """The delay to add to this call of ``service:Action``, if any."""
        return self._first(CallDelay, lambda f: fnmatch.fnmatchcase(operation, f.operation))

    def training_failure(self, job_name: str) -> TrainingFailure | None:
        """How this training job should fail, if it should."""
        return self._first(TrainingFailure, lambda f: fnmatch.fnmatchcase(job_name, f.job))

    def training_log(self, job_name: str) -> TrainingLog | None:
        """The log a placeholder training job prints instead of the default one, if any."""
        return self._first(TrainingLog, lambda f: fnmatch.fnmatchcase(job_name, f.job))

    def endpoint_create_failure(self, endpoint_name: str) -> EndpointCreateFailure | None:
        """How this endpoint creation should fail, if it should."""
        return self._first(EndpointCreateFailure, lambda f: fnmatch.fnmatchcase(endpoint_name, f.endpoint))

    def update_rollback(self, endpoint_name: str) -> UpdateRollback | None:
        """How this endpoint update should roll back, if it should."""
        return self._first(UpdateRollback, lambda f: fnmatch.fnmatchcase(endpoint_name, f.endpoint))

    def invoke_fault(self, endpoint_name: str) -> InvokeFault | None:
        """How this invocation should misbehave, if it should."""
        return self._first(InvokeFault, lambda f: fnmatch.fnmatchcase(endpoint_name, f.endpoint))


@dataclass(frozen=True)
class EndpointState:
    """Put an existing endpoint into ``status`` (e.g. Failed, UpdateRollbackFailed)."""

    endpoint: str
    status: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ENDPOINT_STATUSES:
            raise FaultSpecError(f"endpoint status must be one of {ENDPOINT_STATUSES}, got {self.status!r}")


@dataclass
class FaultFile:
    """The JSON document the CLI loads: ``{"timings": {...}, "faults": [...], "endpoint_states": [...]}``."""

    timings: Timings | None = None
    faults: list[Fault] = field(default_factory=list)
    endpoint_states: list[EndpointState] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any) -> FaultFile:
        """Parse and validate; every error names the bad key or value."""
        if not isinstance(data, dict):
            raise FaultSpecError(f"a fault document must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"timings", "faults", "endpoint_states"})
        if unknown:
            raise FaultSpecError(f"unknown top-level key(s) {unknown}; allowed: endpoint_states, faults, timings")
        timings = Timings.from_dict(data["timings"]) if "timings" in data else None
        faults = data.get("faults", [])
        states = data.get("endpoint_states", [])
        if not isinstance(faults, list) or not isinstance(states, list):
            raise FaultSpecError("'faults' and 'endpoint_states' must be JSON arrays")
        try:
            endpoint_states = [EndpointState(**s) for s in states]
        except TypeError as exc:
            raise FaultSpecError(f"endpoint_states: {exc}") from exc
        return cls(timings, [fault_from_dict(f) for f in faults], endpoint_states)

    @classmethod
    def load(cls, path: str | Path) -> FaultFile:
        """Read a fault document from a JSON file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise FaultSpecError(f"cannot read fault file {str(path)!r}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise FaultSpecError(f"fault file {str(path)!r} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the format ``from_dict`` reads)."""
        data: dict[str, Any] = {
            "faults": [fault_to_dict(f) for f in self.faults],
            "endpoint_states": [asdict(s) for s in self.endpoint_states],
        }
        if self.timings is not None:
            data["timings"] = self.timings.to_dict()
        return data
