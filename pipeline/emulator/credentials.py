"""Temporary credentials that end: sessions of the emulated STS expire by the emulator's clock.

moto issues AssumeRole / AssumeRoleWithWebIdentity credentials but accepts them forever, so a
client that never renews its credentials would pass offline and fail on AWS after an hour.
Here each session expires ``DurationSeconds`` after it was issued, by the runtime's (injectable)
clock, and a request signed with it afterwards gets AWS's common error for that.
"""

from __future__ import annotations

import datetime
from typing import Any

from pipeline.emulator import runtime as rt

# AWS's common error (the "Common Errors" section of every API reference). S3 is not checked:
# moto's S3 does not dispatch through BaseResponse.call_action, where this check sits.
EXPIRED = (403, "ExpiredTokenException", "The security token included in the request is expired")


def assume_role(original: Any, self: Any, **kwargs: Any) -> Any:
    """moto's AssumeRole (AssumeRoleWithWebIdentity calls it too), expiring by the emulator's clock."""
    role = original(self, **kwargs)
    runtime = rt.current()
    if runtime is not None:
        role.expiration = runtime.utcnow() + datetime.timedelta(seconds=int(kwargs["duration"]))
        with runtime.lock:
            runtime.credential_expiry[role.access_key_id] = role.expiration
    return role


def expired_error(runtime: rt.Runtime, response: Any) -> tuple[int, str, str] | None:
    """(status, code, message) when the request is signed with an expired emulated session."""
    try:
        key = response.get_access_key()
    except Exception:  # an unsigned request (AssumeRoleWithWebIdentity) or one moto cannot read
        return None
    expiry = runtime.credential_expiry.get(key)
    if expiry is None or runtime.utcnow() < expiry:
        return None
    return EXPIRED
