"""``run``: start an execution of the alias for a commit (or attach to it) and follow it.

The execution name is the run id ``<sha12>-<attempt>``, so a rerun of the same job attaches to
the execution it started instead of training a second model. Exit codes: 0 succeeded; 1 failed,
aborted, timed out, or still running at our timeout; 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from pipeline import github_actions
from pipeline.config import PipelineConfig
from pipeline.definition.names import Output
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
        code = exc.response.get("Error", {}).get("Code", "")
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


def register_cli(subparsers: Any) -> None:
    """Add the ``run`` command."""
    from pipeline.cli import add_config_arguments, positive_int
    from pipeline.clients import add_aws_arguments

    parser = subparsers.add_parser(
        "run",
        help="run the pipeline for a commit (train, save, configure, deploy the endpoint) and follow it",
        description="Start an execution of the alias named after the commit and attempt, or attach to it.",
    )
    add_config_arguments(parser)
    add_aws_arguments(parser)
    parser.add_argument("--commit", default=None, help="commit SHA (default: $GITHUB_SHA, else git HEAD)")
    parser.add_argument(
        "--attempt", type=positive_int, default=None, help="run attempt (default: $GITHUB_RUN_ATTEMPT, else 1)"
    )
    parser.add_argument(
        "--timeout",
        type=positive_int,
        default=None,
        help="seconds to follow the execution (default: the configured execution_timeout_seconds)",
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="first history poll interval (default: 2)")
    parser.add_argument("--upload-data", action="store_true", help="prepare and upload the training data first")
    parser.add_argument("--data", default=None, help="a real Big Mart Train.csv to upload (implies --upload-data)")
    parser.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Handle ``run``: upload data, start or attach, follow, report; return the exit code."""
    from pipeline.cli import config_from_args
    from pipeline.clients import clients_for
    from pipeline.commit import resolve_commit
    from pipeline.definition import build_definition, run_id_for_commit
    from pipeline.deploy import alias_arn, aws_failure
    from pipeline.report import failure_lines, summary_markdown, write_outputs

    if args.poll_seconds <= 0:
        raise UsageError(f"--poll-seconds {args.poll_seconds} must be above 0")
    config = config_from_args(args)
    run_id = run_id_for_commit(resolve_commit(args.commit) or "", run_attempt(args.attempt))
    timeout = args.timeout or config.execution_timeout_seconds
    clients = clients_for(config, args)
    sfn = clients("stepfunctions")
    try:
        if args.upload_data or args.data:
            upload_data(config, clients("s3"), args.data)
        arn = start_execution(config, sfn, run_id=run_id, target_arn=alias_arn(config), name=run_id)
        with github_actions.group(f"execution {run_id}"):
            result = follow_execution(sfn, arn, timeout_seconds=timeout, poll_seconds=args.poll_seconds)
    except ClientError as exc:
        raise aws_failure(exc) from None
    write_outputs(result)
    title = f"Pipeline run {run_id} ({config.environment})"
    github_actions.append_summary(summary_markdown(result, build_definition(config), title, timeout))
    if result.succeeded:
        endpoint = (result.output or {}).get(Output.ENDPOINT, config.endpoint_name)
        print(f"succeeded: endpoint {endpoint} serves {(result.output or {}).get(Output.ENDPOINT_CONFIG, '?')}")
        return 0
    problems = failure_lines(result, timeout)
    github_actions.error("\n".join(problems), title=f"pipeline run {result.status}")
    return 1
