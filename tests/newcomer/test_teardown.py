"""teardown: lists exactly this environment's resources, deletes them only with --execute, keeps the rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pipeline import teardown
from pipeline.cli import main
from pipeline.config import PipelineConfig, load_config
from pipeline.deploy import deploy_state_machine
from pipeline.errors import UsageError
from tests.conftest import REGION
from tests.newcomer.conftest import Clients, bootstrap_environment, create_oidc_provider

pytestmark = pytest.mark.newcomer

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"
WRITES = ("Create", "Update", "Delete", "Put", "Stop", "Tag", "Untag", "Execute", "Publish")


class World:
    """A bootstrapped account where staging ran twice, plus things teardown must not touch."""

    def __init__(self, clients: Clients, config: PipelineConfig) -> None:
        self.clients, self.config = clients, config
        self.calls: list[str] = []

    def record_calls(self) -> None:
        """Record every operation sent from now on (botocore's before-call event)."""
        for client in self.clients.cache.values():
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def writes(self) -> list[str]:
        return [name for name in self.calls if name.startswith(WRITES)]

    def sagemaker_names(self) -> dict[str, set[str]]:
        sm = self.clients("sagemaker")
        return {
            "endpoints": {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]},
            "configs": {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]},
            "models": {m["ModelName"] for m in sm.list_models()["Models"]},
        }


def tags(environment: str) -> list[dict[str, str]]:
    return [{"Key": "project", "Value": "big-mart-pipeline"}, {"Key": "environment", "Value": environment}]


def make_run(sm: Any, config: PipelineConfig, run_id: str, environment: str = "staging") -> None:
    """What one execution of the state machine leaves behind: a model and an endpoint config."""
    base = f"{config.endpoint_name}-{run_id}"
    sm.create_model(
        ModelName=f"{base}-model",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{config.bucket}/m.tar.gz"},
        ExecutionRoleArn=config.sagemaker_role_arn,
        Tags=tags(environment),
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{base}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{base}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        Tags=tags(environment),
    )


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> bool:
    """Whether the world has the bootstrap stack (moto's CloudFormation costs seconds)."""
    return bool(getattr(request, "param", False))


@pytest.fixture
def world(moto_account: None, stack: bool) -> Iterator[World]:
    clients = Clients()
    create_oidc_provider(clients)
    if stack:
        config, _ = bootstrap_environment("staging", clients)
    else:
        config = load_config("staging", environ={})
        clients("s3").create_bucket(Bucket=config.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    sm = clients("sagemaker")
    make_run(sm, config, "0123456789ab-1")
    make_run(sm, config, "0123456789ab-2")
    sm.create_endpoint(
        EndpointName=config.endpoint_name,
        EndpointConfigName=f"{config.endpoint_name}-0123456789ab-2-config",
        Tags=tags("staging"),
    )
    deploy_state_machine(config, clients("stepfunctions"), commit_sha="0123456789ab", out=lambda _: None)
    # Not this project's, or not this environment's: a hand-made model with a similar name,
    # one with the right shape but another environment's tag, and another team's model.
    make_run(sm, config, "0123456789ab-9", environment="prod")
    sm.create_model(
        ModelName="big-mart-staging-handmade",
        PrimaryContainer={"Image": IMAGE},
        ExecutionRoleArn=config.sagemaker_role_arn,
    )
    sm.create_model(
        ModelName="another-team-model", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=config.sagemaker_role_arn
    )
    s3 = clients("s3")
    s3.create_bucket(Bucket="another-team-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    # The template turns versioning on; moto's CloudFormation ignores that property.
    s3.put_bucket_versioning(Bucket=config.bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):  # two versions of one key, then a delete marker on top
        s3.put_object(Bucket=config.bucket, Key=f"{config.prefix}/data/encoding.json", Body=body)
    s3.delete_object(Bucket=config.bucket, Key=f"{config.prefix}/data/encoding.json")
    s3.put_object(Bucket=config.bucket, Key=f"{config.prefix}/output/model.tar.gz", Body=b"m")
    yield World(clients, config)


OURS = [
    "endpoint big-mart-staging",
    "endpoint-config big-mart-staging-0123456789ab-1-config",
    "endpoint-config big-mart-staging-0123456789ab-2-config",
    "model big-mart-staging-0123456789ab-1-model",
    "model big-mart-staging-0123456789ab-2-model",
    "state-machine big-mart-staging",
]


def test_the_dry_run_lists_exactly_this_environment_s_resources_and_writes_nothing(world: World) -> None:
    before = world.sagemaker_names()
    world.record_calls()
    plan = teardown.plan_teardown(world.config, world.clients)
    assert [f"{r.kind} {r.name}" for r in plan.delete] == OURS
    kept = {f"{r.kind} {r.name}": why for r, why in plan.kept}
    assert "tag environment is 'prod', not 'staging'" in kept["model big-mart-staging-0123456789ab-9-model"]
    assert "name does not have this project's shape" in kept["model big-mart-staging-handmade"]
    assert "model another-team-model" not in kept  # not even a near miss: never listed
    assert world.writes() == []
    assert world.sagemaker_names() == before


def test_execute_deletes_what_it_listed_and_nothing_else(world: World) -> None:
    plan = teardown.plan_teardown(world.config, world.clients)
    teardown.execute_teardown(plan, world.clients, out=lambda _: None, wait_stack=lambda _: None)
    names = world.sagemaker_names()
    assert names["endpoints"] == set()
    assert names["configs"] == {"big-mart-staging-0123456789ab-9-config"}
    assert names["models"] == {
        "big-mart-staging-0123456789ab-9-model",
        "big-mart-staging-handmade",
        "another-team-model",
    }
    assert world.clients("stepfunctions").list_state_machines()["stateMachines"] == []
    # Without --all the bucket with the data stays (and the stack: see the --all tests).
    assert world.clients("s3").head_bucket(Bucket=world.config.bucket)
    # A second run finds nothing of its own left.
    assert teardown.plan_teardown(world.config, world.clients).delete == []


@pytest.mark.parametrize("stack", [True], indirect=True)
def test_all_empties_the_versioned_bucket_then_deletes_the_stack_and_the_bucket(world: World) -> None:
    plan = teardown.plan_teardown(world.config, world.clients, everything=True)
    bucket = world.config.bucket
    assert [f"{r.kind} {r.name}" for r in plan.delete] == [
        *OURS,
        f"bucket-objects {bucket}",
        "stack big-mart-staging-bootstrap",
        f"bucket {bucket}",
    ]
    waited: list[str] = []
    teardown.execute_teardown(plan, world.clients, out=lambda _: None, wait_stack=waited.append)
    assert waited == ["big-mart-staging-bootstrap"]
    s3 = world.clients("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["another-team-bucket"]
    with pytest.raises(world.clients("iam").exceptions.NoSuchEntityException):
        world.clients("iam").get_role(RoleName="big-mart-staging-deploy")
    # The OIDC provider stays: other stacks and repositories may trust it.
    assert len(world.clients("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]) == 1


def test_empty_bucket_removes_every_version_and_delete_marker(world: World) -> None:
    s3 = world.clients("s3")
    versions = s3.list_object_versions(Bucket=world.config.bucket)
    assert len(versions["Versions"]) == 3 and len(versions["DeleteMarkers"]) == 1
    assert teardown.empty_bucket(s3, world.config.bucket) == 4
    after = s3.list_object_versions(Bucket=world.config.bucket)
    assert not after.get("Versions") and not after.get("DeleteMarkers")


def test_the_registry_s_versions_and_group_are_deleted(world: World) -> None:
    sm = world.clients("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="big-mart-staging", Tags=tags("staging"))
    sm.create_model_package_group(ModelPackageGroupName="someone-elses", Tags=tags("staging"))
    for _ in range(2):
        sm.create_model_package(
            ModelPackageGroupName="big-mart-staging",
            InferenceSpecification={
                "Containers": [{"Image": IMAGE}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    # The configuration's registry_group (model_package_group, unset: the endpoint's name).
    assert teardown.registry_groups(world.config) == ["big-mart-staging"]
    plan = teardown.plan_teardown(world.config, world.clients)
    kinds = [r.kind for r in plan.delete]
    assert kinds.count("model-package") == 2 and kinds.index("model-package-group") > kinds.index("model-package")
    teardown.execute_teardown(plan, world.clients, out=lambda _: None, wait_stack=lambda _: None)
    groups = [g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]]
    assert groups == ["someone-elses"]


def test_prod_needs_the_confirmation_flag_before_any_aws_call() -> None:
    prod = load_config("prod", environ={})
    with pytest.raises(UsageError, match="add --confirm-prod"):
        teardown.confirm(prod, execute=True, confirm_prod=False)
    teardown.confirm(prod, execute=False, confirm_prod=False)  # a dry run needs no confirmation
    teardown.confirm(prod, execute=True, confirm_prod=True)
    teardown.confirm(load_config("staging", environ={}), execute=True, confirm_prod=False)


@pytest.mark.parametrize("stack", [True], indirect=True)
def test_the_cli_dry_run_then_execute(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["teardown"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[: len(OURS)] == [f"would delete {line}" for line in OURS]
    assert out[-1] == "dry run: nothing was deleted; add --execute to delete what is listed"
    assert world.sagemaker_names()["endpoints"] == {"big-mart-staging"}
    assert main(["teardown", "--env", "prod", "--execute"]) == 2
    assert "add --confirm-prod" in capsys.readouterr().err
    assert main(["teardown", "--execute"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "deleted 6 resources of environment staging"
    assert world.sagemaker_names()["endpoints"] == set()


@pytest.mark.parametrize("stack", [True], indirect=True)
def test_the_cli_all_waits_for_the_stack(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["teardown", "--all", "--execute"]) == 0
    out = capsys.readouterr().out
    assert "Waiting for stack big-mart-staging-bootstrap to be deleted (at most 30 min" in out
    assert "DELETE_COMPLETE" in out
    assert (
        boto3.client("cloudformation", region_name=REGION).list_stacks(StackStatusFilter=["CREATE_COMPLETE"])[
            "StackSummaries"
        ]
        == []
    )
