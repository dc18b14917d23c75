"""``teardown``: list, and with --execute delete, what this project created (pipeline.teardown)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline.cli.common import add_command, clients_from_args, config_from_args
from pipeline.errors import PipelineError

HELP = "delete this environment's endpoint, configs, models, registry and state machine (dry run by default)"
DESCRIPTION = "Lists what this project created in the environment; deletes it only with --execute."


def register(commands: Any) -> None:
    """Add the ``teardown`` command."""
    parser = add_command(commands, "teardown", HELP, DESCRIPTION)
    parser.add_argument("--execute", action="store_true", help="delete what is listed (default: only list it)")
    parser.add_argument(
        "--all",
        dest="everything",
        action="store_true",
        help="also the bootstrap stack (roles) and its bucket, emptied first (every object version)",
    )
    parser.add_argument("--confirm-prod", action="store_true", help="required to --execute in environment prod")
    parser.add_argument("--stack-name", default=None, help="bootstrap stack (default: <endpoint_name>-bootstrap)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the plan; with --execute delete it, waiting for the stack with a stated bound."""
    from botocore.exceptions import ClientError

    from pipeline import teardown
    from pipeline.aws_errors import error_code, error_message
    from pipeline.bootstrap import Poller, wait_for_stack_deletion

    config = config_from_args(args)
    teardown.confirm(config, execute=args.execute, confirm_prod=args.confirm_prod)
    clients = clients_from_args(config, args)
    try:
        plan = teardown.plan_teardown(config, clients, everything=args.everything, stack_name=args.stack_name)
    except ClientError as exc:
        raise PipelineError(f"cannot list the resources: {error_code(exc)}: {error_message(exc)}") from None
    for line in plan.lines(args.execute):
        print(line)
    if not args.everything:
        print(f"kept: the bootstrap stack and bucket {config.account.bucket} (teardown --all deletes them too)")
    print("kept: training jobs (SageMaker keeps their records; they cost nothing once ended)")
    if not args.execute:
        print("dry run: nothing was deleted; add --execute to delete what is listed")
        return 0

    def wait_stack(name: str) -> None:
        wait_for_stack_deletion(clients("cloudformation"), name, poller=Poller.stack_deletion(sys.stdout))

    teardown.execute_teardown(plan, clients, wait_stack=wait_stack)
    print(f"deleted {len(plan.delete)} resources of environment {config.environment}")
    return 0
