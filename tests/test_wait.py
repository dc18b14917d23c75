"""The one wait primitive, on an injected clock: bounds, backoff, restarts, progress."""

from __future__ import annotations

import pytest

from pipeline.wait import Backoff, wait_until
from tests.fake_time import FakeTime


def test_polls_until_done_sleeping_the_backoff() -> None:
    fake = FakeTime()
    answers = iter(["Creating", "Creating", "Creating", "InService"])

    waited = wait_until(
        lambda: next(answers),
        lambda status: status == "InService",
        backoff=Backoff(first=1.0, factor=2.0, most=3.0),
        timeout=60,
        clock=fake.clock,
        sleep=fake.sleep,
    )

    assert (waited.value, waited.polls, waited.timed_out) == ("InService", 4, False)
    assert fake.sleeps == [1.0, 2.0, 3.0]
    assert waited.waited_seconds == 6.0


def test_the_timeout_is_never_overslept_and_the_last_value_comes_back() -> None:
    fake = FakeTime()

    waited = wait_until(
        lambda: "Updating",
        lambda status: status == "InService",
        backoff=Backoff(first=4.0, factor=1.0, most=4.0),
        timeout=10,
        clock=fake.clock,
        sleep=fake.sleep,
    )

    # 4 + 4 + the 2 s left: the last poll happens at the bound, not after it.
    assert fake.sleeps == [4.0, 4.0, 2.0]
    assert (waited.value, waited.polls, waited.timed_out, waited.waited_seconds) == ("Updating", 4, True, 10.0)


def test_a_poll_that_takes_time_counts_against_the_bound() -> None:
    fake = FakeTime()

    def slow() -> str:
        fake.advance(7)
        return "Creating"

    waited = wait_until(slow, lambda _: False, backoff=Backoff.every(1), timeout=10, clock=fake.clock, sleep=fake.sleep)

    assert fake.sleeps == [1.0] and waited.polls == 2 and waited.timed_out


def test_attempts_bound_retries_without_a_clock_bound() -> None:
    slept: list[float] = []

    waited = wait_until(
        lambda: ValueError("throttled"),
        lambda outcome: not isinstance(outcome, Exception),
        backoff=Backoff(first=0.5, factor=2.0, most=float("inf")),
        attempts=4,
        sleep=slept.append,
    )

    assert slept == [0.5, 1.0, 2.0] and waited.polls == 4 and waited.timed_out
    assert isinstance(waited.value, ValueError)


def test_restart_goes_back_to_the_first_interval() -> None:
    fake = FakeTime()
    news = iter([0, 0, 3, 0, 0, 1])

    waited = wait_until(
        lambda: next(news),
        lambda _: fake.now >= 10,
        backoff=Backoff(first=1.0, factor=2.0, most=8.0),
        timeout=100,
        clock=fake.clock,
        sleep=fake.sleep,
        restart=lambda new: new > 0,
    )

    assert fake.sleeps == [1.0, 2.0, 1.0, 2.0, 4.0] and waited.value == 1


def test_progress_sees_every_value_with_its_elapsed_time() -> None:
    fake = FakeTime()
    answers = iter(["A", "B", "C"])
    seen: list[tuple[str, float]] = []

    wait_until(
        lambda: next(answers),
        lambda value: value == "C",
        backoff=Backoff.every(5),
        clock=fake.clock,
        sleep=fake.sleep,
        progress=lambda value, elapsed: seen.append((value, elapsed)),
    )

    assert seen == [("A", 0.0), ("B", 5.0), ("C", 10.0)]


def test_an_error_from_the_poll_propagates_at_once() -> None:
    slept: list[float] = []

    def refuse() -> str:
        raise PermissionError("AccessDenied")

    with pytest.raises(PermissionError, match="AccessDenied"):
        wait_until(refuse, lambda _: True, backoff=Backoff.every(1), sleep=slept.append)
    assert slept == []


def test_zero_attempts_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts = 0"):
        wait_until(lambda: 1, lambda _: True, backoff=Backoff.every(1), attempts=0)
