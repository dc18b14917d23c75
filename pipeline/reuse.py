"""Skip unchanged training: find a registered version trained on the same inputs, and reuse it.

``run`` and ``local`` call :func:`find_reusable` before starting an execution. A version is
reused when this pipeline registered it with the same training fingerprint
(:mod:`pipeline.fingerprint`), it is not Rejected, and it still passes today's quality gate
(the absolute bar, and the bar of the champion the endpoint serves, when that is another
version). Then the execution deploys that version (``ModelPackageArn``: no training, no gate, no
registration); when the endpoint already serves it, nothing is started at all.

Why here and not in the definition: SageMaker's Search is the only server-side filter on
metadata, and the emulator has none; in the state machine a lookup would be a Map over
ListModelPackages with a DescribeModelPackage per version on every execution. ``run`` lists the
group once (each version's description names its fingerprint, so only a match is described) and
decides before anything is paid for. See docs/registry.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline import registry as reg
from pipeline.config import PipelineConfig
from pipeline.fingerprint import description_mark, training_fingerprint

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class Reuse:
    """What :func:`find_reusable` decided."""

    fingerprint: str
    version: reg.ModelVersion | None = None
    # The endpoint is InService on a model created from ``version``: nothing to deploy.
    serving: bool = False
    why: str = ""  # one line: why training runs, or which version is reused

    @property
    def reused(self) -> bool:
        """True when training is skipped."""
        return self.version is not None


def find_reusable(
    config: PipelineConfig, sagemaker: SageMakerClient, data: Mapping[str, Any], *, retrain: bool = False
) -> Reuse:
    """The newest reusable version for training ``config`` on ``data`` (the input's ``Data``), if any."""
    fingerprint = training_fingerprint(config, data)
    short = fingerprint[:12]
    if retrain:
        return Reuse(fingerprint, why=f"--retrain: training (inputs {short})")
    lineage = reg.live_lineage(sagemaker, config.endpoint.name)
    refused: list[str] = []
    for version in same_inputs(sagemaker, config.registry_group, fingerprint):
        problem = gate_problem(config, version, lineage)
        if problem:
            refused.append(f"version {version.version} {problem}")
            continue
        serving = lineage.package is not None and lineage.package.arn == version.arn and lineage.status == "InService"
        return Reuse(fingerprint, version, serving, f"training skipped: same inputs as version {version.version}")
    if refused:
        return Reuse(fingerprint, why=f"training: same inputs (inputs {short}) but {'; '.join(refused)}")
    return Reuse(fingerprint, why=f"training: no registered version was trained on these inputs (inputs {short})")


def same_inputs(sagemaker: SageMakerClient, group: str, fingerprint: str) -> Iterator[reg.ModelVersion]:
    """This pipeline's versions of ``group`` with ``fingerprint``, newest first, none Rejected."""
    mark = description_mark(fingerprint)
    paginator = sagemaker.get_paginator("list_model_packages")
    pages = paginator.paginate(
        ModelPackageGroupName=group, ModelPackageType="Versioned", SortBy="CreationTime", SortOrder="Descending"
    )
    try:
        for page in pages:
            for summary in page.get("ModelPackageSummaryList", []):
                if summary.get("ModelApprovalStatus") == reg.REJECTED:
                    continue
                if mark not in summary.get("ModelPackageDescription", ""):
                    continue
                version = reg.describe(sagemaker, summary["ModelPackageArn"])
                if version.ours and version.metadata.get(reg.TRAINING_FINGERPRINT) == fingerprint:
                    yield version
    except ClientError as exc:
        # No group yet (nothing was ever registered): nothing to reuse.
        if reg.is_not_found(exc, "does not exist", "not found"):
            return
        raise


def gate_problem(config: PipelineConfig, version: reg.ModelVersion, lineage: reg.Lineage) -> str:
    """Why ``version`` would not pass today's quality gate ('' when it would).

    The gate may have been tightened since the version was registered; the champion is the
    version the endpoint serves (when it is another one of this pipeline's).
    """
    metric = version.metric
    if metric is None:
        return "has no validation:rmse"
    bar = config.gate.max_validation_rmse
    if bar is not None and metric > bar:
        return f"has validation:rmse {metric:g} above max_validation_rmse {bar:g}"
    champion = lineage.package
    if champion is None or not lineage.trusted or champion.arn == version.arn:
        return ""
    pct = config.gate.max_regression_pct
    recorded = champion.metadata.get(reg.REGRESSION_BAR)
    # As the gate: the bar recorded at approval for this percentage, else the champion's own value.
    limit = (
        reg.number(recorded)
        if recorded is not None and champion.metadata.get(reg.REGRESSION_PCT) == reg.pct_text(pct)
        else champion.metric
    )
    if limit is not None and metric > limit:
        return f"has validation:rmse {metric:g} above the bar {limit:g} of champion version {champion.version}"
    return ""
