"""``run``: start an execution of the alias for a commit (or attach to it) and follow it.

The execution name is the run id ``<sha12>-<attempt>``, so a rerun of the same job attaches to
the execution it started instead of training a second model. Exit codes: 0 succeeded; 1 failed,
aborted, timed out, or still running at our timeout; 2 bad input or configuration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline import github_actions
from pipeline.aws_errors import error_code
from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.follow import RunResult, StageTiming, follow_execution
from pipeline.printer import Printer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

    from pipeline.reuse import Reuse

__all__ = ["RunResult", "StageTiming", "execution_arn_for", "follow_execution", "start_execution"]


def execution_arn_for(target_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of ``target_arn`` (machine, version or alias) gets."""
    head, sep, rest = target_arn.partition(":stateMachine:")
    if not sep:
        raise UsageError(f"{target_arn!r} is not a state machine ARN")
    machine = rest.split(":", 1)[0]  # executions of versions and aliases belong to the machine
    return f"{head}:execution:{machine}:{name}"


def start_execution(
    config: PipelineConfig,
    sfn: SFNClient,
    *,
    run_id: str,
    target_arn: str,
    name: str,
    lineage: dict[str, Any] | None = None,
    model_package_arn: str | None = None,
    out: Printer = print,
) -> str:
    """Start (or attach to) the execution ``name`` of ``target_arn`` for ``run_id``; its ARN.

    AWS returns the running execution for a repeated name + input, but raises
    ExecutionAlreadyExists once it has ended (or when the input differs); then the existing
    execution is described and, if it was started for the same SageMaker names, attached to
    (the lineage may differ: a rerun re-uploads the data, which gets a new version ID). Other
    names are a UsageError asking for a new attempt.
    """
    from pipeline.definition import execution_input
    from pipeline.definition.names import INPUT_KEYS

    wanted = execution_input(config, run_id, lineage, model_package_arn=model_package_arn)
    try:
        arn = sfn.start_execution(stateMachineArn=target_arn, name=name, input=json.dumps(wanted))["executionArn"]
    except ClientError as exc:
        code = error_code(exc)
        if code in ("StateMachineDoesNotExist", "ResourceNotFound"):
            raise UsageError(
                f"{target_arn} does not exist: deploy the state machine first (python -m pipeline deploy "
                f"--env {config.environment})"
            ) from None
        if code != "ExecutionAlreadyExists":
            raise
        arn = execution_arn_for(target_arn, name)
        existing = sfn.describe_execution(executionArn=arn)
        given = json.loads(existing.get("input") or "{}")
        if any(given.get(key) != wanted[key] for key in INPUT_KEYS):
            raise UsageError(
                f"execution {name!r} already exists with a different input (it was started for other "
                "SageMaker names); start a new attempt, e.g. --attempt N+1 or re-run the workflow"
            ) from None
        out(f"execution {name} already exists ({existing['status']}): attaching to it")
        return arn
    out(f"execution {name}: {arn}")
    return arn


def version_arn(config: PipelineConfig, version: int | str) -> str:
    """The ARN of ``version`` (a number, or an ARN given as is) in this environment's model package group.

    The account is the SageMaker role's, as for every resource of the environment (no STS call).
    """
    text = str(version).strip()
    if text.startswith("arn:"):
        if ":model-package/" not in text:
            raise UsageError(
                f"{text!r} is not a model package version ARN (arn:aws:sagemaker:...:model-package/GROUP/N)"
            )
        return text
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"model package version {text!r} must be a whole number >= 1 or a model package ARN")
    parts = config.account.sagemaker_role_arn.split(":")
    partition, account = parts[1], parts[4]
    return (
        f"arn:{partition}:sagemaker:{config.account.region}:{account}:model-package/{config.registry_group}/{int(text)}"
    )


def run_attempt(explicit: int | None, environ: Any = None) -> int:
    """The run attempt: the flag, then ``$GITHUB_RUN_ATTEMPT``, else 1."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        return explicit
    raw = environ.get(github_actions.GITHUB_RUN_ATTEMPT, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise UsageError(f"{github_actions.GITHUB_RUN_ATTEMPT}={raw!r} is not a whole number >= 1")
    return int(raw)


def upload_data(
    config: PipelineConfig, s3: S3Client, data_path: str | None, out: Printer = print, root: Path | None = None
) -> list[str]:
    """Prepare the configured training data (``training_data``, or ``data_path``) and upload it.

    A Train.csv path is prepared and uploaded; ``"s3"`` uploads nothing (the prepared data is
    already there); ``"synthetic"`` generates Big Mart's schema. Returns the S3 URIs written.
    """
    from pipeline import data, storage, training_data

    source = training_data.source_of(config, data_path)
    if source.kind == training_data.S3:
        out(f'training_data = "s3": using the prepared data already under {config.data_uri}/ (nothing uploaded)')
        return []
    if source.kind == training_data.SYNTHETIC:
        raw = data.generate_raw(data.DEFAULT_ROWS, seed=config.data.seed)
        label = f'synthetic data ({len(raw)} generated rows, training_data = "synthetic")'
    else:
        path = training_data.resolve(source, Path.cwd() if root is None else root)
        if not path.is_file():
            raise training_data.missing_file_error(config, path, "the file does not exist")
        raw = data.read_raw(path)
        label = f"{source.path} ({len(raw)} rows)"
    prepared = data.prepare(raw, config.data.validation_fraction, config.data.seed)
    written = storage.upload_prepared(prepared, s3, config, synthetic=source.kind == training_data.SYNTHETIC)
    out(f"uploaded {label} to {config.data_uri}: {', '.join(uri.rsplit('/', 1)[1] for uri in written)}")
    return written


@dataclass(frozen=True)
class Plan:
    """What a ``run`` will do before it starts anything: train, deploy a version, or nothing."""

    lineage: dict[str, Any] | None  # the execution input's Commit and Data (None: a version is deployed)
    package: str | None  # the version to deploy instead of training
    reuse: Reuse | None = None

    @property
    def nothing_to_do(self) -> bool:
        """True when the endpoint already serves the version the inputs map to."""
        return self.reuse is not None and self.reuse.serving


def execution_exists(sfn: SFNClient, arn: str) -> bool:
    """True when the execution ``arn`` was started already (a rerun of the same attempt attaches to it)."""
    try:
        sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if error_code(exc) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound"):
            return False
        raise
    return True


def plan_run(
    config: PipelineConfig,
    s3: S3Client,
    sagemaker: SageMakerClient,
    commit: str,
    *,
    package: str | None,
    retrain: bool,
    attach: bool = False,
    out: Printer = print,
) -> Plan:
    """Train, reuse the version trained on the same inputs (:mod:`pipeline.reuse`), or deploy ``package``.

    ``attach``: this attempt's execution exists already; the rerun attaches to it, deciding nothing.
    """
    from pipeline.provenance import lineage_input
    from pipeline.reuse import find_reusable

    if package:
        if retrain:
            raise UsageError("--retrain trains a new model: it does not apply with --model-package")
        return Plan(None, package)
    if attach:
        return Plan(lineage_input(s3, config, commit), None)
    # The commit and the data's ETags and versions, which the registry records.
    lineage = lineage_input(s3, config, commit)
    reuse = find_reusable(config, sagemaker, lineage["Data"], retrain=retrain)
    out(reuse.why)
    if reuse.version is None:
        return Plan(lineage, None, reuse)
    if reuse.serving:
        out(
            f"endpoint {config.endpoint.name} already serves version {reuse.version.version} "
            f"({reuse.version.status}): nothing to deploy, no execution started"
        )
    return Plan(None, reuse.version.arn, reuse)


def model_data(plan: Plan, sagemaker: SageMakerClient) -> str:
    """What the model this run deploys is trained on: 'synthetic', 'real' or 'unknown'."""
    from pipeline import registry
    from pipeline.errors import PipelineError

    if plan.reuse is not None and plan.reuse.version is not None:
        return plan.reuse.version.data
    if plan.lineage is not None:
        return {"true": "synthetic", "false": "real"}.get(str(plan.lineage["Data"].get("Synthetic")), "unknown")
    if not plan.package:
        return "unknown"
    try:
        return registry.describe(sagemaker, plan.package).data
    except PipelineError:
        return "unknown"  # the execution says why the version cannot be read
