"""``run``: start an execution of the alias for a commit (or attach to it), follow it, report it."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli import common
from pipeline.cli.common import add_retrain_argument
from pipeline.errors import UsageError


def register(commands: Any) -> None:
    """Add the ``run`` command."""
    parser = common.add_command(
        commands,
        "run",
        "run the pipeline for a commit (train, save, configure, deploy the endpoint) and follow it",
        "Start an execution of the alias named after the commit and attempt, or attach to it.",
    )
    parser.add_argument("--commit", default=None, help="commit SHA (default: $GITHUB_SHA, else git HEAD)")
    parser.add_argument(
        "--attempt", type=common.positive_int, default=None, help="run attempt (default: $GITHUB_RUN_ATTEMPT, else 1)"
    )
    parser.add_argument(
        "--timeout",
        type=common.positive_int,
        default=None,
        help="seconds to follow the execution (default: the configured execution_timeout_seconds)",
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="first history poll interval (default: 2)")
    parser.add_argument(
        "--upload-data",
        action="store_true",
        help="prepare and upload the configured training data first (training_data: a Train.csv path, s3, synthetic)",
    )
    parser.add_argument(
        "--data", default=None, help="a Big Mart Train.csv to upload instead of training_data (implies --upload-data)"
    )
    parser.add_argument(
        "--model-package",
        default=None,
        metavar="VERSION",
        help="deploy this registered version (a number in this environment's group, or an ARN) instead of training",
    )
    add_retrain_argument(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Upload data, decide (train, reuse or nothing), start or attach, follow, report; 0 when it succeeded."""
    from botocore.exceptions import ClientError

    from pipeline import github_actions
    from pipeline.commit import resolve_commit
    from pipeline.definition import build_definition, run_id_for_commit
    from pipeline.deploy import alias_arn
    from pipeline.follow import follow_execution
    from pipeline.report import nothing_to_deploy, report_run, write_outputs
    from pipeline.run import (
        execution_arn_for,
        execution_exists,
        model_data,
        plan_run,
        run_attempt,
        start_execution,
        upload_data,
        version_arn,
    )

    if args.poll_seconds <= 0:
        raise UsageError(f"--poll-seconds {args.poll_seconds} must be above 0")
    config = common.config_from_args(args)
    commit = resolve_commit(args.commit) or ""
    run_id = run_id_for_commit(commit, run_attempt(args.attempt))
    timeout = args.timeout or config.state_machine.execution_timeout_seconds
    package = version_arn(config, args.model_package) if args.model_package else None
    if package and (args.upload_data or args.data):
        raise UsageError(
            "--model-package deploys a registered version: it trains nothing, so --upload-data/--data do not apply"
        )
    clients = common.clients_from_args(config, args)
    sfn = clients("stepfunctions")
    try:
        if args.upload_data or args.data:
            upload_data(config, clients("s3"), args.data)
        target = alias_arn(config)
        attach = execution_exists(sfn, execution_arn_for(target, run_id))
        plan = plan_run(
            config, clients("s3"), clients("sagemaker"), commit, package=package, retrain=args.retrain, attach=attach
        )
        if plan.nothing_to_do and plan.reuse is not None and plan.reuse.version is not None:
            return nothing_to_deploy(config, plan.reuse.version, plan.reuse.why, run_id)
        arn = start_execution(
            config,
            sfn,
            run_id=run_id,
            target_arn=target,
            name=run_id,
            lineage=plan.lineage,
            model_package_arn=plan.package,
        )
        with github_actions.group(f"execution {run_id}"):
            result = follow_execution(sfn, arn, timeout_seconds=timeout, poll_seconds=args.poll_seconds)
        data = model_data(plan, clients("sagemaker"))
    except ClientError as exc:
        raise common.aws_failure(exc) from None
    write_outputs(result, reused=plan.reuse is not None and plan.reuse.reused)
    title = f"Pipeline run {run_id} ({config.environment})"
    why = plan.reuse.why if plan.reuse is not None else ""
    return report_run(config, result, build_definition(config), title, timeout, data, why)
