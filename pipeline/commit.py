"""The commit a deploy or run belongs to: an explicit flag, ``$GITHUB_SHA``, else ``git rev-parse HEAD``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from pipeline.errors import UsageError

GITHUB_SHA = "GITHUB_SHA"


def resolve_commit(
    explicit: str | None, *, required: bool = True, environ: Mapping[str, str] | None = None
) -> str | None:
    """The commit SHA: the flag, then ``$GITHUB_SHA``, then git's HEAD in the working directory.

    With ``required`` a missing commit is a UsageError; otherwise None (a deploy may record none).
    """
    environ = os.environ if environ is None else environ
    if explicit:
        return explicit.strip()
    if environ.get(GITHUB_SHA):
        return environ[GITHUB_SHA].strip()
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is not None and done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip()
    if required:
        raise UsageError(f"no commit SHA: pass --commit SHA, set {GITHUB_SHA}, or run inside a git checkout")
    return None
