"""The generated state machine: golden file, ASL validity, service parameters, names."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.definition import build_definition, definition_json, execution_input, run_id_for_commit, to_mermaid
from pipeline.definition import state_names as names
from pipeline.errors import UsageError
from tests.tooling.asl import lint
from tests.tooling.service_model import check_definition

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def staging():
    return load_config("staging", environ={})


@pytest.fixture(scope="module")
def definition(staging):
    return build_definition(staging)


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    assert actual == path.read_text(), (
        f"{path.name} differs from the generated output; if the change is intended, "
        "rerun with UPDATE_GOLDEN=1 and review the diff"
    )


def test_definition_matches_golden_file(staging):
    golden("staging.asl.json", definition_json(staging))


def test_mermaid_matches_golden_file(definition):
    golden("staging.mmd", to_mermaid(definition))


def test_same_configuration_gives_identical_bytes(staging):
    again = load_config("staging", environ={})
    assert definition_json(staging).encode() == definition_json(again).encode()


def test_statelint_accepts_definition(definition):
    assert lint(definition) == []
    # The one construct statelint cannot know (tests/tooling/asl.py): a Jayway filter path.
    values = definition["States"][names.READ_METRIC]["Parameters"]["Values.$"]
    assert values == "$.training.FinalMetricDataList[?(@.MetricName == 'validation:rmse')].Value"


def test_every_sagemaker_task_matches_botocore_model(definition):
    assert check_definition(definition) == []


@pytest.mark.parametrize(
    ("state", "path", "good_key", "bad_key", "expected"),
    [
        (
            names.TRAIN_MODEL,
            ["ResourceConfig"],
            "InstanceCount",
            "InstanceCout",
            "ResourceConfig has no member 'InstanceCout'",
        ),
        (names.SAVE_MODEL, [], "ModelName.$", "ModelNme.$", "CreateModelInput has no member 'ModelNme'"),
        (
            names.CONFIGURE_ENDPOINT,
            ["ProductionVariants", 0],
            "InstanceType",
            "InstanceTyp",
            "has no member 'InstanceTyp'",
        ),
        (names.FIND_ENDPOINT, [], "EndpointName", "EndpointNam", "required member 'EndpointName'"),
        (names.UPDATE_ENDPOINT, [], "EndpointConfigName.$", "EndpointConfig.$", "has no member 'EndpointConfig'"),
    ],
)
def test_misspelt_parameter_is_reported(definition, state, path, good_key, bad_key, expected):
    broken = copy.deepcopy(definition)
    target = broken["States"][state]["Parameters"]
    for step in path:
        target = target[step]
    target[bad_key] = target.pop(good_key)
    problems = check_definition(broken)
    assert any(expected in p and p.startswith(state) for p in problems), problems


def test_wrong_parameter_type_is_reported(definition):
    broken = copy.deepcopy(definition)
    broken["States"][names.TRAIN_MODEL]["Parameters"]["ResourceConfig"]["InstanceCount"] = "1"
    assert check_definition(broken) == [
        "Train model: Parameters.ResourceConfig.InstanceCount: expected integer, got str '1'"
    ]


def test_stages_run_in_order(definition):
    states = definition["States"]
    assert definition["StartAt"] == names.CHECK_RUN_INPUT
    assert states[names.CHECK_RUN_INPUT]["Choices"][0]["Next"] == names.TRAIN_MODEL
    assert states[names.TRAIN_MODEL]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    # Train -> champion lookup -> gate -> registration -> model -> endpoint config -> deploy.
    assert states[names.TRAIN_MODEL]["Next"] == names.FIND_SERVING_ENDPOINT
    assert states[names.GATE_PASSED]["Next"] == names.COPY_ARTIFACT
    assert states[names.REGISTER_MODEL]["Next"] == names.SAVE_MODEL
    assert states[names.SAVE_MODEL]["Next"] == names.CONFIGURE_ENDPOINT
    assert states[names.CONFIGURE_ENDPOINT]["Next"] == names.FIND_ENDPOINT
    # The endpoint's model is created from the registered version, nothing else.
    assert states[names.SAVE_MODEL]["Parameters"]["PrimaryContainer"] == {
        "ModelPackageName.$": "$.registered.ModelPackageArn"
    }


def test_every_task_has_timeout_retry_and_catch(definition):
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == 16
    for name, state in tasks.items():
        assert state["TimeoutSeconds"] > 0, name
        assert state["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] >= 1 for r in state["Retry"]), name
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name


def test_training_is_bounded_and_retried_per_aws_guidance(definition, staging):
    train = definition["States"][names.TRAIN_MODEL]
    assert train["Parameters"]["StoppingCondition"] == {"MaxRuntimeInSeconds": staging.training_max_runtime_seconds}
    errors = train["Retry"][0]["ErrorEquals"]
    for name in (
        "ThrottlingException",
        "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException",
    ):
        assert name in errors
    assert train["TimeoutSeconds"] > staging.training_max_runtime_seconds


def test_endpoint_status_routing(definition):
    route = definition["States"][names.ROUTE_BY_STATUS]
    targets = {c.get("StringEquals"): c["Next"] for c in route["Choices"] if "StringEquals" in c}
    assert targets == {
        "InService": names.UPDATE_ENDPOINT,
        "Failed": names.DELETE_FAILED_ENDPOINT,
        "UpdateRollbackFailed": names.NEEDS_OPERATOR,
    }
    waiting = next(c for c in route["Choices"] if "Or" in c)
    assert {r["StringEquals"] for r in waiting["Or"]} == {
        "Creating",
        "Updating",
        "SystemUpdating",
        "RollingBack",
        "Deleting",
    }
    assert definition["States"][names.DELETE_FAILED_ENDPOINT]["Next"] == names.WAIT_TO_SETTLE
    assert definition["States"][names.WAIT_TO_SETTLE]["Next"] == names.FIND_ENDPOINT


def test_only_a_missing_endpoint_leads_to_create(definition):
    missing = definition["States"][names.ENDPOINT_MISSING]
    assert missing["Choices"][0] == {
        "Variable": "$.error.Cause",
        "StringMatches": "*Could not find endpoint*",
        "Next": names.NO_ENDPOINT_YET,
    }
    throttled = missing["Choices"][1]
    assert throttled["Next"] == names.WAIT_TO_SETTLE
    assert {r["StringMatches"] for r in throttled["Or"]} == {"*Throttl*", "*Rate exceeded*"}
    assert missing["Default"] == names.stage_failed(names.FIND_ENDPOINT)


def test_success_requires_this_runs_config(definition):
    live = definition["States"][names.DEPLOYMENT_STATUS]["Choices"][0]
    assert live["Next"] == names.REPORT_DEPLOYMENT
    assert {"Variable": "$.deployed.EndpointConfigName", "StringEqualsPath": "$.EndpointConfigName"} in live["And"]
    rolled_back = definition["States"][names.DEPLOYMENT_STATUS]["Choices"][1]
    assert rolled_back == {
        "Variable": "$.deployed.EndpointStatus",
        "StringEquals": "InService",
        "Next": names.UPDATE_ROLLED_BACK,
    }


def test_failures_name_their_stage(definition):
    for name, state in definition["States"].items():
        if state["Type"] == "Pass" and state.get("Next") == names.PIPELINE_FAILED:
            assert state["Parameters"]["Error"].startswith("Pipeline."), name
            assert state["Parameters"]["Stage"], name
    fail = definition["States"][names.PIPELINE_FAILED]
    assert (fail["ErrorPath"], fail["CausePath"]) == ("$.failure.Error", "$.failure.Cause")


def test_endpoint_name_is_stable_and_per_run_names_come_from_input(definition, staging):
    assert definition["States"][names.CREATE_ENDPOINT]["Parameters"]["EndpointName"] == staging.endpoint_name
    assert (
        definition["States"][names.UPDATE_ENDPOINT]["Parameters"]["EndpointConfigName.$"]
        == "$$.Execution.Input['EndpointConfigName']"
    )
    assert (
        definition["States"][names.TRAIN_MODEL]["Parameters"]["TrainingJobName.$"]
        == "$$.Execution.Input['TrainingJobName']"
    )


def test_update_sends_no_tags(definition):
    # UpdateEndpoint has no Tags parameter; the botocore check would fail too.
    assert "Tags" not in definition["States"][names.UPDATE_ENDPOINT]["Parameters"]


def test_execution_input_names_fit_sagemaker_limits(staging):
    sha = "f" * 40
    names = execution_input(staging, run_id_for_commit(sha, 12))
    assert names == {
        "TrainingJobName": "big-mart-staging-ffffffffffff-12-train",
        "ModelName": "big-mart-staging-ffffffffffff-12-model",
        "EndpointConfigName": "big-mart-staging-ffffffffffff-12-config",
    }
    longest = staging.replace(endpoint_name="e" * 31)
    for name in execution_input(longest, "x" * 24).values():
        assert len(name) <= 63


@pytest.mark.parametrize(
    ("sha", "attempt", "message"),
    [
        ("not-a-sha", 1, "commit SHA 'not-a-sha' is not a hexadecimal git commit id"),
        ("abcdef1", 0, "run attempt 0 must be a whole number between 1 and 999999"),
        ("abcdef1", "x", "run attempt 'x' must be a whole number"),
    ],
)
def test_bad_run_identity_is_rejected(sha, attempt, message):
    with pytest.raises(UsageError, match=message):
        run_id_for_commit(sha, attempt)


def test_bad_run_id_is_rejected(staging):
    with pytest.raises(UsageError, match="run id 'Bad_ID' is not allowed"):
        execution_input(staging, "Bad_ID")


def test_mermaid_has_every_state(definition):
    diagram = to_mermaid(definition)
    assert diagram.startswith("flowchart TD\n")
    for name in definition["States"]:
        assert f'"{name}"' in diagram


def test_prod_differs_only_where_configured(definition):
    prod = build_definition(load_config("prod", environ={}))
    config = prod["States"][names.CONFIGURE_ENDPOINT]["Parameters"]["ProductionVariants"][0]
    assert config["InitialInstanceCount"] == 2
    assert json.dumps(sorted(prod["States"])) == json.dumps(sorted(definition["States"]))


def test_guardrails_are_off_by_default(definition):
    assert "DeploymentConfig" not in definition["States"][names.UPDATE_ENDPOINT]["Parameters"]


@pytest.mark.parametrize(
    ("strategy", "step_key"),
    [("all_at_once", None), ("canary", "CanarySize"), ("linear", "LinearStepSize")],
)
def test_guardrails_become_update_deployment_config(staging, strategy, step_key):
    config = staging.replace(
        deployment_strategy=strategy, deployment_step_percent=20, rollback_alarms=["big-mart-5xx", "big-mart-latency"]
    )
    built = build_definition(config)
    deployment = built["States"][names.UPDATE_ENDPOINT]["Parameters"]["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == strategy.upper()
    if step_key:
        assert routing[step_key] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert deployment["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "big-mart-5xx"}, {"AlarmName": "big-mart-latency"}]
    }
    assert "DeploymentConfig" not in built["States"][names.CREATE_ENDPOINT]["Parameters"]
    assert check_definition(built) == []
