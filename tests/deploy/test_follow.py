"""The follower against a Step Functions whose DescribeExecution lags the history."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipeline.follow import RunResult, follow_execution
from pipeline.outcomes import ExecutionStatus
from tests.fake_time import FakeTime

ARN = "arn:aws:states:eu-west-1:123456789012:execution:big-mart-staging:run-1"
START = datetime(2026, 12, 1, tzinfo=timezone.utc)


class LaggingSfn:
    """The history ends with ExecutionSucceeded; DescribeExecution says RUNNING ``lag`` more times."""

    def __init__(self, lag: int):
        self.lag = lag
        self.describes = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.describes += 1
        if self.describes <= 1 + self.lag:  # the follower's first describe, then the lag
            return {"status": "RUNNING", "startDate": START}
        return {"status": "SUCCEEDED", "startDate": START, "stopDate": START, "output": '{"EndpointName": "e"}'}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {
            "events": [
                {"id": 2, "type": "ExecutionSucceeded", "timestamp": START, "executionSucceededEventDetails": {}},
                {"id": 1, "type": "ExecutionStarted", "timestamp": START},
            ]
        }


def follow(sfn: LaggingSfn) -> RunResult:
    """Follow with 2 s polls on a fake clock (no real sleep)."""
    clock = FakeTime()
    return follow_execution(
        sfn,  # type: ignore[arg-type]
        ARN,
        timeout_seconds=60,
        out=lambda _: None,
        poll_seconds=2,
        clock=clock.clock,
        sleep=clock.sleep,
    )


def test_an_ended_history_waits_for_describe_execution_to_end_too() -> None:
    sfn = LaggingSfn(lag=3)
    result = follow(sfn)
    assert result.status == ExecutionStatus.SUCCEEDED
    assert result.output == {"EndpointName": "e"}  # read once DescribeExecution had it
    assert sfn.describes == 5 and result.stopped == START


def test_a_describe_that_never_ends_is_taken_after_the_settle_bound() -> None:
    sfn = LaggingSfn(lag=10**6)
    result = follow(sfn)
    assert result.status == ExecutionStatus.SUCCEEDED and result.output is None
    assert sfn.describes == 1 + 31  # every 2 s up to and at 60 s
