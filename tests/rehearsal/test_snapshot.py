"""The rehearsal checks out the working tree, and the job imports that checkout, not an install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rehearsal import offline_install
from tests.rehearsal.snapshot import working_tree_files, working_tree_origin


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit and uncommitted changes of every kind."""
    root = tmp_path / "dev"
    root.mkdir()
    git(root, "init", "--quiet", "-b", "main")
    (root / ".gitignore").write_text("*.log\n")
    (root / "kept.py").write_text("VALUE = 1\n")
    (root / "removed.py").write_text("GONE = True\n")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "first")
    (root / "kept.py").write_text("VALUE = 2  # not committed yet\n")
    (root / "removed.py").unlink()
    (root / "pkg").mkdir()
    (root / "pkg" / "new.py").write_text("NEW = True\n")
    (root / "debug.log").write_text("ignored\n")
    return root


def test_origin_holds_the_working_tree_not_the_last_commit(repo: Path, tmp_path: Path) -> None:
    before = (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"), git(repo, "for-each-ref"))
    origin, sha = working_tree_origin(repo, tmp_path / "origin")
    checkout = tmp_path / "checkout"  # what actions/checkout would see
    subprocess.run(["git", "clone", "--quiet", str(origin), str(checkout)], check=True)
    git(checkout, "checkout", "--quiet", "--detach", sha)
    assert (checkout / "kept.py").read_text() == "VALUE = 2  # not committed yet\n"
    assert (checkout / "pkg" / "new.py").read_text() == "NEW = True\n"
    assert not (checkout / "removed.py").exists() and not (checkout / "debug.log").exists()
    assert git(checkout, "rev-parse", "HEAD^") == before[0]  # on top of the developer's HEAD
    # The developer's repository is untouched: same HEAD, same changes, no new refs.
    assert (git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain"), git(repo, "for-each-ref")) == before


def test_a_clean_working_tree_is_rehearsed_at_head(repo: Path, tmp_path: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "second")
    _, sha = working_tree_origin(repo, tmp_path / "origin")
    assert sha == git(repo, "rev-parse", "HEAD")
    assert working_tree_files(repo) == [".gitignore", "kept.py", "pkg/new.py"]


def test_the_install_stand_in_makes_the_job_import_its_checkout(tmp_path: Path) -> None:
    # The shared environment has this project installed (editable, pointing elsewhere): the
    # rehearsed job must import the checkout it is running, or it would rehearse that copy.
    workspace = tmp_path / "workspace"
    (workspace / "pipeline").mkdir(parents=True)
    (workspace / "pipeline" / "__init__.py").write_text('WHERE = "checkout"\n')
    (workspace / "setup.cfg").write_text("[options]\ninstall_requires =\n")
    env_file = tmp_path / "github_env"
    env_file.write_text("")
    environ = {**os.environ, "GITHUB_WORKSPACE": str(workspace), "GITHUB_ENV": str(env_file)}
    subprocess.run([sys.executable, offline_install.__file__], check=True, env=environ, cwd=tmp_path)
    job_env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    probe = "import pipeline; print(pipeline.__file__, pipeline.WHERE)"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **job_env},
        cwd=tmp_path,
    ).stdout.split()
    assert out == [str(workspace / "pipeline" / "__init__.py"), "checkout"]
