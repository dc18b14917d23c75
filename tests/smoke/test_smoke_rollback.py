"""The smoke test and its rollback against a live endpoint serving real XGBoost models."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.emulator import Timings
from pipeline.outcomes import RollbackOutcome
from pipeline.smoke import smoke_and_rollback
from tests.smoke.conftest import FakeTime, Live

pytestmark = pytest.mark.smoke


def test_healthy_endpoint_passes(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)
    assert outcome.passed, outcome.failure
    assert outcome.rollback is None
    assert outcome.wait.config_name == live.configs["new"]
    assert len(outcome.result.latencies_ms) == 6
    names = [c.name for c in outcome.result.checks]
    assert names == ["single rows", "batch of 8 rows", "latency p95", "latency p50"]
    assert live.endpoint()["EndpointConfigName"] == live.configs["new"]


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("garbage", "body is not UTF-8"),
        ("nan", "is not finite"),
        ("wrong_count", "0 predictions for 1 rows"),
        ("error", "ModelError (HTTP 424)"),
    ],
)
def test_bad_answers_fail_and_roll_back_to_the_previous_model(
    live: Live, quick: dict[str, Any], behaviour: str, expected: str
) -> None:
    live.create("old")
    before = live.served()
    live.deploy("new")
    assert live.served() == pytest.approx(live.model_predictions("new"))
    assert live.served() != pytest.approx(before), "the two models must differ for this test to mean anything"
    fault = live.emu.misbehave_on_invoke(behaviour, endpoint=live.name, calls=[1])

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert not outcome.passed
    assert expected in outcome.failure
    assert fault.seen >= 2  # the rollback's own check called the endpoint again
    assert outcome.rollback is not None and outcome.rollback.outcome == RollbackOutcome.ROLLED_BACK, outcome.rollback
    assert outcome.rollback.config_name == live.configs["old"]
    assert outcome.rollback.check is not None and outcome.rollback.check.passed
    endpoint = live.endpoint()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", live.configs["old"])
    assert live.served() == pytest.approx(before)
    assert live.served() == pytest.approx(live.model_predictions("old"))


def test_latency_over_the_limit_fails_and_rolls_back(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    limits = live.limits(p95_ms=40.0)
    # Every single-row call of the smoke test is slow; the batch and the rollback's check are not.
    # The latency moves the fake clock the smoke test measures with: 60 ms exactly, the other
    # calls 0 ms, however loaded the machine is.
    live.emu.misbehave_on_invoke("latency", endpoint=live.name, seconds=0.06, calls=list(range(1, limits.calls + 1)))

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, limits, **quick)

    assert not outcome.passed
    assert outcome.failure == "latency p95: 60.0 ms (limit 40 ms)"
    assert outcome.result.latencies_ms == pytest.approx([60.0] * limits.calls)
    assert outcome.rollback.outcome == RollbackOutcome.ROLLED_BACK
    assert outcome.rollback.check.latencies_ms == pytest.approx([0.0] * len(outcome.rollback.check.latencies_ms))
    assert live.endpoint()["EndpointConfigName"] == live.configs["old"]
    assert live.served() == pytest.approx(live.model_predictions("old"))


def test_p50_limit_is_checked_when_set(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    limits = live.limits(p50_ms=40.0, p95_ms=10_000.0)
    live.emu.misbehave_on_invoke("latency", endpoint=live.name, seconds=0.06, calls=[1, 2, 3, 4])

    outcome = smoke_and_rollback(
        live.sagemaker, live.runtime, live.deployment(), live.payloads, limits, rollback_enabled=False, **quick
    )

    assert [c.name for c in outcome.result.failures] == ["latency p50"]
    assert outcome.result.latencies_ms == pytest.approx([60.0] * 4 + [0.0] * 2)
    assert outcome.rollback.outcome == "disabled"
    assert live.endpoint()["EndpointConfigName"] == live.configs["new"]


def test_failed_endpoint_fails_without_any_rollback_attempt(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    live.emu.set_endpoint_status(live.name, "Failed", "CapacityError: no ml.m5.large capacity")
    updates = live.emu.fail_call("sagemaker:UpdateEndpoint", "ValidationException", calls=[])
    deletes = live.emu.fail_call("sagemaker:DeleteEndpoint", "ValidationException", calls=[])

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert not outcome.passed and outcome.result is None
    assert "is Failed" in outcome.failure and "CapacityError" in outcome.failure
    assert outcome.rollback.outcome == RollbackOutcome.FAILED
    assert "accepts only DeleteEndpoint, so no rollback was attempted" in outcome.rollback.message
    assert outcome.rollback.manual[-1].endswith(f"--endpoint-config-name {live.configs['old']}")
    assert (updates.seen, deletes.seen) == (0, 0)
    assert live.endpoint()["EndpointStatus"] == "Failed"


def test_endpoint_not_in_service_within_the_bound_fails(live: Live, quick: dict[str, Any], fake_time: FakeTime) -> None:
    live.create("old")
    live.emu.timings = Timings(endpoint_update_seconds=3600)
    live.sagemaker.update_endpoint(EndpointName=live.name, EndpointConfigName=live.configs["new"])

    outcome = smoke_and_rollback(
        live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **{**quick, "wait_seconds": 20}
    )

    assert not outcome.passed and outcome.wait.timed_out
    assert "still not InService on" in outcome.failure and "after 20 s" in outcome.failure
    # Backoff 1, 2, 4, 8, then the rest of the bound; the same again while the rollback waits to settle.
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 8.0, 5.0] * 2
    assert outcome.rollback.outcome == RollbackOutcome.FAILED and "Updating" in outcome.rollback.message
    assert live.endpoint()["EndpointStatus"] == "Updating"


def test_first_deploy_failing_has_nothing_to_roll_back(live: Live, quick: dict[str, Any]) -> None:
    live.create("new")
    live.emu.misbehave_on_invoke("nan", endpoint=live.name)

    outcome = smoke_and_rollback(
        live.sagemaker, live.runtime, live.deployment(previous=None), live.payloads, live.limits(), **quick
    )

    assert not outcome.passed
    assert outcome.rollback.outcome == RollbackOutcome.NOTHING_TO_ROLL_BACK
    assert "first deploy" in outcome.rollback.message
    endpoint = live.endpoint()  # never deleted
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", live.configs["new"])


def test_refused_rollback_update_is_reported_with_the_manual_command(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    live.emu.misbehave_on_invoke("garbage", endpoint=live.name, calls=[1])
    live.emu.fail_call("sagemaker:UpdateEndpoint", "AccessDeniedException", "not authorized to UpdateEndpoint")

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert outcome.rollback.outcome == RollbackOutcome.FAILED
    assert "AccessDeniedException" in outcome.rollback.message
    assert outcome.rollback.manual == (
        f"aws sagemaker update-endpoint --endpoint-name {live.name} --endpoint-config-name {live.configs['old']}",
    )
    assert live.endpoint()["EndpointConfigName"] == live.configs["new"]


def test_rollback_update_that_sagemaker_rolls_back_is_not_trusted(live: Live, quick: dict[str, Any]) -> None:
    # AWS: a failed UpdateEndpoint ends InService on the config it started from, with an empty
    # FailureReason; only comparing EndpointConfigName shows the rollback did not happen.
    live.create("old")
    live.deploy("new")
    live.emu.misbehave_on_invoke("error", endpoint=live.name, calls=[1])
    live.emu.roll_back_update("", endpoint=live.name)

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert outcome.rollback.outcome == RollbackOutcome.FAILED
    assert f"InService on config {live.configs['new']}" in outcome.rollback.message
    assert f"not on {live.configs['old']}" in outcome.rollback.message
    assert live.endpoint()["EndpointConfigName"] == live.configs["new"]


def test_rollback_that_ends_update_rollback_failed_is_reported(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.deploy("new")
    live.emu.misbehave_on_invoke("wrong_count", endpoint=live.name, calls=[1])
    live.emu.roll_back_update("fleet could not be restored", endpoint=live.name, final_status="UpdateRollbackFailed")

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert outcome.rollback.outcome == RollbackOutcome.FAILED
    assert "UpdateRollbackFailed" in outcome.rollback.message
    assert outcome.rollback.manual[0].startswith("aws sagemaker update-endpoint")


def test_update_already_rolled_back_by_sagemaker_is_checked_not_updated(live: Live, quick: dict[str, Any]) -> None:
    live.create("old")
    live.emu.roll_back_update("", endpoint=live.name)
    live.deploy("new")  # ends InService on the old config: the waiter would call this a success
    updates = live.emu.fail_call("sagemaker:UpdateEndpoint", "ValidationException", calls=[])

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert not outcome.passed and outcome.result is None
    assert f"not on {live.configs['new']}" in outcome.failure
    assert outcome.rollback.outcome == RollbackOutcome.ROLLED_BACK
    assert "already back on" in outcome.rollback.message
    assert updates.seen == 0


def test_endpoint_changed_by_someone_else_is_left_alone(live: Live, quick: dict[str, Any]) -> None:
    live.train_and_configure({"other": 3})
    live.create("old")
    live.deploy("other")

    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)

    assert (
        outcome.rollback.outcome == RollbackOutcome.FAILED and "another deploy changed it" in outcome.rollback.message
    )
    assert live.endpoint()["EndpointConfigName"] == live.configs["other"]
