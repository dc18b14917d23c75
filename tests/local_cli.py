"""``python -m pipeline local`` for the tests: as a real process, or its ``main`` in this one.

A real process costs a Python start and the emulator's imports (seconds of CPU); it is for what
only a process shows (its exit status, signals, what it leaves behind when it stops). A test of
the command's message and exit code calls ``main`` here instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.cli import main

CONFIG = Path(__file__).parents[1] / "config" / "pipeline.toml"

# The emulator life-cycle tests train on a few hundred rows: a model too weak for the checked-in
# quality gate (validation:rmse ~1100 > 900), which is not what they test.
SMALL_DATA_GATE = {"PIPELINE_MAX_VALIDATION_RMSE": "5000"}


@dataclass(frozen=True)
class Ran:
    """What one ``local`` command returned and printed."""

    returncode: int
    stdout: str
    stderr: str


def local_process(
    *args: str, cwd: Path, timeout: float = 120, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline local ARGS`` in a new process, to its end."""
    env = {**os.environ, "PIPELINE_CONFIG": str(CONFIG), **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "local", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def local_in_process(
    *args: str,
    cwd: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra_env: dict[str, str] | None = None,
) -> Ran:
    """``main(["local", *ARGS])`` in this process, with what a process of the command would see.

    The command installs its own SIGINT and SIGTERM handlers; they are put back afterwards, so
    the test process keeps its own.
    """
    for name, value in {"PIPELINE_CONFIG": str(CONFIG), **(extra_env or {})}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    capsys.readouterr()
    try:
        code = main(["local", *args])
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    printed = capsys.readouterr()
    return Ran(code, printed.out, printed.err)


@dataclass
class KeptRun:
    """A ``local --keep`` process and the lines it printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def wait_until_kept(self) -> int:
        """Read its lines until it holds the emulator up; the emulator's port."""
        assert self.process.stdout is not None
        port = None
        for line in self.process.stdout:
            self.lines.append(line)
            if "AWS_ENDPOINT_URL=" in line:
                port = int(line.rsplit(":", 1)[1])
            if "Press Ctrl-C" in line:
                break
        assert port is not None, self.output()
        return port

    def stop(self, stop_signal: signal.Signals) -> str:
        """Send ``stop_signal`` and wait for the process to end; everything it printed."""
        assert self.process.stdout is not None
        self.process.send_signal(stop_signal)
        self.process.wait(timeout=60)
        self.lines.append(self.process.stdout.read())
        return self.output()

    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def kept_run(
    *args: str, cwd: Path, extra_env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> Iterator[KeptRun]:
    """``python -u -m pipeline local --keep ARGS`` in a new process (stdout and stderr on one
    pipe), killed at the end of the block if it still runs."""
    env = {**os.environ, "PIPELINE_CONFIG": str(CONFIG), **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pipeline", "local", "--keep", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=preexec_fn,
    )
    try:
        yield KeptRun(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def like_a_background_job() -> None:
    """``python -m pipeline local --keep &`` in a script: the shell starts it with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1 (binding over TIME_WAIT connections, as the server does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
