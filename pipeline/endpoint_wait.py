"""Wait, bounded and with backoff, until an endpoint is InService on a given config.

botocore's ``endpoint_in_service`` waiter is not enough: a failed UpdateEndpoint puts the
endpoint back to ``InService`` on the *old* config, sometimes with an empty FailureReason, and
the waiter then reports success. This wait compares ``EndpointConfigName`` as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws_errors import error_code, error_message, read_error
from pipeline.endpoint_status import CHANGING_STATUSES
from pipeline.errors import PipelineError
from pipeline.wait import Backoff, wait_until

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

# Error codes worth another try: AWS throttles and has bad moments; other 4xx will not heal.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
    }
)
MISSING_STATUS = "Absent"
# The status a wait reports while DescribeEndpoint answers with throttling or 5xx.
TRANSIENT_ERROR_STATUS = "Unknown (describe failed: transient error)"


class WaitOptions(TypedDict):
    """How to wait, passed on as keyword arguments: ``wait_for_config(..., **options)``."""

    backoff: Backoff
    sleep: Callable[[float], None]
    clock: Callable[[], float]


@dataclass(frozen=True)
class EndpointWait:
    """How a wait ended: ``ok`` when InService on the wanted config."""

    ok: bool
    endpoint_name: str
    wanted_config: str | None
    status: str
    config_name: str | None
    failure_reason: str
    waited_seconds: float
    timed_out: bool = False

    @property
    def settled(self) -> bool:
        """True when the endpoint is in a status that will not change by itself."""
        return self.status not in CHANGING_STATUSES

    def describe(self) -> str:
        """One sentence saying where the endpoint is, for reports."""
        if self.ok:
            return (
                f"endpoint {self.endpoint_name} is InService on {self.config_name} (after {self.waited_seconds:.1f} s)"
            )
        if self.status == MISSING_STATUS:
            return f"endpoint {self.endpoint_name} does not exist"
        reason = f" (FailureReason: {self.failure_reason})" if self.failure_reason else ""
        where = f"endpoint {self.endpoint_name} is {self.status} on config {self.config_name}{reason}"
        if self.timed_out:
            return f"{where}, still not InService on {self.wanted_config} after {self.waited_seconds:.0f} s"
        if self.status == "InService" and self.wanted_config:
            return f"{where}, not on {self.wanted_config}: the update was rolled back or replaced"
        return where


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry may cure: throttling, 5xx, connection trouble; never other 4xx."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        return code in THROTTLING_CODES or read_error(exc).status >= 500
    # Connection resets, read timeouts and the like; botocore's parameter errors are not transient.
    return isinstance(exc, BotoCoreError) and not type(exc).__name__.startswith(("ParamValidation", "NoCredentials"))


def is_not_found(exc: ClientError) -> bool:
    """DescribeEndpoint's answer for a missing endpoint (ValidationException 'Could not find')."""
    message = error_message(exc)
    return "Could not find endpoint" in message


def describe(sagemaker: SageMakerClient, endpoint_name: str) -> Mapping[str, Any] | None:
    """DescribeEndpoint, or None when the endpoint does not exist; other errors propagate."""
    try:
        return sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def wait_for_config(
    sagemaker: SageMakerClient,
    endpoint_name: str,
    config_name: str | None,
    *,
    timeout: float,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EndpointWait:
    """Poll DescribeEndpoint until ``endpoint_name`` is InService on ``config_name``.

    ``config_name=None`` accepts any config. Returns early when the endpoint settles anywhere
    else (Failed, UpdateRollbackFailed, InService on another config, missing), and after
    ``timeout`` seconds. Throttling and 5xx answers are polled through; other errors raise
    PipelineError.
    """

    def look() -> Mapping[str, Any] | None:
        try:
            return describe(sagemaker, endpoint_name)
        except (ClientError, BotoCoreError) as exc:
            if not is_transient(exc):
                raise PipelineError(f"cannot describe endpoint {endpoint_name}: {exc}") from None
            return {"EndpointStatus": TRANSIENT_ERROR_STATUS, "EndpointConfigName": None}

    def settled(answer: Mapping[str, Any] | None) -> bool:
        # InService on another config is settled too: a rolled-back update will not move again.
        return answer is None or answer["EndpointStatus"] not in (*CHANGING_STATUSES, TRANSIENT_ERROR_STATUS)

    waited = wait_until(look, settled, backoff=backoff, timeout=timeout, clock=clock, sleep=sleep)
    answer = waited.value
    if answer is None:
        return EndpointWait(False, endpoint_name, config_name, MISSING_STATUS, None, "", waited.waited_seconds)
    current = answer.get("EndpointConfigName")
    return EndpointWait(
        answer["EndpointStatus"] == "InService" and (config_name is None or current == config_name),
        endpoint_name,
        config_name,
        answer["EndpointStatus"],
        current,
        answer.get("FailureReason") or "",
        waited.waited_seconds,
        timed_out=waited.timed_out,
    )
