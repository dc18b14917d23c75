"""The subcommands beyond ``definition`` and ``data``: each lives beside the code it drives.

Each module listed here defines ``register_cli(subparsers)``, which adds its command(s) with a
``handler(args) -> exit code``.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

MODULES = (
    "pipeline.deploy",
    "pipeline.run",
    "pipeline.smoke",
    "pipeline.local",
    "pipeline.bootstrap",
    "pipeline.emulator.cli",
)


def registrations() -> list[Callable[[Any], None]]:
    """The ``register_cli`` functions of the command modules that are present."""
    found = []
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if hasattr(module, "register_cli"):
            found.append(module.register_cli)
    return found
