"""``smoke``: prove the live endpoint answers correctly and fast; else roll back to the previous config."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline import validation
from pipeline.cli.common import add_command, clients_from_args, config_from_args, positive_float, positive_int
from pipeline.errors import UsageError
from pipeline.smoke import DEFAULT_BATCH_ROWS, DEFAULT_ROLLBACK_CALLS, check_execution_arn


def register(commands: Any) -> None:
    """Add the ``smoke`` command."""
    parser = add_command(
        commands,
        "smoke",
        "smoke-test the live endpoint after a deploy; roll back when it fails",
        "Prove the live endpoint answers correctly and fast; else roll back.",
    )
    what = parser.add_argument_group("what to check (default: whatever config the endpoint runs, no rollback)")
    which = what.add_mutually_exclusive_group()
    which.add_argument("--execution-arn", help="the deploy execution: its output names the new and previous config")
    which.add_argument("--expected-config", help="the endpoint config the endpoint must run")
    what.add_argument("--previous-config", help="with --expected-config: the config to roll back to")
    what.add_argument(
        "--model-package",
        metavar="ARN",
        help="the version the endpoint already serves (run's model_package_arn when it started nothing): "
        "approved after a passing smoke test, rejected after a failing one (no rollback)",
    )
    what.add_argument("--endpoint-name", help="the endpoint (default: endpoint_name from the configuration)")
    checks = parser.add_argument_group("checks (defaults from the configuration's smoke_* keys)")
    checks.add_argument("--calls", type=positive_int, help="single-row calls measured for latency (smoke_calls)")
    checks.add_argument("--p95-ms", type=positive_float, help="p95 latency limit in ms (smoke_p95_ms)")
    checks.add_argument(
        "--p50-ms", type=positive_float, help="p50 latency limit in ms (default: smoke_p50_ms, unset = none)"
    )
    checks.add_argument(
        "--batch-rows", type=positive_int, default=DEFAULT_BATCH_ROWS, help="rows in the batch call (default: 10)"
    )
    checks.add_argument("--seed", type=int, default=7, help="seed of the sample rows (default: 7)")
    checks.add_argument("--wait-seconds", type=float, help="bound on each wait for InService (smoke_wait_seconds)")
    checks.add_argument("--poll-seconds", type=positive_float, default=5.0, help="first poll interval (default: 5)")
    checks.add_argument("--no-rollback", action="store_true", help="report a failure but leave the endpoint as is")
    checks.add_argument(
        "--rollback-calls",
        type=positive_int,
        default=DEFAULT_ROLLBACK_CALLS,
        help="single-row calls of the check after a rollback (default: 5)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Smoke-test (rolling back on failure) and publish the outcome; 0 passed, 1 failed."""
    from pipeline.endpoint_wait import Backoff
    from pipeline.smoke import publish, smoke_deployment
    from pipeline.smoke_checks import Limits

    check_names(args)
    config = config_from_args(args)
    outcome = smoke_deployment(
        config,
        clients_from_args(config, args),
        execution_arn=args.execution_arn,
        expected_config=args.expected_config,
        previous_config=args.previous_config,
        endpoint_name=args.endpoint_name,
        rollback_enabled=not args.no_rollback,
        limits=Limits.from_config(config, calls=args.calls, p95_ms=args.p95_ms, p50_ms=args.p50_ms),
        wait_seconds=args.wait_seconds,
        batch_rows=args.batch_rows,
        seed=args.seed,
        rollback_calls=args.rollback_calls,
        model_package_arn=args.model_package,
        backoff=Backoff(first=args.poll_seconds, most=max(args.poll_seconds, 30.0)),
    )
    return publish(outcome)


def check_names(args: argparse.Namespace) -> None:
    """UsageError for config or endpoint names SageMaker would refuse, and bad flag combinations."""
    if args.execution_arn is not None:
        check_execution_arn(args.execution_arn)
    problems = []
    for flag in ("expected_config", "previous_config", "endpoint_name"):
        value = getattr(args, flag)
        problem = validation.sagemaker_name(value) if value is not None else None
        if problem:
            problems.append(f"--{flag.replace('_', '-')} {value!r} {problem}")
    if problems:
        raise UsageError("\n".join(problems))
