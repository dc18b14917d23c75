"""``captures``: the newest requests and responses the endpoint's data capture recorded."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import add_command, aws_failure, clients_from_args, config_from_args


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--limit {text!r} must be a whole number >= 1")
    return value


def register(commands: Any) -> None:
    """Add the ``captures`` command."""
    parser = add_command(
        commands,
        "captures",
        "print the newest captured requests and responses of the endpoint (data capture)",
        "Read the endpoint's data capture (SageMaker's JSON Lines under data_capture_destination) and print "
        "the newest records: time, event id, request -> response.",
    )
    parser.add_argument("--limit", type=_positive, default=10, help="how many records (default 10)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the records, newest first; 1 when capture is off or nothing was captured yet."""
    from botocore.exceptions import ClientError

    from pipeline.capture import latest_records

    config = config_from_args(args)
    if not config.capture.enabled:
        print(f"data capture is off for {config.environment} (data_capture = false)")
        return 1
    try:
        records = latest_records(clients_from_args(config, args)("s3"), config, args.limit)
    except ClientError as exc:
        raise aws_failure(exc) from None
    if not records:
        print(f"no captured records under {config.capture_uri}/{config.endpoint.name}/ yet")
        return 1
    print(f"{len(records)} newest captured record(s) of {config.endpoint.name} ({config.capture_uri}):")
    for record in records:
        print(record.line())
    return 0
