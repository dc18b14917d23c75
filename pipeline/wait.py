"""The one wait primitive: poll until a predicate holds, within a bound, on an injected clock.

Every wait and retry in the package goes through :func:`wait_until` (the shape of the SageMaker
SDK's ``_wait_until(callable, poll)``): waiting for an endpoint, following an execution, a
CloudFormation stack or change set, fetching the OIDC token and retrying an invocation. Tests pass
a fake ``clock``/``sleep`` and wait hours in no time, whatever the machine's load.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Poll intervals: ``first`` seconds, times ``factor`` each poll, at most ``most`` seconds.

    ``Backoff(first=5.0)`` polls every 5 s at first, then 7.5, 11.25, ... up to 30 s;
    ``Backoff.every(10)`` polls every 10 s.
    """

    first: float = 5.0
    factor: float = 1.5
    most: float = 30.0

    @classmethod
    def every(cls, seconds: float) -> Backoff:
        """A fixed interval."""
        return cls(first=seconds, factor=1.0, most=seconds)

    def delays(self) -> Iterator[float]:
        """The endless sequence of intervals."""
        delay = self.first
        while True:
            yield delay
            delay = min(self.most, delay * self.factor)


@dataclass(frozen=True)
class Waited(Generic[T]):
    """How a wait ended: the last value polled, after how long, and whether the bound ran out."""

    value: T
    waited_seconds: float
    polls: int
    timed_out: bool


def wait_until(
    poll: Callable[[], T],
    done: Callable[[T], bool],
    *,
    backoff: Backoff,
    timeout: float = math.inf,
    attempts: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[T, float], None] | None = None,
    restart: Callable[[T], bool] | None = None,
) -> Waited[T]:
    """Call ``poll`` until ``done(value)`` holds, sleeping ``backoff``'s intervals in between.

    The bound is ``timeout`` seconds by ``clock`` (no sleep goes past it: the last poll happens
    at the bound) and/or ``attempts`` polls in all; when it runs out the last value comes back
    with ``timed_out=True``. ``progress(value, elapsed)`` sees every polled value (for status
    lines); ``restart(value)`` true starts the backoff over (something happened, look again
    soon). An exception from ``poll`` propagates: a caller that retries errors returns them.
    """
    if attempts is not None and attempts < 1:
        raise ValueError(f"attempts = {attempts}; a wait polls at least once")
    start = clock()
    delays = backoff.delays()
    polls = 0
    while True:
        value = poll()
        polls += 1
        elapsed = clock() - start
        if progress is not None:
            progress(value, elapsed)
        if done(value):
            return Waited(value, elapsed, polls, timed_out=False)
        remaining = timeout - elapsed
        if remaining <= 0 or (attempts is not None and polls >= attempts):
            return Waited(value, elapsed, polls, timed_out=True)
        if restart is not None and restart(value):
            delays = backoff.delays()
        sleep(min(next(delays), remaining))
