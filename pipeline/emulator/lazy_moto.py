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


# moto's Application Auto Scaling backend holds an ECS backend (``from moto.ecs import
# ecs_backends``) for ECS services' scalable targets only; importing moto.ecs loads ECS and EC2
# (~0.3 s, EC2's instance-type tables). The project registers SageMaker variants only, so the
# module is imported with a stand-in for ``moto.ecs`` whose ``ecs_backends`` finds the real
# backend on first use (an ECS target registered, an ECS alarm made).
_AUTOSCALING_MODELS = "moto.applicationautoscaling.models"
_ECS = "moto.ecs"


class _RegionBackendStandIn:
    """Stands for ``ecs_backends[account][region]``: every attribute read goes to the real one."""

    def __init__(self, account_id: str, region: str):
        self._account_id = account_id
        self._region = region

    def __getattr__(self, name: str) -> Any:
        # Looked up on every read, never kept: a reset of moto's backends makes new ones.
        from moto.ecs import ecs_backends

        return getattr(ecs_backends[self._account_id][self._region], name)


class _AccountBackendsStandIn:
    """Stands for ``ecs_backends[account]``."""

    def __init__(self, account_id: str):
        self._account_id = account_id

    def __getitem__(self, region: str) -> _RegionBackendStandIn:
        return _RegionBackendStandIn(self._account_id, region)


class _BackendsStandIn:
    """Stands for ``moto.ecs.ecs_backends`` while it is not imported."""

    def __getitem__(self, account_id: str) -> _AccountBackendsStandIn:
        return _AccountBackendsStandIn(account_id)


def import_autoscaling_models() -> types.ModuleType:
    """``moto.applicationautoscaling.models``, imported without importing ECS and EC2.

    Once moto.ecs is imported (anything used ECS) the ordinary import runs; if moto ever imports
    more than ``ecs_backends`` from moto.ecs, the stand-in cannot serve it and the ordinary
    import runs too. Either way the module works as shipped.
    """
    with _lock:
        if _AUTOSCALING_MODELS not in sys.modules and _ECS not in sys.modules:
            stand_in = types.ModuleType(_ECS, "moto.ecs stand-in (pipeline.emulator.lazy_moto)")
            stand_in.ecs_backends = _BackendsStandIn()  # type: ignore[attr-defined]
            sys.modules[_ECS] = stand_in
            try:
                import moto.applicationautoscaling.models  # noqa: F401
            except ImportError:
                # Forget what the failed import left half-made, then import as shipped below.
                for name in [name for name in sys.modules if name.startswith("moto.applicationautoscaling")]:
                    del sys.modules[name]
            finally:
                if sys.modules.get(_ECS) is stand_in:
                    del sys.modules[_ECS]
        import moto.applicationautoscaling.models as models

        return models
