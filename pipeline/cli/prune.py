"""``prune``: list, and with --yes delete, the environment's old models, configs and training outputs."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import add_command, aws_failure, clients_from_args, config_from_args


def register(commands: Any) -> None:
    """Add the ``prune`` command."""
    parser = add_command(
        commands,
        "prune",
        "delete old models, endpoint configs and training outputs (dry run by default)",
        "Keep the N newest models, endpoint configs and training outputs, what the endpoint serves, the "
        "config a rollback needs and every Approved version's training output; list (or with --yes delete) "
        "the rest of this environment's.",
    )
    parser.add_argument(
        "--keep", type=int, default=None, help="how many of the newest to keep (default: retention_keep)"
    )
    parser.add_argument("--yes", action="store_true", help="delete what is listed (default: only list it)")
    parser.add_argument(
        "--if-configured",
        action="store_true",
        help="the deploy job's step: prune (as with --yes) only when retention_prune_after_deploy = true",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the table; with --yes (or --if-configured and the key on) delete what it lists."""
    from botocore.exceptions import ClientError

    from pipeline import prune

    config = config_from_args(args)
    keep = prune.check_keep(config.retention.keep if args.keep is None else args.keep)
    if args.if_configured and not config.retention.prune_after_deploy:
        print(f"retention_prune_after_deploy = false in {config.environment}: nothing pruned")
        return 0
    execute = args.yes or args.if_configured
    clients = clients_from_args(config, args)
    try:
        plan = prune.plan_prune(config, clients, keep)
        for line in plan.table(execute):
            print(line)
        if not execute:
            print(f"dry run: {len(plan.deletions)} would be deleted, nothing was; add --yes to delete them")
            return 0
        count = prune.execute_prune(config, plan, clients)
    except ClientError as exc:
        raise aws_failure(exc) from None
    print(f"pruned {count} of environment {config.environment}")
    return 0
