"""Which SageMaker errors are retried, run on the emulator: validation fails fast, the rest waits."""

from __future__ import annotations

import json

import pytest

from pipeline.definition import build_definition
from pipeline.definition import state_names as names
from tests.emulator.conftest import Pipeline

pytestmark = pytest.mark.emulator

ALREADY_EXISTS = 'Cannot create already existing endpoint "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/x".'


def entered(pipeline: Pipeline, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in pipeline.history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def test_validation_error_fails_after_one_attempt_with_a_clear_error(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateEndpoint", "ValidationException", ALREADY_EXISTS)
    desc = pipeline.run("run1")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.CreateEndpointRejected"
    assert 'rejected "Create endpoint" as invalid (ValidationException)' in desc["cause"]
    assert ALREADY_EXISTS in desc["cause"]
    assert pipeline.resources_called(desc["executionArn"]).count("createEndpoint") == 1
    assert names.retry_loop(names.CREATE_ENDPOINT).back_off not in entered(pipeline, desc["executionArn"])


def test_validation_error_in_training_is_not_retried(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateTrainingJob", "ValidationException", "Invalid hyperparameter eta: -1")
    desc = pipeline.run("run1")
    assert (desc["status"], desc["error"]) == ("FAILED", "Pipeline.TrainModelRejected")
    assert "Invalid hyperparameter eta: -1" in desc["cause"]
    assert len(pipeline.task_failures(desc["executionArn"])) == 1


def test_named_throttle_is_still_retried(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateEndpoint", "ThrottlingException", "Rate exceeded", calls=[1, 2])
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    assert pipeline.resources_called(desc["executionArn"]).count("createEndpoint") == 3


def test_other_sagemaker_errors_go_through_the_counted_retry_loop(pipeline: Pipeline) -> None:
    # Reported as SageMaker.AmazonSageMakerException (as AWS reports throttles and internal
    # errors of optimised calls): the Cause decides, and it is not a validation error.
    pipeline.emu.fail_call(
        "sagemaker:CreateModel", "InternalFailure", "We encountered an internal error", status=500, calls=[1, 2]
    )
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    failures = [f for f in pipeline.task_failures(desc["executionArn"]) if f["resource"] == "createModel"]
    assert [f["error"] for f in failures] == ["SageMaker.AmazonSageMakerException"] * 2
    states = entered(pipeline, desc["executionArn"])
    assert states.count(names.SAVE_MODEL) == 3
    assert states.count(names.retry_loop(names.SAVE_MODEL).first) == 1
    assert states.count(names.retry_loop(names.SAVE_MODEL).again) == 1
    assert states.count(names.retry_loop(names.SAVE_MODEL).back_off) == 2
    output = json.loads(desc["output"])
    assert output["ModelName"] == pipeline.input("run1")["ModelName"]


def test_the_retry_loop_stops_after_max_attempts(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateModel", "InternalFailure", "We encountered an internal error", status=500)
    desc = pipeline.run("run1")
    assert (desc["status"], desc["error"]) == ("FAILED", "Pipeline.SaveModelFailed")
    assert "SageMaker.AmazonSageMakerException" in desc["cause"] and "internal error" in desc["cause"]
    calls = pipeline.resources_called(desc["executionArn"]).count("createModel")
    assert calls == pipeline.cfg.retry.max_attempts + 1


def test_a_config_not_readable_yet_is_retried_by_create_endpoint(pipeline: Pipeline) -> None:
    # SageMaker documents this validation error as transient (an eventually consistent read).
    missing = 'Could not find endpoint configuration "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/x".'
    pipeline.emu.fail_call("sagemaker:CreateEndpoint", "ValidationException", missing, calls=[1])
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    assert pipeline.resources_called(desc["executionArn"]).count("createEndpoint") == 2


def test_update_goes_through_the_aws_sdk_and_fails_fast_on_validation(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.fail_call("sagemaker:UpdateEndpoint", "ValidationException", "Endpoint has a bad config", calls=[1])
    desc = pipeline.run("run2")
    assert (desc["status"], desc["error"]) == ("FAILED", "Pipeline.UpdateEndpointFailed")
    failures = pipeline.task_failures(desc["executionArn"])
    assert [(f["resource"], f["error"]) for f in failures] == [("updateEndpoint", "SageMaker.SageMakerException")]
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run1")


def test_throttled_update_looks_again_and_updates(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.fail_call("sagemaker:UpdateEndpoint", "ThrottlingException", "Rate exceeded", calls=[1])
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    assert pipeline.resources_called(desc["executionArn"]).count("updateEndpoint") == 2
    assert names.UPDATE_THROTTLED in entered(pipeline, desc["executionArn"])
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run2")


def test_guarded_update_runs_with_its_deployment_config(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    guarded = build_definition(pipeline.cfg.replace(deployment_strategy="all_at_once", deployment_wait_seconds=0))
    pipeline.sfn.update_state_machine(stateMachineArn=pipeline.arn, definition=json.dumps(guarded))
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    scheduled = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in pipeline.history(desc["executionArn"])
        if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resource"] == "updateEndpoint"
    ]
    policy = scheduled[0]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run2")


def test_throttled_champion_lookup_and_registration_wait_and_try_again(pipeline: Pipeline) -> None:
    # aws-sdk throttles (SageMaker.SageMakerException, code in the Cause) used to end the run.
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.fail_call("sagemaker:DescribeModelPackage", "ThrottlingException", "Rate exceeded", calls=[1])
    pipeline.emu.fail_call("sagemaker:CreateModelPackage", "ThrottlingException", "Rate exceeded", calls=[1])
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    called = pipeline.resources_called(desc["executionArn"])
    assert called.count("describeModelPackage") == 2 and called.count("createModelPackage") == 2
    states = entered(pipeline, desc["executionArn"])
    assert names.CHAMPION_LOOKUP_THROTTLED in states and names.REGISTRY_THROTTLED in states
    assert json.loads(desc["output"])["QualityGate"]["Champion"]["Found"] is True
