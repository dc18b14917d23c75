"""``definition``: print the state machine definition as ASL JSON or a Mermaid flowchart."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline.cli.common import add_config_arguments, config_from_args


def register(commands: Any) -> None:
    """Add the ``definition`` command."""
    parser = commands.add_parser("definition", help="print the state machine definition (ASL or Mermaid)")
    add_config_arguments(parser)
    parser.add_argument("--format", choices=("json", "mermaid"), default="json", help="output format (default: json)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the definition of the configuration the arguments name."""
    from pipeline.definition import build_definition, definition_json, to_mermaid

    config = config_from_args(args)
    if args.format == "mermaid":
        sys.stdout.write(to_mermaid(build_definition(config)))
    else:
        sys.stdout.write(definition_json(config))
    return 0
