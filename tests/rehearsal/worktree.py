"""The working tree as a commit, so the rehearsal runs what is on disk, not only what is committed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def snapshot(root: Path, dest: Path) -> str:
    """Clone ``root`` into ``dest`` and commit its working tree there; the commit's SHA.

    The commit holds every tracked file as it is on disk (edited or deleted) and every untracked
    file git does not ignore, on top of ``root``'s HEAD, on branch ``main``: an uncommitted
    change is rehearsed too.
    """
    subprocess.run(["git", "clone", "--quiet", str(root), str(dest)], check=True)
    _git(dest, "checkout", "--quiet", "-B", "main", _git(root, "rev-parse", "HEAD").strip())
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        source, target = root / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif target.exists() and not source.exists():
            target.unlink()  # deleted in the working tree
    _git(dest, "add", "--all")
    _git(dest, "commit", "--quiet", "--allow-empty", "-m", "rehearsal: the working tree")
    return _git(dest, "rev-parse", "HEAD").strip()
