"""bootstrap() paths moto cannot produce, on a stubbed CloudFormation client; parameter checks."""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pipeline import bootstrap as bs
from pipeline.cli import bootstrap as bootstrap_cli
from pipeline.errors import ConfigError, PipelineError, UsageError
from tests.bootstrap.conftest import STACK, make_parameters
from tests.conftest import REGION

pytestmark = pytest.mark.bootstrap

STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1"
CHANGE_SET = "bootstrap-test"
NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def stubbed() -> tuple[Any, Stubber]:
    """A CloudFormation client whose every call must be expected; unexpected calls fail."""
    client = boto3.client("cloudformation", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stack(status: str, outputs: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"StackName": STACK, "StackId": STACK_ID, "StackStatus": status, "CreationTime": NOW}
    if outputs:
        body["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]
    return {"Stacks": [body]}


def change_set(status: str, reason: str | None = None, changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ChangeSetName": CHANGE_SET,
        "StackName": STACK,
        "Status": status,
        "ExecutionStatus": "UNAVAILABLE" if status != "CREATE_COMPLETE" else "AVAILABLE",
        "Changes": changes or [],
    }
    if reason:
        body["StatusReason"] = reason
    return body


def expect_failed_update(stubber: Stubber, stack_status: str, reason: str) -> None:
    """A stack in ``stack_status`` whose update change set fails with ``reason`` and is deleted."""
    stubber.add_response("describe_stacks", stack(stack_status), {"StackName": STACK})
    expect_create(stubber, "UPDATE")
    stubber.add_response(
        "describe_change_set", change_set("FAILED", reason), {"StackName": STACK, "ChangeSetName": CHANGE_SET}
    )
    stubber.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": CHANGE_SET})


def expect_create(stubber: Stubber, change_set_type: str) -> None:
    stubber.add_response(
        "create_change_set",
        {"Id": "arn:cs", "StackId": STACK_ID},
        {
            "StackName": STACK,
            "ChangeSetName": CHANGE_SET,
            "ChangeSetType": change_set_type,
            "TemplateBody": "{}",
            "Parameters": make_parameters().as_cloudformation(),
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Description": ANY,
        },
    )


def run(client: Any, **kwargs: Any) -> tuple[bs.BootstrapResult, str]:
    out = io.StringIO()
    options: dict[str, Any] = {
        "stack_name": STACK,
        "parameters": make_parameters(),
        "template_body": "{}",
        "out": out,
        "poll_seconds": 0,
        "change_set_name": CHANGE_SET,
    }
    options.update(kwargs)
    return bs.bootstrap(client, **options), out.getvalue()


MODIFY_DEPLOY_ROLE = {
    "Type": "Resource",
    "ResourceChange": {
        "Action": "Modify",
        "LogicalResourceId": "DeployRole",
        "ResourceType": "AWS::IAM::Role",
        "Replacement": "False",
    },
}


def test_a_failed_no_change_change_set_is_deleted_and_reported(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expect_failed_update(
        stubber,
        "UPDATE_COMPLETE",
        "The submitted information didn't contain changes. Submit different information to create a change set.",
    )
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE", {"BucketName": "b"}), {"StackName": STACK})
    result, printed = run(client)
    assert result.status == "no-changes" and result.github_variables == {"PIPELINE_BUCKET": "b"}
    assert "no changes" in printed and "Executing" not in printed


def test_a_failed_change_set_reports_its_reason(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    expect_failed_update(stubber, "CREATE_COMPLETE", "Requires capabilities : [CAPABILITY_AUTO_EXPAND]")
    with pytest.raises(PipelineError, match=r"change set bootstrap-test .* failed: Requires capabilities"):
        run(client)


def test_the_change_set_is_polled_until_ready_then_printed_and_executed(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    sleeps: list[float] = []
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
    expect_create(stubber, "UPDATE")
    key = {"StackName": STACK, "ChangeSetName": CHANGE_SET}
    stubber.add_response("describe_change_set", change_set("CREATE_PENDING"), key)
    stubber.add_response("describe_change_set", change_set("CREATE_IN_PROGRESS"), key)
    stubber.add_response("describe_change_set", change_set("CREATE_COMPLETE", changes=[MODIFY_DEPLOY_ROLE]), key)
    stubber.add_response("execute_change_set", {}, key)
    stubber.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), {"StackName": STACK})
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE", {"DeployRoleArn": "arn:r"}), {"StackName": STACK})
    result, printed = run(client, poll_seconds=7, sleep=sleeps.append)
    assert sleeps == [7, 7, 7, 7]
    assert result.status == "updated" and result.github_variables == {"PIPELINE_DEPLOY_ROLE_ARN": "arn:r"}
    assert result.changes == (bs.ResourceChange("Modify", "DeployRole", "AWS::IAM::Role", "False"),)
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Change set "))
    assert lines[header + 1].split() == ["Action", "Logical", "id", "Type", "Replacement"]
    assert lines[header + 2].split() == ["Modify", "DeployRole", "AWS::IAM::Role", "False"]
    assert printed.index("Modify") < printed.index("Executing")
    # The wait says its bound first, then each status once, with the time it took.
    assert "Waiting for change set bootstrap-test (at most 30 min, checking every 7 s) ..." in lines
    statuses = [line.split()[-1] for line in lines if line.strip().endswith(("PENDING", "PROGRESS", "COMPLETE"))]
    assert statuses == [
        "CREATE_PENDING",
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]


def test_a_rolled_back_update_fails_with_the_failed_resources(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
    expect_create(stubber, "UPDATE")
    key = {"StackName": STACK, "ChangeSetName": CHANGE_SET}
    stubber.add_response("describe_change_set", change_set("CREATE_COMPLETE", changes=[MODIFY_DEPLOY_ROLE]), key)
    stubber.add_response("execute_change_set", {}, key)
    stubber.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK})
    event = {
        "StackId": STACK_ID,
        "EventId": "1",
        "StackName": STACK,
        "LogicalResourceId": "DeployRole",
        "ResourceType": "AWS::IAM::Role",
        "ResourceStatus": "UPDATE_FAILED",
        "ResourceStatusReason": "Access denied",
        "Timestamp": datetime(2999, 1, 1, tzinfo=timezone.utc),
    }
    old = dict(
        event, EventId="0", ResourceStatusReason="old failure", Timestamp=datetime(2000, 1, 1, tzinfo=timezone.utc)
    )
    stubber.add_response("describe_stack_events", {"StackEvents": [event, old]}, {"StackName": STACK})
    with pytest.raises(PipelineError) as caught:
        run(client)
    message = str(caught.value)
    assert "ended in UPDATE_ROLLBACK_COMPLETE" in message
    assert "DeployRole (AWS::IAM::Role): UPDATE_FAILED Access denied" in message
    assert "old failure" not in message


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "DELETE_FAILED"])
def test_a_stack_that_cannot_be_updated_is_refused_before_any_change(stubbed: tuple[Any, Stubber], status: str) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_stacks", stack(status), {"StackName": STACK})
    with pytest.raises(PipelineError, match=rf"{status} and cannot be updated.*delete-stack"):
        run(client)


def test_a_busy_stack_is_refused(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
    with pytest.raises(PipelineError, match="busy"):
        run(client)


def test_a_change_set_that_never_finishes_times_out(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
    expect_create(stubber, "CREATE")
    key = {"StackName": STACK, "ChangeSetName": CHANGE_SET}
    for _ in range(3):
        stubber.add_response("describe_change_set", change_set("CREATE_PENDING"), key)
    ticks = iter([0.0, 5.0, 10.0, 15.0])
    with pytest.raises(PipelineError, match="timed out after 12 s waiting for change set bootstrap-test"):
        run(client, timeout_seconds=12, sleep=lambda _: None, clock=lambda: next(ticks))


def test_a_rejected_change_set_is_reported(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
    stubber.add_client_error("create_change_set", "InsufficientCapabilitiesException", "Requires capabilities")
    # Nothing was left behind (no REVIEW_IN_PROGRESS stack), so nothing is deleted.
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
    with pytest.raises(PipelineError, match=r"rejected the change set.*Requires capabilities"):
        run(client)


def test_bad_parameters_are_all_reported_before_any_call(stubbed: tuple[Any, Stubber]) -> None:
    client, _ = stubbed  # no responses queued: any AWS call would fail the test
    bad = make_parameters(
        github_owner="",
        github_repo="big-*",
        environment_name="prod env",
        bucket_name="Bad_Bucket",
        state_machine_name="machine?",
    )
    with pytest.raises(ConfigError) as caught:
        run(client, parameters=bad, stack_name="1-not-a-stack")
    problems = caught.value.problems
    assert len(problems) == 6
    text = str(caught.value)
    assert "github_owner (GitHubOwner) = '' is empty" in text
    assert "github_repo (GitHubRepo) = 'big-*' contains a wildcard" in text
    assert "environment_name (EnvironmentName) = 'prod env' is not allowed; an environment name has" in text
    assert "bucket_name (BucketName) = 'Bad_Bucket' is not a valid S3 bucket name" in text
    assert "state_machine_name (StateMachineName) = 'machine?' contains a wildcard" in text
    assert "stack_name = '1-not-a-stack' is not allowed" in text
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2


@pytest.mark.parametrize(
    "uri,arn",
    [
        (
            "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5",
            "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost",
        ),
        (
            "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:1.7-1",
            "arn:aws-cn:ecr:cn-north-1:390948362332:repository/sagemaker-xgboost",
        ),
        (
            "246785580436.dkr.ecr.us-gov-west-1.amazonaws.com/team/image@sha256:" + "a" * 64,
            "arn:aws-us-gov:ecr:us-gov-west-1:246785580436:repository/team/image",
        ),
    ],
)
def test_image_repository_arn(uri: str, arn: str) -> None:
    assert bs.image_repository_arn(uri) == arn


def test_image_repository_arn_rejects_other_registries() -> None:
    with pytest.raises(UsageError, match="not an ECR image"):
        bs.image_repository_arn("docker.io/library/python:3.11")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    bootstrap_cli.register(subparsers)
    return parser.parse_args(["bootstrap", "--env", "staging", *argv])


def test_run_rejects_bad_flags_with_the_flag_value() -> None:
    # No AWS is mocked here: a call would try the network and fail differently.

    args = parse("--github-owner", "acme*", "--github-repo", "big-mart", "--existing-oidc-provider-arn", "arn:bad")
    with pytest.raises(ConfigError) as caught:
        bootstrap_cli.run(args, session=boto3.Session(region_name=REGION))
    assert len(caught.value.problems) == 2
    assert "'acme*' contains a wildcard" in str(caught.value)
    assert "existing_oidc_provider_arn (ExistingOidcProviderArn) = 'arn:bad'" in str(caught.value)


def test_run_reports_a_missing_template(tmp_path: Any) -> None:
    args = parse("--github-owner", "acme", "--github-repo", "big-mart", "--template", str(tmp_path / "none.yaml"))
    with pytest.raises(UsageError, match=r"none\.yaml' cannot be read"):
        bootstrap_cli.run(args, session=boto3.Session(region_name=REGION))


def test_parameters_from_config_use_the_configuration() -> None:
    from pipeline.config import load_config

    cfg = load_config("prod")
    params = bs.parameters_from_config(cfg, bs.Repository("acme", "big-mart"))
    assert params == make_parameters(
        environment_name="prod",
        project_name="big-mart-prod",
        state_machine_name="big-mart-prod",
        bucket_name="big-mart-pipeline-prod-123456789012",
        existing_oidc_provider_arn="",
    )
    assert bs.default_stack_name(params.project_name) == "big-mart-prod-bootstrap"
