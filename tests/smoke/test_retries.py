"""Transient errors (throttling, 5xx) are retried with backoff; other 4xx are not."""

from __future__ import annotations

import boto3
import pytest

from pipeline import aws
from pipeline.smoke_checks import Retry, smoke_test
from tests.smoke.conftest import FakeTime, Live

pytestmark = pytest.mark.smoke


@pytest.fixture
def live(live_one: Live) -> Live:
    """These tests need one model only."""
    return live_one


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ServiceUnavailable", 503), ("InternalFailure", 500)],
)
def test_transient_errors_are_retried(live: Live, fake_time: FakeTime, code: str, status: int) -> None:
    live.create("old")
    fault = live.emu.fail_call("sagemaker-runtime:InvokeEndpoint", code, "try again", status=status, calls=[1, 2])
    retry = Retry(attempts=3, delay=0.5, sleep=fake_time.sleep)

    result = smoke_test(live.runtime, live.name, live.payloads, live.limits(calls=3), retry=retry)

    assert result.passed, result.summary()
    assert result.retries == 2
    assert fake_time.sleeps == [0.5, 1.0]
    assert fault.seen == 2 + 3 + 1  # two failed attempts, then three single rows and the batch


def test_transient_errors_past_the_attempts_fail_naming_the_error(live: Live, fake_time: FakeTime) -> None:
    live.create("old")
    fault = live.emu.fail_call("sagemaker-runtime:InvokeEndpoint", "ThrottlingException", "Rate exceeded")
    retry = Retry(attempts=3, delay=0.5, sleep=fake_time.sleep)

    result = smoke_test(live.runtime, live.name, live.payloads, live.limits(calls=3), retry=retry)

    assert not result.passed
    assert result.summary() == "single row (call 1 of 3): ThrottlingException (HTTP 400): Rate exceeded"
    assert fault.seen == 3


@pytest.mark.parametrize(
    ("code", "status"), [("ValidationError", 400), ("AccessDeniedException", 403), ("ModelNotReadyException", 429)]
)
def test_client_errors_are_not_retried(live: Live, fake_time: FakeTime, code: str, status: int) -> None:
    live.create("old")
    fault = live.emu.fail_call("sagemaker-runtime:InvokeEndpoint", code, "no", status=status, calls=[1])
    retry = Retry(attempts=3, delay=0.5, sleep=fake_time.sleep)

    result = smoke_test(live.runtime, live.name, live.payloads, live.limits(calls=3), retry=retry)

    assert not result.passed and f"{code} (HTTP {status})" in result.summary()
    assert (fault.seen, fake_time.sleeps) == (1, [])


def test_model_error_is_not_retried(live: Live, fake_time: FakeTime) -> None:
    # The container failing (ModelError, HTTP 424) is a broken model, not a blip.
    live.create("old")
    fault = live.emu.misbehave_on_invoke("error", endpoint=live.name, status=500)

    result = smoke_test(
        live.runtime, live.name, live.payloads, live.limits(), retry=Retry(attempts=3, sleep=fake_time.sleep)
    )

    assert "ModelError (HTTP 424)" in result.summary() and "Received server error (500)" in result.summary()
    assert (fault.seen, fake_time.sleeps) == (1, [])


def test_describe_throttling_is_polled_through(live: Live, fake_time: FakeTime) -> None:
    from pipeline.endpoint_wait import Backoff, wait_for_config

    live.create("old")
    fault = live.emu.fail_call("sagemaker:DescribeEndpoint", "ThrottlingException", "Rate exceeded", calls=[1, 2])

    # botocore's own retries would hide the throttling from the wait: one attempt per call.
    sagemaker = aws.client(boto3.Session(region_name=live.cfg.account.region), "sagemaker", max_attempts=1)
    state = wait_for_config(
        sagemaker,
        live.name,
        live.configs["old"],
        timeout=60,
        backoff=Backoff(first=1.0, factor=2.0),
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )

    assert state.ok and fault.seen == 3
    assert fake_time.sleeps == [1.0, 2.0]


def test_describe_access_denied_stops_the_wait(live: Live, fake_time: FakeTime) -> None:
    from pipeline.endpoint_wait import wait_for_config
    from pipeline.errors import PipelineError

    live.create("old")
    live.emu.fail_call("sagemaker:DescribeEndpoint", "AccessDeniedException", "not allowed")

    with pytest.raises(PipelineError, match=r"cannot describe endpoint .*AccessDeniedException"):
        wait_for_config(live.sagemaker, live.name, None, timeout=60, sleep=fake_time.sleep, clock=fake_time.clock)
    assert fake_time.sleeps == []
