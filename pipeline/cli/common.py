"""What every command shares: the parser class, configuration and AWS options, argument types."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, NoReturn

from pipeline.errors import PipelineError, UsageError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

    from pipeline.clients import Clients
    from pipeline.config import PipelineConfig

# Seconds an assumed role's session lasts unless --role-duration says otherwise (pipeline.aws's maximum).
DEFAULT_ROLE_DURATION = 3600


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so one handler reports everything."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def add_command(commands: Any, name: str, help: str, description: str | None = None, *, aws: bool = True) -> Any:
    """Add the subcommand ``name`` with the configuration options (and the AWS ones unless ``aws=False``)."""
    parser = commands.add_parser(name, help=help, description=description)
    add_config_arguments(parser)
    if aws:
        add_aws_arguments(parser)
    return parser


def add_retrain_argument(parser: argparse.ArgumentParser) -> None:
    """``--retrain``: the commands that decide whether to train (run, local) take it alike."""
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train even when a registered version was trained on the same inputs (default: reuse it)",
    )


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


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """Load the configuration the common arguments name."""
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


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose where AWS calls go and with which credentials."""
    group = parser.add_argument_group("AWS")
    group.add_argument(
        "--endpoint-url",
        default=None,
        help="send every AWS call here, e.g. the offline emulator's URL (default: $AWS_ENDPOINT_URL, else AWS)",
    )
    group.add_argument("--profile", default=None, help="named AWS profile (outside GitHub Actions)")
    group.add_argument(
        "--role-duration",
        type=int,
        default=DEFAULT_ROLE_DURATION,
        help="lifetime in seconds of the assumed role's session, 900-3600 (default: 3600)",
    )


def clients_from_args(config: PipelineConfig, args: argparse.Namespace) -> Clients:
    """The AWS clients the ``add_aws_arguments`` options choose."""
    from pipeline.clients import clients_for

    return clients_for(config, endpoint_url=args.endpoint_url, profile=args.profile, role_duration=args.role_duration)


def aws_failure(exc: ClientError) -> PipelineError:
    """A ClientError as a one-line error naming the operation, code and message (bad input: exit 2)."""
    from pipeline.aws_errors import error_code, error_message

    operation = getattr(exc, "operation_name", "AWS call")
    code = error_code(exc)
    kind = UsageError if code in ("ValidationException", "InvalidArn", "InvalidDefinition") else PipelineError
    return kind(f"{operation} failed: {code}: {error_message(exc)}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
    return value
