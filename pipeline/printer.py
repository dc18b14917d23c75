"""The one type of the ``out`` callables every command's work takes (``print``, a list's append)."""

from __future__ import annotations

from collections.abc import Callable

Printer = Callable[[str], None]
