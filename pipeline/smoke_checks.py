"""Call a live endpoint with real Big Mart rows and check every answer and its latency.

The rows are made by the same code as the training data (``data.sample_rows`` -> ``encode``
with the encoding saved next to the training data -> ``to_csv_payload``), so a smoke test
exercises exactly what a user of the endpoint sends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws_errors import describe_error
from pipeline.config import PipelineConfig
from pipeline.endpoint_wait import is_transient
from pipeline.wait import Backoff, wait_until

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

    from pipeline import data

CONTENT_TYPE = "text/csv"
ACCEPT = "text/csv"


@dataclass(frozen=True)
class Payloads:
    """Request bodies: one per sample row, and all rows in one batch."""

    single: tuple[bytes, ...]
    batch: bytes
    batch_rows: int


def prepare_payloads(encoding: data.Encoding, rows: int = 10, seed: int = 7) -> Payloads:
    """Encode ``rows`` raw sample rows with the training encoding into request bodies."""
    from pipeline import data  # pandas: loaded when a smoke test runs, not for every command

    features = data.encode(data.sample_rows(rows, seed), encoding)
    single = tuple(data.to_csv_payload(features.iloc[[i]]) for i in range(len(features)))
    return Payloads(single=single, batch=data.to_csv_payload(features), batch_rows=len(features))


@dataclass(frozen=True)
class Limits:
    """What a passing endpoint must meet."""

    min_prediction: float
    max_prediction: float
    calls: int
    p95_ms: float
    p50_ms: float | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig, **changes: Any) -> Limits:
        """The configured limits; ``changes`` (e.g. ``calls=5``) override, None values ignored."""
        values: dict[str, Any] = {
            "min_prediction": config.smoke.min_prediction,
            "max_prediction": config.smoke.max_prediction,
            "calls": config.smoke.calls,
            "p95_ms": config.smoke.p95_ms,
            "p50_ms": config.smoke.p50_ms,
        }
        values.update({k: v for k, v in changes.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class Retry:
    """Retries of one invocation: ``attempts`` in all, sleeping ``delay`` then doubling."""

    attempts: int = 4
    delay: float = 0.5
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Check:
    """One named check and its outcome."""

    name: str
    ok: bool
    detail: str


@dataclass
class SmokeResult:
    """Every check of one smoke test, plus the single-row latencies in milliseconds."""

    endpoint_name: str
    checks: list[Check] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    retries: int = 0

    @property
    def passed(self) -> bool:
        """True when every check passed (and at least one ran)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        """A one-line account: what failed, or that everything passed."""
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failures)


class InvalidResponse(ValueError):
    """A response that is not what the endpoint must return."""


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def parse_predictions(body: bytes, content_type: str, rows: int, limits: Limits) -> list[float]:
    """Exactly ``rows`` finite numbers within the limits, or InvalidResponse saying what is wrong.

    The built-in XGBoost container answers text/csv with one prediction per line; a single line
    of comma-separated values (the multi-model server's form) is accepted too.
    """
    if content_type.split(";")[0].strip().lower() != ACCEPT:
        raise InvalidResponse(f"content type {content_type!r}, expected {ACCEPT}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidResponse(f"body is not UTF-8 text: {body[:40]!r}") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tokens = lines[0].split(",") if len(lines) == 1 else lines
    values = []
    for token in tokens:
        try:
            values.append(float(token))
        except ValueError:
            raise InvalidResponse(f"not a number: {token[:40]!r}") from None
    if len(values) != rows:
        raise InvalidResponse(f"{len(values)} predictions for {rows} rows")
    for value in values:
        if not math.isfinite(value):
            raise InvalidResponse(f"prediction {value} is not finite")
        if not limits.min_prediction <= value <= limits.max_prediction:
            raise InvalidResponse(
                f"prediction {value:g} outside the plausible range [{limits.min_prediction:g}, {limits.max_prediction:g}]"
            )
    return values


def invoke(
    runtime: SageMakerRuntimeClient, endpoint_name: str, body: bytes, retry: Retry, clock: Callable[[], float]
) -> tuple[Mapping[str, Any], bytes, float, int]:
    """InvokeEndpoint with retries of transient errors only.

    Returns (response, body, milliseconds of the successful attempt, retries). The last error
    propagates. The client should not retry by itself (``max_attempts=1``), or a throttled call
    is counted, and slept through, twice.
    """

    def attempt() -> tuple[Mapping[str, Any], bytes, float] | ClientError | BotoCoreError:
        started = clock()
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint_name, Body=body, ContentType=CONTENT_TYPE, Accept=ACCEPT
            )
            payload = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            if not is_transient(exc):
                raise
            return exc
        return response, payload, (clock() - started) * 1000.0

    tried = wait_until(
        attempt,
        lambda outcome: isinstance(outcome, tuple),
        backoff=Backoff(first=retry.delay, factor=2.0, most=math.inf),
        attempts=retry.attempts,
        sleep=retry.sleep,
    )
    if not isinstance(tried.value, tuple):
        raise tried.value
    response, payload, elapsed = tried.value
    return response, payload, elapsed, tried.polls - 1


def check_call(
    runtime: SageMakerRuntimeClient,
    endpoint_name: str,
    body: bytes,
    rows: int,
    limits: Limits,
    retry: Retry,
    clock: Callable[[], float],
    result: SmokeResult,
) -> tuple[Check, float | None]:
    """One invocation checked end to end; returns the check and the latency (None on error)."""
    try:
        response, payload, elapsed, retries = invoke(runtime, endpoint_name, body, retry, clock)
    except (ClientError, BotoCoreError) as exc:
        return Check("invoke", False, describe_error(exc)), None
    result.retries += retries
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status != 200:
        return Check("status", False, f"HTTP {status}, expected 200"), elapsed
    try:
        values = parse_predictions(payload, response.get("ContentType", ""), rows, limits)
    except InvalidResponse as exc:
        return Check("response", False, str(exc)), elapsed
    shown = ", ".join(f"{v:.1f}" for v in values[:3]) + (", ..." if len(values) > 3 else "")
    return Check("response", True, f"{rows} row(s) -> {shown}"), elapsed


def smoke_test(
    runtime: SageMakerRuntimeClient,
    endpoint_name: str,
    payloads: Payloads,
    limits: Limits,
    *,
    retry: Retry = Retry(),
    clock: Callable[[], float] = time.perf_counter,
) -> SmokeResult:
    """Send ``limits.calls`` single rows and one batch to the endpoint and check everything.

    Checks: each single-row answer (status, content type, one finite prediction in range), the
    batch answer (one prediction per row), and p50/p95 of the single-row latencies. Stops
    calling at the first bad answer: a broken endpoint need not be hammered N times.
    """
    result = SmokeResult(endpoint_name)
    bad: Check | None = None
    for i in range(limits.calls):
        body = payloads.single[i % len(payloads.single)]
        check, elapsed = check_call(runtime, endpoint_name, body, 1, limits, retry, clock, result)
        if elapsed is not None and check.ok:
            result.latencies_ms.append(elapsed)
        if not check.ok:
            bad = Check(f"single row (call {i + 1} of {limits.calls})", False, check.detail)
            break
    result.checks.append(bad or Check("single rows", True, f"{limits.calls} calls, each 1 valid prediction"))
    if bad is not None:
        return result
    check, elapsed = check_call(
        runtime, endpoint_name, payloads.batch, payloads.batch_rows, limits, retry, clock, result
    )
    detail = check.detail + (f" in {elapsed:.0f} ms" if elapsed is not None and check.ok else "")
    result.checks.append(Check(f"batch of {payloads.batch_rows} rows", check.ok, detail))
    p50, p95 = percentile(result.latencies_ms, 0.5), percentile(result.latencies_ms, 0.95)
    result.checks.append(Check("latency p95", p95 <= limits.p95_ms, f"{p95:.1f} ms (limit {limits.p95_ms:g} ms)"))
    if limits.p50_ms is not None:
        result.checks.append(Check("latency p50", p50 <= limits.p50_ms, f"{p50:.1f} ms (limit {limits.p50_ms:g} ms)"))
    else:
        result.checks.append(Check("latency p50", True, f"{p50:.1f} ms (no limit set)"))
    return result
