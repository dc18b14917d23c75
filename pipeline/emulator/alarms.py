"""CloudWatch alarm state for guarded endpoint updates (moto keeps the alarms and their state).

moto never evaluates metrics, so an alarm is in ALARM only when someone set it there
(``aws cloudwatch set-alarm-state``, as in AWS); a guarded update reads it here.
"""

from __future__ import annotations

from collections.abc import Iterable

from moto.cloudwatch.models import cloudwatch_backends


def in_alarm(account_id: str, region: str, names: Iterable[str]) -> list[str]:
    """The alarms among ``names`` whose state is ALARM (a missing alarm is not)."""
    alarms = cloudwatch_backends[account_id][region].alarms
    return [name for name in names if name in alarms and alarms[name].state_value == "ALARM"]
