"""Bootstrap failures a newcomer meets: one line naming the resource and the fix, nothing left behind."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pipeline.bootstrap import (
    TEMPLATE_PATH,
    BootstrapParameters,
    Repository,
    bootstrap,
    default_stack_name,
    parameters_from_config,
)
from pipeline.cli import main
from pipeline.config import load_config
from pipeline.errors import PipelineError
from tests.conftest import REGION
from tests.newcomer.conftest import OWNER, REPO, Clients, bootstrap_environment, create_oidc_provider

pytestmark = [pytest.mark.newcomer, pytest.mark.bootstrap]

STACK = "big-mart-staging-bootstrap"


def run_bootstrap(clients: Clients, **kwargs: Any) -> tuple[Any, str]:
    config = load_config("staging", environ={})
    parameters = parameters_from_config(config, Repository(OWNER, REPO))
    out = io.StringIO()
    options: dict[str, Any] = {"iam": clients("iam"), "s3": clients("s3")}
    options.update(kwargs)
    try:
        result = bootstrap(
            clients("cloudformation"),
            stack_name=default_stack_name(parameters.project_name),
            parameters=options.pop("parameters", parameters),
            template_body=TEMPLATE_PATH.read_text(encoding="utf-8"),
            out=out,
            poll_seconds=0,
            **options,
        )
    except PipelineError as exc:
        return exc, out.getvalue()
    return result, out.getvalue()


def staging_parameters() -> BootstrapParameters:
    """The staging stack's parameters, with the account's existing OIDC provider named."""
    provider = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    config = load_config("staging", environ={})
    return parameters_from_config(config, Repository(OWNER, REPO), existing_oidc_provider_arn=provider)


def stacks(clients: Clients) -> list[str]:
    listed = clients("cloudformation").list_stacks()["StackSummaries"]
    return [s["StackStatus"] for s in listed if s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"]


def test_an_existing_bucket_in_this_account_is_one_line_before_any_change(moto_account: None) -> None:
    clients = Clients()
    create_oidc_provider(clients)
    bucket = load_config("staging", environ={}).account.bucket
    clients("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    error, _ = run_bootstrap(clients)
    assert isinstance(error, PipelineError)
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"bucket {bucket} already exists in this account but not in stack {STACK}")
    assert "--set bucket=" in message
    assert stacks(clients) == []  # nothing created, so nothing to clean


def test_a_bucket_name_taken_by_another_account_says_names_are_global() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters = staging_parameters()
    with Stubber(cfn) as cfn_stub, Stubber(s3) as s3_stub:
        cfn_stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        s3_stub.add_client_error("head_bucket", "403", "Forbidden", http_status_code=403)
        with pytest.raises(PipelineError) as caught:
            bootstrap(cfn, stack_name=STACK, parameters=parameters, template_body="{}", out=io.StringIO(), s3=s3)
    assert str(caught.value).startswith(f"bucket {parameters.bucket_name} already exists in another AWS account")
    assert "bucket names are global" in str(caught.value)


def test_a_change_set_that_fails_on_execution_leaves_no_review_in_progress_stack(moto_account: None) -> None:
    """The emulator refuses the taken bucket at ExecuteChangeSet (AWS fails the resource later)."""
    clients = Clients()
    create_oidc_provider(clients)
    bucket = load_config("staging", environ={}).account.bucket
    clients("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    error, printed = run_bootstrap(clients, s3=None)  # no pre-check: the failure comes from CloudFormation
    assert isinstance(error, PipelineError)
    assert str(error).startswith(f"stack {STACK} was not created: bucket {bucket} already exists (S3 bucket names")
    assert "Deleted the empty stack" in printed
    assert stacks(clients) == []
    # A rerun with another bucket name works.
    config = load_config("staging", environ={}, overrides={"bucket": f"{bucket}-2"})
    parameters = parameters_from_config(config, Repository(OWNER, REPO))
    result, _ = run_bootstrap(clients, parameters=parameters)
    assert result.status == "created"


def test_a_rolled_back_first_stack_is_deleted_and_the_failed_resource_named() -> None:
    cfn = boto3.client("cloudformation", region_name=REGION)
    parameters = staging_parameters()
    stack_id = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1"
    now = datetime(2999, 1, 1, tzinfo=timezone.utc)

    def stack(status: str) -> dict[str, Any]:
        return {"Stacks": [{"StackName": STACK, "StackId": stack_id, "StackStatus": status, "CreationTime": now}]}

    def event(logical: str, kind: str, reason: str) -> dict[str, Any]:
        return {
            "StackId": stack_id,
            "EventId": logical,
            "StackName": STACK,
            "LogicalResourceId": logical,
            "ResourceType": kind,
            "ResourceStatus": "CREATE_FAILED",
            "ResourceStatusReason": reason,
            "Timestamp": now,
        }

    key = {"StackName": STACK, "ChangeSetName": "cs"}
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        stub.add_response(
            "create_change_set",
            {"Id": "arn:cs", "StackId": stack_id},
            {
                "StackName": STACK,
                "ChangeSetName": "cs",
                "ChangeSetType": "CREATE",
                "TemplateBody": "{}",
                "Parameters": ANY,
                "Capabilities": ["CAPABILITY_NAMED_IAM"],
                "Description": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {"ChangeSetName": "cs", "StackName": STACK, "Status": "CREATE_COMPLETE", "Changes": []},
            key,
        )
        stub.add_response("execute_change_set", {}, key)
        stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"), {"StackName": STACK})
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": STACK})
        events = {
            "StackEvents": [
                event("WorkflowRole", "AWS::IAM::Role", "Resource creation cancelled"),
                event("ArtifactBucket", "AWS::S3::Bucket", f"{parameters.bucket_name} already exists"),
            ]
        }
        stub.add_response("describe_stack_events", events, {"StackName": STACK})
        stub.add_response("describe_stack_events", events, {"StackName": STACK})
        stub.add_response("delete_stack", {}, {"StackName": STACK})
        stub.add_response("describe_stacks", stack("DELETE_IN_PROGRESS"), {"StackName": STACK})
        stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist")
        out = io.StringIO()
        with pytest.raises(PipelineError) as caught:
            bootstrap(
                cfn,
                stack_name=STACK,
                parameters=parameters,
                template_body="{}",
                out=out,
                poll_seconds=0,
                sleep=lambda _: None,
                change_set_name="cs",
            )
        stub.assert_no_pending_responses()
    message = str(caught.value)
    assert message.startswith(f"stack {STACK} was not created: bucket {parameters.bucket_name} already exists")
    assert message.endswith("The failed stack was deleted; run bootstrap again.")
    assert "Waiting for the failed stack big-mart-staging-bootstrap to be deleted" in out.getvalue()


def test_an_existing_oidc_provider_is_found_and_reused(moto_account: None) -> None:
    clients = Clients()
    provider = create_oidc_provider(clients)
    _, printed = bootstrap_environment("staging", clients)
    assert f"Reusing the account's GitHub OIDC provider {provider}" in printed
    stack = clients("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["ExistingOidcProviderArn"] == provider
    # The second environment reuses it too, without the flag the old guide asked for.
    _, printed_prod = bootstrap_environment("prod", clients)
    assert f"Reusing the account's GitHub OIDC provider {provider}" in printed_prod
    assert len(clients("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1


def test_the_cli_says_the_wait_bound_and_the_next_step_in_order(
    moto_account: None, capsys: pytest.CaptureFixture[str]
) -> None:
    create_oidc_provider(Clients())
    assert (
        main(["bootstrap", "--env", "staging", "--github-owner", OWNER, "--github-repo", REPO, "--poll-seconds", "0"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Waiting for change set bootstrap-" in out and "(at most 30 min, checking every 0 s)" in out
    assert "Waiting for stack big-mart-staging-bootstrap (at most 30 min" in out
    # The environment is created before its variables are set (the old order failed when pasted).
    create = out.index("create the GitHub environment 'staging'")
    assert create < out.index("gh variable set PIPELINE_BUCKET --env staging")
    assert "gh api --method PUT repos/acme/big-mart/environments/staging" in out
