"""Command-line glue of ``doctor``, ``teardown`` and ``cost``: parse, call the package, exit codes.

The logic lives in :mod:`pipeline.doctor`, :mod:`pipeline.teardown` and :mod:`pipeline.pricing`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError, UsageError

STACK_DELETE_TIMEOUT_SECONDS = 30 * 60


def register_cli(subparsers: Any) -> None:
    """Add ``doctor``, ``teardown`` and ``cost``."""
    from pipeline.cli import add_config_arguments
    from pipeline.clients import add_aws_arguments

    doctor = subparsers.add_parser(
        "doctor",
        help="preflight: credentials, region, roles and their trust, bucket, OIDC provider, quotas, data",
        description="One line per check (ok / warn / FAIL with how to fix it); exit 1 if any check fails.",
    )
    add_config_arguments(doctor)
    add_aws_arguments(doctor)
    doctor.add_argument(
        "--repository",
        default=None,
        help="OWNER/REPO the deploy role must trust (default: $GITHUB_REPOSITORY inside Actions)",
    )
    doctor.add_argument(
        "--skip-data", action="store_true", help="skip the training-data check (a deployment that runs no training)"
    )
    doctor.set_defaults(handler=cmd_doctor)

    teardown = subparsers.add_parser(
        "teardown",
        help="delete this environment's endpoint, configs, models, registry and state machine (dry run by default)",
        description="Lists what this project created in the environment; deletes it only with --execute.",
    )
    add_config_arguments(teardown)
    add_aws_arguments(teardown)
    teardown.add_argument("--execute", action="store_true", help="delete what is listed (default: only list it)")
    teardown.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="also the bootstrap stack (roles) and its bucket, emptied first (every object version)",
    )
    teardown.add_argument("--confirm-prod", action="store_true", help="required to --execute in environment prod")
    teardown.add_argument("--stack-name", default=None, help="bootstrap stack (default: <endpoint_name>-bootstrap)")
    teardown.set_defaults(handler=cmd_teardown)

    cost = subparsers.add_parser(
        "cost", help="hourly cost of the configured endpoint and training (Price List API, else the checked-in table)"
    )
    add_config_arguments(cost)
    add_aws_arguments(cost)
    cost.add_argument(
        "--refresh",
        action="store_true",
        help="rewrite pipeline/prices.json from the Price List API (needs credentials)",
    )
    cost.add_argument("--table", default=None, help=argparse.SUPPRESS)
    cost.set_defaults(handler=cmd_cost)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run every preflight check; print one line each; 1 if any failed."""
    from pipeline import aws, doctor, github_actions
    from pipeline.cli import config_from_args
    from pipeline.clients import clients_for

    config = config_from_args(args)
    clients: Any = None
    problem = None
    try:
        clients = clients_for(config, args)
    except (aws.CredentialsError, aws.IdTokenPermissionError) as exc:
        problem = str(exc).splitlines()[0]
    repository = args.repository or os.environ.get("GITHUB_REPOSITORY") or None
    checks = doctor.run_checks(
        config, clients, repository=repository, credentials_problem=problem, check_data=not args.skip_data
    )
    for check in checks:
        print(check.line())
    github_actions.append_summary(doctor.summary_markdown(config, checks))
    failed = doctor.failed(checks)
    for check in failed:
        github_actions.error(f"{check.name}: {check.detail} -> {check.fix}", title="preflight")
    print(
        f"{len(checks) - len(failed)} of {len(checks)} checks passed" + ("" if not failed else "; fix the FAIL lines")
    )
    return 1 if failed else 0


def cmd_teardown(args: argparse.Namespace) -> int:
    """List (and with --execute delete) this environment's resources."""
    from pipeline import teardown
    from pipeline.bootstrap import _Poller
    from pipeline.cli import config_from_args
    from pipeline.clients import clients_for

    config = config_from_args(args)
    teardown.confirm(config, execute=args.execute, confirm_prod=args.confirm_prod)
    clients = clients_for(config, args)
    from botocore.exceptions import ClientError

    try:
        plan = teardown.plan_teardown(config, clients, everything=args.everything, stack_name=args.stack_name)
    except ClientError as exc:
        raise PipelineError(f"cannot list the resources: {teardown.error_code(exc)}: {exc}") from None
    for line in plan.lines(args.execute):
        print(line)
    if not args.everything:
        print(f"kept: the bootstrap stack and bucket {config.bucket} (teardown --all deletes them too)")
    print("kept: training jobs (SageMaker keeps their records; they cost nothing once stopped)")
    if not args.execute:
        print("dry run: nothing was deleted; add --execute to delete what is listed")
        return 0
    poller = _Poller(10.0, STACK_DELETE_TIMEOUT_SECONDS, time.sleep, time.monotonic, sys.stdout)

    def wait_stack(name: str) -> None:
        from pipeline.bootstrap import _describe_stack

        final = poller.until(
            lambda: _describe_stack(clients("cloudformation"), name) or {"StackStatus": "DELETE_COMPLETE"},
            lambda stack: not str(stack["StackStatus"]).endswith("_IN_PROGRESS"),
            f"stack {name} to be deleted",
            lambda stack: str(stack["StackStatus"]),
        )
        if final["StackStatus"] != "DELETE_COMPLETE":
            raise PipelineError(f"stack {name} ended in {final['StackStatus']}; see its events in the console")

    teardown.execute_teardown(plan, clients, wait_stack=wait_stack)
    print(f"deleted {len(plan.delete)} resources of environment {config.environment}")
    return 0


def pricing_client(clients: Any) -> Any:
    """A Price List API client (us-east-1), or None on an emulator (which has no Price List API)."""
    from pipeline import aws, pricing

    if clients.endpoint_url:
        return None
    return aws.client(clients.session, "pricing", region_name=pricing.PRICING_REGION)


def cost_lines(config: Any, clients: Any) -> list[str]:
    """The cost lines ``deploy --plan`` and ``cost`` print."""
    from pipeline import pricing

    return pricing.describe_rates(config, pricing.hourly_rates(config, pricing_client(clients)))


def cmd_cost(args: argparse.Namespace) -> int:
    """Print the hourly cost; with --refresh rewrite the price table from the API."""
    from pipeline import pricing
    from pipeline.cli import config_from_args
    from pipeline.clients import clients_for

    config = config_from_args(args)
    clients = clients_for(config, args)
    if not args.refresh:
        for line in cost_lines(config, clients):
            print(line)
        return 0
    client = pricing_client(clients)
    if client is None:
        raise UsageError("cost --refresh needs the real Price List API; unset --endpoint-url / AWS_ENDPOINT_URL")
    path = Path(args.table) if args.table else pricing.TABLE_PATH
    table = pricing.load_table(path)
    extra = [(config.region, kind, instance_type) for kind, instance_type, _ in pricing.configured_uses(config)]
    try:
        refreshed = pricing.refresh_table(client, table, extra, today=datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    except pricing.PricingUnavailable as exc:
        raise PipelineError(f"price table not refreshed: {exc}") from None
    path.write_text(json.dumps(refreshed, indent=2) + "\n", encoding="utf-8")
    print(f"refreshed {path} ({refreshed['retrieved']})")
    return 0
