"""``python -m pipeline.emulator [--host 127.0.0.1] [--port 0] [--faults faults.json]``.

Prints the server's URL on the first line of stdout, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from typing import Any

from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.faults import FaultFile
from pipeline.emulator.server import EmulatorServer
from pipeline.errors import PipelineError, UsageError


def _load_object(spec: str) -> Any:
    # "package.module:attribute" -> the attribute; a class is instantiated without arguments.
    module_name, sep, attr = spec.partition(":")
    if not sep:
        raise UsageError(f"expected MODULE:ATTRIBUTE, got {spec!r}")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load {spec!r}: {exc}") from exc
    return obj() if isinstance(obj, type) else obj


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m pipeline.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--faults", help="JSON fault document to apply at start")
    parser.add_argument("--trainer", help="MODULE:ATTRIBUTE of a trainer hook")
    parser.add_argument("--model-host", help="MODULE:ATTRIBUTE of a model host (a class is instantiated)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until interrupted; exit 1 on emulator errors, 2 on bad usage."""
    args = parse_args(argv)
    try:
        server = EmulatorServer(
            host=args.host,
            port=args.port,
            faults=FaultFile.load(args.faults) if args.faults else None,
            trainer=_load_object(args.trainer) if args.trainer else None,
            model_host=_load_object(args.model_host) if args.model_host else None,
        )
        server.start()
    except (PipelineError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, PipelineError) else EmulatorError.exit_code
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(server.url, flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
