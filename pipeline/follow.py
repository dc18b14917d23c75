"""Follow a Step Functions execution: one progress line per stage, timings, and why it failed.

Stages are the states that do work (Task, Wait, Map, Parallel); Pass and Choice states only
route and would drown the log. A stage that is entered many times (the endpoint polling loop)
prints once when first entered and once when first left; its timing spans all of its entries.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.outcomes import ExecutionStatus
from pipeline.printer import Printer
from pipeline.wait import Backoff, wait_until

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


STAGE_TYPES = ("TaskState", "WaitState", "MapState", "ParallelState")
# History events that mean the current attempt of a stage's task failed (it may be retried or caught).
TASK_FAILURES = (
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "ActivityFailed",
    "ActivityTimedOut",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
)
ENDINGS = {
    "ExecutionSucceeded": (ExecutionStatus.SUCCEEDED, "executionSucceededEventDetails"),
    "ExecutionFailed": (ExecutionStatus.FAILED, "executionFailedEventDetails"),
    "ExecutionAborted": (ExecutionStatus.ABORTED, "executionAbortedEventDetails"),
    "ExecutionTimedOut": (ExecutionStatus.TIMED_OUT, "executionTimedOutEventDetails"),
}
# Status of a followed execution that was still running when the caller's timeout expired.
STILL_RUNNING = ExecutionStatus.RUNNING


@dataclass
class StageTiming:
    """One stage: first entered, last left, and how it went.

    ``status``: running, succeeded, caught (left through a Catch: routing or a failure handled
    later), failed (the stage the failed execution is blamed on), aborted, timed_out.
    """

    name: str
    started: datetime
    ended: datetime | None = None
    status: str = "running"
    entries: int = 0
    error: str | None = field(default=None, repr=False)

    @property
    def seconds(self) -> float | None:
        """Duration from first entry to last exit, or None while running."""
        return None if self.ended is None else (self.ended - self.started).total_seconds()


@dataclass
class RunResult:
    """The outcome of following an execution."""

    status: ExecutionStatus
    stages: list[StageTiming]
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    failed_stage: str | None
    execution_arn: str = ""
    version_arn: str | None = None
    started: datetime | None = None
    stopped: datetime | None = None

    @property
    def succeeded(self) -> bool:
        """True only when the execution SUCCEEDED."""
        return self.status == ExecutionStatus.SUCCEEDED


class HistoryTracker:
    """Turns history events, oldest first, into stage timings and progress lines."""

    def __init__(self, started: datetime, out: Printer):
        self.started = started
        self.out = out
        self.stages: dict[str, StageTiming] = {}
        self.open: StageTiming | None = None
        self.last_id = 0
        self.status: ExecutionStatus | None = None
        self.error: str | None = None
        self.cause: str | None = None
        self.failed_stage: str | None = None
        self.last_caught: StageTiming | None = None

    def elapsed(self, when: datetime) -> str:
        """``[   12.3s]``: time since the execution started."""
        return f"[{(when - self.started).total_seconds():7.1f}s]"

    def feed(self, event: Mapping[str, Any]) -> None:
        """Account for one history event."""
        self.last_id = max(self.last_id, int(event["id"]))
        kind, when = event["type"], event["timestamp"]
        if kind.endswith("Entered") and kind.startswith(STAGE_TYPES):
            self._entered(event["stateEnteredEventDetails"]["name"], when)
        elif kind.endswith("Exited") and kind.startswith(STAGE_TYPES):
            self._exited(event["stateExitedEventDetails"]["name"], when)
        elif kind in TASK_FAILURES and self.open is not None:
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            self.open.error = details.get("error") or kind
        elif kind in ("TaskSucceeded", "ActivitySucceeded", "LambdaFunctionSucceeded") and self.open is not None:
            self.open.error = None  # a retry succeeded
        elif kind in ENDINGS:
            self._ended(kind, event, when)

    def _entered(self, name: str, when: datetime) -> None:
        stage = self.stages.get(name)
        if stage is None:
            stage = self.stages[name] = StageTiming(name=name, started=when)
            self.out(f"{self.elapsed(when)} {name}: entered")
        stage.entries += 1
        stage.status, stage.error = "running", None
        self.open = stage

    def _exited(self, name: str, when: datetime) -> None:
        stage = self.stages.get(name)
        if stage is None:  # history read from the middle; nothing to time
            return
        first_exit = stage.ended is None
        stage.ended = when
        if stage.error:
            stage.status = "caught"
            self.last_caught = stage
            self.out(f"{self.elapsed(when)} {name}: caught {stage.error} after {stage.seconds:.1f}s")
        else:
            stage.status = "succeeded"
            if first_exit:
                self.out(f"{self.elapsed(when)} {name}: succeeded in {stage.seconds:.1f}s")
        self.open = None

    def _ended(self, kind: str, event: Mapping[str, Any], when: datetime) -> None:
        status, key = ENDINGS[kind]
        details = event.get(key) or {}
        self.status = status
        self.error, self.cause = details.get("error"), details.get("cause")
        if status == ExecutionStatus.SUCCEEDED:
            self.out(f"{self.elapsed(when)} execution succeeded")
            return
        blamed = self.open or self.last_caught
        if blamed is not None:
            blamed.status = status.value.lower()
            blamed.ended = blamed.ended or when
            self.failed_stage = blamed.name
        where = f" at stage {self.failed_stage!r}" if self.failed_stage else ""
        self.out(f"{self.elapsed(when)} execution {status}{where}: {self.error or kind}")


# Events per GetExecutionHistory page while following: more than one poll usually brings.
HISTORY_PAGE = 25
# How long DescribeExecution may lag the history's last event before we take what it says.
SETTLE_SECONDS = 60.0


def new_events(sfn: SFNClient, execution_arn: str, after: int) -> list[Mapping[str, Any]]:
    """History events with an id above ``after``, oldest first.

    Asks for the newest first, a small page at a time, and stops at the first page reaching
    ``after``, so each poll costs about one call of HISTORY_PAGE events however long the history
    grows (the endpoint polling loop adds events every cycle, and every event can carry a state's
    whole input or output). Order within a page is not trusted: plain moto ignores
    ``reverseOrder`` and paging.
    """
    found: dict[int, Mapping[str, Any]] = {}
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": HISTORY_PAGE}
    while True:
        page = sfn.get_execution_history(**kwargs)
        ids = [int(event["id"]) for event in page["events"]]
        found.update((i, event) for i, event in zip(ids, page["events"], strict=True) if i > after)
        if not page.get("nextToken") or any(i <= after for i in ids):
            return [found[i] for i in sorted(found)]
        kwargs["nextToken"] = page["nextToken"]


def follow_execution(
    sfn: SFNClient,
    execution_arn: str,
    *,
    timeout_seconds: float,
    out: Printer = print,
    poll_seconds: float = 2.0,
    max_poll_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Follow an execution until it ends or ``timeout_seconds`` pass, printing stage lines.

    Polls the history (backing off while nothing happens, back to ``poll_seconds`` when
    something does), then describes the execution for its output. On timeout the execution is
    left running and the result's status is ``RUNNING``.
    """
    described = sfn.describe_execution(executionArn=execution_arn)
    tracker = HistoryTracker(described["startDate"], out)

    def poll() -> int:
        events = new_events(sfn, execution_arn, tracker.last_id)
        for event in events:
            tracker.feed(event)
        return len(events)

    waited = wait_until(
        poll,
        lambda _: tracker.status is not None,
        backoff=Backoff(first=poll_seconds, factor=1.5, most=max(poll_seconds, max_poll_seconds)),
        timeout=timeout_seconds,
        clock=clock,
        sleep=sleep,
        # New events: the execution is moving, so look again soon.
        restart=lambda new: new > 0,
    )
    if waited.timed_out:
        out(f"still running after {timeout_seconds:g}s; stopped following (the execution was not stopped)")
    if tracker.status is not None:
        # The history can show the end a moment before DescribeExecution does (moto writes the
        # last event, then the status; AWS's reads are eventually consistent): describe until it
        # has ended too, so the output and stop date are there.
        described = wait_until(
            lambda: sfn.describe_execution(executionArn=execution_arn),
            lambda found: found["status"] != ExecutionStatus.RUNNING,
            backoff=Backoff.every(poll_seconds),
            timeout=SETTLE_SECONDS,
            clock=clock,
            sleep=sleep,
        ).value
    output = json.loads(described["output"]) if described.get("output") else None
    return RunResult(
        status=tracker.status or STILL_RUNNING,
        stages=list(tracker.stages.values()),
        output=output,
        error=described.get("error", tracker.error),
        cause=described.get("cause", tracker.cause),
        failed_stage=tracker.failed_stage,
        execution_arn=execution_arn,
        version_arn=described.get("stateMachineVersionArn"),
        started=described.get("startDate"),
        stopped=described.get("stopDate"),
    )
