"""``local``: the whole pipeline on this machine (embedded emulator, real model)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.common import add_config_arguments, add_retrain_argument, config_from_args, positive_int
from pipeline.local import DEFAULT_WORK_DIR


def register(commands: Any) -> None:
    """Add the ``local`` command."""
    parser = commands.add_parser("local", help="run the whole pipeline on this machine (embedded emulator, real model)")
    add_config_arguments(parser)
    parser.add_argument("--data", default=None, help="a real Big Mart Train.csv (default: synthetic data)")
    # Applied when the command runs: pipeline.data loads pandas, which building the parser must not.
    parser.add_argument("--rows", type=positive_int, default=None, help="synthetic rows (default: 8523)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: 0)")
    parser.add_argument("--port", type=int, default=0, help="emulator port on 127.0.0.1 (default: 0, a free one)")
    parser.add_argument("--keep", action="store_true", help="keep the emulator running after the run, until Ctrl-C")
    parser.add_argument("--attach", default=None, metavar="URL", help="use an emulator kept running by `local --keep`")
    parser.add_argument(
        "--work-dir",
        default=os.environ.get("PIPELINE_WORK_DIR", DEFAULT_WORK_DIR),
        help=f"where prepared data, the model and the emulator's state are kept (default: {DEFAULT_WORK_DIR})",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start from an empty emulator instead of the state an earlier run left in --work-dir (replaced at the end)",
    )
    parser.add_argument(
        "--promote",
        action="store_true",
        help="then promote the version the run approved to the environment that promotes from it (prod), "
        "as deploy.yml's prod job does, and print both environments' lineage",
    )
    parser.add_argument(
        "--timeout", type=positive_int, default=600, help="seconds to wait for the execution (default: 600)"
    )
    add_retrain_argument(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run locally, print the summary; with ``--keep`` hold the emulator up until Ctrl-C."""
    from pipeline.local import KEPT_EMULATOR_FILE, LOCAL_OVERRIDES, keep_running, prepare_work_dir, summary

    config = config_from_args(args).replace(**LOCAL_OVERRIDES)
    work_dir = prepare_work_dir(Path(args.work_dir))
    # Only now the heavy imports (pandas, moto: ~1 s): bad input above is refused without them.
    from pipeline import data
    from pipeline.local_promote import promotion_target
    from pipeline.local_session import local_emulator, run_and_save

    rows = args.rows or data.DEFAULT_ROWS
    raw = data.read_raw(args.data) if args.data else data.generate_raw(rows, seed=args.seed)
    out = print
    # A SIGTERM (CI cancelling, `kill`) must stop the emulator and free the port like Ctrl-C does.
    # SIGINT too, explicitly: a job started in the background by a script inherits SIGINT as
    # ignored, and Python then installs no KeyboardInterrupt handler of its own.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, interrupt)
    target = promotion_target(config, path=args.config).replace(**LOCAL_OVERRIDES) if args.promote else None
    with local_emulator(config, work_dir, port=args.port, attach=args.attach, fresh=args.fresh, out=out) as session:
        result = run_and_save(
            session,
            config,
            raw=raw,
            synthetic=not args.data,
            timeout_seconds=args.timeout,
            retrain=args.retrain,
            promote_to=target,
        )
        out(summary(result))
        sys.stdout.flush()
        if args.keep and session.started:
            marker = work_dir / KEPT_EMULATOR_FILE
            marker.write_text(session.url + "\n")
            try:
                keep_running(session.url, config.account.region, out)
            finally:
                marker.unlink(missing_ok=True)
            # What was done to the kept emulator meanwhile is this folder's state too.
            session.save()
    return 0


def interrupt(signum: int, frame: Any) -> None:
    """Signal handler: unwind like Ctrl-C so every ``finally`` runs."""
    raise KeyboardInterrupt
