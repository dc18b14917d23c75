"""Create or update the one-time AWS bootstrap stack (``infra/bootstrap.yaml``) via a change set.

``bootstrap()`` validates the parameters before any AWS call, creates a change set, prints it
(action, logical id, type, replacement), executes it and waits, then prints the GitHub
environment variables to set from the stack outputs. When nothing changed it deletes the empty
change set, says "no changes" and writes nothing. ``add_arguments()`` / ``run()`` are the
``python -m pipeline bootstrap`` subcommand.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TextIO, TypeVar

from botocore.exceptions import ClientError

from pipeline import validation
from pipeline.aws_errors import error_code, error_message
from pipeline.errors import ConfigError, PipelineError, UsageError
from pipeline.wait import Backoff, wait_until

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.literals import CapabilityType as Capability
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef, StackTypeDef
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

    from pipeline.config import PipelineConfig

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "bootstrap.yaml"
CAPABILITIES: tuple[Capability, ...] = ("CAPABILITY_NAMED_IAM",)
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 30 * 60
# Deleting the stack (teardown --all) empties nothing itself; CloudFormation deletes the roles.
STACK_DELETE_POLL_SECONDS = 10.0
STACK_DELETE_TIMEOUT_SECONDS = 30 * 60
T = TypeVar("T")

# GitHub environment variable -> stack output. The PIPELINE_* names are the configuration's
# environment variables (pipeline.config.env_var_name), so the workflow can pass them through.
GITHUB_VARIABLES: tuple[tuple[str, str], ...] = (
    ("AWS_REGION", "Region"),
    ("PIPELINE_DEPLOY_ROLE_ARN", "DeployRoleArn"),
    ("PIPELINE_WORKFLOW_ROLE_ARN", "WorkflowRoleArn"),
    ("PIPELINE_SAGEMAKER_ROLE_ARN", "SageMakerRoleArn"),
    ("PIPELINE_BUCKET", "BucketName"),
    ("PIPELINE_PREFIX", "Prefix"),
    ("PIPELINE_STATE_MACHINE_NAME", "StateMachineName"),
    ("PIPELINE_ENDPOINT_NAME", "EndpointName"),
)

NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
UNRECOVERABLE_STATES = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")

_WILDCARDS = re.compile(r"[*?]")
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$")
GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PROJECT_NAME = re.compile(r"^[a-z0-9](?:-*[a-z0-9])*$")
PROJECT_NAME_MAX = 40
PREFIX = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
PREFIX_MAX = 200
ECR_REPOSITORY_ARN = re.compile(r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/[a-z0-9][a-z0-9._/-]*$")
OIDC_PROVIDER_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
ECR_IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*)(?::[\w.-]+|@sha256:[0-9a-f]{64})?$"
)


@dataclass(frozen=True)
class BootstrapParameters:
    """The template's parameters, by their Python names; ``CFN_NAMES`` gives the template's."""

    github_owner: str
    github_repo: str
    environment_name: str
    project_name: str
    state_machine_name: str
    bucket_name: str
    prefix: str
    algorithm_image_repository_arn: str
    existing_oidc_provider_arn: str = ""
    # "name": sub = repo:OWNER/REPO:environment:ENV (GitHub's default subject); "id": the
    # customised subject naming the owner and repository by their immutable IDs, and the ref.
    oidc_subject: str = "name"
    github_owner_id: str = ""
    github_repository_id: str = ""
    # What the workflow role may create (sagemaker:InstanceTypes on its Create* calls).
    training_instance_type: str = "ml.m5.xlarge"
    endpoint_instance_type: str = "ml.m5.large"
    # An environment that promotes (prod): the project name and bucket of the one it promotes from.
    promotion_source_project_name: str = ""
    promotion_source_bucket: str = ""

    CFN_NAMES: ClassVar[Mapping[str, str]] = {
        "github_owner": "GitHubOwner",
        "github_repo": "GitHubRepo",
        "environment_name": "EnvironmentName",
        "project_name": "ProjectName",
        "state_machine_name": "StateMachineName",
        "bucket_name": "BucketName",
        "prefix": "Prefix",
        "algorithm_image_repository_arn": "AlgorithmImageRepositoryArn",
        "existing_oidc_provider_arn": "ExistingOidcProviderArn",
        "oidc_subject": "OidcSubject",
        "github_owner_id": "GitHubOwnerId",
        "github_repository_id": "GitHubRepositoryId",
        "training_instance_type": "TrainingInstanceType",
        "endpoint_instance_type": "EndpointInstanceType",
        "promotion_source_project_name": "PromotionSourceProjectName",
        "promotion_source_bucket": "PromotionSourceBucket",
    }

    def problems(self) -> list[str]:
        """Every invalid value, each naming the parameter, the value and what is allowed."""
        found: list[str] = []
        for item in fields(self):
            value = getattr(self, item.name)
            label = f"{item.name} ({self.CFN_NAMES[item.name]}) = {value!r}"
            if not isinstance(value, str):
                found.append(f"{label} must be a string")
                continue
            if _WILDCARDS.search(value):
                found.append(
                    f"{label} contains a wildcard ('*' or '?'); names must be exact, since the trust "
                    "policy and the resource ARNs would otherwise match other repositories or resources"
                )
                continue
            message = _CHECKS[item.name](value)
            if message:
                found.append(f"{label} {message}")
        if self.oidc_subject == "id":
            for name in ("github_owner_id", "github_repository_id"):
                if not getattr(self, name):
                    found.append(
                        f"{name} ({self.CFN_NAMES[name]}) is required with oidc_subject = 'id' "
                        f"(gh api repos/{self.github_owner}/{self.github_repo} --jq '.owner.id, .id')"
                    )
        return found

    def subject(self) -> str:
        """The exact ``sub`` claim the deploy role trusts (what the template's trust policy says)."""
        if self.oidc_subject == "id":
            return (
                f"repository_owner_id:{self.github_owner_id}:repository_id:{self.github_repository_id}"
                f":environment:{self.environment_name}:ref:refs/heads/main"
            )
        return f"repo:{self.github_owner}/{self.github_repo}:environment:{self.environment_name}"

    def validate(self) -> BootstrapParameters:
        """Return self, or raise ConfigError (a UsageError, exit 2) listing every problem."""
        found = self.problems()
        if found:
            raise ConfigError(found)
        return self

    def as_cloudformation(self) -> list[ParameterTypeDef]:
        """The parameters in the shape CloudFormation's API takes."""
        return [
            {"ParameterKey": self.CFN_NAMES[item.name], "ParameterValue": getattr(self, item.name)}
            for item in fields(self)
        ]


def _pattern(regex: re.Pattern[str], rule: str, max_length: int | None = None) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value:
            return f"is empty; {rule}"
        if max_length is not None and len(value) > max_length:
            return f"is {len(value)} characters long; {rule} (at most {max_length})"
        if not regex.match(value):
            return f"is not allowed; {rule}"
        return None

    return check


def _bucket(value: str) -> str | None:
    return "is empty; an S3 bucket name is required" if not value else validation.bucket(value)


def _state_machine(value: str) -> str | None:
    return validation.state_machine_name(value)


def _oidc(value: str) -> str | None:
    if value == "" or OIDC_PROVIDER_ARN.match(value):
        return None
    return (
        "is not allowed; leave it empty to create the provider, or give "
        "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com"
    )


# GitHub's claim keys for the "id" subject, in the order the subject lists them.
ID_SUBJECT_CLAIM_KEYS = ("repository_owner_id", "repository_id", "environment", "ref")
GITHUB_ID = re.compile(r"^$|^[1-9][0-9]{0,19}$")


def _subject_format(value: str) -> str | None:
    return None if value in ("name", "id") else "is not allowed; use 'name' (the default) or 'id'"


def _instance_type(value: str) -> str | None:
    return validation.instance_type(value)


_CHECKS: Mapping[str, Callable[[str], str | None]] = {
    "github_owner": _pattern(
        GITHUB_OWNER, "a GitHub owner has 1-39 letters, digits and single hyphens, not starting or ending with '-'"
    ),
    "github_repo": _pattern(GITHUB_REPO, "a GitHub repository name has 1-100 letters, digits, '.', '_' and '-'"),
    "environment_name": _pattern(
        ENVIRONMENT_NAME,
        "an environment name has 1-64 letters, digits, '.', '_' and '-', starting with a letter or digit",
    ),
    "project_name": _pattern(
        PROJECT_NAME,
        "the project name (the endpoint name) has lowercase letters, digits and hyphens, "
        "starting and ending with a letter or digit",
        PROJECT_NAME_MAX,
    ),
    "state_machine_name": _state_machine,
    "bucket_name": _bucket,
    "prefix": _pattern(
        PREFIX,
        "a prefix is '/'-separated segments of letters, digits, '.', '_' and '-', no leading or trailing '/'",
        PREFIX_MAX,
    ),
    "algorithm_image_repository_arn": _pattern(
        ECR_REPOSITORY_ARN, "expected arn:aws:ecr:<region>:<account>:repository/<name>"
    ),
    "existing_oidc_provider_arn": _oidc,
    "oidc_subject": _subject_format,
    "github_owner_id": lambda value: None if GITHUB_ID.match(value) else "is not a GitHub numeric ID",
    "github_repository_id": lambda value: None if GITHUB_ID.match(value) else "is not a GitHub numeric ID",
    "training_instance_type": _instance_type,
    "endpoint_instance_type": _instance_type,
    # Empty: the environment promotes nothing (no cross-environment read is granted).
    "promotion_source_project_name": lambda value: (
        None
        if value == "" or PROJECT_NAME.match(value)
        else "is not a project name (lowercase letters, digits and hyphens); leave it empty unless this environment promotes"
    ),
    "promotion_source_bucket": lambda value: None if value == "" else validation.bucket(value),
}


@dataclass(frozen=True)
class ResourceChange:
    """One row of a change set: what CloudFormation will do to one resource."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str

    @classmethod
    def from_api(cls, change: Mapping[str, Any]) -> ResourceChange:
        """Build from one ``Changes`` entry of DescribeChangeSet."""
        detail = change.get("ResourceChange", {})
        return cls(
            action=detail.get("Action", "?"),
            logical_id=detail.get("LogicalResourceId", "?"),
            resource_type=detail.get("ResourceType", "?"),
            replacement=detail.get("Replacement") or "-",
        )


@dataclass(frozen=True)
class BootstrapResult:
    """What a bootstrap run did: ``created``, ``updated``, ``no-changes`` or ``planned`` (dry run)."""

    stack_name: str
    status: str
    change_set_name: str | None
    changes: tuple[ResourceChange, ...]
    outputs: Mapping[str, str]
    github_variables: Mapping[str, str]


def image_repository_arn(image_uri: str) -> str:
    """The ECR repository ARN of an image URI (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>``)."""
    match = ECR_IMAGE_URI.match(image_uri)
    if not match:
        raise UsageError(
            f"image URI {image_uri!r} is not an ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repository>)"
        )
    partition = (
        "aws-cn" if match.group("cn") else "aws-us-gov" if match.group("region").startswith("us-gov-") else "aws"
    )
    return (
        f"arn:{partition}:ecr:{match.group('region')}:{match.group('account')}:repository/{match.group('repository')}"
    )


@dataclass(frozen=True)
class Repository:
    """The GitHub repository whose deploy jobs the stack trusts, and how their OIDC subject names it
    (``oidc_subject``: "name", GitHub's default, or "id" with the owner's and repository's IDs)."""

    owner: str
    name: str
    oidc_subject: str = "name"
    owner_id: str = ""
    repository_id: str = ""


def parameters_from_config(
    cfg: PipelineConfig, repository: Repository, *, existing_oidc_provider_arn: str = ""
) -> BootstrapParameters:
    """Derive the stack parameters from the configuration and the repository."""
    try:
        repository_arn = image_repository_arn(cfg.training_image)
    except UsageError as exc:
        raise ConfigError([f"training image: {exc}"]) from None
    return BootstrapParameters(
        github_owner=repository.owner,
        github_repo=repository.name,
        environment_name=cfg.environment,
        project_name=cfg.endpoint.name,
        state_machine_name=cfg.state_machine.name,
        bucket_name=cfg.account.bucket,
        prefix=cfg.account.prefix,
        algorithm_image_repository_arn=repository_arn,
        existing_oidc_provider_arn=existing_oidc_provider_arn,
        oidc_subject=repository.oidc_subject,
        github_owner_id=repository.owner_id,
        github_repository_id=repository.repository_id,
        training_instance_type=cfg.training.instance_type,
        endpoint_instance_type=cfg.endpoint.instance_type,
    )


def overlapping_names(project_names: Mapping[str, str]) -> list[str]:
    """Pairs of environments whose IAM name patterns would overlap, one message each.

    Every environment's policies name its resources ``<project>`` and ``<project>-*`` (roles,
    training jobs, models, endpoint configs, log streams). Two environments stay apart only if
    neither project name equals the other or starts with the other followed by ``-``.
    """
    found = []
    items = sorted(project_names.items())
    for index, (first, first_name) in enumerate(items):
        for second, second_name in items[index + 1 :]:
            shorter, longer = sorted((first_name, second_name), key=len)
            if first_name == second_name or longer.startswith(shorter + "-"):
                found.append(
                    f"environments {first!r} and {second!r} have endpoint names {first_name!r} and "
                    f"{second_name!r}: the pattern {shorter}-* of one would also match the other's "
                    "resources; give each a name that is not the other's followed by '-'"
                )
    return found


def environment_project_names(cfg: PipelineConfig, config_path: str | None) -> dict[str, str]:
    """The project (endpoint) name of every environment of ``cfg``'s configuration file."""
    from pipeline.config import CONFIG_ENV_VAR, environments, find_config_file, load_config, read_config_file

    environ = {key: value for key, value in os.environ.items() if key == CONFIG_ENV_VAR}
    names = {cfg.environment: cfg.endpoint.name}
    for name in environments(read_config_file(find_config_file(config_path, environ))):
        if name not in names:
            try:
                names[name] = load_config(name, path=config_path, environ=environ).endpoint.name
            except ConfigError:
                continue  # that environment's own bootstrap reports its problems
    return names


def default_stack_name(project_name: str) -> str:
    """The stack name used when none is given: ``<project>-bootstrap``."""
    return f"{project_name}-bootstrap"


def bootstrap(
    cfn: CloudFormationClient,
    *,
    stack_name: str,
    parameters: BootstrapParameters,
    template_body: str,
    execute: bool = True,
    out: TextIO | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    change_set_name: str | None = None,
    iam: IAMClient | None = None,
    s3: S3Client | None = None,
) -> BootstrapResult:
    """Create or update ``stack_name`` from ``template_body`` through a change set.

    ``cfn`` is a boto3 CloudFormation client. Parameters and the stack name are validated
    before any call (ConfigError listing every problem). With ``execute=False`` the change set
    is printed and then deleted, leaving the account as it was. Raises PipelineError when the
    stack cannot be changed, the change set fails or the stack ends in a failed state.

    ``iam`` (optional) finds an existing GitHub OIDC provider to reuse; ``s3`` (optional) checks,
    before a first stack, that the bucket name is free. A first stack that fails is deleted
    again (REVIEW_IN_PROGRESS or ROLLBACK_COMPLETE), so a rerun starts clean.
    """
    out = sys.stdout if out is None else out
    problems = parameters.problems()
    if not STACK_NAME.match(stack_name or ""):
        problems.append(
            f"stack_name = {stack_name!r} is not allowed; a stack name has 1-128 letters, digits and '-', "
            "starting with a letter"
        )
    if problems:
        raise ConfigError(problems)

    waiter = Poller(poll_seconds, timeout_seconds, sleep, clock, out)
    stack = _describe_stack(cfn, stack_name)
    status = None if stack is None else str(stack["StackStatus"])
    if status in UNRECOVERABLE_STATES:
        raise PipelineError(
            f"stack {stack_name} is in {status} and cannot be updated; inspect its events, delete it "
            f"(aws cloudformation delete-stack --stack-name {stack_name}) and run bootstrap again"
        )
    if status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise PipelineError(f"stack {stack_name} is busy ({status}); wait for it to finish and run bootstrap again")
    change_set_type: Literal["CREATE", "UPDATE"] = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    parameters = _resolve_oidc_provider(parameters, stack, iam, out)
    if change_set_type == "CREATE" and s3 is not None:
        _check_bucket_is_free(s3, parameters.bucket_name, stack_name)
    name = change_set_name or "bootstrap-" + datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")

    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            TemplateBody=template_body,
            Parameters=parameters.as_cloudformation(),
            Capabilities=list(CAPABILITIES),
            Description="python -m pipeline bootstrap",
        )
    except ClientError as exc:
        message = error_message(exc)
        if change_set_type == "UPDATE" and any(reason in message for reason in NO_CHANGE_REASONS):
            return _no_changes(cfn, stack_name, None, out)
        if change_set_type == "CREATE":
            _remove_empty_stack(cfn, stack_name, out)
        raise PipelineError(f"CloudFormation rejected the change set for {stack_name}: {message or exc}") from exc

    described = _wait_for_change_set(cfn, stack_name, name, waiter)
    changes = tuple(ResourceChange.from_api(change) for change in described["Changes"])
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason") or "no reason given"
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        if any(text in reason for text in NO_CHANGE_REASONS):
            return _no_changes(cfn, stack_name, name, out)
        if change_set_type == "CREATE":
            _remove_empty_stack(cfn, stack_name, out)
        raise PipelineError(f"change set {name} for {stack_name} failed: {reason}")
    # An available change set without resource changes still changes the stack (outputs,
    # parameters), so it is executed: only CloudFormation's own "no changes" verdict skips it.
    print_change_set(name, stack_name, change_set_type, changes, out)
    if not execute:
        cfn.delete_change_set(StackName=stack_name, ChangeSetName=name)
        if change_set_type == "CREATE":
            # The empty REVIEW_IN_PROGRESS stack a CREATE change set makes; nothing was built.
            cfn.delete_stack(StackName=stack_name)
        print(f"Dry run: change set {name} deleted, nothing was changed.", file=out)
        return BootstrapResult(stack_name, "planned", name, changes, {}, {})

    started = datetime.now(timezone.utc)
    try:
        cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    except ClientError as exc:
        # The emulator fails here (AWS fails the resource later): either way nothing was built.
        if change_set_type == "CREATE":
            _remove_empty_stack(cfn, stack_name, out)
        raise PipelineError(
            f"stack {stack_name} was not created: {explain(error_code(exc), (error_message(exc) or str(exc)), parameters)}"
        ) from None
    print(f"Executing change set {name} ...", file=out)
    built = _wait_for_stack(cfn, stack_name, waiter)
    final = built["StackStatus"]
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        failures = _failure_events(cfn, stack_name, started)
        if change_set_type == "CREATE" and final == "ROLLBACK_COMPLETE":
            first = _first_failure(cfn, stack_name, started)
            cause = explain(first[0], first[1], parameters) if first else f"it ended in {final}"
            # A rolled-back first stack holds nothing and can only be deleted: delete it, so a rerun starts clean.
            cfn.delete_stack(StackName=stack_name)
            _wait_until_deleted(cfn, stack_name, waiter, f"the failed stack {stack_name} to be deleted")
            raise PipelineError(
                f"stack {stack_name} was not created: {cause}. The failed stack was deleted; run bootstrap again."
            )
        detail = "".join(f"\n  {line}" for line in failures) or " (no failed resource events)"
        raise PipelineError(f"stack {stack_name} ended in {final}:{detail}")
    outputs = _outputs(built)
    variables = github_variables(outputs)
    verb = "created" if change_set_type == "CREATE" else "updated"
    print(f"Stack {stack_name} {verb} ({final}).", file=out)
    print_github_variables(variables, parameters, out)
    return BootstrapResult(stack_name, verb, name, changes, outputs, variables)


def explain(code_or_resource: str, message: str, parameters: BootstrapParameters) -> str:
    """One sentence naming the resource that failed and how to fix it."""
    text = f"{code_or_resource} {message}".lower()
    bucket = parameters.bucket_name
    if "bucket" in text and ("already exist" in text or "not available" in text or "alreadyowned" in text):
        return (
            f"bucket {bucket} already exists (S3 bucket names are global, shared by every AWS account); choose "
            f"another name: --set bucket={bucket}-<something unique> (and set PIPELINE_BUCKET to it)"
        )
    if "oidc" in text and "already exist" in text:
        return (
            "the account already has the GitHub OIDC provider; rerun with --existing-oidc-provider-arn "
            "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com"
        )
    if "role" in text and "already exist" in text:
        return (
            f"an IAM role named {parameters.project_name}-<deploy|workflow|sagemaker> already exists outside this "
            "stack; delete it, or choose another endpoint_name (the role names derive from it)"
        )
    return f"{code_or_resource}: {message}"


def _wait_until_deleted(cfn: CloudFormationClient, stack_name: str, waiter: Poller, what: str) -> None:
    final = waiter.until(
        lambda: _describe_stack(cfn, stack_name) or {"StackStatus": "DELETE_COMPLETE"},
        lambda stack: not str(stack["StackStatus"]).endswith("_IN_PROGRESS"),
        what,
        lambda stack: str(stack["StackStatus"]),
    )
    if final["StackStatus"] != "DELETE_COMPLETE":
        raise PipelineError(f"stack {stack_name} ended in {final['StackStatus']}; see its events in the console")


def wait_for_stack_deletion(cfn: CloudFormationClient, stack_name: str, *, poller: Poller) -> None:
    """Wait until ``stack_name`` is gone, saying the bound first and each status change."""
    _wait_until_deleted(cfn, stack_name, poller, f"stack {stack_name} to be deleted")


def _describe_stack(cfn: CloudFormationClient, stack_name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in error_message(exc):
            return None
        raise PipelineError(f"cannot describe stack {stack_name}: {exc}") from exc
    return dict(stacks[0]) if stacks else None


def _remove_empty_stack(cfn: CloudFormationClient, stack_name: str, out: TextIO) -> None:
    """Delete the REVIEW_IN_PROGRESS stack a failed CREATE change set leaves (it holds nothing)."""
    stack = _describe_stack(cfn, stack_name)
    if stack is not None and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
        cfn.delete_stack(StackName=stack_name)
        print(f"Deleted the empty stack {stack_name} the failed change set left, so a rerun starts clean.", file=out)


def _first_failure(cfn: CloudFormationClient, stack_name: str, since: datetime) -> tuple[str, str] | None:
    """(logical id, reason) of the first resource that failed, skipping "cancelled" follow-ups."""
    events = list(reversed(cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])))
    for event in events:
        stamp = event.get("Timestamp")
        if stamp is not None and stamp.tzinfo is not None and stamp < since:
            continue
        reason = str(event.get("ResourceStatusReason") or "")
        failed = str(event.get("ResourceStatus", "")).endswith("_FAILED") and "cancelled" not in reason.lower()
        if failed and event.get("LogicalResourceId") != stack_name:
            return f"{event.get('LogicalResourceId')} ({event.get('ResourceType')})", reason
    return None


def _check_bucket_is_free(s3: S3Client, bucket: str, stack_name: str) -> None:
    """Before a first stack: fail in one line when the bucket name is taken (by anyone)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return
        if code in ("403", "AccessDenied", "Forbidden"):
            raise PipelineError(
                f"bucket {bucket} already exists in another AWS account (bucket names are global); choose another "
                f"name: --set bucket={bucket}-<something unique>, then set PIPELINE_BUCKET to it"
            ) from None
        raise PipelineError(f"cannot check bucket {bucket}: {code}: {(error_message(exc) or str(exc))}") from None
    raise PipelineError(
        f"bucket {bucket} already exists in this account but not in stack {stack_name} (left by an earlier "
        f"run?); empty and delete it (aws s3 rb s3://{bucket} --force) or choose another name with --set bucket=..."
    )


def _resolve_oidc_provider(
    parameters: BootstrapParameters, stack: Mapping[str, Any] | None, iam: IAMClient | None, out: TextIO
) -> BootstrapParameters:
    """Reuse the account's GitHub OIDC provider when none was named (an account holds one per URL).

    An existing stack keeps the provider choice it was created with; a new one looks the
    provider up and passes it as ``ExistingOidcProviderArn`` instead of creating a second one.
    """
    if parameters.existing_oidc_provider_arn:
        return parameters
    if stack is not None and stack.get("StackStatus") != "REVIEW_IN_PROGRESS":
        previous = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}
        return replace(parameters, existing_oidc_provider_arn=previous.get("ExistingOidcProviderArn", ""))
    if iam is None:
        return parameters
    found = find_github_oidc_provider(iam)
    if found:
        print(f"Reusing the account's GitHub OIDC provider {found} (an account holds one per URL).", file=out)
        return replace(parameters, existing_oidc_provider_arn=found)
    return parameters


def find_github_oidc_provider(iam: IAMClient) -> str:
    """The ARN of the account's token.actions.githubusercontent.com provider, or ''."""
    try:
        providers = iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
    except ClientError as exc:
        raise PipelineError(
            f"cannot list the account's OIDC providers ({error_code(exc)}); pass --existing-oidc-provider-arn, or "
            "leave it empty on an account without one"
        ) from None
    for provider in providers:
        arn = str(provider.get("Arn", ""))
        if OIDC_PROVIDER_ARN.match(arn):
            return arn
    return ""


@dataclass(frozen=True)
class Poller:
    """How bootstrap and teardown wait for a stack: every ``interval`` seconds for at most
    ``timeout``, saying the bound up front and each status change with the time taken."""

    interval: float
    timeout: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    out: TextIO | None = None

    @classmethod
    def stack_deletion(cls, out: TextIO) -> Poller:
        """Teardown's wait: every 10 s for at most 30 minutes, on the real clock."""
        return cls(STACK_DELETE_POLL_SECONDS, STACK_DELETE_TIMEOUT_SECONDS, time.sleep, time.monotonic, out)

    def until(self, describe: Callable[[], T], done: Callable[[T], bool], what: str, status: Callable[[T], str]) -> T:
        """Poll ``describe`` until ``done``; PipelineError naming ``what`` and its last status on timeout."""
        if self.out is not None:
            print(
                f"Waiting for {what} (at most {_duration(self.timeout)}, checking every {self.interval:g} s) ...",
                file=self.out,
            )
        seen: list[str] = []

        def report(current: T, elapsed: float) -> None:
            if not seen or status(current) != seen[-1]:
                seen.append(status(current))
                if self.out is not None:
                    print(f"  {elapsed:5.0f} s  {seen[-1]}", file=self.out)

        waited = wait_until(
            describe,
            done,
            backoff=Backoff.every(self.interval),
            timeout=self.timeout,
            clock=self.clock,
            sleep=self.sleep,
            progress=report,
        )
        if waited.timed_out:
            raise PipelineError(
                f"timed out after {self.timeout:.0f} s waiting for {what} (last status {seen[-1]}); "
                "it may still finish: check it in the CloudFormation console and run bootstrap again"
            )
        return waited.value


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _wait_for_change_set(cfn: CloudFormationClient, stack_name: str, name: str, waiter: Poller) -> dict[str, Any]:
    def describe() -> dict[str, Any]:
        pages: list[Mapping[str, Any]] = []
        token = None
        while True:
            kwargs: dict[str, Any] = {"StackName": stack_name, "ChangeSetName": name}
            if token:
                kwargs["NextToken"] = token
            page = cfn.describe_change_set(**kwargs)
            pages.append(page)
            token = page.get("NextToken")
            if not token:
                break
        result = dict(pages[0])
        result["Changes"] = [change for page in pages for change in page.get("Changes", [])]
        return result

    return waiter.until(
        describe,
        lambda d: d["Status"] in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED"),
        f"change set {name}",
        lambda d: str(d["Status"]),
    )


def _wait_for_stack(cfn: CloudFormationClient, stack_name: str, waiter: Poller) -> StackTypeDef:
    return waiter.until(
        lambda: cfn.describe_stacks(StackName=stack_name)["Stacks"][0],
        lambda s: not s["StackStatus"].endswith("_IN_PROGRESS"),
        f"stack {stack_name}",
        lambda s: str(s["StackStatus"]),
    )


def _failure_events(cfn: CloudFormationClient, stack_name: str, since: datetime) -> list[str]:
    lines = []
    for event in cfn.describe_stack_events(StackName=stack_name).get("StackEvents", []):
        stamp = event.get("Timestamp")
        if stamp is not None and stamp.tzinfo is not None and stamp < since:
            continue
        if str(event.get("ResourceStatus", "")).endswith("_FAILED"):
            lines.append(
                f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): "
                f"{event.get('ResourceStatus')} {event.get('ResourceStatusReason') or ''}".rstrip()
            )
    return list(reversed(lines))


def _outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs") or []}


def _no_changes(cfn: CloudFormationClient, stack_name: str, name: str | None, out: TextIO) -> BootstrapResult:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = _outputs(stack)
    variables = github_variables(outputs)
    print(f"Stack {stack_name} is up to date: no changes.", file=out)
    return BootstrapResult(stack_name, "no-changes", name, (), outputs, variables)


def github_variables(outputs: Mapping[str, str]) -> dict[str, str]:
    """The GitHub environment variables to set, from the stack outputs (missing outputs skipped)."""
    return {variable: outputs[key] for variable, key in GITHUB_VARIABLES if key in outputs}


def print_change_set(
    name: str, stack_name: str, change_set_type: str, changes: Sequence[ResourceChange], out: TextIO
) -> None:
    """Print a change set as an aligned table: action, logical id, type, replacement."""
    print(f"Change set {name} ({change_set_type}) for stack {stack_name}:", file=out)
    if not changes:
        print("  (no resource changes: only stack outputs or parameters change)", file=out)
        return
    rows = [("Action", "Logical id", "Type", "Replacement")] + [
        (c.action, c.logical_id, c.resource_type, c.replacement) for c in changes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def print_github_variables(variables: Mapping[str, str], parameters: BootstrapParameters, out: TextIO) -> None:
    """Print the variables to set on the GitHub environment, plainly and as ``gh`` commands."""
    environment = parameters.environment_name
    repository = f"{parameters.github_owner}/{parameters.github_repo}"
    print(
        f"Next: create the GitHub environment {environment!r} of {repository} if it does not exist yet "
        f"(Settings -> Environments -> New environment, or: gh api --method PUT "
        f"repos/{repository}/environments/{shlex.quote(environment)}), then set these variables on it:",
        file=out,
    )
    for name, value in variables.items():
        print(f"  {name}={value}", file=out)
    print("With the GitHub CLI:", file=out)
    for name, value in variables.items():
        print(
            f"  gh variable set {name} --env {shlex.quote(environment)} --repo {shlex.quote(repository)} "
            f"--body {shlex.quote(value)}",
            file=out,
        )
    print(f"The deploy role trusts exactly sub = {parameters.subject()}", file=out)
    if parameters.oidc_subject == "id":
        keys = " ".join(f"-f 'include_claim_keys[]={key}'" for key in ID_SUBJECT_CLAIM_KEYS)
        print("GitHub must issue that subject for the repository (once; every environment shares it):", file=out)
        print(
            f"  gh api --method PUT repos/{repository}/actions/oidc/customization/sub -F use_default=false {keys}",
            file=out,
        )


def bootstrap_from_config(
    cfg: PipelineConfig,
    session: boto3.Session | None = None,
    *,
    profile: str | None = None,
    repository: Repository,
    existing_oidc_provider_arn: str = "",
    config_path: str | None = None,
    template: Path = TEMPLATE_PATH,
    stack_name: str | None = None,
    endpoint_url: str | None = None,
    dry_run: bool = False,
    out: TextIO | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> BootstrapResult:
    """Create or update the bootstrap stack for ``cfg`` through ``session``'s CloudFormation
    (default: a new session with ``profile``, made once the parameters are valid).

    Credentials are the caller's own (default chain or a profile): the deploy role does not
    exist yet and may not create IAM roles, so it is never assumed here.
    """
    from pipeline import aws

    # Every environment of the file: their IAM name patterns must stay apart.
    overlaps = overlapping_names(environment_project_names(cfg, config_path))
    if overlaps:
        raise ConfigError(overlaps)
    parameters = parameters_from_config(cfg, repository, existing_oidc_provider_arn=existing_oidc_provider_arn)
    if cfg.registry.promote_from:
        # The deploy role of an environment that promotes reads the source's registry and artifacts.
        from pipeline.config import load_config

        source = load_config(cfg.registry.promote_from, path=config_path, environ={})
        parameters = replace(
            parameters,
            promotion_source_project_name=source.endpoint.name,
            promotion_source_bucket=source.account.bucket,
        )
    parameters.validate()
    try:
        body = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"template {str(template)!r} cannot be read: {exc.strerror} (pass --template PATH)") from None
    if session is None:
        import boto3

        session = boto3.Session(profile_name=profile, region_name=cfg.account.region)
    cfn = aws.client(session, "cloudformation", endpoint_url=endpoint_url, region_name=cfg.account.region)
    iam = aws.client(session, "iam", endpoint_url=endpoint_url, region_name=cfg.account.region)
    s3 = aws.client(session, "s3", endpoint_url=endpoint_url, region_name=cfg.account.region)
    return bootstrap(
        cfn,
        stack_name=stack_name or default_stack_name(parameters.project_name),
        parameters=parameters,
        template_body=body,
        execute=not dry_run,
        out=out,
        poll_seconds=poll_seconds,
        iam=iam,
        s3=s3,
    )
