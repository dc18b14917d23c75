"""GitHub Actions workflow commands and files, safe to call anywhere.

Inside a GitHub Actions job (``GITHUB_ACTIONS=true``) these helpers write workflow commands to
stdout and append to the files the runner names in ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY``. Outside Actions, workflow commands would only clutter a terminal, so
``mask`` and ``group`` do nothing, annotations become plain ``Error: ...`` lines on stderr, and
``set_output`` / ``append_summary`` write nothing and return ``False``.

Every function reads the environment at call time (never at import time) and accepts an
``environ`` mapping so callers and tests can be explicit.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

from pipeline.errors import UsageError

# Environment variables set by the GitHub Actions runner. Kept here, in one place, so that the
# credentials layer (pipeline.aws) and the commands read the same names.
GITHUB_ACTIONS = "GITHUB_ACTIONS"
GITHUB_OUTPUT = "GITHUB_OUTPUT"
GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
GITHUB_RUN_ID = "GITHUB_RUN_ID"
GITHUB_RUN_ATTEMPT = "GITHUB_RUN_ATTEMPT"
ACTIONS_ID_TOKEN_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"  # noqa: S105 - an environment variable name, not a secret
ACTIONS_ID_TOKEN_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - an environment variable name, not a secret

# GitHub's rule for output (and step) ids: start with a letter or "_", then letters, digits,
# "-" or "_". Checked everywhere, not only in Actions, so a bad name fails in local runs first.
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def in_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Return True when running inside a GitHub Actions job (``GITHUB_ACTIONS=true``)."""
    return _env(environ).get(GITHUB_ACTIONS) == "true"


def escape_data(value: str) -> str:
    """Escape a workflow command's message the way the runner unescapes it (%, CR, LF)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command property value (``title=``, ``file=``): data escapes plus : and ,."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(name: str, message: str, properties: Mapping[str, object] | None = None) -> None:
    props = ",".join(f"{key}={escape_property(str(val))}" for key, val in (properties or {}).items() if val is not None)
    # Looked up at call time so that redirected/captured stdout (pytest capsys) is honoured.
    sys.stdout.write(f"::{name}{' ' + props if props else ''}::{escape_data(message)}\n")
    sys.stdout.flush()


def mask(value: str, environ: Mapping[str, str] | None = None) -> None:
    """Tell the runner to redact ``value`` from the job log; does nothing outside Actions.

    The runner masks line by line, so a multi-line secret is registered one line at a time.
    Blank lines are skipped: masking "" or whitespace would redact nothing useful.
    """
    if not in_actions(environ):
        return
    for line in value.splitlines():
        if line.strip():
            _command("add-mask", line)


Level = Literal["error", "warning", "notice"]


def annotate(
    level: Level,
    message: str,
    *,
    title: str | None = None,
    file: str | None = None,
    line: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Emit an ``::<level>::`` annotation in Actions, or ``<Level>: message`` on stderr elsewhere."""
    if in_actions(environ):
        _command(level, message, {"title": title, "file": file, "line": line})
        return
    where = f"{file}:{line}: " if file and line is not None else f"{file}: " if file else ""
    head = f"{title}: " if title else ""
    sys.stderr.write(f"{level.capitalize()}: {where}{head}{message}\n")
    sys.stderr.flush()


error = functools.partial(annotate, "error")
warning = functools.partial(annotate, "warning")
notice = functools.partial(annotate, "notice")


@contextmanager
def group(title: str, environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """Fold the log lines printed inside the block under ``title`` in Actions; no-op elsewhere.

    ``::endgroup::`` is printed even when the block raises, so the error stays visible
    outside the fold.
    """
    active = in_actions(environ)
    if active:
        _command("group", title)
    try:
        yield
    finally:
        if active:
            _command("endgroup", "")


def validate_output_name(name: str) -> str:
    """Return ``name`` if GitHub accepts it as an output name, else raise UsageError naming it."""
    if not isinstance(name, str) or not _OUTPUT_NAME.fullmatch(name):
        raise UsageError(
            f"Output name is not valid: {name!r} (it must start with a letter or '_' and "
            "contain only letters, digits, '-' and '_')"
        )
    return name


def set_output(name: str, value: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append ``name`` = ``value`` to the step's ``$GITHUB_OUTPUT`` file.

    Always uses the heredoc form (``name<<DELIM`` / value / ``DELIM``) with a random delimiter,
    as actions/toolkit does, so multi-line values and values containing ``=`` are safe and a
    value cannot end the block early and inject further outputs.

    Returns True if written, False when ``GITHUB_OUTPUT`` is unset (outside Actions) - the
    value then goes nowhere; callers print what a human needs to see themselves.
    """
    validate_output_name(name)
    path = _env(environ).get(GITHUB_OUTPUT)
    if not path:
        return False
    text = str(value)
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    # A uuid4 collision is practically impossible; the check makes injection impossible.
    while delimiter in text:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")
    return True


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append ``markdown`` (plus a newline) to the job summary file ``$GITHUB_STEP_SUMMARY``.

    Returns True if written, False when ``GITHUB_STEP_SUMMARY`` is unset (outside Actions).
    """
    path = _env(environ).get(GITHUB_STEP_SUMMARY)
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return True
