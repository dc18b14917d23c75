"""How things ended, as enums: a deploy's action, a rollback's outcome, an execution's status.

Each is a ``str`` enum, so it compares equal to its value, serialises as it (JSON, step
outputs) and prints as it: ``str()``/``format()`` give the value on every supported Python
(3.10's ``Enum`` would print ``DeployAction.CREATED``).
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """Base of the outcome enums: a member is its value wherever a string is expected."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    def __hash__(self) -> int:
        return hash(self.value)


class DeployAction(Outcome):
    """What ``deploy`` did to the state machine and its alias."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ROLLED_BACK = "rolled_back"


class RollbackOutcome(Outcome):
    """How a rollback after a failed smoke test went."""

    ROLLED_BACK = "rolled_back"  # back on the previous config and answering
    NOTHING_TO_ROLL_BACK = "nothing_to_roll_back"  # first deploy, or no previous config known
    DISABLED = "disabled"  # --no-rollback
    FAILED = "failed"  # a rollback was needed and did not complete: an operator must act


class ExecutionStatus(Outcome):
    """A Step Functions execution's status, plus RUNNING for one still going when we stopped following."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"
    RUNNING = "RUNNING"
