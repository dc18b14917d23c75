"""Alarms as code and the guardrails that roll an update back when one goes to ALARM."""

from __future__ import annotations

import boto3
import pytest

from pipeline.alarms import ensure_alarms, own_alarm_names, plan_alarms
from pipeline.emulator import Emulator, Timings
from pipeline.wait import Backoff, wait_until
from tests.conftest import REGION
from tests.emulator.conftest import TIME_SCALE, Pipeline
from tests.fake_time import FakeTime

pytestmark = pytest.mark.emulator

UPDATE_SECONDS = 600.0


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def guarded(fake: FakeTime) -> Pipeline:
    """The staging pipeline (all-at-once guardrails on its alarms), updates lasting 10 emulated minutes."""
    timings = Timings(time_scale=TIME_SCALE, endpoint_update_seconds=UPDATE_SECONDS)
    with Emulator(timings=timings, clock=fake.clock, sleep=fake.sleep) as emu:
        pipeline = Pipeline(emu)
        ensure_alarms(pipeline.cfg, boto3.client("cloudwatch", region_name=REGION), out=lambda _: None)
        yield pipeline


POLL = Backoff.every(0.01)


def wait_for_status(pipeline: Pipeline, status: str, timeout: float = 30.0) -> None:
    # The update runs on the emulator's thread: a real-time bound no load reaches, nothing timed.
    waited = wait_until(
        lambda: pipeline.endpoint()["EndpointStatus"], lambda got: got == status, backoff=POLL, timeout=timeout
    )
    assert not waited.timed_out, f"endpoint never became {status}"


def test_deploy_creates_the_alarms_once_and_updates_a_changed_threshold() -> None:
    with Emulator(timings=Timings(time_scale=TIME_SCALE)):
        from pipeline.config import load_config

        config = load_config("prod")
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        lines: list[str] = []
        assert [c.action for c in ensure_alarms(config, cloudwatch, out=lines.append)] == ["create", "create"]
        alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
        assert (
            set(alarms)
            == set(own_alarm_names(config))
            == {
                "big-mart-prod-invocation-5xx-errors",
                "big-mart-prod-model-latency",
            }
        )
        latency = alarms["big-mart-prod-model-latency"]
        assert latency["MetricName"] == "ModelLatency" and latency["Namespace"] == "AWS/SageMaker"
        assert latency["Threshold"] == 500_000.0  # 500 ms in CloudWatch's microseconds
        assert {(d["Name"], d["Value"]) for d in latency["Dimensions"]} == {
            ("EndpointName", "big-mart-prod"),
            ("VariantName", "AllTraffic"),
        }
        assert alarms["big-mart-prod-invocation-5xx-errors"]["Statistic"] == "Sum"
        assert [c.action for c in plan_alarms(config, cloudwatch)] == ["unchanged", "unchanged"]
        changed = config.replace(alarm_model_latency_ms=250.0)
        assert [c.action for c in ensure_alarms(changed, cloudwatch, out=lines.append)] == ["unchanged", "update"]
        assert (
            cloudwatch.describe_alarms(AlarmNames=["big-mart-prod-model-latency"])["MetricAlarms"][0]["Threshold"]
            == 250_000.0
        )
        assert "alarm big-mart-prod-model-latency: update" in lines


def test_an_alarm_in_alarm_during_a_guarded_update_rolls_it_back(guarded: Pipeline, fake: FakeTime) -> None:
    assert guarded.run("run1")["status"] == "SUCCEEDED"
    execution = guarded.start("run2")
    wait_for_status(guarded, "Updating")
    boto3.client("cloudwatch", region_name=REGION).set_alarm_state(
        AlarmName="big-mart-staging-model-latency", StateValue="ALARM", StateReason="latency above 1000 ms"
    )
    # The next look sees the alarm and starts the rollback, which takes as long as an update.
    assert guarded.endpoint()["EndpointStatus"] == "Updating"
    fake.advance(UPDATE_SECONDS)
    desc = guarded.wait(execution)
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "Pipeline.UpdateRolledBack"
    endpoint = guarded.endpoint()
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == guarded.config_name("run1")
    assert "big-mart-staging-model-latency" in endpoint["FailureReason"]


def test_a_guarded_update_with_quiet_alarms_completes(guarded: Pipeline, fake: FakeTime) -> None:
    assert guarded.run("run1")["status"] == "SUCCEEDED"
    execution = guarded.start("run2")
    wait_for_status(guarded, "Updating")
    fake.advance(UPDATE_SECONDS)
    assert guarded.wait(execution)["status"] == "SUCCEEDED"
    assert guarded.endpoint()["EndpointConfigName"] == guarded.config_name("run2")
