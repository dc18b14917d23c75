"""Put an endpoint back on the config it ran before a deploy, and prove it answers.

A live endpoint is never deleted here: the only write is UpdateEndpoint. A ``Failed`` endpoint
accepts nothing but DeleteEndpoint, so it is left for an operator, with the commands to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws_errors import describe_error
from pipeline.endpoint_wait import MISSING_STATUS, Backoff, EndpointWait, WaitOptions, wait_for_config
from pipeline.outcomes import RollbackOutcome
from pipeline.smoke_checks import Limits, Payloads, Retry, SmokeResult, smoke_test

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient


@dataclass(frozen=True)
class PreviousEndpoint:
    """What the endpoint was before the deploy: the execution output's ``PreviousEndpoint``."""

    status: str
    config_name: str | None = None

    @property
    def restorable(self) -> bool:
        """True when there is a config that served before and can be served again."""
        return self.status == "InService" and bool(self.config_name)


@dataclass(frozen=True)
class RollbackResult:
    """How a rollback went; ``manual`` holds the commands that finish it when it failed."""

    outcome: RollbackOutcome
    message: str
    config_name: str | None = None
    check: SmokeResult | None = None
    manual: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """False only for a rollback that was needed and did not complete."""
        return self.outcome != RollbackOutcome.FAILED


def update_command(endpoint_name: str, config_name: str) -> str:
    """The AWS CLI command that points the endpoint at a config."""
    return f"aws sagemaker update-endpoint --endpoint-name {endpoint_name} --endpoint-config-name {config_name}"


def failed_endpoint_commands(endpoint_name: str, config_name: str) -> tuple[str, ...]:
    """What an operator runs to bring a Failed endpoint back on a config (only Delete is allowed)."""
    return (
        f"aws sagemaker delete-endpoint --endpoint-name {endpoint_name}",
        f"aws sagemaker wait endpoint-deleted --endpoint-name {endpoint_name}",
        f"aws sagemaker create-endpoint --endpoint-name {endpoint_name} --endpoint-config-name {config_name}",
    )


def rollback(
    sagemaker: SageMakerClient,
    runtime: SageMakerRuntimeClient,
    endpoint_name: str,
    previous: PreviousEndpoint | None,
    deployed_config: str | None,
    payloads: Payloads,
    limits: Limits,
    *,
    timeout: float,
    backoff: Backoff = Backoff(),
    retry: Retry = Retry(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
    retain_capacity: bool = False,
) -> RollbackResult:
    """Return ``endpoint_name`` to ``previous.config_name`` after a failed smoke test.

    Waits (up to ``timeout``) for the endpoint to settle, then: already on the previous config
    (SageMaker rolled the update back itself) -> only the check; on this deploy's config ->
    UpdateEndpoint and wait until InService on the previous config; Failed, UpdateRollbackFailed,
    missing, or on a config that is neither (someone else deployed) -> nothing is changed and
    the result says what an operator must do. Finally a smaller smoke test (``limits``) proves
    the previous model answers. ``retain_capacity`` (autoscaling on) sends
    RetainAllVariantProperties, so the rollback keeps the instance count autoscaling reached.
    """
    if previous is None:
        return RollbackResult(
            RollbackOutcome.NOTHING_TO_ROLL_BACK,
            "the config the endpoint ran before this deploy is not known (pass --execution-arn or --previous-config), "
            "so nothing was rolled back",
        )
    if not previous.restorable:
        why = (
            "this was the first deploy (the endpoint did not exist before)"
            if previous.status == MISSING_STATUS
            else f"before this deploy the endpoint was {previous.status}, with no working config to return to"
        )
        return RollbackResult(RollbackOutcome.NOTHING_TO_ROLL_BACK, f"nothing to roll back to: {why}")
    target = previous.config_name
    assert target is not None  # restorable guarantees it
    manual = (update_command(endpoint_name, target),)
    waits: WaitOptions = {"backoff": backoff, "sleep": sleep, "clock": clock}

    state = wait_for_config(sagemaker, endpoint_name, None, timeout=timeout, **waits)
    refusal = _refusal(state, endpoint_name, target, deployed_config)
    if refusal is not None:
        return refusal
    if state.config_name != target:
        try:
            sagemaker.update_endpoint(
                EndpointName=endpoint_name, EndpointConfigName=target, RetainAllVariantProperties=retain_capacity
            )
        except (ClientError, BotoCoreError) as exc:
            return RollbackResult(
                RollbackOutcome.FAILED,
                f"UpdateEndpoint to {target} was refused: {describe_error(exc)}",
                target,
                manual=manual,
            )
        state = wait_for_config(sagemaker, endpoint_name, target, timeout=timeout, **waits)
        if not state.ok:
            return RollbackResult(
                RollbackOutcome.FAILED,
                f"rollback to {target} did not complete: {state.describe()}",
                target,
                manual=manual,
            )
        how = f"updated back to {target}"
    else:
        how = f"already back on {target} (SageMaker rolled the update back itself)"
    check = smoke_test(runtime, endpoint_name, payloads, limits, retry=retry, clock=clock)
    if not check.passed:
        return RollbackResult(
            RollbackOutcome.FAILED,
            f"{how}, but the previous config does not answer correctly either: {check.summary()}",
            target,
            check,
            manual=(),
        )
    return RollbackResult(
        RollbackOutcome.ROLLED_BACK, f"{how}; it answers correctly ({check.summary()})", target, check
    )


def _refusal(state: EndpointWait, endpoint_name: str, target: str, deployed: str | None) -> RollbackResult | None:
    # The states in which an UpdateEndpoint is impossible or would do harm.
    manual = (update_command(endpoint_name, target),)
    if state.status == MISSING_STATUS:
        return RollbackResult(
            RollbackOutcome.FAILED,
            f"endpoint {endpoint_name} no longer exists; nothing was rolled back",
            target,
            manual=(f"aws sagemaker create-endpoint --endpoint-name {endpoint_name} --endpoint-config-name {target}",),
        )
    if state.status == "Failed":
        return RollbackResult(
            RollbackOutcome.FAILED,
            f"{state.describe()}; a Failed endpoint accepts only DeleteEndpoint, so no rollback was attempted "
            "(this command never deletes an endpoint)",
            target,
            manual=failed_endpoint_commands(endpoint_name, target),
        )
    if state.status != "InService":
        return RollbackResult(
            RollbackOutcome.FAILED, f"no rollback attempted: {state.describe()}", target, manual=manual
        )
    if state.config_name not in (target, deployed):
        return RollbackResult(
            RollbackOutcome.FAILED,
            f"endpoint {endpoint_name} now runs {state.config_name}, neither this deploy's {deployed} nor the "
            f"previous {target}: another deploy changed it, so it was left alone",
            target,
            manual=manual,
        )
    return None
