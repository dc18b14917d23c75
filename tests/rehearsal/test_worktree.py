"""The rehearsal's source is the working tree: edited, new and deleted files included."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.rehearsal.worktree import snapshot


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def test_the_snapshot_holds_uncommitted_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    (repo / ".gitignore").write_text("ignored.txt\n")
    (repo / "kept.py").write_text("VALUE = 1\n")
    (repo / "gone.py").write_text("x = 1\n")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "base")
    (repo / "kept.py").write_text("VALUE = 2\n")  # edited, not committed
    (repo / "new.py").write_text("NEW = True\n")  # untracked
    (repo / "ignored.txt").write_text("secret\n")
    (repo / "gone.py").unlink()

    sha = snapshot(repo, tmp_path / "snapshot")

    def shown(name: str) -> str:
        return _git(tmp_path / "snapshot", "show", f"{sha}:{name}")

    assert shown("kept.py") == "VALUE = 2\n"
    assert shown("new.py") == "NEW = True\n"
    files = _git(tmp_path / "snapshot", "ls-tree", "-r", "--name-only", sha).split()
    assert "ignored.txt" not in files and "gone.py" not in files
    assert _git(repo, "status", "--porcelain")  # the original repository is left as it was
