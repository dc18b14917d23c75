"""The registered versions of an environment, and what is live (``python -m pipeline models``).

Without ``--live``: every version of the environment's model package group (newest first) with
its status, validation:rmse, commit, data (synthetic or real) and the environments whose
endpoint serves it now. ``--live``: each environment's endpoint followed back to its version,
training job, data and commit. Versions this pipeline did not write are listed and marked.
Exit codes: 0 listed, 1 an AWS call failed, 2 unknown environment or group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import registry
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

HEADER = ["version", "status", "validation:rmse", "commit", "data", "deployed in", "note"]


@dataclass(frozen=True)
class Environment:
    """One environment of the configuration file and the SageMaker client that reaches it."""

    config: PipelineConfig
    sagemaker: SageMakerClient


def deployed_where(environments: Iterable[Environment]) -> tuple[dict[str, list[str]], list[registry.Lineage]]:
    """Which environment serves which version (package ARN -> environment names), and each lineage."""
    where: dict[str, list[str]] = {}
    lineages = []
    for env in environments:
        lineage = registry.live_lineage(env.sagemaker, env.config.endpoint.name)
        lineages.append(lineage)
        if lineage.package is not None:
            where.setdefault(lineage.package.arn, []).append(env.config.environment)
    return where, lineages


def table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def list_lines(env: Environment, group: str, others: Iterable[Environment]) -> list[str]:
    """The listing of ``group``: one line per version, where it is deployed, and what to distrust."""
    registry.check_group(env.sagemaker, group)
    versions = registry.list_versions(env.sagemaker, group)
    where, _ = deployed_where(others)
    lines = [
        f"model package group {group} ({env.config.environment}, {env.config.account.region}): {len(versions)} version(s)"
    ]
    if versions:
        lines += table([HEADER, *registry.version_rows(versions, where)])
    synthetic = [v for v in versions if v.ours and v.data == "synthetic"]
    if synthetic:
        lines.append(
            f"note: {len(synthetic)} version(s) were {registry.SYNTHETIC_WARNING}: promote refuses them where "
            "allow_synthetic_data = false (prod)"
        )
    foreign = [v for v in versions if not v.ours]
    if foreign:
        lines.append(
            f"note: {len(foreign)} version(s) were not written by this pipeline (no {registry.WRITTEN_BY} / "
            f"{registry.VALIDATION_RMSE} metadata): listed, never trusted as a champion"
        )
    return lines


def live_lines(environments: Iterable[Environment]) -> list[str]:
    """Each environment's endpoint with its full lineage."""
    lines: list[str] = []
    _, lineages = deployed_where(environments)
    for env, lineage in zip(environments, lineages, strict=True):
        lines.append(f"[{env.config.environment}]")
        lines += registry.lineage_lines(lineage)
    return lines


def report_lines(chosen: Environment, everyone: list[Environment], *, group: str | None, live: bool) -> list[str]:
    """The ``models`` report: the chosen environment's versions, or (``live``) every endpoint's lineage.

    UsageError for an unknown group (naming those that exist); PipelineError when a call fails.
    """
    try:
        if live:
            return live_lines(everyone)
        return list_lines(chosen, group or chosen.config.registry_group, everyone)
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"reading the model registry failed: {exc}") from None
