"""``models``: the registered model versions of an environment, or (``--live``) what each endpoint serves."""

from __future__ import annotations

import argparse
import os
from typing import Any

from pipeline.cli.common import add_aws_arguments, add_config_arguments, clients_from_args, config_from_args


def register(commands: Any) -> None:
    """Add the ``models`` command."""
    parser = commands.add_parser(
        "models",
        help="list the registered model versions (status, metric, commit, data, where deployed); --live: lineage",
        description=(
            "Versions of the environment's model package group, newest first, with status, validation:rmse, "
            "commit, data and the environments serving them; --live follows each environment's endpoint to "
            "its version, training job, data and commit. Exit 2 for an unknown environment or group."
        ),
    )
    add_config_arguments(parser)
    add_aws_arguments(parser)
    parser.add_argument("--group", default=None, help="model package group (default: the environment's)")
    parser.add_argument("--live", action="store_true", help="each environment's endpoint with its full lineage")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the report; 0 when listed."""
    from pipeline.config import environments, find_config_file, read_config_file
    from pipeline.models import Environment, report_lines
    from pipeline.validation import sagemaker_name

    if args.group is not None and (problem := sagemaker_name(args.group)):
        from pipeline.errors import UsageError

        raise UsageError(f"--group {args.group!r} {problem}")
    chosen = config_from_args(args)
    sagemaker = clients_from_args(chosen, args)("sagemaker")
    everyone = []
    # Every environment of the file in the same region, reached with the same credentials.
    for name in environments(read_config_file(find_config_file(args.config, os.environ))):
        config = (
            chosen
            if name == chosen.environment
            else config_from_args(argparse.Namespace(**{**vars(args), "env": name}))
        )
        if config.region == chosen.region:
            everyone.append(Environment(config, sagemaker))
    for line in report_lines(Environment(chosen, sagemaker), everyone, group=args.group, live=args.live):
        print(line)
    return 0
