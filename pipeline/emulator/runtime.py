"""The one active emulator runtime that moto's patched code consults.

moto's backends are process-wide, so only one emulator (in-process or server) can be active
in a process at a time; the patched code falls back to plain moto when none is.
"""

from __future__ import annotations

import collections
import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.faults import FaultPlan
from pipeline.emulator.hooks import ModelHost, Trainer
from pipeline.emulator.timings import Timings


@dataclass
class Runtime:
    """Settings, faults, hooks and bookkeeping of the active emulator."""

    s3_client_factory: Callable[[str], Any]
    timings: Timings = field(default_factory=Timings)
    faults: FaultPlan = field(default_factory=FaultPlan)
    trainer: Trainer | None = None
    model_host: ModelHost | None = None
    # Emulated time: status transitions read ``clock``; injected delays (latency and call-delay
    # faults) go through ``sleep``. Tests inject a pair that moves only when slept on.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Re-entrant: a transition may call the model host, which reads S3 through moto.
    lock: threading.RLock = field(default_factory=threading.RLock)
    training_runs: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    endpoint_ops: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    # InvokeEndpoint calls seen per endpoint, for deterministic data-capture sampling.
    capture_counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # Requests answered, by "service:Action" (the state machine's and every client's): what a
    # benchmark or a test counts, e.g. sagemaker:CreateTrainingJob. S3 does not pass through here.
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    # The Step Functions engine's clients, one per (region, service, moto intercepting) (clients.py).
    engine_clients: dict[tuple[str, str, bool], Any] = field(default_factory=dict)
    # Access key id -> expiry (naive UTC, as moto keeps it) of credentials the emulated STS issued.
    credential_expiry: dict[str, datetime.datetime] = field(default_factory=dict)
    # UTC now and clock() when the runtime was made: utcnow() follows ``clock``, so an injected
    # clock moves credential expiry and durations together.
    _wall_start: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None), repr=False
    )
    _clock_start: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._clock_start = self.clock()

    def utcnow(self) -> datetime.datetime:
        """Naive UTC now by this runtime's clock (the real time unless a clock was injected)."""
        assert self._clock_start is not None
        return self._wall_start + datetime.timedelta(seconds=self.clock() - self._clock_start)

    def scaled(self, seconds: float) -> float:
        """A Wait or Retry interval after the time scale."""
        return seconds * self.timings.time_scale

    def join_threads(self, timeout: float = 30.0) -> None:
        """Wait for background trainer threads, so stopping leaves nothing running."""
        deadline = time.monotonic() + timeout
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))


# moto's ASL engine logs repr() of whole state trees: at DEBUG for every evaluation step and
# at ERROR for every task failure (which the execution history already records). Under pytest's
# log capture that costs seconds per execution, so the emulator quiets it while active.
_ENGINE_LOGGER = logging.getLogger("moto.stepfunctions.parser.asl")
_saved_level: int | None = None

_active: Runtime | None = None
_active_lock = threading.Lock()


def current() -> Runtime | None:
    """The active runtime, or None (then moto behaves as shipped)."""
    return _active


def activate(runtime: Runtime) -> None:
    """Make ``runtime`` the active one; refuses a second concurrent emulator."""
    global _active
    with _active_lock:
        if _active is not None and _active is not runtime:
            raise EmulatorError(
                "another emulator is already running in this process; stop it first (moto's state is process-wide)"
            )
        global _saved_level
        if _active is None:
            _saved_level = _ENGINE_LOGGER.level
            _ENGINE_LOGGER.setLevel(logging.CRITICAL)
        _active = runtime


def deactivate(runtime: Runtime) -> None:
    """Forget ``runtime`` if it is the active one."""
    global _active
    with _active_lock:
        if _active is runtime:
            _active = None
            if _saved_level is not None:
                _ENGINE_LOGGER.setLevel(_saved_level)


def stop_running_executions(timeout: float = 10.0) -> int:
    """Abort every RUNNING Step Functions execution and wait for its thread; the count aborted.

    moto runs each execution in a daemon thread that outlives the mock: without this, an
    execution started before ``stop()`` keeps calling SageMaker in the next emulator (a new
    test's), which sees resources it never created.
    """
    import datetime

    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.parser.utils import TMP_THREADS

    aborted = 0
    # Not iter_backends(): moto types its backends as BaseBackend; the dicts keep the real type.
    backends = (
        backend for region_backends in stepfunctions_parser_backends.values() for backend in region_backends.values()
    )
    for backend in backends:
        machines = list(backend.state_machines)
        machines += [version for machine in machines for version in getattr(machine, "versions", {}).values()]
        for machine in machines:
            for execution in list(getattr(machine, "executions", [])):
                worker = execution.exec_worker
                if execution.status == "RUNNING" and worker is not None:
                    # The worker's environment exists once its thread has begun; an execution
                    # started just before stop() may not have got that far yet.
                    started = time.monotonic()
                    while worker.env is None and time.monotonic() - started < timeout:
                        time.sleep(0.01)
                    if worker.env is None:
                        continue
                    worker.stop(
                        stop_date=datetime.datetime.now(tz=datetime.timezone.utc),
                        error="Emulator.Stopped",
                        cause="the emulator was stopped while this execution ran",
                    )
                    aborted += 1
    deadline = time.monotonic() + timeout
    for thread in list(TMP_THREADS):
        thread.join(max(0.0, deadline - time.monotonic()))
    return aborted
