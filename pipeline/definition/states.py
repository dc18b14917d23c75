"""Small additions to the stepfunctions SDK for ASL fields it predates.

The SDK (2.3.0, 2022) has no ``ResultSelector``, no ``ErrorPath``/``CausePath`` on Fail, and no
``MaxDelaySeconds``/``JitterStrategy`` on retriers; these helpers add them without forking it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from stepfunctions.steps import Retry
from stepfunctions.steps.states import State

S = TypeVar("S", bound=State)


def extend(state: S, **fields: Any) -> S:
    """Add ASL fields the SDK does not know to one state's serialised form."""
    base = state.to_dict

    def to_dict() -> dict[str, Any]:
        return {**base(), **fields}

    state.to_dict = to_dict
    return state


class JitteredRetry(Retry):
    """A retrier with AWS's ``MaxDelaySeconds`` and ``JitterStrategy`` fields."""

    def __init__(self, *, max_delay_seconds: int, jitter_strategy: str = "FULL", **kwargs: Any):
        super().__init__(**kwargs)
        self.max_delay_seconds = max_delay_seconds
        self.jitter_strategy = jitter_strategy

    def to_dict(self) -> dict[str, Any]:
        """The retrier as ASL."""
        result = super().to_dict()
        result["MaxDelaySeconds"] = self.max_delay_seconds
        result["JitterStrategy"] = self.jitter_strategy
        return result
