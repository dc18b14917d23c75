"""How long emulated work takes, and how much Wait/Retry intervals are shortened."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from pipeline.emulator.errors import FaultSpecError


@dataclass(frozen=True)
class Timings:
    """Durations in real seconds; ``time_scale`` multiplies Wait and Retry intervals only."""

    training_seconds: float = 0.0
    endpoint_create_seconds: float = 0.0
    endpoint_update_seconds: float = 0.0
    endpoint_delete_seconds: float = 0.0
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise FaultSpecError(f"timings.{f.name} must be a number >= 0, got {value!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timings:
        """Build from a JSON object; unknown keys are an error, not silently ignored."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultSpecError(f"unknown timings key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form (the format ``from_dict`` reads)."""
        return asdict(self)
