"""Cheap botocore clients for the emulator: one data loader per process, one client per service.

botocore reads each service's JSON model (SageMaker's is megabytes) once per *session*, and moto
starts every mock with a fresh default session; moto's Step Functions engine also builds a new
client for every Task it runs. Both repeat work whose result never changes: the model files
are read-only data, and the engine's clients carry no per-call state (fixed placeholder keys,
no retries). So the emulator shares one loader per search path between sessions, and each
runtime keeps one engine client per (region, service).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import botocore.loaders
import botocore.session

from pipeline.emulator import direct
from pipeline.emulator import runtime as rt

_loader_lock = threading.Lock()
_shared_loader = False


def share_botocore_loader() -> None:
    """Every botocore session made from now on reuses one loader (and its cache) per data path."""
    global _shared_loader
    with _loader_lock:
        if _shared_loader:
            return
        # botocore.session does `from botocore.loaders import create_loader`: patch its name.
        botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
        _shared_loader = True


def engine_client(original: Any, region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for``, made once per (region, service) for the active emulator.

    moto ignores ``state_credentials`` (every engine client uses the same placeholder keys), so
    they are not part of the key. Without an active emulator, moto's own function runs.
    """
    runtime = rt.current()
    if runtime is None:
        return original(region, service, state_credentials)
    from moto.core.models import botocore_stubber

    key = (region, service, botocore_stubber.enabled)
    client = runtime.engine_clients.get(key)
    if client is None:
        # Two threads may both build one; setdefault keeps the first, and either works.
        # Connected: when the server runs in this process with serve_in_process, its calls back
        # skip the socket (pipeline.emulator.direct); otherwise they go over HTTP as before.
        made = direct.connect(original(region, service, state_credentials))
        client = runtime.engine_clients.setdefault(key, made)
    return client
