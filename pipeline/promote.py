"""``promote``: deploy to a target environment exactly the model version Approved in a source one.

Nothing is trained in the target. Before any write the version is checked: it exists in the
source's model package group, this pipeline wrote it, it is Approved, it was not trained on
synthetic data unless the target allows it (``allow_synthetic_data``), and its artifact's
SHA-256 (S3's, read again with HeadObject ``ChecksumMode=ENABLED``) is the one recorded at
registration. Then the artifact (and the encoding the smoke test needs) is copied into the
target's bucket when it differs, the copy's SHA-256 is compared again, the version is registered
in the target's group (``PromotedFrom`` names the source version), the target's state machine
deploys it (the registered-version path: no training, gate or registration) and the target's
smoke test approves it there (or rejects it and rolls back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from pipeline import registry as reg
from pipeline.aws_errors import error_code, error_message
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError, UsageError
from pipeline.fingerprint import description_mark
from pipeline.printer import Printer
from pipeline.storage import ENCODING_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ProductionVariantInstanceTypeType
    from mypy_boto3_sagemaker.type_defs import InferenceSpecificationTypeDef

    from pipeline.clients import Clients
    from pipeline.smoke import SmokeOutcome

PROMOTED_FROM = "PromotedFrom"


@dataclass(frozen=True)
class Checked:
    """A source version that passed every check, with the artifact's location and digest."""

    version: reg.ModelVersion
    bucket: str
    key: str
    sha256: str  # base64, as S3 reports it


def source_version(source: PipelineConfig, sagemaker: SageMakerClient, version: str | None) -> reg.ModelVersion:
    """The version to promote: ``version`` (a number or an ARN) or the one serving the source now."""
    from pipeline.run import version_arn

    if version is None:
        lineage = reg.live_lineage(sagemaker, source.endpoint.name)
        if lineage.package is None:
            raise UsageError(
                f"endpoint {source.endpoint.name} ({source.environment}) serves no registered version "
                f"({lineage.problem}); pass --version N (python -m pipeline models --env {source.environment} lists them)"
            )
        return lineage.package
    arn = version_arn(source, version)
    try:
        found = reg.version_from_description(sagemaker.describe_model_package(ModelPackageName=arn))
    except ClientError as exc:
        if reg.is_not_found(exc, "does not exist", "not found", "Cannot find"):
            raise UsageError(
                f"model package version {version} does not exist in {source.registry_group} ({arn}); "
                f"python -m pipeline models --env {source.environment} lists the versions"
            ) from None
        raise
    return found


def check(source: PipelineConfig, target: PipelineConfig, version: reg.ModelVersion, s3: S3Client) -> Checked:
    """Every refusal before a write: group, writer, approval, synthetic data, artifact digest."""
    name = f"version {version.version} of {version.group or '?'}"
    models = f"python -m pipeline models --env {source.environment}"
    if version.group != source.registry_group:
        raise UsageError(
            f"{version.arn} is in group {version.group!r}, not {source.environment}'s {source.registry_group!r}: "
            f"promote a version of the source environment ({models})"
        )
    if not version.ours:
        raise UsageError(f"{name} was not registered by this pipeline (no metadata): it cannot be promoted")
    if version.status != reg.APPROVED:
        raise UsageError(
            f"{name} is {version.status or 'without a status'}, not Approved: only a version that passed "
            f"{source.environment}'s smoke test is promoted (python -m pipeline smoke --env {source.environment} "
            f"approves the deployed one; {models} lists the Approved ones)"
        )
    if version.data != "real" and not target.registry.allow_synthetic_data:
        raise UsageError(
            f"{name} was trained on {version.data} data and {target.environment} does not allow it "
            f"(allow_synthetic_data = false): train on the real Train.csv in {source.environment} first, "
            f"or set allow_synthetic_data = true for {target.environment} (never for a real prod)"
        )
    recorded = version.metadata.get(reg.ARTIFACT_SHA256, "")
    bucket, _, key = version.model_data_url.removeprefix("s3://").partition("/")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as exc:
        raise UsageError(
            f"{name}'s artifact {version.model_data_url} cannot be read ({error_code(exc)}): it was moved or "
            "deleted after registration; promote another version"
        ) from None
    actual = head.get("ChecksumSHA256", "")
    if not recorded or actual != recorded:
        raise UsageError(
            f"{name}'s artifact {version.model_data_url} changed since registration: its SHA-256 is "
            f"{reg.sha256_hex(actual) or 'not recorded by S3'}, the registry recorded "
            f"{reg.sha256_hex(recorded) or 'none'}; promote another version"
        )
    return Checked(version, bucket, key, recorded)


def copy_artifact(target: PipelineConfig, checked: Checked, s3: S3Client, out: Printer) -> str:
    """The artifact's URI in the target: the same object, or a verified copy in the target's bucket."""
    if target.account.bucket == checked.bucket:
        return checked.version.model_data_url
    job = checked.version.metadata.get(reg.TRAINING_JOB, f"version-{checked.version.version}")
    key = f"{target.account.prefix}/registry/{job}/model.tar.gz"
    copied = s3.copy_object(
        Bucket=target.account.bucket,
        Key=key,
        CopySource={"Bucket": checked.bucket, "Key": checked.key},
        ChecksumAlgorithm="SHA256",
    )
    digest = copied.get("CopyObjectResult", {}).get("ChecksumSHA256", "")
    if digest != checked.sha256:
        raise PipelineError(
            f"the copy s3://{target.account.bucket}/{key} has SHA-256 {reg.sha256_hex(digest) or 'none'}, "
            f"not the registered {reg.sha256_hex(checked.sha256)}: nothing was registered or deployed in "
            f"{target.environment}"
        )
    # The smoke test encodes its rows with the encoding the model was trained with, saved with the
    # source's data: <prefix>/data/ beside the artifact's <prefix>/registry/.
    source_prefix = checked.key.rsplit("/registry/", 1)[0]
    s3.copy_object(
        Bucket=target.account.bucket,
        Key=f"{target.account.prefix}/data/{ENCODING_KEY}",
        CopySource={"Bucket": checked.bucket, "Key": f"{source_prefix}/data/{ENCODING_KEY}"},
    )
    uri = f"s3://{target.account.bucket}/{key}"
    out(f"copied {checked.version.model_data_url} -> {uri} (SHA-256 {reg.sha256_hex(digest)} verified)")
    return uri


def register_in_target(target: PipelineConfig, checked: Checked, artifact: str, sagemaker: SageMakerClient) -> str:
    """Register the promoted version in the target's group (PendingManualApproval); its ARN."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=target.registry_group)
    except ClientError as exc:
        if not reg.is_not_found(exc, "does not exist", "not found"):
            raise
        sagemaker.create_model_package_group(
            ModelPackageGroupName=target.registry_group,
            ModelPackageGroupDescription=f"Big Mart sales models of {target.environment} (endpoint {target.endpoint.name})",
            Tags=[{"Key": k, "Value": v} for k, v in target.account.tags.items()],
        )
    v = checked.version
    metadata = {k: val for k, val in v.metadata.items() if k not in (reg.REGRESSION_BAR, reg.REGRESSION_PCT)}
    metadata.update({reg.ENVIRONMENT: target.environment, PROMOTED_FROM: v.arn})
    inference: InferenceSpecificationTypeDef = {
        "Containers": [{"Image": v.image, "ModelDataUrl": artifact}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
        "SupportedRealtimeInferenceInstanceTypes": [
            cast("ProductionVariantInstanceTypeType", target.endpoint.instance_type)
        ],
    }
    created = sagemaker.create_model_package(
        ModelPackageGroupName=target.registry_group,
        ModelPackageDescription=promoted_description(v),
        ModelApprovalStatus=reg.PENDING,
        InferenceSpecification=inference,
        MetadataProperties={"CommitId": v.commit},
        CustomerMetadataProperties=metadata,
    )
    return str(created["ModelPackageArn"])


def promoted_description(v: reg.ModelVersion) -> str:
    """The target version's description: where it came from, and its training inputs (for reuse)."""
    inputs = v.metadata.get(reg.TRAINING_FINGERPRINT)
    tail = f", {description_mark(inputs)}" if inputs else ""
    return f"promoted from {v.group} version {v.version} ({reg.metric_label(v)}, commit {v.commit}{tail})"[:1024]


@dataclass
class Promotion:
    """What one promotion did."""

    source: reg.ModelVersion
    target_version_arn: str = ""
    artifact: str = ""
    execution_arn: str = ""
    smoke: SmokeOutcome | None = None

    @property
    def ok(self) -> bool:
        """True when the target's smoke test passed (and so approved the version there)."""
        return self.smoke is not None and self.smoke.passed


def promote(
    source: PipelineConfig,
    target: PipelineConfig,
    clients: Clients,
    *,
    version: str | None,
    run_id: str,
    out: Printer = print,
    timeout_seconds: int | None = None,
    poll_seconds: float = 2.0,
) -> Promotion:
    """Check, copy, register, deploy and smoke-test ``version`` of ``source`` in ``target``.

    ``clients`` reach both environments (one account, or a target role granted the source's read:
    infra/README.md). UsageError before any write for every refusal; PipelineError when the
    deployment or the smoke test failed (the smoke step rolled back and rejected the version).
    """
    from pipeline.deploy import alias_arn
    from pipeline.follow import follow_execution
    from pipeline.run import start_execution
    from pipeline.smoke import publish, smoke_deployment

    if source.environment == target.environment:
        raise UsageError(f"--from and --to are both {source.environment!r}: promote between two environments")
    sagemaker, s3 = clients("sagemaker"), clients("s3")
    try:
        chosen = source_version(source, sagemaker, version)
        checked = check(source, target, chosen, s3)
        out(
            f"promoting {source.registry_group} version {chosen.version} ({reg.metric_label(chosen)}, commit "
            f"{chosen.commit[:12]}, {chosen.data} data, sha256 {chosen.artifact_sha256}) to {target.environment}"
        )
        result = Promotion(chosen)
        result.artifact = copy_artifact(target, checked, s3, out)
        result.target_version_arn = register_in_target(target, checked, result.artifact, sagemaker)
        out(f"registered in {target.registry_group}: {result.target_version_arn} (PendingManualApproval)")
        sfn = clients("stepfunctions")
        result.execution_arn = start_execution(
            target,
            sfn,
            run_id=run_id,
            target_arn=alias_arn(target),
            name=run_id,
            model_package_arn=result.target_version_arn,
            out=out,
        )
        run = follow_execution(
            sfn,
            result.execution_arn,
            timeout_seconds=timeout_seconds or target.state_machine.execution_timeout_seconds,
            poll_seconds=poll_seconds,
            out=out,
        )
    except ClientError as exc:
        raise PipelineError(
            f"{getattr(exc, 'operation_name', 'AWS call')} failed: {error_code(exc)}: {error_message(exc)}"
        ) from None
    if not run.succeeded:
        raise PipelineError(
            f"the {target.environment} deployment {run.status}: stage {run.failed_stage or '?'}: {run.error or '?'}: "
            f"{run.cause or ''}; the endpoint keeps what it served"
        )
    result.smoke = smoke_deployment(target, clients, execution_arn=result.execution_arn)
    publish(result.smoke, out)
    return result
