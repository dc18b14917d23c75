"""The subcommands beyond ``definition`` and ``data``: each feature module registers its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Each entry takes argparse's subparsers object and adds one command with a ``handler``.
REGISTRY: list[Callable[[Any], None]] = []
