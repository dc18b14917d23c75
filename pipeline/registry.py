"""The model registry: what this pipeline writes on a model package version, and reading it back.

One SageMaker Model Package Group per environment (``model_package_group``, by default the
endpoint's name). Why not one shared group: a version has ONE ``ModelApprovalStatus``, so a
shared group could not say "approved in staging, not yet in prod"; each environment trains its
own model on its own data; the champion of an environment is what *its* endpoint serves; and
each environment's roles can be scoped to its own group's ARNs.

The state machine registers every model that passed the quality gate (status
``PendingManualApproval``) with the ``CustomerMetadataProperties`` below; the CI job's smoke
step approves it (or rejects it with the reason). Versions without ``WrittenBy`` were not
written by this pipeline: they are listed, and never trusted as a champion.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline.errors import PipelineError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType as ModelApprovalStatus

WRITER = "big-mart-pipeline"
GATE_METRIC = "validation:rmse"
APPROVED: ModelApprovalStatus = "Approved"
REJECTED: ModelApprovalStatus = "Rejected"
PENDING: ModelApprovalStatus = "PendingManualApproval"

# CustomerMetadataProperties keys (the definition writes them; values are strings).
WRITTEN_BY = "WrittenBy"
ENVIRONMENT = "Environment"
COMMIT = "Commit"
TRAINING_JOB = "TrainingJob"
EXECUTION = "Execution"
METRIC = "GateMetric"
VALIDATION_RMSE = "ValidationRmse"
TRAIN_RMSE = "TrainRmse"
CONFIG_FINGERPRINT = "ConfigFingerprint"
# SHA-256 of what identifies the training (data ETags, hyperparameters, image, instances, volume,
# runtime): pipeline.fingerprint. Same value: same inputs, the version can be reused.
TRAINING_FINGERPRINT = "TrainingFingerprint"
ARTIFACT_SHA256 = "ArtifactSha256"  # base64, as S3 reports ChecksumSHA256
DATA_SYNTHETIC = "DataSynthetic"
DATA_KEYS = {
    channel: (f"{prefix}Data", f"{prefix}DataETag", f"{prefix}DataVersion")
    for channel, prefix in (("train", "Train"), ("validation", "Validation"))
}
# Written at approval: the bar a challenger must not exceed, for the percentage it was computed with.
REGRESSION_BAR = "RegressionBar"
REGRESSION_PCT = "RegressionPct"


@dataclass(frozen=True)
class ModelVersion:
    """One version of a model package group, as this pipeline reads it."""

    arn: str
    group: str
    version: int
    status: str
    created: Any
    metadata: dict[str, str] = field(default_factory=dict)
    approval_description: str = ""
    model_data_url: str = ""
    image: str = ""

    @property
    def ours(self) -> bool:
        """True when this pipeline wrote the version (its metadata can be trusted)."""
        return self.metadata.get(WRITTEN_BY) == WRITER and self.metric is not None

    @property
    def metric(self) -> float | None:
        """The gate metric (validation:rmse) recorded at registration, if any."""
        return number(self.metadata.get(VALIDATION_RMSE))

    @property
    def commit(self) -> str:
        """The commit the model was trained from ('' when unknown)."""
        return self.metadata.get(COMMIT, "")

    @property
    def data(self) -> str:
        """'synthetic', 'real' or 'unknown'."""
        return {"true": "synthetic", "false": "real"}.get(self.metadata.get(DATA_SYNTHETIC, ""), "unknown")

    @property
    def artifact_sha256(self) -> str:
        """The artifact's SHA-256 in hex ('' when not recorded)."""
        return sha256_hex(self.metadata.get(ARTIFACT_SHA256, ""))

    def regression_bar(self, pct: float) -> float | None:
        """The challenger bar for ``pct`` from this champion's metric (None if it has none)."""
        metric = self.metric
        return None if metric is None else metric * (1 + pct / 100)


def sha256_hex(checksum: str) -> str:
    """S3's base64 ChecksumSHA256 as the hex digest ``sha256sum`` prints ('' when absent or bad)."""
    try:
        raw = base64.b64decode(checksum, validate=True)
    except (binascii.Error, ValueError):
        return ""
    return raw.hex() if len(raw) == 32 else ""


def number(text: str | None) -> float | None:
    """A finite float from a metadata string, else None."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def version_from_description(desc: Mapping[str, Any]) -> ModelVersion:
    """A ModelVersion from DescribeModelPackage's answer."""
    containers = (desc.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return ModelVersion(
        arn=desc["ModelPackageArn"],
        group=desc.get("ModelPackageGroupName", ""),
        version=int(desc.get("ModelPackageVersion") or 0),
        status=desc.get("ModelApprovalStatus", ""),
        created=desc.get("CreationTime"),
        metadata=dict(desc.get("CustomerMetadataProperties") or {}),
        approval_description=desc.get("ApprovalDescription", ""),
        model_data_url=containers[0].get("ModelDataUrl", ""),
        image=containers[0].get("Image", ""),
    )


def is_not_found(exc: ClientError, *markers: str) -> bool:
    """True for SageMaker's 'does not exist' answers (an unmodelled ValidationException)."""
    error = exc.response.get("Error", {})
    message = error.get("Message", "")
    return error.get("Code") in ("ValidationException", "ResourceNotFound") and any(m in message for m in markers)


def group_names(sagemaker: SageMakerClient) -> list[str]:
    """Every model package group in the account and region."""
    names: list[str] = []
    for page in sagemaker.get_paginator("list_model_package_groups").paginate():
        names += [g["ModelPackageGroupName"] for g in page.get("ModelPackageGroupSummaryList", [])]
    return sorted(names)


def check_group(sagemaker: SageMakerClient, group: str) -> None:
    """UsageError naming the groups that exist when ``group`` does not."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as exc:
        if not is_not_found(exc, "does not exist", "not found"):
            raise
        existing = group_names(sagemaker)
        raise UsageError(
            f"model package group {group!r} does not exist (existing: {', '.join(existing) or 'none'}); "
            "it is created by the first pipeline run that passes the quality gate"
        ) from None


def list_versions(sagemaker: SageMakerClient, group: str) -> list[ModelVersion]:
    """Every version of ``group``, newest first (each described, for its metadata)."""
    arns: list[str] = []
    paginator = sagemaker.get_paginator("list_model_packages")
    # botocore's model documents UNVERSIONED as the default type: ask for the group's versions.
    pages = paginator.paginate(
        ModelPackageGroupName=group, ModelPackageType="Versioned", SortBy="CreationTime", SortOrder="Descending"
    )
    for page in pages:
        arns += [p["ModelPackageArn"] for p in page.get("ModelPackageSummaryList", [])]
    versions = [version_from_description(sagemaker.describe_model_package(ModelPackageName=arn)) for arn in arns]
    return sorted(versions, key=lambda v: v.version, reverse=True)


@dataclass(frozen=True)
class Lineage:
    """What an endpoint serves, followed back: config -> model -> package version -> job, data, commit."""

    endpoint: str
    status: str
    config: str = ""
    model: str = ""
    package: ModelVersion | None = None
    problem: str = ""  # why the chain stops early ('' when it reaches a version)

    @property
    def trusted(self) -> bool:
        """True when the endpoint serves a version this pipeline wrote."""
        return self.package is not None and self.package.ours


def live_lineage(sagemaker: SageMakerClient, endpoint: str) -> Lineage:
    """Follow ``endpoint`` to the model package version its model was created from."""
    try:
        desc = sagemaker.describe_endpoint(EndpointName=endpoint)
    except ClientError as exc:
        if is_not_found(exc, "Could not find endpoint"):
            return Lineage(endpoint, "absent", problem="the endpoint does not exist (first deploy)")
        raise
    status = desc["EndpointStatus"]
    config = desc.get("EndpointConfigName", "")
    if not config:
        return Lineage(endpoint, status, problem=f"the endpoint is {status} with no config")
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    model = variants[0]["ModelName"]
    container = sagemaker.describe_model(ModelName=model).get("PrimaryContainer") or {}
    package_name = container.get("ModelPackageName")
    if not package_name:
        return Lineage(endpoint, status, config, model, problem="its model was not created from a registry version")
    package = version_from_description(sagemaker.describe_model_package(ModelPackageName=package_name))
    problem = "" if package.ours else "its version was not written by this pipeline (no metadata): not trusted"
    return Lineage(endpoint, status, config, model, package, problem)


def lineage_lines(lineage: Lineage) -> list[str]:
    """The lineage as indented text lines."""
    lines = [f"endpoint {lineage.endpoint} ({lineage.status})"]
    if lineage.config:
        lines.append(f"  -> endpoint config {lineage.config}")
    if lineage.model:
        lines.append(f"  -> model {lineage.model}")
    package = lineage.package
    if package is not None:
        lines.append(f"  -> model package {package.arn} (version {package.version}, {package.status})")
        meta = package.metadata
        if package.ours:
            lines.append(f"  -> training job {meta.get(TRAINING_JOB, '?')} (execution {meta.get(EXECUTION, '?')})")
            lines.append(f"     {metric_label(package)}; commit {package.commit or '?'}")
            for channel, (uri, etag, version) in DATA_KEYS.items():
                lines.append(
                    f"     {channel} data {meta.get(uri, '?')} (ETag {meta.get(etag, '?')}, version {meta.get(version, '?')})"
                )
            lines.append(f"     data: {data_label(package)}; config fingerprint {meta.get(CONFIG_FINGERPRINT, '?')}")
            lines.append(f"     training inputs fingerprint {meta.get(TRAINING_FINGERPRINT, '?')}")
            lines.append(f"     artifact {package.model_data_url} sha256 {package.artifact_sha256 or '?'}")
            lines.append(f"     image {package.image}")
    if lineage.problem:
        lines.append(f"  !! {lineage.problem}")
    return lines


SYNTHETIC_WARNING = "trained on SYNTHETIC data (generated rows, not real sales)"


def data_label(version: ModelVersion) -> str:
    """What the version was trained on, loud when it is synthetic."""
    return SYNTHETIC_WARNING if version.data == "synthetic" else f"{version.data} data"


def metric_label(version: ModelVersion) -> str:
    """'validation:rmse 1100.53' or 'no metric'."""
    return f"{GATE_METRIC} {version.metric:.4f}" if version.metric is not None else "no metric"


def version_rows(versions: Iterable[ModelVersion], deployed: dict[str, list[str]]) -> Iterator[list[str]]:
    """Table rows: version, status, metric, commit, data, deployed where, note."""
    for v in versions:
        note = "" if v.ours else "not written by this pipeline: never a champion"
        if v.ours and v.data == "synthetic":
            note = SYNTHETIC_WARNING
        yield [
            str(v.version),
            v.status,
            f"{v.metric:.4f}" if v.metric is not None else "-",
            v.commit[:12] or "-",
            v.data.upper() if v.data == "synthetic" else v.data,
            ", ".join(deployed.get(v.arn, [])) or "-",
            note,
        ]


def approve(sagemaker: SageMakerClient, package_arn: str, description: str, *, regression_pct: float) -> ModelVersion:
    """Approve a version after its smoke test passed, recording its challenger bar.

    The bar (``metric * (1 + pct / 100)``) is computed here because the state machine has no
    floating-point arithmetic (States.MathAdd rounds to integers); the gate reads it from the
    champion together with the percentage it was computed for.
    """
    version = describe(sagemaker, package_arn)
    bar = version.regression_bar(regression_pct)
    if version.ours and bar is not None:
        sagemaker.update_model_package(
            ModelPackageArn=package_arn,
            CustomerMetadataProperties={REGRESSION_BAR: repr(round(bar, 6)), REGRESSION_PCT: pct_text(regression_pct)},
        )
    sagemaker.update_model_package(
        ModelPackageArn=package_arn, ModelApprovalStatus=APPROVED, ApprovalDescription=description[:1000]
    )
    return describe(sagemaker, package_arn)


def reject(sagemaker: SageMakerClient, package_arn: str, reason: str) -> ModelVersion:
    """Reject a version (its smoke test failed), saying why."""
    sagemaker.update_model_package(
        ModelPackageArn=package_arn, ModelApprovalStatus=REJECTED, ApprovalDescription=reason[:1000]
    )
    return describe(sagemaker, package_arn)


def describe(sagemaker: SageMakerClient, package_arn: str) -> ModelVersion:
    """One version, described."""
    try:
        return version_from_description(sagemaker.describe_model_package(ModelPackageName=package_arn))
    except ClientError as exc:
        raise PipelineError(f"cannot read model package {package_arn}: {exc}") from None


def pct_text(pct: float) -> str:
    """A percentage as the definition writes it (``10``, ``2.5``), so the two compare as strings."""
    return f"{pct:g}"
