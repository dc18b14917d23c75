"""A clock that moves only when slept on or advanced: waits, statuses and latencies in tests
take no real time and do not depend on how loaded the machine is."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class FakeTime:
    """``clock()``/``sleep()`` for the code under test (and the emulator), ``advance()`` for the test.

    Thread-safe: the emulator's trainer threads read the clock while a test advances it.
    """

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        """Let time pass without recording a sleep (what another actor's wait would do)."""
        with self._lock:
            self.now += seconds
