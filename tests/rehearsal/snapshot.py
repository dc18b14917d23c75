"""The working tree as a commit the rehearsal can check out, uncommitted changes included.

A rehearsal clones a repository at a commit, as actions/checkout does. Cloning this repository
at HEAD would rehearse the last commit, never the change being tested. ``working_tree_origin``
clones HEAD into a scratch repository and commits there exactly what the working tree holds
(tracked files as they are now, new files git does not ignore, deleted files gone), so the
rehearsal runs the code a developer is about to commit. The developer's repository, index and
refs are not touched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_IDENTITY = ("-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.com")


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), *_IDENTITY, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def working_tree_files(root: Path) -> list[str]:
    """Every file of ``root``'s working tree that git would commit with ``git add -A``."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return sorted({name for name in listed if name and ((root / name).is_file() or (root / name).is_symlink())})


def working_tree_origin(root: Path, dest: Path) -> tuple[Path, str]:
    """A repository at ``dest`` whose ``main`` is ``root``'s working tree; (its path, that commit)."""
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(root), str(dest)], check=True)
    _git(dest, "checkout", "--quiet", "-B", "main", _git(root, "rev-parse", "HEAD").strip())
    for name in _git(dest, "ls-files", "-z").split("\0"):
        if name:
            (dest / name).unlink()
    for name in working_tree_files(root):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target, follow_symlinks=False)
    _git(dest, "add", "-A")
    if _git(dest, "status", "--porcelain").strip():
        _git(dest, "commit", "--quiet", "--no-verify", "-m", "rehearse the working tree (uncommitted changes)")
    return dest, _git(dest, "rev-parse", "HEAD").strip()
