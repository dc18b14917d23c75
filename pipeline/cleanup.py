"""What teardown and prune share: the resource a plan lists, and how a resource is recognised as
this environment's (its name has the project's per-run shape AND, where the configuration has
tags, its ``project`` and ``environment`` tags match); deleting every version under an S3 prefix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from mypy_boto3_sagemaker import SageMakerClient

OWNERSHIP_TAGS = ("project", "environment")


@dataclass(frozen=True)
class Resource:
    """One thing to delete: ``kind`` (``endpoint``, ``endpoint-config``, ...), name and ARN."""

    kind: str
    name: str
    arn: str = ""


@dataclass
class TeardownPlan:
    """What teardown would delete, in deletion order, and what it found but keeps (with why)."""

    environment: str
    delete: list[Resource] = field(default_factory=list)
    kept: list[tuple[Resource, str]] = field(default_factory=list)

    def lines(self, executing: bool) -> list[str]:
        """One line per resource: ``delete``/``would delete`` or ``keep`` with the reason."""
        verb = "delete" if executing else "would delete"
        found = [f"{verb} {r.kind} {r.name}" for r in self.delete]
        found += [f"keep {r.kind} {r.name}: {why}" for r, why in self.kept]
        return found or [f"nothing of environment {self.environment} found"]


def run_name(config: PipelineConfig, kind: str) -> re.Pattern[str]:
    """The per-run names the state machine gives (``<endpoint>-<sha12>-<attempt>-<kind>`` or a time id)."""
    return re.compile(rf"^{re.escape(config.endpoint.name)}-[a-z0-9](?:-?[a-z0-9]){{0,23}}-{kind}$")


def ownership_problem(config: PipelineConfig, tags: Mapping[str, str]) -> str | None:
    """Why a resource with ``tags`` is not this environment's (None when it is)."""
    for key in OWNERSHIP_TAGS:
        wanted = config.account.tags.get(key)
        if wanted is not None and tags.get(key) != wanted:
            return f"tag {key} is {tags.get(key)!r}, not {wanted!r}: not created by this environment"
    return None


def tag_map(items: Iterable[Mapping[str, object]]) -> dict[str, str]:
    """``[{"Key": k, "Value": v}, ...]`` as a dict."""
    return {str(item["Key"]): str(item["Value"]) for item in items}


def sagemaker_tags(sagemaker: SageMakerClient, arn: str) -> dict[str, str]:
    """A SageMaker resource's tags (paginated ListTags)."""
    tags: dict[str, str] = {}
    for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn):
        tags.update(tag_map(page.get("Tags", [])))
    return tags


def empty_bucket(s3: S3Client, bucket: str, prefix: str = "") -> int:
    """Delete every object version and delete marker in ``bucket`` (under ``prefix``); the number deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = keys[start : start + 1000]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise PipelineError(
                    f"cannot empty bucket {bucket}: {first.get('Key')} ({first.get('Code')}: {first.get('Message')})"
                )
            deleted += len(batch)
    return deleted
