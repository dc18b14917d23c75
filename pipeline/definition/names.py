"""Per-run resource names and the execution input that carries them."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pipeline.config import MAX_RUN_ID_LENGTH, PipelineConfig
from pipeline.errors import UsageError
from pipeline.validation import sagemaker_name

RUN_ID = re.compile(r"^[a-z0-9](-?[a-z0-9])*$")
COMMIT_SHA = re.compile(r"^[0-9a-f]{7,40}$")
# The keys of the execution input, in the order they are written: the per-run names, then the
# lineage the registry records (pipeline.provenance): the commit and the data objects.
INPUT_KEYS = ("TrainingJobName", "ModelName", "EndpointConfigName")
LINEAGE_KEYS = ("Commit", "Data")
# Optional: a model package version ARN to deploy instead of training (promotion, reuse).
DEPLOY_KEY = "ModelPackageArn"


def run_id_for_commit(commit_sha: str, attempt: int | str) -> str:
    """A deterministic run id from a commit SHA and a run attempt (``<sha12>-<attempt>``)."""
    sha = commit_sha.strip().lower()
    if not COMMIT_SHA.match(sha):
        raise UsageError(f"commit SHA {commit_sha!r} is not a hexadecimal git commit id (7-40 characters)")
    try:
        number = int(attempt)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or number > 999_999:
        raise UsageError(f"run attempt {attempt!r} must be a whole number between 1 and 999999")
    return f"{sha[:12]}-{number}"


def run_id_now(now: datetime | None = None) -> str:
    """A run id from the current UTC time to the millisecond, for runs not tied to a commit
    (``20261126t041500123``): two runs in the same second still get different names."""
    moment = now or datetime.now(timezone.utc)
    return moment.strftime("%Y%m%dt%H%M%S") + f"{moment.microsecond // 1000:03d}"


def check_run_id(run_id: str) -> str:
    """Return the run id if it can be part of SageMaker names, else raise UsageError."""
    if not RUN_ID.match(run_id) or len(run_id) > MAX_RUN_ID_LENGTH:
        raise UsageError(
            f"run id {run_id!r} is not allowed: use 1-{MAX_RUN_ID_LENGTH} lowercase letters or digits, "
            "with single hyphens between them"
        )
    return run_id


def execution_input(
    config: PipelineConfig,
    run_id: str,
    lineage: dict[str, Any] | None = None,
    *,
    model_package_arn: str | None = None,
) -> dict[str, Any]:
    """The execution input of one run: unique SageMaker names (each <= 63 characters), then
    ``lineage`` (``Commit`` and ``Data``, from :func:`pipeline.provenance.lineage_input`), then
    ``ModelPackageArn`` when a registered version is deployed instead of training one."""
    check_run_id(run_id)
    base = f"{config.endpoint.name}-{run_id}"
    names = {
        "TrainingJobName": f"{base}-train",
        "ModelName": f"{base}-model",
        "EndpointConfigName": f"{base}-config",
    }
    for key, name in names.items():
        problem = sagemaker_name(name)
        if problem:  # config validation makes this unreachable; keep the guarantee local
            raise UsageError(f"{key} {name!r} {problem}")
    if lineage is not None:
        missing = [key for key in LINEAGE_KEYS if key not in lineage]
        if missing:
            raise UsageError(f"execution input lineage lacks {', '.join(missing)}")
    result: dict[str, Any] = {**names, **{key: lineage[key] for key in LINEAGE_KEYS}} if lineage else dict(names)
    if model_package_arn is not None:
        result[DEPLOY_KEY] = model_package_arn
    return result


class Output:
    """Keys of a successful execution's output (written by the report state; read by run and smoke)."""

    ENDPOINT = "EndpointName"
    ENDPOINT_CONFIG = "EndpointConfigName"
    MODEL = "ModelName"
    TRAINING_JOB = "TrainingJobName"
    MODEL_ARTIFACTS = "ModelArtifacts"
    MODEL_PACKAGE = "ModelPackageArn"
    QUALITY_GATE = "QualityGate"
    PREVIOUS_ENDPOINT = "PreviousEndpoint"
    # What was deployed: Source ("trained" or "registry"), Version, TrainingJob, Commit, Metric.
    RELEASE = "Release"
