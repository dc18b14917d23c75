"""Retention: delete the old models, endpoint configs and training outputs every run leaves behind.

``plan_prune`` reads (never writes) and decides, for every endpoint config, model and training
output (``s3://<bucket>/<prefix>/output/<job>/``) of this environment, whether it is kept and why:

- live: the config the endpoint serves (and one it is updating to), and its model;
- rollback: the config the smoke step's rollback returns to, the ``PreviousEndpoint`` of the
  newest succeeded execution that deployed the live config (pipeline.rollback), and its model;
- running: what a running execution named in its input;
- Approved: the training output (and model) behind every Approved registry version;
- newest: the ``keep`` newest of each kind, by creation time;
- not ours: anything whose name lacks the project's per-run shape or whose tags name another
  project or environment (the rules of pipeline.teardown).

Everything else is deleted by ``execute_prune``: configs first, then models, then S3 objects
(every version). The endpoint, the registry and its copies of the artifacts are never touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from pipeline.aws_errors import error_code
from pipeline.cleanup import empty_bucket, ownership_problem, run_name, sagemaker_tags
from pipeline.config import PipelineConfig
from pipeline.definition.names import Output
from pipeline.endpoint_wait import is_not_found as endpoint_missing
from pipeline.errors import PipelineError, UsageError
from pipeline.printer import Printer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

    from pipeline.clients import Clients

KINDS = ("endpoint-config", "model", "training-output")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# How many succeeded executions are read to find the one that deployed the live config.
EXECUTIONS_READ = 50


@dataclass(frozen=True)
class Item:
    """One resource prune looked at: kept (with why) or to be deleted."""

    kind: str
    name: str
    created: datetime
    keep: str = ""  # the reason it is kept; empty: it is deleted


@dataclass
class PrunePlan:
    """Every item found, in deletion order within each kind."""

    environment: str
    keep_newest: int
    items: list[Item] = field(default_factory=list)

    @property
    def deletions(self) -> list[Item]:
        """What ``execute_prune`` deletes: configs, then models, then training outputs."""
        return sorted((i for i in self.items if not i.keep), key=lambda i: (KINDS.index(i.kind), i.name))

    def table(self, executing: bool) -> list[str]:
        """The plan as an aligned table: action, kind, name, created, why."""
        verb = "delete" if executing else "would delete"
        rows = [("ACTION", "KIND", "NAME", "CREATED", "WHY")]
        ordered = sorted(self.items, key=lambda i: (KINDS.index(i.kind), i.created), reverse=False)
        for item in ordered:
            when = item.created.strftime("%Y-%m-%d %H:%M") if item.created != _EPOCH else "-"
            why = item.keep or f"older than the {self.keep_newest} newest, not live, not needed to roll back"
            rows.append(("keep" if item.keep else verb, item.kind, item.name, when, why))
        if len(rows) == 1:
            return [f"nothing of environment {self.environment} to prune"]
        widths = [max(len(row[col]) for row in rows) for col in range(4)]
        return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows]


def check_keep(keep: int) -> int:
    """``keep`` itself, or UsageError (exit 2) when it is below 1."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise UsageError(
            f"--keep {keep!r} must be a whole number of at least 1 (how many of the newest models, endpoint "
            "configs and training outputs to keep)"
        )
    return keep


# -- what must stay -----------------------------------------------------------------------------


@dataclass
class Protected:
    """Names that must stay, each with its reason (first reason wins)."""

    reasons: dict[str, str] = field(default_factory=dict)

    def add(self, name: str | None, reason: str) -> None:
        """Protect ``name`` (ignored when empty)."""
        if name:
            self.reasons.setdefault(name, reason)


def live_configs(config: PipelineConfig, sagemaker: SageMakerClient) -> list[str]:
    """The config the endpoint serves, and the one it is being updated to (none: no endpoint)."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=config.endpoint.name)
    except ClientError as exc:
        if endpoint_missing(exc):
            return []
        raise
    pending = (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
    return [name for name in (endpoint.get("EndpointConfigName"), pending) if name]


def _executions(
    sfn: SFNClient, arn: str, status: Literal["RUNNING", "SUCCEEDED"], limit: int
) -> Iterator[Mapping[str, Any]]:
    seen = 0
    try:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter=status):
            for execution in page.get("executions", []):
                if seen >= limit:
                    return
                seen += 1
                yield execution
    except ClientError as exc:
        if error_code(exc) == "StateMachineDoesNotExist":
            return
        raise


def rollback_config(config: PipelineConfig, sfn: SFNClient, live: str) -> tuple[str | None, str]:
    """The config a rollback of ``live`` returns to, from the execution that deployed it.

    That execution's output ``PreviousEndpoint`` is exactly what ``smoke --execution-arn`` rolls
    back to. Returns (config, execution name), or (None, "") when no execution names ``live``.
    """
    from pipeline.deploy import state_machine_arn

    for execution in _executions(sfn, state_machine_arn(config), "SUCCEEDED", EXECUTIONS_READ):
        output = json.loads(sfn.describe_execution(executionArn=execution["executionArn"]).get("output") or "{}")
        if output.get(Output.ENDPOINT_CONFIG) == live:
            previous = output.get(Output.PREVIOUS_ENDPOINT) or {}
            return previous.get("EndpointConfigName"), str(execution["name"])
    return None, ""


def running_names(config: PipelineConfig, sfn: SFNClient) -> dict[str, str]:
    """Names a running execution will create or use (its input), with the execution's name."""
    from pipeline.deploy import state_machine_arn

    names: dict[str, str] = {}
    for execution in _executions(sfn, state_machine_arn(config), "RUNNING", 1000):
        given = json.loads(sfn.describe_execution(executionArn=execution["executionArn"]).get("input") or "{}")
        for key in ("ModelName", "EndpointConfigName", "TrainingJobName"):
            if given.get(key):
                names[str(given[key])] = str(execution["name"])
    return names


def approved_jobs(config: PipelineConfig, sagemaker: SageMakerClient) -> dict[str, str]:
    """Training jobs of the Approved registry versions, with the version they back."""
    from pipeline import registry

    try:
        versions = registry.list_versions(sagemaker, config.registry_group)
    except (ClientError, PipelineError):
        return {}  # no group yet: nothing is Approved
    return {
        v.metadata[registry.TRAINING_JOB]: f"Approved version {v.version}'s training output"
        for v in versions
        if v.status == "Approved" and v.metadata.get(registry.TRAINING_JOB)
    }


# -- what exists -------------------------------------------------------------------------------


def _listed(pages: Iterable[Any], key: str) -> Iterator[Mapping[str, Any]]:
    for page in pages:
        yield from page.get(key, [])


def _found(config: PipelineConfig, sagemaker: SageMakerClient, kind: str) -> Iterator[tuple[str, str, datetime]]:
    # (name, arn, created) of the environment's endpoint configs or models.
    items: Iterator[Mapping[str, Any]]
    if kind == "endpoint-config":
        config_pages = sagemaker.get_paginator("list_endpoint_configs").paginate(NameContains=config.endpoint.name)
        items, name_key, arn_key = _listed(config_pages, "EndpointConfigs"), "EndpointConfigName", "EndpointConfigArn"
    else:
        model_pages = sagemaker.get_paginator("list_models").paginate(NameContains=config.endpoint.name)
        items, name_key, arn_key = _listed(model_pages, "Models"), "ModelName", "ModelArn"
    for item in items:
        name = str(item[name_key])
        if config.endpoint.name in name:  # moto's ListModels ignores NameContains
            yield name, str(item[arn_key]), item.get("CreationTime") or _EPOCH


def training_outputs(config: PipelineConfig, s3: S3Client) -> dict[str, datetime]:
    """``<job>`` -> newest LastModified under ``<prefix>/output/<job>/``."""
    prefix = f"{config.account.prefix}/output/"
    newest: dict[str, datetime] = {}
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=config.account.bucket, Prefix=prefix)
        for item in _listed(pages, "Contents"):
            job = str(item["Key"])[len(prefix) :].split("/", 1)[0]
            when = item.get("LastModified") or _EPOCH
            newest[job] = max(newest.get(job, _EPOCH), when)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return {}
        raise
    return newest


def model_of(sagemaker: SageMakerClient, config_name: str) -> str | None:
    """The model an endpoint config's AllTraffic variant serves (None: config gone)."""
    try:
        variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    except ClientError as exc:
        if error_code(exc) == "ValidationException":
            return None
        raise
    return str(variants[0]["ModelName"]) if variants else None


def plan_prune(config: PipelineConfig, clients: Clients, keep: int | None = None) -> PrunePlan:
    """What prune would delete and what it keeps, with why (read-only calls only)."""
    keep = check_keep(config.retention.keep if keep is None else keep)
    sagemaker, sfn, s3 = clients("sagemaker"), clients("stepfunctions"), clients("s3")
    protected = Protected()
    live = live_configs(config, sagemaker)
    for name in live:
        protected.add(name, "live: the endpoint serves it")
    if live:
        previous, execution = rollback_config(config, sfn, live[0])
        protected.add(previous, f"rollback: the config execution {execution} reports as PreviousEndpoint")
    for name, execution in running_names(config, sfn).items():
        protected.add(name, f"in use by running execution {execution}")
    for config_name, reason in list(protected.reasons.items()):
        if config_name.endswith("-config"):
            protected.add(model_of(sagemaker, config_name), f"the model of {config_name} ({reason.split(':')[0]})")
    for job, reason in approved_jobs(config, sagemaker).items():
        protected.add(job, reason)
    # A protected model or config keeps the training output of its run (its artifact).
    for name, reason in list(protected.reasons.items()):
        if name.endswith(("-model", "-config")):
            protected.add(name.rsplit("-", 1)[0] + "-train", f"the training output of {name} ({reason.split(':')[0]})")

    plan = PrunePlan(config.environment, keep)
    # When each run last created something: orders training outputs, whose S3 times are coarse.
    run_times: dict[str, datetime] = {}
    for kind in ("endpoint-config", "model"):
        pattern = run_name(config, "config" if kind == "endpoint-config" else "model")
        # Newest first; the name breaks ties (moto and S3 may stamp a run's resources alike).
        found = sorted(_found(config, sagemaker, kind), key=lambda entry: (entry[2], entry[0]), reverse=True)
        for name, _, created in found:
            run = name.rsplit("-", 1)[0]
            run_times[run] = max(run_times.get(run, _EPOCH), created)
        ours = 0
        for name, arn, created in found:
            if not pattern.match(name):
                plan.items.append(Item(kind, name, created, "not ours: the name lacks this project's per-run shape"))
                continue
            problem = ownership_problem(config, sagemaker_tags(sagemaker, arn))
            if problem:
                plan.items.append(Item(kind, name, created, f"not ours: {problem}"))
                continue
            ours += 1
            reason = protected.reasons.get(name) or (f"one of the {keep} newest" if ours <= keep else "")
            plan.items.append(Item(kind, name, created, reason))
    pattern = run_name(config, "train")
    outputs = training_outputs(config, s3)

    def recency(job: str) -> tuple[datetime, str]:
        return max(outputs[job], run_times.get(job.rsplit("-", 1)[0], _EPOCH)), job

    jobs = [(job, outputs[job]) for job in sorted(outputs, key=recency, reverse=True)]
    ours = 0
    for job, created in jobs:
        if not pattern.match(job):
            plan.items.append(Item("training-output", job, created, "not ours: the name lacks this project's shape"))
            continue
        ours += 1
        reason = protected.reasons.get(job) or (f"one of the {keep} newest" if ours <= keep else "")
        plan.items.append(Item("training-output", job, created, reason))
    return plan


# -- deleting ------------------------------------------------------------------------------------


def execute_prune(config: PipelineConfig, plan: PrunePlan, clients: Clients, *, out: Printer = print) -> int:
    """Delete what ``plan`` marks for deletion, re-checking the live configs first; the count."""
    live = set(live_configs(config, clients("sagemaker")))
    deletions = plan.deletions
    clash = [item.name for item in deletions if item.name in live]
    if clash:  # the endpoint moved since the plan was made
        raise PipelineError(f"the endpoint now serves {', '.join(clash)}; run prune again to get a fresh plan")
    sagemaker, s3 = clients("sagemaker"), clients("s3")
    for item in deletions:
        out(f"deleting {item.kind} {item.name}")
        try:
            if item.kind == "endpoint-config":
                sagemaker.delete_endpoint_config(EndpointConfigName=item.name)
            elif item.kind == "model":
                sagemaker.delete_model(ModelName=item.name)
            else:
                prefix = f"{config.account.prefix}/output/{item.name}/"
                out(f"  {empty_bucket(s3, config.account.bucket, prefix)} object versions deleted")
        except ClientError as exc:
            raise PipelineError(
                f"deleting {item.kind} {item.name} failed: {error_code(exc)} (the items before it were deleted; "
                "run prune again)"
            ) from None
    return len(deletions)
