"""``run``: start an execution of the alias for a commit (or attach to it), follow it, report it."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli import common
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
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Upload data, start or attach, follow, report; 0 when the execution succeeded, else 1."""
    from botocore.exceptions import ClientError

    from pipeline import github_actions, training_data
    from pipeline.commit import resolve_commit
    from pipeline.definition import build_definition, run_id_for_commit
    from pipeline.definition.names import Output
    from pipeline.deploy import alias_arn
    from pipeline.follow import follow_execution
    from pipeline.provenance import lineage_input
    from pipeline.report import failure_lines, release_line, summary_markdown, write_outputs
    from pipeline.run import run_attempt, start_execution, upload_data, version_arn

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
        # The commit and the data's ETags and versions, which the registry records (a registered
        # version carries its own).
        lineage = None if package else lineage_input(clients("s3"), config, commit)
        arn = start_execution(
            config,
            sfn,
            run_id=run_id,
            target_arn=alias_arn(config),
            name=run_id,
            lineage=lineage,
            model_package_arn=package,
        )
        with github_actions.group(f"execution {run_id}"):
            result = follow_execution(sfn, arn, timeout_seconds=timeout, poll_seconds=args.poll_seconds)
    except ClientError as exc:
        raise common.aws_failure(exc) from None
    write_outputs(result)
    title = f"Pipeline run {run_id} ({config.environment})"
    notice = "" if args.data or package else training_data.synthetic_notice(config)
    summary = summary_markdown(result, build_definition(config), title, timeout)
    github_actions.append_summary(f"{notice}\n\n{summary}" if notice else summary)
    if notice:
        github_actions.warning(
            'this run trained on synthetic data (training_data = "synthetic")', title="synthetic data"
        )
    if result.succeeded:
        output = result.output or {}
        endpoint = output.get(Output.ENDPOINT, config.endpoint.name)
        print(f"succeeded: endpoint {endpoint} serves {output.get(Output.ENDPOINT_CONFIG, '?')}")
        released = release_line(output)
        if released:
            print(released)
            github_actions.append_summary(f"Deployed: {released}\n")
        return 0
    problems = failure_lines(result, timeout)
    github_actions.error("\n".join(problems), title=f"pipeline run {result.status}")
    return 1
