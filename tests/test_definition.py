"""The generated state machine: golden file, ASL validity, service parameters, names."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from pipeline.config import environments, find_config_file, load_config, read_config_file
from pipeline.definition import build_definition, definition_json, execution_input, run_id_for_commit, to_mermaid
from pipeline.definition import state_names as names
from pipeline.errors import UsageError
from tests.tooling.asl import lint
from tests.tooling.output_paths import unguarded_reads
from tests.tooling.service_model import check_definition

GOLDEN = Path(__file__).parent / "golden"
# Every environment config/pipeline.toml defines gets every structural check and a golden file.
ENVIRONMENTS = environments(read_config_file(find_config_file(None, {})))


@pytest.fixture(scope="module")
def staging():
    return load_config("staging", environ={})


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def config(request):
    """Each configured environment in turn."""
    return load_config(request.param, environ={})


@pytest.fixture(scope="module")
def definition(config):
    return build_definition(config)


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual)
    assert actual == path.read_text(), (
        f"{path.name} differs from the generated output; if the change is intended, "
        "rerun with UPDATE_GOLDEN=1 and review the diff"
    )


def test_every_environment_is_checked():
    assert {"staging", "prod"} <= set(ENVIRONMENTS)


def test_definition_matches_golden_file(config):
    golden(f"{config.environment}.asl.json", definition_json(config))


def test_mermaid_matches_golden_file(config, definition):
    golden(f"{config.environment}.mmd", to_mermaid(definition))


def test_same_configuration_gives_identical_bytes(config):
    again = load_config(config.environment, environ={})
    assert definition_json(config).encode() == definition_json(again).encode()


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
    # Without a registered version in the input the run trains; with one it skips to the model.
    assert definition["StartAt"] == names.REGISTERED_VERSION_GIVEN
    assert states[names.REGISTERED_VERSION_GIVEN]["Default"] == names.CHECK_RUN_INPUT
    assert states[names.DEPLOY_REGISTERED_VERSION]["Next"] == names.SAVE_MODEL
    assert states[names.CHECK_RUN_INPUT]["Choices"][0]["Next"] == names.TRAIN_MODEL
    assert states[names.TRAIN_MODEL]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    # Train -> champion lookup -> gate -> registration -> model -> endpoint config -> deploy.
    assert states[names.TRAIN_MODEL]["Next"] == names.FIND_SERVING_ENDPOINT
    assert states[names.GATE_PASSED]["Next"] == names.COPY_ARTIFACT
    assert states[names.REGISTER_MODEL]["Next"] == names.TRAINED_VERSION
    assert states[names.TRAINED_VERSION]["Next"] == names.SAVE_MODEL
    assert states[names.SAVE_MODEL]["Next"] == names.CONFIGURE_ENDPOINT
    assert states[names.CONFIGURE_ENDPOINT]["Next"] == names.FIND_ENDPOINT
    # The endpoint's model is created from the release (a registered version), nothing else.
    assert states[names.SAVE_MODEL]["Parameters"]["PrimaryContainer"] == {
        "ModelPackageName.$": "$.release.ModelPackageArn"
    }


def test_every_task_has_timeout_retry_and_catch(definition):
    tasks = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert len(tasks) == 17
    for name, state in tasks.items():
        assert state["TimeoutSeconds"] > 0, name
        assert state["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] >= 1 for r in state["Retry"]), name
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name


def test_training_is_bounded_and_retried_per_aws_guidance(definition, config):
    train = definition["States"][names.TRAIN_MODEL]
    assert train["Parameters"]["StoppingCondition"] == {"MaxRuntimeInSeconds": config.training.max_runtime_seconds}
    errors = train["Retry"][0]["ErrorEquals"]
    for name in ("ThrottlingException", "SageMaker.ResourceLimitExceededException"):
        assert name in errors
    # AWS's catch-all SageMaker name is decided by its Cause, never retried blindly.
    assert "SageMaker.AmazonSageMakerException" not in errors
    assert train["Catch"][0] == {
        "ErrorEquals": ["SageMaker.AmazonSageMakerException"],
        "ResultPath": "$.error",
        "Next": names.retry_loop(names.TRAIN_MODEL).decide,
    }
    assert train["TimeoutSeconds"] > config.training.max_runtime_seconds


OPTIMISED_CALLS = (names.TRAIN_MODEL, names.SAVE_MODEL, names.CONFIGURE_ENDPOINT, names.CREATE_ENDPOINT)


@pytest.mark.parametrize("state", OPTIMISED_CALLS)
def test_validation_errors_fail_fast_and_the_rest_is_retried_with_backoff(definition, config, state):
    states = definition["States"]
    assert states[state]["Resource"].startswith("arn:aws:states:::sagemaker:")
    assert not any("SageMaker.AmazonSageMakerException" in r["ErrorEquals"] for r in states[state]["Retry"])
    decide = states[names.retry_loop(state).decide]
    first_rule = decide["Choices"][0]
    rejected = states[first_rule["Next"]]
    assert rejected["Parameters"]["Error"].endswith("Rejected") and rejected["Next"] == names.PIPELINE_FAILED
    validation = first_rule["And"][0] if "And" in first_rule else {k: v for k, v in first_rule.items() if k != "Next"}
    assert validation == {"Variable": "$.error.Cause", "StringMatches": "*ValidationException*"}
    # Anything else counts an attempt, stops after retry.max_attempts, waits and calls again.
    counting = {decide["Choices"][1]["Next"], decide["Default"]}
    assert counting == {names.retry_loop(state).first, names.retry_loop(state).again}
    left = states[names.retry_loop(state).left]
    assert all(states[n]["Next"] == names.retry_loop(state).left for n in counting)
    assert left["Choices"][0]["NumericGreaterThan"] == config.retry.max_attempts
    assert left["Choices"][0]["Next"] == states[state]["Catch"][-1]["Next"]  # the stage's failure
    assert states[left["Default"]]["Type"] == "Wait" and states[left["Default"]]["Next"] == state


def test_only_create_endpoint_retries_a_config_not_visible_yet(definition):
    # CreateEndpoint's documented eventually consistent read of the config it names.
    rule = definition["States"][names.retry_loop(names.CREATE_ENDPOINT).decide]["Choices"][0]
    assert rule["And"][1] == {
        "Not": {"Variable": "$.error.Cause", "StringMatches": "*Could not find endpoint configuration*"}
    }
    assert "And" not in definition["States"][names.retry_loop(names.SAVE_MODEL).decide]["Choices"][0]


@pytest.mark.parametrize(
    ("retry", "ends", "steps"),
    [
        # 10 s doubling up to 300 s: 10, 20, 40, 80, 160 for four retries (the fifth is never waited).
        ({}, [11, 21, 41, 81, 161], [1, 2, 3, 4, 4]),
        # The table stops where the delay stops growing, whatever max_attempts is.
        ({"retry_max_attempts": 1000}, [11, 21, 41, 81, 161, 301], [1, 2, 3, 4, 5, 5]),
        ({"retry_backoff_rate": 1.0}, [11], [0]),
        ({"retry_max_attempts": 0}, [11], [0]),
    ],
)
def test_retry_loop_delays_follow_the_retry_policy(staging, retry, ends, steps):
    from pipeline.definition.context import StageContext

    assert StageContext(staging.replace(**retry)).backoff() == (ends, steps)


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
    assert live["Next"] == names.SERVING_WHICH_CONFIG
    assert {"Variable": "$.deployed.EndpointConfigName", "IsPresent": True} in live["And"]
    which = definition["States"][names.SERVING_WHICH_CONFIG]
    assert which["Choices"] == [
        {
            "Variable": "$.deployed.EndpointConfigName",
            "StringEqualsPath": "$.EndpointConfigName",
            "Next": names.REPORT_DEPLOYMENT,
        }
    ]
    assert which["Default"] == names.UPDATE_ROLLED_BACK


def test_every_read_of_an_aws_answer_is_required_or_guarded(definition):
    assert unguarded_reads(definition) == []


def test_the_path_check_notices_an_unguarded_optional_field(definition):
    broken = copy.deepcopy(definition)
    broken["States"][names.FIND_ENDPOINT]["ResultSelector"] = {"EndpointConfigName.$": "$.EndpointConfigName"}
    del broken["States"][names.DEPLOYMENT_STATUS]["Choices"][0]["And"][1]  # the IsPresent guard
    problems = unguarded_reads(broken)
    assert any(p.startswith(f"{names.FIND_ENDPOINT}: reads $.EndpointConfigName") for p in problems), problems
    assert any("$.deployed.EndpointConfigName" in p and "optional" in p for p in problems), problems


def test_the_path_check_follows_a_result_selector_and_deep_guards(definition):
    # Variant comes from Find serving model's ResultSelector (ArrayGetItem of ProductionVariants);
    # its ModelName is optional, guarded by one Choice; the metadata reads by deeper IsPresent rules.
    broken = copy.deepcopy(definition)
    broken["States"][names.VARIANT_HAS_MODEL]["Choices"][0]["Variable"] = "$.champion_config.Variant.VariantName"
    broken["States"][names.CHAMPION_HAS_METADATA]["Choices"][0]["And"].pop()  # ModelPackageVersion
    problems = unguarded_reads(broken)
    assert any("ProductionVariant.ModelName is optional" in p for p in problems), problems
    assert any("DescribeModelPackageOutput.ModelPackageVersion is optional" in p for p in problems), problems
    assert not any("CustomerMetadataProperties" in p for p in problems), problems


def test_every_aws_sdk_task_survives_a_throttle(definition):
    # aws-sdk SageMaker throttles are SageMaker.SageMakerException with the code in the Cause.
    states = definition["States"]
    sdk_tasks = {n: s for n, s in states.items() if s["Type"] == "Task" and ":aws-sdk:" in s["Resource"]}
    assert len([n for n in sdk_tasks if ":aws-sdk:sagemaker:" in sdk_tasks[n]["Resource"]]) == 12
    for name, task in sdk_tasks.items():
        if ":aws-sdk:s3:" in task["Resource"]:
            # S3's SlowDown is unmodelled too: S3.S3Exception, which its retrier names.
            assert any("S3.S3Exception" in r["ErrorEquals"] for r in task["Retry"]), name
            continue
        catch = next(c for c in task["Catch"] if "SageMaker.SageMakerException" in c["ErrorEquals"])
        assert task["Catch"].index(catch) < len(task["Catch"]) - 1, name  # before the catch-all
        choice = states[catch["Next"]]
        throttled = [
            rule
            for rule in choice["Choices"]
            if {r.get("StringMatches") for r in rule.get("Or", [])} >= {"*Throttl*", "*Rate exceeded*"}
        ]
        assert throttled, name
        assert all(rule["Variable"] == "$.error.Cause" for t in throttled for rule in t["Or"]), name
        again = throttled[0]["Next"]
        assert not again.endswith(" failed") and states[again]["Type"] in ("Wait", "Task"), (name, again)


def test_the_throttle_check_notices_a_task_without_routing(definition):
    broken = copy.deepcopy(definition)
    task = broken["States"][names.READ_CHAMPION]
    task["Catch"] = [c for c in task["Catch"] if "States.ALL" in c["ErrorEquals"]]
    with pytest.raises(StopIteration):
        test_every_aws_sdk_task_survives_a_throttle(broken)


def test_failures_name_their_stage(definition):
    for name, state in definition["States"].items():
        if state["Type"] == "Pass" and state.get("Next") == names.PIPELINE_FAILED:
            assert state["Parameters"]["Error"].startswith("Pipeline."), name
            assert state["Parameters"]["Stage"], name
    fail = definition["States"][names.PIPELINE_FAILED]
    assert (fail["ErrorPath"], fail["CausePath"]) == ("$.failure.Error", "$.failure.Cause")


def test_endpoint_name_is_stable_and_per_run_names_come_from_input(definition, config):
    assert definition["States"][names.CREATE_ENDPOINT]["Parameters"]["EndpointName"] == config.endpoint.name
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


def test_prod_differs_only_where_configured(staging):
    prod = build_definition(load_config("prod", environ={}))
    variant = prod["States"][names.CONFIGURE_ENDPOINT]["Parameters"]["ProductionVariants"][0]
    assert variant["InitialInstanceCount"] == 2
    assert json.dumps(sorted(prod["States"])) == json.dumps(sorted(build_definition(staging)["States"]))


def test_guardrails_can_be_turned_off(staging):
    built = build_definition(staging.replace(deployment_strategy="none"))
    assert "DeploymentConfig" not in built["States"][names.UPDATE_ENDPOINT]["Parameters"]


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_every_environment_rolls_back_on_its_own_alarms(environment):
    built = build_definition(load_config(environment, environ={}))
    deployment = built["States"][names.UPDATE_ENDPOINT]["Parameters"]["DeploymentConfig"]
    endpoint = f"big-mart-{environment}"
    assert deployment["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": f"{endpoint}-invocation-5xx-errors"}, {"AlarmName": f"{endpoint}-model-latency"}]
    }


@pytest.mark.parametrize(
    ("strategy", "step_key"),
    [("all_at_once", None), ("canary", "CanarySize"), ("linear", "LinearStepSize")],
)
def test_guardrails_become_update_deployment_config(staging, strategy, step_key):
    config = staging.replace(
        deployment_strategy=strategy,
        deployment_step_percent=20,
        endpoint_instance_count=5,  # canary and linear shift part of a fleet: 20% of 5 is one instance
        alarms=False,
        rollback_alarms=["big-mart-staging-5xx", "big-mart-staging-latency"],
    )
    built = build_definition(config)
    deployment = built["States"][names.UPDATE_ENDPOINT]["Parameters"]["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == strategy.upper()
    if step_key:
        assert routing[step_key] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert deployment["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "big-mart-staging-5xx"}, {"AlarmName": "big-mart-staging-latency"}]
    }
    assert "DeploymentConfig" not in built["States"][names.CREATE_ENDPOINT]["Parameters"]
    assert check_definition(built) == []


def test_describe_endpoint_calls_retry_a_timeout(definition):
    # Read-only: retrying a timed-out DescribeEndpoint is safe, and one slow answer must not fail a deploy.
    for name in (names.FIND_ENDPOINT, names.CHECK_DEPLOYMENT):
        errors = {error for retrier in definition["States"][name]["Retry"] for error in retrier["ErrorEquals"]}
        assert "States.Timeout" in errors, name
