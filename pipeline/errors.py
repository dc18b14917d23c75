"""Exceptions shared by the whole package; the CLI maps them to exit codes."""

from __future__ import annotations


class PipelineError(Exception):
    """A failure the user must see: the CLI prints it and exits 1."""

    exit_code = 1


class UsageError(PipelineError):
    """Bad input or configuration: the CLI prints it and exits 2."""

    exit_code = 2


class ConfigError(UsageError):
    """One or more configuration problems, each naming the key, the value and what is allowed."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(UsageError):
    """The input data cannot be read or does not have the Big Mart schema."""
