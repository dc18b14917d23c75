"""The project's generated state machine, executed end to end on the emulator."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from pipeline.definition import state_names as names
from tests.emulator.conftest import Pipeline

pytestmark = pytest.mark.emulator


def test_first_run_creates_the_endpoint(pipeline: Pipeline) -> None:
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    endpoint = pipeline.endpoint()
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == pipeline.config_name("run1")
    assert "createEndpoint" in pipeline.resources_called(desc["executionArn"])
    assert json.loads(desc["output"])["EndpointConfigName"] == pipeline.config_name("run1")


def test_second_run_updates_the_endpoint_in_place(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    created = pipeline.endpoint()
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    endpoint = pipeline.endpoint()
    assert endpoint["EndpointArn"] == created["EndpointArn"]
    assert endpoint["CreationTime"] == created["CreationTime"]
    assert endpoint["EndpointConfigName"] == pipeline.config_name("run2")
    called = pipeline.resources_called(desc["executionArn"])
    assert "updateEndpoint" in called and "createEndpoint" not in called


def test_failed_training_fails_the_run_and_leaves_the_endpoint_alone(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    before = pipeline.endpoint()
    pipeline.emu.fail_training("AlgorithmError: label column has NaN", job="*run2*")
    desc = pipeline.run("run2")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.TrainModelFailed"
    assert names.TRAIN_MODEL in desc["cause"] and "AlgorithmError: label column has NaN" in desc["cause"]
    assert pipeline.task_failures(desc["executionArn"])[0]["error"] == "States.TaskFailed"
    after = pipeline.endpoint()
    assert (after["EndpointConfigName"], after["LastModifiedTime"]) == (
        before["EndpointConfigName"],
        before["LastModifiedTime"],
    )
    assert not any(
        r.startswith(("create", "update")) and "Endpoint" in r and r != "createEndpointConfig"
        for r in pipeline.resources_called(desc["executionArn"])
    )


def test_throttling_twice_is_retried_then_succeeds(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateTrainingJob", "ThrottlingException", "Rate exceeded", calls=[1, 2])
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    failures = pipeline.task_failures(desc["executionArn"])
    assert [f["error"] for f in failures if f["resource"] == "createTrainingJob.sync"] == ["ThrottlingException"] * 2
    assert "Rate exceeded" in failures[0]["cause"]


def test_throttling_past_max_attempts_fails(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call("sagemaker:CreateTrainingJob", "ThrottlingException", "Rate exceeded")
    desc = pipeline.run("run1")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.TrainModelFailed" and "ThrottlingException" in desc["cause"]
    attempts = pipeline.cfg.retry.max_attempts + 1
    assert len(pipeline.task_failures(desc["executionArn"])) == attempts


def test_endpoint_creation_ending_failed_fails_the_run(pipeline: Pipeline) -> None:
    pipeline.emu.fail_endpoint_creation("ResourceLimitExceeded: no ml.m5.large capacity")
    desc = pipeline.run("run1")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.EndpointFailed"
    assert "no ml.m5.large capacity" in desc["cause"]
    assert pipeline.endpoint()["EndpointStatus"] == "Failed"


def test_silent_rollback_of_an_update_is_detected(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.roll_back_update(reason="")
    desc = pipeline.run("run2")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.UpdateRolledBack"
    assert pipeline.config_name("run1") in desc["cause"] and pipeline.config_name("run2") in desc["cause"]
    endpoint = pipeline.endpoint()
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == pipeline.config_name("run1")


def test_resource_limit_on_training_is_retried(pipeline: Pipeline) -> None:
    pipeline.emu.fail_call(
        "sagemaker:CreateTrainingJob",
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.m5.xlarge for training job usage' is 0",
        calls=[1],
    )
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    assert [
        f["error"] for f in pipeline.task_failures(desc["executionArn"]) if f["resource"] == "createTrainingJob.sync"
    ] == ["SageMaker.ResourceLimitExceededException"]


def test_same_name_and_input_twice_is_one_execution(pipeline: Pipeline) -> None:
    pipeline.emu.timings = pipeline.emu.timings.__class__(training_seconds=0.5, time_scale=0.001)
    first = pipeline.start("run1")
    second = pipeline.start("run1")  # while the first is RUNNING: AWS returns it
    assert first == second
    assert pipeline.wait(first)["status"] == "SUCCEEDED"
    assert len(pipeline.sfn.list_executions(stateMachineArn=pipeline.arn)["executions"]) == 1
    with pytest.raises(ClientError) as err:  # closed now: AWS refuses the name
        pipeline.start("run1")
    assert err.value.response["Error"]["Code"] == "ExecutionAlreadyExists"


def test_failed_endpoint_is_deleted_and_created_again(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.set_endpoint_status(pipeline.cfg.endpoint.name, "Failed", "Health check failed")
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    called = pipeline.resources_called(desc["executionArn"])
    assert called.index("deleteEndpoint") < called.index("createEndpoint")
    endpoint = pipeline.endpoint()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", pipeline.config_name("run2"))


def test_update_rollback_failed_endpoint_fails_without_deleting(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.set_endpoint_status(pipeline.cfg.endpoint.name, "UpdateRollbackFailed", "mixed fleet")
    desc = pipeline.run("run2")
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Pipeline.EndpointUpdateRollbackFailed"
    assert "update-endpoint" in desc["cause"] and "Nothing was changed or deleted" in desc["cause"]
    called = pipeline.resources_called(desc["executionArn"])
    assert not {"deleteEndpoint", "createEndpoint", "updateEndpoint"} & set(called)
    assert pipeline.endpoint()["EndpointStatus"] == "UpdateRollbackFailed"


def test_alias_and_version_arns_run_the_published_definition(pipeline: Pipeline) -> None:
    # moto lacks PublishStateMachineVersion; UpdateStateMachine(publish=True) publishes.
    version_arn = pipeline.sfn.update_state_machine(
        stateMachineArn=pipeline.arn, definition=json.dumps(pipeline.definition), publish=True
    )["stateMachineVersionArn"]
    alias_arn = pipeline.sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}]
    )["stateMachineAliasArn"]
    # A later definition change must not reach executions started through the alias.
    broken = {"StartAt": "Nope", "States": {"Nope": {"Type": "Fail", "Error": "Broken"}}}
    pipeline.sfn.update_state_machine(stateMachineArn=pipeline.arn, definition=json.dumps(broken))
    by_alias = pipeline.wait(pipeline.start("run1", arn=alias_arn))
    assert by_alias["status"] == "SUCCEEDED", by_alias
    assert by_alias["stateMachineAliasArn"] == alias_arn
    assert by_alias["stateMachineVersionArn"] == version_arn
    assert by_alias["stateMachineArn"] == pipeline.arn
    by_version = pipeline.wait(pipeline.start("run2", arn=version_arn))
    assert by_version["status"] == "SUCCEEDED"
    assert by_version["stateMachineVersionArn"] == version_arn and "stateMachineAliasArn" not in by_version
    plain = pipeline.wait(pipeline.start("run3"))
    assert plain["error"] == "Broken"
    assert len(pipeline.sfn.list_executions(stateMachineArn=pipeline.arn)["executions"]) == 3


def test_throttled_endpoint_lookup_waits_and_looks_again(pipeline: Pipeline) -> None:
    # DescribeEndpoint's throttling surfaces under the generic SDK error names, like "not found".
    # Calls 1-2: the gate's champion lookup; 3-4: the deploy stage's look at the endpoint.
    pipeline.emu.fail_call("sagemaker:DescribeEndpoint", "ThrottlingException", "Rate exceeded", calls=[1, 3])
    desc = pipeline.run("run1")
    assert desc["status"] == "SUCCEEDED", desc
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in pipeline.history(desc["executionArn"])
        if "stateEnteredEventDetails" in e
    ]
    assert entered.count(names.FIND_ENDPOINT) == 2
    assert names.WAIT_TO_SETTLE in entered
    assert entered.count(names.FIND_SERVING_ENDPOINT) == 2
    assert names.WAIT_FOR_CHAMPION in entered and names.FIRST_DEPLOY in entered
    assert "createEndpoint" in pipeline.resources_called(desc["executionArn"])


def test_throttled_delete_of_a_failed_endpoint_waits_and_deletes_again(pipeline: Pipeline) -> None:
    # An aws-sdk throttle is SageMaker.SageMakerException with the code in the Cause: no Retry
    # on ThrottlingException sees it, so the Cause decides (it used to end the run).
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    pipeline.emu.set_endpoint_status(pipeline.cfg.endpoint.name, "Failed", "Health check failed")
    pipeline.emu.fail_call("sagemaker:DeleteEndpoint", "ThrottlingException", "Rate exceeded", calls=[1])
    desc = pipeline.run("run2")
    assert desc["status"] == "SUCCEEDED", desc
    called = pipeline.resources_called(desc["executionArn"])
    assert called.count("deleteEndpoint") == 2
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run2")


def test_history_reads_as_moto_serializes_it(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """GetExecutionHistory's own JSON (pipeline.emulator.sfn_lists.to_json) parses, through
    botocore, to exactly what moto's serializer gives: retries, a failed task, both endings."""
    from pipeline.emulator import sfn_lists

    pipeline.emu.fail_call("sagemaker:CreateTrainingJob", "ThrottlingException", "Rate exceeded", calls=[1])
    succeeded = pipeline.run("run1")["executionArn"]
    pipeline.emu.fail_training("AlgorithmError: label column has NaN", job="*run2*")
    failed = pipeline.run("run2")["executionArn"]
    ours = [pipeline.history(arn) for arn in (succeeded, failed)]
    assert {"TaskFailed", "ExecutionSucceeded", "ExecutionFailed"} <= {e["type"] for h in ours for e in h}

    def moto_serializes(value: object, shape: object) -> object:
        raise sfn_lists._NotJson("the test asks for moto's serializer")

    monkeypatch.setattr(sfn_lists, "to_json", moto_serializes)
    assert [pipeline.history(arn) for arn in (succeeded, failed)] == ours
