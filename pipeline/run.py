"""``run``: start an execution of the alias for a commit (or attach to it) and follow it.

The execution name is the run id ``<sha12>-<attempt>``, so a rerun of the same job attaches to
the execution it started instead of training a second model. Exit codes: 0 succeeded; 1 failed,
aborted, timed out, or still running at our timeout; 2 bad input or configuration.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from pipeline import github_actions
from pipeline.aws_errors import error_code
from pipeline.config import PipelineConfig
from pipeline.errors import UsageError
from pipeline.follow import RunResult, StageTiming, follow_execution

__all__ = ["RunResult", "StageTiming", "execution_arn_for", "follow_execution", "start_execution"]

Printer = Callable[[str], None]


def execution_arn_for(target_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of ``target_arn`` (machine, version or alias) gets."""
    head, sep, rest = target_arn.partition(":stateMachine:")
    if not sep:
        raise UsageError(f"{target_arn!r} is not a state machine ARN")
    machine = rest.split(":", 1)[0]  # executions of versions and aliases belong to the machine
    return f"{head}:execution:{machine}:{name}"


def start_execution(
    config: PipelineConfig, sfn: Any, *, run_id: str, target_arn: str, name: str, out: Printer = print
) -> str:
    """Start (or attach to) the execution ``name`` of ``target_arn`` for ``run_id``; its ARN.

    AWS returns the running execution for a repeated name + input, but raises
    ExecutionAlreadyExists once it has ended; then the existing execution is described and, if
    its input is the same, attached to. A different input is a UsageError asking for a new attempt.
    """
    from pipeline.definition import execution_input

    wanted = execution_input(config, run_id)
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
        if json.loads(existing.get("input") or "{}") != wanted:
            raise UsageError(
                f"execution {name!r} already exists with a different input (it was started for other "
                "SageMaker names); start a new attempt, e.g. --attempt N+1 or re-run the workflow"
            ) from None
        out(f"execution {name} already exists ({existing['status']}): attaching to it")
        return arn
    out(f"execution {name}: {arn}")
    return arn


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


def upload_data(config: PipelineConfig, s3: Any, data_path: str | None, out: Printer = print) -> list[str]:
    """Prepare Big Mart data (a real Train.csv, or synthetic) and upload it where training reads it."""
    from pipeline import data, storage

    raw = data.read_raw(data_path) if data_path else data.generate_raw(data.DEFAULT_ROWS, seed=config.data_seed)
    prepared = data.prepare(raw, config.validation_fraction, config.data_seed)
    written = storage.upload_prepared(prepared, s3, config)
    source = data_path or f"synthetic data ({len(raw)} rows)"
    out(f"uploaded {source} to {config.data_uri}: {', '.join(uri.rsplit('/', 1)[1] for uri in written)}")
    return written
