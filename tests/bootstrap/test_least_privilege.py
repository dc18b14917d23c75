"""The workflow role grants exactly the actions the generated state machine calls."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipeline.config import environments, find_config_file, load_config, read_config_file
from pipeline.definition import build_definition
from pipeline.definition import state_names as names
from pipeline.errors import PipelineError
from tests.tooling import permissions

pytestmark = pytest.mark.bootstrap

ENVIRONMENTS = environments(read_config_file(find_config_file(None, {})))


def workflow_documents(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy documents of the template's workflow role."""
    role = template["Resources"]["WorkflowRole"]["Properties"]
    return [(policy["Fn::If"][1] if "Fn::If" in policy else policy)["PolicyDocument"] for policy in role["Policies"]]


def with_task(definition: dict[str, Any], name: str, resource: str, **parameters: Any) -> dict[str, Any]:
    """A copy of ``definition`` with one more Task state (unreachable states do not matter here)."""
    changed = copy.deepcopy(definition)
    changed["States"][name] = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
    return changed


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    """The staging state machine definition."""
    return build_definition(load_config("staging"))


def test_environments_exist() -> None:
    assert "staging" in ENVIRONMENTS and len(ENVIRONMENTS) >= 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_workflow_role_grants_exactly_what_the_definition_calls(template: dict[str, Any], environment: str) -> None:
    definition = build_definition(load_config(environment))
    diff = permissions.check_definition(definition, workflow_documents(template))
    assert diff.ok, diff.describe()


def test_the_definition_calls_what_the_pipeline_is_known_to_call(definition: dict[str, Any]) -> None:
    resources = {call.resource for call in permissions.task_calls(definition)}
    required = permissions.required_actions(definition)
    assert resources == {
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::sagemaker:createModel",
        "arn:aws:states:::sagemaker:createEndpointConfig",
        "arn:aws:states:::sagemaker:createEndpoint",
        # aws-sdk: the optimised integration is not documented to pass DeploymentConfig on.
        "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
        "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
        "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint",
        # Quality gate: the champion, followed from the endpoint to its registry version.
        "arn:aws:states:::aws-sdk:sagemaker:describeEndpointConfig",
        "arn:aws:states:::aws-sdk:sagemaker:describeModel",
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
        # Registry: the artifact copied with its SHA-256, the group, the version.
        "arn:aws:states:::aws-sdk:s3:copyObject",
        "arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
        "arn:aws:states:::aws-sdk:sagemaker:createModelPackageGroup",
        "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
    }
    # S3 authorises CopyObject as a read of the source and a write of the copy.
    assert required["s3:GetObject"] == required["s3:PutObject"] == ("Copy model artifact",)
    assert "s3:CopyObject" not in required
    assert "Create model package group" in required["sagemaker:AddTags"]
    assert set(required) >= permissions.TRAINING_JOB_SYNC
    assert "sagemaker:AddTags" in required  # the config tags every SageMaker resource
    # AWS's Step Functions page for SageMaker: ListTags with each optimised create call.
    assert set(required["sagemaker:ListTags"]) >= {
        names.TRAIN_MODEL,
        names.SAVE_MODEL,
        names.CONFIGURE_ENDPOINT,
        names.CREATE_ENDPOINT,
    }


def test_a_new_stage_without_its_permission_fails(template: dict[str, Any], definition: dict[str, Any]) -> None:
    changed = with_task(definition, "Delete old model", "arn:aws:states:::aws-sdk:sagemaker:deleteModel", ModelName="x")
    diff = permissions.check_definition(changed, workflow_documents(template))
    assert not diff.ok
    assert dict(diff.missing) == {"sagemaker:DeleteModel": ("Delete old model",)}
    assert "lacks sagemaker:DeleteModel, needed by state(s) Delete old model" in diff.describe()


def test_a_guarded_update_needs_describe_alarms_on_its_rollback_alarms(definition: dict[str, Any]) -> None:
    # SageMaker's guardrails page: the caller needs cloudwatch:DescribeAlarms on the alarms.
    required = permissions.required_actions(definition)
    assert required["cloudwatch:DescribeAlarms"] == (names.UPDATE_ENDPOINT,)
    changed = copy.deepcopy(definition)
    del changed["States"][names.UPDATE_ENDPOINT]["Parameters"]["DeploymentConfig"]["AutoRollbackConfiguration"]
    assert "cloudwatch:DescribeAlarms" not in permissions.required_actions(changed)
    sdk = with_task(
        definition,
        "Guarded SDK update",
        "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
        DeploymentConfig={"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}},
    )
    assert "Guarded SDK update" in permissions.required_actions(sdk)["cloudwatch:DescribeAlarms"]


def test_a_new_sync_stage_needs_its_polling_and_events_permissions(template: dict[str, Any]) -> None:
    bare = {"StartAt": "T", "States": {}}
    changed = with_task(bare, "T", "arn:aws:states:::sagemaker:createTrainingJob.sync", Tags=[])
    required = set(permissions.required_actions(changed))
    assert required == set(permissions.TRAINING_JOB_SYNC) | {"sagemaker:AddTags"}
    without_tags = with_task(bare, "T", "arn:aws:states:::sagemaker:createTrainingJob")
    assert set(permissions.required_actions(without_tags)) == {
        "sagemaker:CreateTrainingJob",
        "sagemaker:ListTags",
        "iam:PassRole",
    }


def test_an_unmapped_integration_is_an_error(definition: dict[str, Any]) -> None:
    changed = with_task(definition, "Batch scoring", "arn:aws:states:::sagemaker:createTransformJob.sync")
    with pytest.raises(permissions.UnknownIntegrationError, match=r"Batch scoring.*createTransformJob\.sync"):
        permissions.required_actions(changed)


def test_a_removed_stage_leaves_an_extra_permission(template: dict[str, Any], definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    for name, state in list(changed["States"].items()):
        if state.get("Resource", "").endswith(":deleteEndpoint"):
            del changed["States"][name]
    diff = permissions.check_definition(changed, workflow_documents(template))
    assert diff.extra == {"sagemaker:DeleteEndpoint"} and not diff.missing
    assert "grants sagemaker:DeleteEndpoint, which no state of the definition needs" in diff.describe()


def test_a_wildcard_grant_is_reported_even_though_it_covers_everything(definition: dict[str, Any]) -> None:
    required = permissions.required_actions(definition)
    document = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sagemaker:*", "iam:PassRole", "events:*", "s3:*", "cloudwatch:*"],
                "Resource": "x",
            }
        ]
    }
    diff = permissions.check_definition(definition, [document])
    assert not diff.missing
    assert diff.extra == {"sagemaker:*", "events:*", "s3:*", "cloudwatch:*"}
    assert set(required) > {"iam:PassRole"}


def test_actions_compare_case_insensitively() -> None:
    diff = permissions.compare({"sagemaker:CreateModel": ("S",)}, ["SageMaker:createmodel"])
    assert diff.ok


def test_tasks_inside_parallel_and_map_states_are_found() -> None:
    nested = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {
                            "A": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel", "End": True}
                        },
                    }
                ],
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "B",
                    "States": {
                        "B": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution.waitForTaskToken",
                            "End": True,
                        }
                    },
                },
                "End": True,
            },
        },
    }
    required = permissions.required_actions(nested)
    assert required == {
        "iam:PassRole": ("P/branch0/A",),
        "sagemaker:CreateModel": ("P/branch0/A",),
        "sagemaker:ListTags": ("P/branch0/A",),
        "states:DescribeExecution": ("M/B",),
    }


def test_lambda_and_activity_resources() -> None:
    lam = permissions.TaskCall("L", "arn:aws:lambda:eu-west-1:123456789012:function:f", False)
    act = permissions.TaskCall("A", "arn:aws:states:eu-west-1:123456789012:activity:a", False)
    assert permissions.actions_for(lam) == {"lambda:InvokeFunction"}
    assert permissions.actions_for(act) == frozenset()
    with pytest.raises(permissions.UnknownIntegrationError):
        permissions.actions_for(permissions.TaskCall("X", "not-an-arn", False))


def test_not_action_is_refused() -> None:
    with pytest.raises(PipelineError, match="NotAction"):
        permissions.policy_actions([{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}])
