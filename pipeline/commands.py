"""The subcommands beyond ``definition`` and ``data``: each lives beside the code it drives.

Each module listed here defines ``register_cli(subparsers)``, which adds its command(s) with a
``handler(args) -> exit code``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

MODULES = (
    "pipeline.deploy",
    "pipeline.run",
    "pipeline.smoke",
    "pipeline.local",
    "pipeline.bootstrap",
    "pipeline.models",
)


def registrations() -> list[Callable[[Any], None]]:
    """The ``register_cli`` functions of the command modules.

    Command modules keep heavy imports (the SageMaker SDK, moto) inside functions, so that
    building the parser stays fast for every command.
    """
    return [importlib.import_module(name).register_cli for name in MODULES]
