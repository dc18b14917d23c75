"""Command line: ``python -m pipeline <command>``. Thin: parse, call the package, map errors.

Exit codes: 0 success; 1 the work failed (a failed execution, a failed smoke test); 2 bad
input or configuration; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from pipeline.errors import PipelineError, UsageError

Handler = Callable[[argparse.Namespace], int]


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so one handler reports everything."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads the configuration shares."""
    group = parser.add_argument_group("configuration (file < PIPELINE_* environment variables < flags)")
    group.add_argument(
        "--env", default=None, help="environment section of the config file (default: $PIPELINE_ENV or staging)"
    )
    group.add_argument("--config", default=None, help="config file (default: $PIPELINE_CONFIG or config/pipeline.toml)")
    group.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one key, e.g. --set bucket=my-bucket --set hyperparameters.eta=0.1 (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> Any:
    """Load the configuration the common arguments name."""
    import os

    from pipeline.config import load_config

    overrides: dict[str, str] = {}
    problems = []
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            problems.append(f"--set {item!r} must look like KEY=VALUE")
        else:
            overrides[key.strip()] = value
    if problems:
        raise UsageError("\n".join(problems))
    environment = args.env or os.environ.get("PIPELINE_ENV") or "staging"
    return load_config(environment, path=args.config, overrides=overrides)


def cmd_definition(args: argparse.Namespace) -> int:
    """Print the state machine definition as ASL JSON or a Mermaid flowchart."""
    from pipeline.definition import build_definition, definition_json, to_mermaid

    config = config_from_args(args)
    if args.format == "mermaid":
        sys.stdout.write(to_mermaid(build_definition(config)))
    else:
        sys.stdout.write(definition_json(config))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Prepare Big Mart data for the built-in XGBoost algorithm and write it to a folder."""
    from pipeline import data

    config = config_from_args(args)
    raw = data.read_raw(args.data) if args.data else data.generate_raw(args.rows, seed=args.seed)
    prepared = data.prepare(raw, config.validation_fraction, config.data_seed)
    paths = prepared.write(args.out)
    summary = data.describe(prepared)
    source = args.data or f"synthetic ({args.rows} rows, seed {args.seed})"
    print(f"prepared {summary['train_rows']} training and {summary['validation_rows']} validation rows from {source}")
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return 0


def build_parser() -> ArgumentParser:
    """The full command-line parser with every subcommand."""
    parser = ArgumentParser(
        prog="python -m pipeline",
        description="Big Mart SageMaker pipeline on Step Functions: build, deploy, run, smoke-test; offline too.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    commands.required = True

    definition = commands.add_parser("definition", help="print the state machine definition (ASL or Mermaid)")
    add_config_arguments(definition)
    definition.add_argument(
        "--format", choices=("json", "mermaid"), default="json", help="output format (default: json)"
    )
    definition.set_defaults(handler=cmd_definition)

    data_cmd = commands.add_parser("data", help="write prepared Big Mart data (train/, validation/, encoding.json)")
    add_config_arguments(data_cmd)
    data_cmd.add_argument("--out", required=True, help="folder to write into (created if missing)")
    data_cmd.add_argument("--data", default=None, help="a real Big Mart Train.csv (default: synthetic data)")
    data_cmd.add_argument("--rows", type=positive_int, default=8523, help="rows of synthetic data (default: 8523)")
    data_cmd.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    data_cmd.set_defaults(handler=cmd_data)

    for register in extra_commands():
        register(commands)
    return parser


def extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands defined next to the code they drive."""
    from pipeline import commands

    return commands.registrations()


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; print errors as ``error: ...`` lines and return the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except UsageError as exc:
        report(exc)
        return exc.exit_code
    except PipelineError as exc:
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def report(exc: PipelineError) -> None:
    """Print every line of an error, each prefixed with 'error:'."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"error: {line}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
