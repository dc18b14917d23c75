"""Keep moto's heaviest backends out of the emulator's start-up until something uses them.

moto's Step Functions engine imports ``moto.batch.utils`` for one enum; importing that package
runs ``moto/batch/__init__.py``, which loads the Batch backend and, through it, EC2, ECS and
IAM (1-4 s, more than the rest of the emulator). The project never calls Batch, so the package
is registered without running its ``__init__``; the first attribute anyone reads from it (moto
asking for ``batch_backends`` when a Batch call arrives) runs it, and from then on it is the
ordinary module. Submodules (``moto.batch.utils``) import as usual.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from typing import Any

_lock = threading.RLock()


class _DeferredPackage(types.ModuleType):
    """A package whose ``__init__`` runs on the first read of an attribute it does not have."""

    def __getattr__(self, name: str) -> Any:
        with _lock:
            if not self.__dict__.get("_deferred_done"):
                self.__dict__["_deferred_done"] = True
                spec = self.__spec__
                assert spec is not None and spec.loader is not None
                spec.loader.exec_module(self)
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


def defer_package(name: str) -> None:
    """Register package ``name`` without running its ``__init__`` (no-op once imported)."""
    with _lock:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return  # not an installed package: leave the normal import to fail or succeed
        module = _DeferredPackage(name)
        module.__spec__ = spec
        module.__loader__ = spec.loader
        module.__file__ = spec.origin
        module.__path__ = list(spec.submodule_search_locations)
        module.__package__ = name
        sys.modules[name] = module
