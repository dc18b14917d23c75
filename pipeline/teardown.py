"""Delete what this project created in one environment, and nothing else.

``plan_teardown`` lists, read-only: the endpoint, the per-run endpoint configs and models
(``<endpoint_name>-<run id>-config|model``), the model registry's packages and groups named by
the configuration, the state machine (its versions and aliases go with it), and the endpoint's
autoscaling, alarms and data-capture objects (pipeline.teardown_extras). With
``everything=True`` also the bootstrap stack and its retained bucket (every object version and
delete marker first). A resource counts as the project's only when its name has the project's
shape AND, where the configuration has tags, its tags carry the same ``project`` and
``environment`` values; anything else is listed as kept. ``execute_teardown`` deletes what the
plan lists, in dependency order. The GitHub OIDC provider is never deleted: other stacks and
repositories may trust it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline.aws_errors import error_code, error_message
from pipeline.cleanup import (
    Resource,
    TeardownPlan,
    empty_bucket,
    ownership_problem,
    run_name,
    sagemaker_tags,
    tag_map,
)
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UsageError
from pipeline.printer import Printer
from pipeline.teardown_extras import KINDS, delete_extra, plan_extras

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

    from pipeline.clients import Clients


def _claim(plan: TeardownPlan, config: PipelineConfig, resource: Resource, tags: Mapping[str, str]) -> None:
    problem = ownership_problem(config, tags)
    if problem:
        plan.kept.append((resource, problem))
    else:
        plan.delete.append(resource)


def _listed(pages: Iterable[Any], key: str) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        yield from page.get(key, [])


def plan_sagemaker(plan: TeardownPlan, config: PipelineConfig, sagemaker: SageMakerClient) -> None:
    """The endpoint, then the per-run endpoint configs and models."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=config.endpoint.name)
    except ClientError as exc:
        if error_code(exc) != "ValidationException":  # SageMaker's "Could not find endpoint"
            raise
    else:
        resource = Resource("endpoint", config.endpoint.name, endpoint["EndpointArn"])
        _claim(plan, config, resource, sagemaker_tags(sagemaker, resource.arn))
    # Generators: each listing is made when its turn comes, configs (and their tags) first.
    configs = _listed(
        sagemaker.get_paginator("list_endpoint_configs").paginate(NameContains=config.endpoint.name), "EndpointConfigs"
    )
    models = _listed(sagemaker.get_paginator("list_models").paginate(NameContains=config.endpoint.name), "Models")
    for kind, items, name_key, arn_key in (
        ("endpoint-config", configs, "EndpointConfigName", "EndpointConfigArn"),
        ("model", models, "ModelName", "ModelArn"),
    ):
        pattern = run_name(config, "config" if kind == "endpoint-config" else "model")
        for item in sorted(items, key=lambda entry: str(entry[name_key])):
            name = str(item[name_key])
            if config.endpoint.name not in name:  # moto's ListModels ignores NameContains
                continue
            resource = Resource(kind, name, str(item[arn_key]))
            if not pattern.match(name):
                plan.kept.append((resource, f"name does not have this project's shape {pattern.pattern}"))
                continue
            _claim(plan, config, resource, sagemaker_tags(sagemaker, resource.arn))


def registry_groups(config: PipelineConfig) -> list[str]:
    """The model package group the state machine registers this environment's versions in."""
    return [config.registry_group]


def plan_registry(plan: TeardownPlan, config: PipelineConfig, sagemaker: SageMakerClient) -> None:
    """Every version (model package) of the configured groups, then the groups."""
    for group in registry_groups(config):
        try:
            described = sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        except ClientError as exc:
            if error_code(exc) in ("ValidationException", "ResourceNotFound"):
                continue
            raise
        group_resource = Resource("model-package-group", group, described["ModelPackageGroupArn"])
        problem = ownership_problem(config, sagemaker_tags(sagemaker, group_resource.arn))
        if problem:
            plan.kept.append((group_resource, problem))
            continue
        # The default ModelPackageType is Unversioned; a group's packages are its versions.
        pages = sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelPackageType="Versioned"
        )
        for package in _listed(pages, "ModelPackageSummaryList"):
            arn = str(package["ModelPackageArn"])
            plan.delete.append(Resource("model-package", arn.rsplit("/", 2)[-2] + "/" + arn.rsplit("/", 1)[-1], arn))
        plan.delete.append(group_resource)


def state_machine_arn(config: PipelineConfig) -> str:
    """The state machine's ARN (the deploy command's, from the workflow role's account)."""
    from pipeline.deploy import state_machine_arn as arn_of

    return arn_of(config)


def plan_state_machine(plan: TeardownPlan, config: PipelineConfig, sfn: SFNClient) -> None:
    """The state machine (DeleteStateMachine also deletes its versions and aliases)."""
    arn = state_machine_arn(config)
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        if error_code(exc) == "StateMachineDoesNotExist":
            return
        raise
    tags = tag_map(
        {"Key": item["key"], "Value": item["value"]}
        for item in sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
    )
    _claim(plan, config, Resource("state-machine", config.state_machine.name, arn), tags)


def plan_stack(
    plan: TeardownPlan, config: PipelineConfig, cfn: CloudFormationClient, s3: S3Client, stack_name: str
) -> None:
    """The bootstrap stack, and its bucket (retained by the stack, so deleted here) when it made it."""
    try:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in error_message(exc):
            return
        raise
    resources = {
        item["LogicalResourceId"]: item.get("PhysicalResourceId", "")
        for item in _listed(
            cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name), "StackResourceSummaries"
        )
    }
    parameters = {item["ParameterKey"]: item.get("ParameterValue", "") for item in stack.get("Parameters") or []}
    if parameters.get("EnvironmentName", config.environment) != config.environment:
        plan.kept.append(
            (Resource("stack", stack_name), f"it is environment {parameters['EnvironmentName']!r}'s stack")
        )
        return
    bucket = resources.get("ArtifactBucket", "")
    ours = bool(bucket) and bucket == config.account.bucket and _bucket_exists(s3, bucket)
    if bucket and bucket != config.account.bucket:
        plan.kept.append((Resource("bucket", bucket), f"the configuration's bucket is {config.account.bucket}"))
    # Emptied first; the stack retains the bucket (DeletionPolicy: Retain), so it is deleted
    # after the stack, once its bucket policy is gone with the stack.
    if ours:
        plan.delete.append(Resource("bucket-objects", bucket, f"arn:aws:s3:::{bucket}"))
    plan.delete.append(Resource("stack", stack_name, str(stack.get("StackId", ""))))
    if ours:
        plan.delete.append(Resource("bucket", bucket, f"arn:aws:s3:::{bucket}"))
    provider = resources.get("GitHubOidcProvider")
    if provider:
        plan.kept.append((Resource("oidc-provider", provider), "retained: other stacks and repositories may trust it"))


def _bucket_exists(s3: S3Client, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def plan_teardown(
    config: PipelineConfig, clients: Clients, *, everything: bool = False, stack_name: str | None = None
) -> TeardownPlan:
    """What teardown would delete (read-only calls only)."""
    plan = TeardownPlan(config.environment)
    sagemaker = clients("sagemaker")
    plan_sagemaker(plan, config, sagemaker)
    plan_registry(plan, config, sagemaker)
    plan_state_machine(plan, config, clients("stepfunctions"))
    plan_extras(plan, config, clients)
    if everything:
        plan_stack(
            plan, config, clients("cloudformation"), clients("s3"), stack_name or f"{config.endpoint.name}-bootstrap"
        )
    return plan


def confirm(config: PipelineConfig, *, execute: bool, confirm_prod: bool) -> None:
    """Refuse (UsageError, exit 2) to delete in prod without the explicit confirmation flag."""
    if execute and config.environment == "prod" and not confirm_prod:
        raise UsageError(
            "teardown --execute in environment 'prod' deletes the production endpoint; "
            "add --confirm-prod to do it (run without --execute first to see the list)"
        )


def execute_teardown(
    plan: TeardownPlan, clients: Clients, *, out: Printer = print, wait_stack: Callable[[str], None]
) -> None:
    """Delete what ``plan`` lists, in its order; ``wait_stack(name)`` waits for a stack deletion."""
    for resource in plan.delete:
        out(f"deleting {resource.kind} {resource.name}")
        try:
            if resource.kind in KINDS:  # autoscaling, alarms, captures (pipeline.teardown_extras)
                delete_extra(resource, clients, out)
                continue
            _delete(resource, clients, out, wait_stack)
        except ClientError as exc:
            raise PipelineError(
                f"deleting {resource.kind} {resource.name} failed: {error_code(exc)}: {error_message(exc)} "
                "(the resources before it were deleted; fix this and run teardown again)"
            ) from None


def _delete(resource: Resource, clients: Clients, out: Printer, wait_stack: Callable[[str], None]) -> None:
    if resource.kind == "endpoint":
        clients("sagemaker").delete_endpoint(EndpointName=resource.name)
    elif resource.kind == "endpoint-config":
        clients("sagemaker").delete_endpoint_config(EndpointConfigName=resource.name)
    elif resource.kind == "model":
        clients("sagemaker").delete_model(ModelName=resource.name)
    elif resource.kind == "model-package":
        clients("sagemaker").delete_model_package(ModelPackageName=resource.arn)
    elif resource.kind == "model-package-group":
        clients("sagemaker").delete_model_package_group(ModelPackageGroupName=resource.name)
    elif resource.kind == "state-machine":
        sfn = clients("stepfunctions")
        running = sfn.get_paginator("list_executions").paginate(stateMachineArn=resource.arn, statusFilter="RUNNING")
        for execution in _listed(running, "executions"):
            # Stopping the execution also stops the training job its .sync task started.
            sfn.stop_execution(executionArn=execution["executionArn"], cause="python -m pipeline teardown")
        sfn.delete_state_machine(stateMachineArn=resource.arn)
    elif resource.kind == "bucket-objects":
        out(f"  {empty_bucket(clients('s3'), resource.name)} object versions and delete markers deleted")
    elif resource.kind == "bucket":
        clients("s3").delete_bucket(Bucket=resource.name)
    elif resource.kind == "stack":
        clients("cloudformation").delete_stack(StackName=resource.name)
        wait_stack(resource.name)
    else:  # pragma: no cover - plan_* only produce the kinds above
        raise PipelineError(f"unknown resource kind {resource.kind}")
