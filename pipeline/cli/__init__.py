"""Command line: ``python -m pipeline <command>``. Thin: parse, call the package, map errors.

This package is the only one that knows about argparse; no other module imports it (see
``tests/test_architecture.py``). Each command is one module here with ``register(subparsers)``
and a handler that calls plain functions of the package. Exit codes: 0 success; 1 the work
failed (a failed execution, a failed smoke test); 2 bad input or configuration; 130 interrupted.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

from pipeline.cli import (
    bootstrap,
    captures,
    cost,
    data,
    definition,
    deploy,
    doctor,
    local,
    models,
    promote,
    prune,
    run,
    smoke,
    teardown,
)
from pipeline.cli.common import ArgumentParser
from pipeline.errors import PipelineError

# The commands, in the order --help lists them.
COMMANDS = (
    definition,
    data,
    deploy,
    run,
    smoke,
    promote,
    models,
    captures,
    prune,
    local,
    bootstrap,
    doctor,
    cost,
    teardown,
)


def build_parser() -> ArgumentParser:
    """The full command-line parser with every subcommand."""
    parser = ArgumentParser(
        prog="python -m pipeline",
        description="Big Mart SageMaker pipeline on Step Functions: build, deploy, run, smoke-test; offline too.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    commands.required = True
    for command in COMMANDS:
        command.register(commands)
    return parser


# The cyclic garbage collector's thresholds while a command runs. A command allocates millions of
# objects that live until it ends (moto's and pandas' modules, botocore's service models); with
# Python's default (700, 10, 10) the collector walks them again and again, 0.5-0.8 s of a local
# run. Collections still happen, only less often: cyclic garbage waits longer to be freed.
GC_THRESHOLDS = (50_000, 20, 10)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print errors as ``error: ...`` lines and return the exit code."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        args = build_parser().parse_args(argv)
        code: int = args.handler(args)
        return code
    except PipelineError as exc:  # UsageError (exit 2) included
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        gc.set_threshold(*previous)


def report(exc: PipelineError) -> None:
    """Print every line of an error, each prefixed with 'error:'."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"error: {line}", file=sys.stderr)
