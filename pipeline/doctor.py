"""Preflight checks before a deployment: one line per check, each with how to fix a failure.

``run_checks(config, clients, ...)`` asks AWS only read-only questions: who the credentials are,
whether the region offers SageMaker, whether the three roles exist and trust the right
principals (the deploy role: this repository's environment through GitHub OIDC), whether the
bucket and the OIDC provider exist, whether the account's SageMaker quotas cover the configured
instances, where the training data comes from, and, inside GitHub Actions, whether the
environment's variables are set. Every check runs even when an earlier one failed.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pipeline import github_actions, training_data, trust
from pipeline.aws_errors import error_code, error_message
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import RoleTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_service_quotas.type_defs import ServiceQuotaTypeDef
    from mypy_boto3_sts import STSClient

    from pipeline.clients import Clients

OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
# The GitHub environment variables deploy.yml reads (docs/github-setup.md); AWS_REGION and the
# roles and bucket are required, the names have defaults in config/pipeline.toml.
REQUIRED_VARIABLES = (
    "AWS_REGION",
    "PIPELINE_DEPLOY_ROLE_ARN",
    "PIPELINE_WORKFLOW_ROLE_ARN",
    "PIPELINE_SAGEMAKER_ROLE_ARN",
    "PIPELINE_BUCKET",
)
SERVICE_PRINCIPALS = {"workflow": "states.amazonaws.com", "sagemaker": "sagemaker.amazonaws.com"}
QUOTA_SUFFIX = {"endpoint": "for endpoint usage", "training": "for training job usage"}

OK, FAIL, WARN = "ok", "FAIL", "warn"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``ok``, ``warn`` (does not fail the run) or ``FAIL`` with a fix."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``ok   name: detail`` or ``FAIL name: detail -> fix: ...``."""
        text = f"{self.status:<4} {self.name}: {self.detail}"
        return f"{text} -> fix: {self.fix}" if self.fix else text


def _aws_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {error_message(exc)}".rstrip(": ")
    return str(exc)


def account_of(arn: str | None) -> str:
    """The account id field of an ARN ('' when absent)."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 else ""


def role_name(arn: str) -> str:
    """The role name at the end of a role ARN (paths dropped)."""
    return arn.rsplit("/", 1)[-1]


# -- individual checks ------------------------------------------------------------------------
def check_variables(environ: Mapping[str, str]) -> Check | None:
    """Inside GitHub Actions: the environment's variables are set (None outside Actions)."""
    if not github_actions.in_actions(environ):
        return None
    missing = [name for name in REQUIRED_VARIABLES if not environ.get(name, "").strip()]
    environment = environ.get("PIPELINE_ENV", "staging")
    if missing:
        return Check(
            "variables",
            FAIL,
            f"not set on the GitHub environment {environment!r}: {', '.join(missing)}",
            "set them from `python -m pipeline bootstrap`'s output (gh variable set NAME --env "
            f"{environment} --body VALUE; docs/github-setup.md step 4)",
        )
    return Check("variables", OK, f"{', '.join(REQUIRED_VARIABLES)} set on the GitHub environment {environment!r}")


def check_identity(sts: STSClient, config: PipelineConfig) -> tuple[Check, str]:
    """Who the credentials are, and that they are in the account the configuration names."""
    try:
        identity = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return (
            Check(
                "credentials",
                FAIL,
                f"no usable AWS credentials ({_aws_text(exc)})",
                "sign in (aws configure sso, or AWS_PROFILE=...) or, in Actions, set PIPELINE_DEPLOY_ROLE_ARN",
            ),
            "",
        )
    account = str(identity.get("Account", ""))
    arn = str(identity.get("Arn", ""))
    expected = account_of(config.account.workflow_role_arn)
    if expected and account != expected:
        return (
            Check(
                "credentials",
                FAIL,
                f"{arn} is in account {account}, but the configuration's roles are in account {expected}",
                "set PIPELINE_* (or --set) from the bootstrap output of this account, or use credentials "
                f"for account {expected}",
            ),
            account,
        )
    return Check("credentials", OK, f"{arn} (account {account})"), account


def check_region(config: PipelineConfig, available: Iterable[str]) -> Check:
    """The configured region is one where SageMaker and Step Functions exist (botocore's data)."""
    if config.account.region in set(available):
        return Check("region", OK, f"{config.account.region} (SageMaker and Step Functions are offered there)")
    return Check(
        "region",
        FAIL,
        f"{config.account.region} does not offer SageMaker in this botocore's endpoint data",
        "set region (PIPELINE_REGION / AWS_REGION variable) to a SageMaker region, e.g. eu-west-1",
    )


def _trust_document(role: Mapping[str, Any]) -> dict[str, Any]:
    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):  # IAM returns it URL-encoded JSON on the wire; boto3 decodes it
        document = json.loads(urllib.parse.unquote(document))
    return dict(document)


def _get_role(iam: IAMClient, arn: str) -> tuple[RoleTypeDef | None, Check | None, str]:
    name = role_name(arn)
    try:
        return iam.get_role(RoleName=name)["Role"], None, name
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None, None, name
        return None, Check(f"role {name}", FAIL, f"cannot be read ({_aws_text(exc)})", "grant iam:GetRole on it"), name


def check_service_role(iam: IAMClient, kind: str, arn: str) -> Check:
    """The workflow or SageMaker role exists and trusts its service."""
    role, problem, name = _get_role(iam, arn)
    if problem:
        return problem
    label = f"{kind} role {name}"
    if role is None:
        return Check(label, FAIL, "does not exist", "run `python -m pipeline bootstrap` for this environment")
    service = SERVICE_PRINCIPALS[kind]
    trusted = trust.trusts_service(_trust_document(role), service, {"aws:SourceAccount": account_of(arn)})
    if not trusted:
        return Check(
            label, FAIL, f"does not trust {service}", "update the bootstrap stack (python -m pipeline bootstrap)"
        )
    return Check(label, OK, f"exists and trusts {service}")


def candidate_subjects(repository: str | None, environment: str, environ: Mapping[str, str]) -> list[str]:
    """The ``sub`` claims this repository's environment can have: GitHub's default (by name) and,
    inside Actions, the bootstrap's ``oidc_subject = "id"`` form (by the IDs Actions exposes)."""
    found = [f"repo:{repository}:environment:{environment}"] if repository else []
    owner_id, repository_id = environ.get("GITHUB_REPOSITORY_OWNER_ID"), environ.get("GITHUB_REPOSITORY_ID")
    if owner_id and repository_id:
        found.append(
            f"repository_owner_id:{owner_id}:repository_id:{repository_id}:environment:{environment}:ref:refs/heads/main"
        )
    return found


def check_deploy_role(
    iam: IAMClient, arn: str | None, repository: str | None, environment: str, environ: Mapping[str, str] | None = None
) -> tuple[Check, str]:
    """The deploy role exists and trusts GitHub OIDC tokens of this repository's environment.

    Returns the check and the OIDC provider ARN the role trusts ('' when unknown).
    """
    environ = {} if environ is None else environ
    if not arn:
        return Check("deploy role", FAIL, "deploy_role_arn is not set", "set PIPELINE_DEPLOY_ROLE_ARN"), ""
    role, problem, name = _get_role(iam, arn)
    if problem:
        return problem, ""
    label = f"deploy role {name}"
    if role is None:
        return Check(label, FAIL, "does not exist", "run `python -m pipeline bootstrap` for this environment"), ""
    document = _trust_document(role)
    providers = trust.github_providers(document)
    provider = providers[0] if providers else ""
    if not provider:
        return Check(label, FAIL, f"trusts no {OIDC_HOST} provider", "update the bootstrap stack"), ""
    trusted = trust.github_subjects(document)
    candidates = candidate_subjects(repository, environment, environ)
    for sub in candidates:
        if trust.trusts_github(document, provider, audience=AUDIENCE, subject=sub):
            return Check(label, OK, f"trusts {sub} through {provider}"), provider
    by_id = any(sub.startswith("repository_owner_id:") for sub in trusted)
    if not candidates or (by_id and not any(c.startswith("repository_owner_id:") for c in candidates)):
        return (
            Check(
                label,
                WARN,
                f"trusts {', '.join(trusted) or 'no subject'}; this repository's subject is unknown here, so it "
                "was not compared",
                "pass --repository OWNER/REPO (GITHUB_REPOSITORY inside Actions); an ID subject is compared inside "
                "Actions only",
            ),
            provider,
        )
    return (
        Check(
            label,
            FAIL,
            f"does not trust {' or '.join(candidates)} (it trusts {', '.join(trusted) or 'no subject'})",
            "rerun bootstrap with this --github-owner/--github-repo and environment; if your organisation "
            "customised the OIDC subject template, the token's sub differs (docs/github-setup.md, troubleshooting)",
        ),
        provider,
    )


def check_oidc_provider(iam: IAMClient, provider_arn: str) -> Check:
    """The GitHub OIDC provider the deploy role trusts exists and accepts the STS audience."""
    if not provider_arn:
        return Check(
            "OIDC provider", FAIL, "unknown: the deploy role trusts none", "run `python -m pipeline bootstrap`"
        )
    try:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider_arn)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return Check(
                "OIDC provider",
                FAIL,
                f"{provider_arn} does not exist",
                "run bootstrap without --existing-oidc-provider-arn so the stack creates it",
            )
        return Check("OIDC provider", FAIL, f"cannot be read ({_aws_text(exc)})", "grant iam:GetOpenIDConnectProvider")
    audiences = provider.get("ClientIDList", [])
    if AUDIENCE not in audiences:
        return Check(
            "OIDC provider",
            FAIL,
            f"{provider_arn} does not accept audience {AUDIENCE} (has {', '.join(audiences) or 'none'})",
            f"aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn {provider_arn} "
            f"--client-id {AUDIENCE}",
        )
    return Check("OIDC provider", OK, f"{provider_arn} (audience {AUDIENCE})")


def check_bucket(s3: S3Client, bucket: str) -> Check:
    """The artifact bucket exists and these credentials may use it."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return Check("bucket", FAIL, f"{bucket} does not exist", "run `python -m pipeline bootstrap`")
        if code in ("403", "AccessDenied", "Forbidden"):
            return Check(
                "bucket",
                FAIL,
                f"{bucket} exists but these credentials may not use it (bucket names are global: another "
                "account may own it)",
                "choose a unique name (--set bucket=<name>-<account>) and rerun bootstrap",
            )
        return Check("bucket", FAIL, f"{bucket}: {_aws_text(exc)}", "check the bucket name and region")
    return Check("bucket", OK, f"{bucket} exists and is reachable")


def sagemaker_quotas(quotas: ServiceQuotasClient) -> dict[str, ServiceQuotaTypeDef]:
    """SageMaker's quotas by name: the applied values, then AWS defaults for the rest.

    ListServiceQuotas returns only quotas with an applied value, so names it lacks are read
    from ListAWSDefaultServiceQuotas.
    """
    found: dict[str, ServiceQuotaTypeDef] = {}
    for operation in ("list_aws_default_service_quotas", "list_service_quotas"):
        for page in quotas.get_paginator(operation).paginate(ServiceCode="sagemaker"):
            for quota in page.get("Quotas", []):
                found[str(quota.get("QuotaName", ""))] = quota
    return found


def check_quota(
    known: Mapping[str, Mapping[str, Any]], kind: str, instance_type: str, count: int, region: str
) -> Check:
    """The account may run ``count`` instances of ``instance_type`` for ``kind`` (endpoint/training)."""
    name = f"{instance_type} {QUOTA_SUFFIX[kind]}"
    label = f"quota {name}"
    quota = known.get(name)
    if quota is None:
        return Check(
            label,
            FAIL,
            f"no such SageMaker quota in {region}",
            f"check that {instance_type} is offered for {kind}s in {region}, or configure another instance type",
        )
    value = float(quota.get("Value", 0))
    if value < count:
        code = quota.get("QuotaCode", "<code>")
        return Check(
            label,
            FAIL,
            f"{value:g} instances allowed, {count} configured (new accounts often have 0)",
            f"aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code {code} "
            f"--desired-value {count} --region {region}",
        )
    return Check(label, OK, f"{value:g} allowed, {count} configured")


def check_quotas(quotas: ServiceQuotasClient, config: PipelineConfig) -> list[Check]:
    """The endpoint and training quotas for the configured instance types and counts."""
    try:
        known = sagemaker_quotas(quotas)
    except (ClientError, BotoCoreError) as exc:
        return [
            Check(
                "quotas",
                FAIL,
                f"cannot be read ({_aws_text(exc)})",
                "grant servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas",
            )
        ]
    return [
        check_quota(
            known, "endpoint", config.endpoint.instance_type, config.endpoint.instance_count, config.account.region
        ),
        check_quota(
            known, "training", config.training.instance_type, config.training.instance_count, config.account.region
        ),
    ]


def check_training_data(config: PipelineConfig, s3: S3Client | None, root: Path) -> Check:
    """Where the training data comes from, and that it is there (``s3`` None: no credentials)."""
    source = training_data.source_of(config)
    if source.kind == "synthetic":
        return Check(
            "training data",
            WARN,
            'training_data = "synthetic": the model trains on generated Big Mart rows, not real sales',
        )
    if source.kind == "s3":
        if s3 is None:
            return Check("training data", FAIL, "prepared data in S3 cannot be checked without credentials")
        missing = [name for name in training_data.PREPARED_KEYS if not _s3_has(s3, config, name)]
        if missing:
            return Check(
                "training data",
                FAIL,
                f"{config.data_uri}/ lacks {', '.join(missing)}",
                "upload the prepared data (python -m pipeline run --upload-data --data Train.csv), or set "
                "training_data to the path of Train.csv",
            )
        return Check("training data", OK, f"prepared data already under {config.data_uri}/")
    path = source.path if source.path.is_absolute() else root / source.path
    problem = training_data.csv_problem(path)
    if problem:
        return Check(
            "training data",
            FAIL,
            f"training_data = {str(source.path)!r}: {problem}",
            'put the Big Mart Train.csv there (docs/github-setup.md step 5), or set training_data = "s3" '
            'with prepared data in the bucket, or "synthetic" for a rehearsal',
        )
    return Check("training data", OK, f"{source.path} (real Big Mart data; uploaded to {config.data_uri}/ by run)")


def _s3_has(s3: S3Client, config: PipelineConfig, name: str) -> bool:
    prefix = f"{config.account.prefix}/data/{name}"
    try:
        return bool(s3.list_objects_v2(Bucket=config.account.bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0))
    except ClientError:
        return False


# -- all checks -------------------------------------------------------------------------------
@functools.cache
def sagemaker_regions() -> tuple[str, ...]:
    """The regions botocore's endpoint data lists for SageMaker (read once: it is a big file)."""
    return tuple(boto3.session.Session().get_available_regions("sagemaker"))


def guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """Run one check; an unexpected AWS error becomes a failed line instead of a traceback."""
    try:
        result = check()
    except (ClientError, BotoCoreError) as exc:
        return [Check(name, FAIL, _aws_text(exc), "see the AWS error; rerun doctor after fixing it")]
    return result if isinstance(result, list) else [result]


def run_checks(
    config: PipelineConfig,
    clients: Clients | None,
    *,
    repository: str | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path | None = None,
    credentials_problem: str | None = None,
    check_data: bool = True,
) -> list[Check]:
    """Every check, in the order a newcomer fixes them. ``clients(service)`` gives boto3 clients.

    ``clients`` is None when credentials could not be obtained at all (``credentials_problem``
    says why): the checks that need AWS then fail with that reason. ``check_data=False`` skips
    the training-data check (a deployment that trains nothing).
    """
    environ = os.environ if environ is None else environ
    root = Path.cwd() if root is None else root
    checks: list[Check] = []
    variables = check_variables(environ)
    if variables:
        checks.append(variables)
    checks.append(check_region(config, sagemaker_regions()))
    if clients is None:
        checks.append(
            Check(
                "credentials",
                FAIL,
                credentials_problem or "no credentials",
                "sign in (aws configure sso / AWS_PROFILE) or, in Actions, check the deploy role's trust",
            )
        )
        if check_data:
            checks.append(check_training_data_offline(config, root))
        return checks
    identity, _account = check_identity(clients("sts"), config)
    checks.append(identity)
    if identity.status == FAIL and not _account:
        if check_data:
            checks.append(check_training_data_offline(config, root))
        return checks
    iam = clients("iam")
    provider = ""

    def deploy_role() -> Check:
        nonlocal provider
        check, provider = check_deploy_role(
            iam, config.account.deploy_role_arn, repository, config.environment, environ
        )
        return check

    checks += guarded("deploy role", deploy_role)
    checks += guarded("OIDC provider", lambda: check_oidc_provider(iam, provider))
    checks += guarded("workflow role", lambda: check_service_role(iam, "workflow", config.account.workflow_role_arn))
    checks += guarded("sagemaker role", lambda: check_service_role(iam, "sagemaker", config.account.sagemaker_role_arn))
    s3 = clients("s3")
    checks += guarded("bucket", lambda: check_bucket(s3, config.account.bucket))
    checks += guarded("quotas", lambda: check_quotas(clients("service-quotas"), config))
    if check_data:
        checks += guarded("training data", lambda: check_training_data(config, s3, root))
    return checks


def check_training_data_offline(config: PipelineConfig, root: Path) -> Check:
    """The training-data check without AWS (the ``s3`` source cannot be checked then)."""
    return check_training_data(config, None, root)


def failed(checks: Iterable[Check]) -> list[Check]:
    """The failed checks."""
    return [check for check in checks if check.status == FAIL]


def summary_markdown(config: PipelineConfig, checks: list[Check]) -> str:
    """The job summary: synthetic data first (when configured), then one table row per check."""
    lines = []
    notice = training_data.synthetic_notice(config)
    if notice:
        lines += [notice, ""]
    lines += [f"### Preflight ({config.environment})", "", "| | Check | Result | Fix |", "|---|---|---|---|"]
    for check in checks:
        cells = [check.status, check.name, check.detail, check.fix]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


class PreflightFailed(PipelineError):
    """At least one preflight check failed (exit 1)."""
