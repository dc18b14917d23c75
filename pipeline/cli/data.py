"""``data``: prepare Big Mart data for the built-in XGBoost algorithm and write it to a folder."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import add_config_arguments, config_from_args, positive_int


def register(commands: Any) -> None:
    """Add the ``data`` command."""
    parser = commands.add_parser("data", help="write prepared Big Mart data (train/, validation/, encoding.json)")
    add_config_arguments(parser)
    parser.add_argument("--out", required=True, help="folder to write into (created if missing)")
    parser.add_argument("--data", default=None, help="a real Big Mart Train.csv (default: synthetic data)")
    # The default is applied when the command runs: pipeline.data loads pandas (~1 s), which
    # building the parser must not cost every other command.
    parser.add_argument("--rows", type=positive_int, default=None, help="rows of synthetic data (default: 8523)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Write train/, validation/ and encoding.json; print what was written."""
    from pipeline import data

    config = config_from_args(args)
    rows = args.rows or data.DEFAULT_ROWS
    raw = data.read_raw(args.data) if args.data else data.generate_raw(rows, seed=args.seed)
    prepared = data.prepare(raw, config.data.validation_fraction, config.data.seed)
    paths = prepared.write(args.out)
    summary = data.describe(prepared)
    source = args.data or f"synthetic ({rows} rows, seed {args.seed})"
    print(f"prepared {summary['train_rows']} training and {summary['validation_rows']} validation rows from {source}")
    for name, path in paths.items():
        print(f"  {name}: {path}")
    return 0
