"""scripts/setup-env.sh: installs from the hashed locks, then is a no-op until they change.

Each test runs the real script in a copy of the project's declaration with a real ``.venv``
(``python -m venv --without-pip``) whose ``pip`` is a stand-in module: it records every call and
succeeds or fails as told, so nothing is downloaded and the shared environment is never touched.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from venv import EnvBuilder

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE_PIP = """\
import os, sys
with open(os.environ["FAKE_PIP_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("FAKE_PIP_EXIT", "0")))
"""


@dataclass
class Project:
    root: Path
    log: Path

    def run(
        self, *, pip_exit: int = 0, python: str | None = None, readonly_venv: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "PYTHON": python or sys.executable,
            "FAKE_PIP_LOG": str(self.log),
            "FAKE_PIP_EXIT": str(pip_exit),
        }
        command = [str(self.root / "scripts" / "setup-env.sh")]
        if readonly_venv:
            # A read-only bind mount of .venv in a private mount namespace: unwritable even for
            # root, whom permission bits do not stop.
            venv = str(self.root / ".venv")
            script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && exec "$2"'
            command = ["unshare", "--mount", "sh", "-c", script, "sh", venv, command[0]]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)

    def pip_calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    @property
    def stamp(self) -> Path:
        return self.root / ".venv" / ".setup-stamp"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, root / name)
    for directory in ("requirements", "scripts"):
        shutil.copytree(ROOT / directory, root / directory)
    (root / "pipeline").mkdir()
    for name in ("__init__.py", "lockfile.py"):
        shutil.copy2(ROOT / "pipeline" / name, root / "pipeline" / name)
    # What `python -m venv --without-pip` makes, without a Python start per test.
    venv = str(root / ".venv")
    EnvBuilder(symlinks=True).create(venv)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": venv, "platbase": venv}))
    (purelib / "pip").mkdir()
    (purelib / "pip" / "__main__.py").write_text(FAKE_PIP)
    (purelib / "pip" / "__init__.py").write_text("")
    return Project(root, tmp_path / "pip.log")


def test_first_run_installs_from_the_hashed_locks_and_stamps(project: Project) -> None:
    done = project.run()
    assert done.returncode == 0, done.stderr
    build, dev, editable = project.pip_calls()
    for call, lock in ((build, "requirements/build.txt"), (dev, "requirements/dev.txt")):
        assert call.endswith(f"-r {lock}")
        assert "--require-hashes" in call and "--no-deps" in call and "--no-build-isolation" in call
    assert "--no-index" in editable and editable.endswith("-e .")
    assert project.stamp.is_file()
    assert "environment ready" in done.stdout


def test_second_run_installs_nothing_and_needs_no_pip(project: Project) -> None:
    assert project.run().returncode == 0
    calls = len(project.pip_calls())
    # pip would fail now (as with no network): the no-op path must not reach it.
    done = project.run(pip_exit=1)
    assert done.returncode == 0, done.stderr
    assert len(project.pip_calls()) == calls
    assert "environment up to date" in done.stdout


def test_a_changed_lock_reinstalls(project: Project) -> None:
    assert project.run().returncode == 0
    with open(project.root / "requirements" / "dev.txt", "a", encoding="utf-8") as handle:
        handle.write("# regenerated\n")
    calls = len(project.pip_calls())
    done = project.run()
    assert done.returncode == 0, done.stderr
    assert len(project.pip_calls()) == calls + 3


def test_a_failed_install_keeps_the_old_stamp_and_says_why(project: Project) -> None:
    assert project.run().returncode == 0
    old_stamp = project.stamp.read_text()
    with open(project.root / "requirements" / "dev.txt", "a", encoding="utf-8") as handle:
        handle.write("# regenerated\n")
    done = project.run(pip_exit=1)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: pip could not install requirements/build.txt (no network, or a file whose hash")
    assert ".venv keeps its previous packages" in line
    assert project.stamp.read_text() == old_stamp
    # Back online, the next run installs and stamps.
    assert project.run().returncode == 0
    assert project.stamp.read_text() != old_stamp


def test_a_requirement_changed_without_regenerating_the_lock_is_refused(project: Project) -> None:
    setup_cfg = project.root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("    mypy==2.4.1\n", "    mypy==2.4.1\n    boto3-stubs\n"))
    done = project.run()
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "stale against the dependency declaration" in line
    assert "regenerate with scripts/lock.sh" in line and ".venv is left as it was" in line
    assert project.pip_calls() == []


def test_a_stale_lock_is_refused_before_creating_the_venv(project: Project) -> None:
    shutil.rmtree(project.root / ".venv")
    setup_cfg = project.root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("boto3>=1.34,<2", "boto3>=1.35,<2"))
    done = project.run()
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "stale against the dependency declaration" in line and "scripts/lock.sh" in line
    assert not (project.root / ".venv").exists()


def test_a_broken_venv_is_named(project: Project) -> None:
    python = project.root / ".venv" / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\nexit 127\n")
    python.chmod(0o755)
    done = project.run()
    assert done.returncode == 2
    assert done.stderr.startswith("error: .venv is broken") and "rm -rf .venv" in done.stderr


def test_a_python_older_than_3_10_is_refused(project: Project, tmp_path: Path) -> None:
    shutil.rmtree(project.root / ".venv")  # a fresh clone: the interpreter creates .venv
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9.18\nexit 1\n")
    old.chmod(0o755)
    done = project.run(python=str(old))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line == (
        f"error: {old} is Python 3.9.18; this project needs 3.10 or newer: install one and run "
        "PYTHON=/path/to/python3.10+ scripts/setup-env.sh"
    )
    assert project.pip_calls() == []


def run_with_unwritable_venv(project: Project, **kwargs: int) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        return project.run(readonly_venv=True, **kwargs)
    venv = project.root / ".venv"
    venv.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        return project.run(**kwargs)
    finally:
        venv.chmod(0o755)


def test_an_unwritable_venv_is_refused_and_left_as_it_was(project: Project) -> None:
    before = sorted(p.name for p in (project.root / ".venv").iterdir())
    done = run_with_unwritable_venv(project)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: .venv is not writable by ")
    assert "chown -R" in line and "remove .venv" in line
    assert project.pip_calls() == []
    assert sorted(p.name for p in (project.root / ".venv").iterdir()) == before


def test_an_up_to_date_venv_needs_no_write_access(project: Project) -> None:
    assert project.run().returncode == 0
    done = run_with_unwritable_venv(project, pip_exit=1)
    assert done.returncode == 0, done.stderr
    assert "environment up to date" in done.stdout


def test_a_setup_cfg_change_outside_the_requirements_installs_nothing(project: Project) -> None:
    assert project.run().returncode == 0
    calls = len(project.pip_calls())
    setup_cfg = project.root / "setup.cfg"
    setup_cfg.write_text(setup_cfg.read_text().replace("warn_unused_ignores = True", "warn_unused_ignores = False"))
    done = project.run(pip_exit=1)
    assert done.returncode == 0, done.stderr
    assert "environment up to date" in done.stdout
    assert len(project.pip_calls()) == calls
