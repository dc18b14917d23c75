"""Shared fixtures: no test may ever reach a real AWS account."""

from __future__ import annotations

import gc
import getpass
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REGION = "eu-west-1"


def _bytecode_outside_the_tree() -> None:
    """With PYTHONDONTWRITEBYTECODE set (no .pyc beside the sources), keep compiled bytecode in
    a cache folder of this user instead (PYTHONPYCACHEPREFIX), for this process and the
    ``python -m pipeline`` subprocesses the tests start. Otherwise every xdist worker and every
    subprocess compiles pipeline/ and tests/ from source again (pytest's assertion rewriting
    too): about 2 s per worker. Nothing is written into the checkout either way.
    """
    if not sys.dont_write_bytecode or sys.pycache_prefix is not None:
        return
    prefix = Path(tempfile.gettempdir()) / f"big-mart-pycache-{getpass.getuser()}"
    prefix.mkdir(mode=0o700, exist_ok=True)
    sys.pycache_prefix = str(prefix)
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


_bytecode_outside_the_tree()


def pytest_configure(config: pytest.Config) -> None:
    """The test process collects garbage as a command does (pipeline.cli.GC_THRESHOLDS): a worker
    holds moto's, pandas' and botocore's objects for the whole session, and with Python's default
    thresholds the collector walks them again and again (measured: 7.0 s of CPU in tests/deploy and
    tests/smoke, 1.9 s with these). Collections still happen, only less often."""
    from pipeline.cli import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)


# Markers of the modules that run whole pipelines, longest first (the rehearsal: one module of
# 30-40 s that waits on its jobs' commands; local: several modules of 15-30 s), then of those
# that run executions on the emulator; every other module after them.
HEAVY_FIRST = (("rehearsal",), ("local",), ("deploy", "emulator"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules in a fixed order, heaviest first: by HEAVY_FIRST, then most tests first, then path.

    With ``--dist loadfile --no-loadscope-reorder`` (setup.cfg) xdist hands out whole modules in
    this order, so a long module starts at once instead of leaving one worker alone at the end.
    The order depends only on what was collected, so every worker computes the same one (xdist
    refuses to run otherwise); tests keep their order within a module.
    """
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def rank(path: str) -> tuple[int, int, str]:
        marks = {mark.name for item in modules[path] for mark in item.iter_markers()}
        group = next((i for i, names in enumerate(HEAVY_FIRST) if marks.intersection(names)), len(HEAVY_FIRST))
        return group, -len(modules[path]), path

    items[:] = [item for path in sorted(modules, key=rank) for item in modules[path]]


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port where nothing listens, for as long as the block runs.

    The port stays bound (never listening): a connection is refused, and no other process (a
    parallel test worker's server or outgoing connection) can be handed the same port meanwhile.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture(scope="session")
def pipeline_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One result cache (pipeline.cache) for every test, every xdist worker and every session of
    this user: keys cover the code and the inputs, so sharing is safe, and a subprocess a test
    starts skips the SDK imports. Never the developer's own ~/.cache. Tests that need a cold
    cache make their own."""
    base = tmp_path_factory.getbasetemp()
    # xdist: <root>/pytest-N/popen-gwK; alone: <root>/pytest-N. The cache lives in <root>.
    root = base.parent.parent if os.environ.get("PYTEST_XDIST_WORKER") else base.parent
    folder = root / "big-mart-pipeline-cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, pipeline_cache_dir: Path) -> None:
    """Fake credentials and an explicit region, and nothing from the developer's own setup."""
    fake_aws_environment(monkeypatch, pipeline_cache_dir)


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, pipeline_cache_dir: Path) -> None:
    """What ``fake_aws_credentials`` sets, for a fixture of a wider scope (its own MonkeyPatch)."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_ENV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(pipeline_cache_dir))


@pytest.fixture
def actions_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """A GitHub Actions-like environment with real output and summary files."""
    files = {"output": tmp_path / "github_output", "summary": tmp_path / "step_summary"}
    for path in files.values():
        path.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    return files
