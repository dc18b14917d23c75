"""A small on-disk cache for pure results that cost an SDK import (seconds) to compute.

The SageMaker and stepfunctions SDKs take 1-3 s to import, and every command needs what they
compute: the algorithm image URI (config validation) and the state machine definition. Both are
pure functions of their inputs, so a result is stored under a hash of everything it depends on
(the inputs, this package's source, and the installed SDK files) and a later process reads it
back in milliseconds. A changed input is a different key, so nothing is ever invalidated by hand.

The cache is an optimisation only: an unreadable, corrupt or unwritable cache means the result
is computed, never an error. ``PIPELINE_CACHE_DIR`` moves it (default
``$XDG_CACHE_HOME/big-mart-pipeline``, else ``~/.cache/big-mart-pipeline``); setting it to
``off`` disables it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

CACHE_DIR_ENV_VAR = "PIPELINE_CACHE_DIR"
DISABLED = "off"
PACKAGE_ROOT = Path(__file__).resolve().parent


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where results are kept, or None when caching is off."""
    env = os.environ if environ is None else environ
    explicit = env.get(CACHE_DIR_ENV_VAR, "").strip()
    if explicit:
        return None if explicit == DISABLED else Path(explicit)
    base = env.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "big-mart-pipeline"


@functools.lru_cache(maxsize=1)
def source_fingerprint() -> str:
    """A hash of every Python file of this package: any code change gives new keys."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def installed(distributions: Iterable[str]) -> dict[str, str]:
    """Where each top-level module is installed and when it was written, without importing it.

    Cheaper than importlib.metadata (which scans every site directory): an upgrade or a
    reinstall rewrites the module's file, which changes its size or mtime.
    """
    found: dict[str, str] = {}
    for name in distributions:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None:
            found[name] = "missing"
            continue
        stat = os.stat(origin)
        found[name] = f"{origin}:{stat.st_size}:{stat.st_mtime_ns}"
    return found


def key_of(kind: str, inputs: Any, depends_on: Iterable[str]) -> str:
    """The cache key of one result: its kind, inputs, the package source and the SDK files."""
    material = {
        "kind": kind,
        "inputs": inputs,
        "python": list(sys.version_info[:3]),
        "source": source_fingerprint(),
        "installed": installed(depends_on),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def remember(
    kind: str,
    inputs: Any,
    compute: Callable[[], str],
    *,
    depends_on: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> str:
    """``compute()``, or the text an earlier call with the same key stored.

    ``inputs`` must hold everything the result depends on besides this package's code and the
    modules named in ``depends_on`` (e.g. ``("sagemaker",)``); it is rendered as JSON.
    """
    folder = cache_dir(environ)
    if folder is None:
        return compute()
    path = folder / kind / f"{key_of(kind, inputs, depends_on)}.json"
    stored = load(path)
    if stored is not None:
        return stored
    text = compute()
    store(path, text)
    return text


def load(path: Path) -> str | None:
    """The text stored at ``path``, or None when it is missing or damaged."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = entry.get("value") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def store(path: Path, text: str) -> None:
    """Write atomically (temp file + rename): readers in other processes see all or nothing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"value": text}, out)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass  # a read-only or full disk only costs the next process the computation
