"""Record the AWS operations code makes through a boto3 session, as IAM actions with their parameters.

A least-privilege test runs the code, then evaluates each recorded call against a role's policy
(``tests.tooling.permissions.policy_allows``): a call the role does not grant fails the test
without anyone having to list it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

_HANDLER_ID = "tests.tooling.calls"


@dataclass(frozen=True)
class Call:
    """One API call: its IAM action (``<signing name>:<Operation>``) and request parameters."""

    action: str
    params: dict[str, Any]


@contextmanager
def recorded(session: boto3.Session) -> Iterator[list[Call]]:
    """Every call made by clients of ``session`` created inside the block (a client copies the
    session's event handlers when it is made)."""
    calls: list[Call] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(Call(f"{model.service_model.signing_name}:{model.name}", dict(params)))

    events = session._session.get_component("event_emitter")
    events.register("before-parameter-build.*.*", record, unique_id=_HANDLER_ID)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.*.*", unique_id=_HANDLER_ID)
