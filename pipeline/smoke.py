"""``python -m pipeline smoke``: prove the live endpoint answers correctly and fast; else roll back.

Which config the endpoint must run, and which it ran before, come from the deploy execution's
output (``--execution-arn``) or from flags. A failed smoke test after an update puts the
endpoint back on the previous config (see :mod:`pipeline.rollback`) and exits 1 saying what
failed and what it rolled back to. Exit codes: 0 passed, 1 failed, 2 bad input.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import github_actions as gha
from pipeline.autoscaling import AutoscalingResult
from pipeline.aws_errors import describe_error, error_code
from pipeline.config import PipelineConfig
from pipeline.definition.names import Output
from pipeline.endpoint_wait import Backoff, EndpointWait, WaitOptions, wait_for_config
from pipeline.errors import PipelineError, UsageError
from pipeline.outcomes import ExecutionStatus, RollbackOutcome
from pipeline.registry import ModelVersion
from pipeline.rollback import PreviousEndpoint, RollbackResult, rollback
from pipeline.smoke_checks import Limits, Payloads, Retry, SmokeResult, prepare_payloads, smoke_test

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_stepfunctions import SFNClient

    from pipeline.clients import Clients

# arn:<partition>:states:<region>:<account>:execution|express:<state machine>:<execution>[:<id>]
EXECUTION_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:states:[a-z]{2}(-[a-z]+)+-\d:\d{12}:(execution|express):[A-Za-z0-9_-]{1,80}:[^\s:]{1,80}(:[^\s:]+)?$"
)
DEFAULT_BATCH_ROWS = 10
DEFAULT_ROLLBACK_CALLS = 5
T = TypeVar("T")


@dataclass(frozen=True)
class Deployment:
    """The endpoint to check, the config it must run, and what it ran before (if known)."""

    endpoint_name: str
    expected_config: str | None
    previous: PreviousEndpoint | None
    source: str
    # The registry version the deploy created the endpoint's model from (approved or rejected here).
    model_package_arn: str | None = None


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """What a follow-on step of the smoke test did (``result``), or why it could not (``error``)."""

    result: T | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """False when the step's AWS calls failed."""
        return not self.error


# The registry version approved or rejected; the autoscaling registered after a passing test.
Approval = Attempted[ModelVersion]
Scaling = Attempted[AutoscalingResult]


@dataclass(frozen=True)
class SmokeOutcome:
    """Everything one ``smoke`` run found and did."""

    deployment: Deployment
    wait: EndpointWait
    result: SmokeResult | None
    rollback: RollbackResult | None
    approval: Approval | None = None
    scaling: Scaling | None = None

    @property
    def passed(self) -> bool:
        """True when the endpoint was on the expected config and every check passed."""
        return self.wait.ok and self.result is not None and self.result.passed

    @property
    def failure(self) -> str:
        """What failed, in one sentence ('' when it passed)."""
        if self.passed:
            return ""
        if not self.wait.ok:
            return self.wait.describe()
        assert self.result is not None
        return self.result.summary()


def deployment_from_execution(sfn: SFNClient, execution_arn: str) -> Deployment:
    """Read the deployed and the previous config from a deploy execution's output.

    UsageError (exit 2) for a malformed or unknown ARN, or an execution whose output is not the
    deploy's; PipelineError (exit 1) for an execution that did not succeed.
    """
    check_execution_arn(execution_arn)
    try:
        desc = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        code = error_code(exc)
        if code in ("ExecutionDoesNotExist", "InvalidArn"):
            raise UsageError(f"execution {execution_arn} does not exist ({code})") from None
        raise PipelineError(f"cannot describe execution {execution_arn}: {describe_error(exc)}") from None
    status = desc["status"]
    if status != ExecutionStatus.SUCCEEDED:
        cause = f" ({desc.get('error', '')}: {desc.get('cause', '')})" if desc.get("error") else ""
        raise PipelineError(
            f"execution {execution_arn} is {status}{cause}; only a SUCCEEDED deploy leaves an endpoint to smoke-test"
        )
    try:
        output = json.loads(desc.get("output") or "")
        previous = output[Output.PREVIOUS_ENDPOINT]
        return Deployment(
            endpoint_name=output[Output.ENDPOINT],
            expected_config=output[Output.ENDPOINT_CONFIG],
            previous=PreviousEndpoint(previous["EndpointStatus"], previous.get("EndpointConfigName")),
            source=f"execution {execution_arn}",
            model_package_arn=output.get(Output.MODEL_PACKAGE),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UsageError(
            f"execution {execution_arn} has no deploy output (EndpointName, EndpointConfigName, "
            f"PreviousEndpoint): {type(exc).__name__} {exc}; is it an execution of this pipeline's state machine?"
        ) from None


def serving_deployment(sagemaker: SageMakerClient, endpoint: str, package_arn: str) -> Deployment:
    """The deployment of a version the endpoint already serves; UsageError when it serves another."""
    from pipeline import registry

    try:
        lineage = registry.live_lineage(sagemaker, endpoint)
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"cannot follow endpoint {endpoint} to its model: {describe_error(exc)}") from None
    served = lineage.package.arn if lineage.package is not None else ""
    if served != package_arn:
        raise UsageError(
            f"endpoint {endpoint} does not serve {package_arn} ({lineage.problem or f'it serves {served}'}): "
            "pass the run's --execution-arn instead"
        )
    return Deployment(endpoint, lineage.config, None, f"the version it already serves ({package_arn})", package_arn)


def check_execution_arn(arn: str) -> str:
    """Return ``arn`` if it is a Step Functions execution ARN, else raise UsageError."""
    if not EXECUTION_ARN.match(arn):
        raise UsageError(
            f"execution ARN {arn!r} is not valid: expected "
            "arn:aws:states:<region>:<account>:execution:<state machine>:<execution name>"
        )
    return arn


def smoke_and_rollback(
    sagemaker: SageMakerClient,
    runtime: SageMakerRuntimeClient,
    deployment: Deployment,
    payloads: Payloads,
    limits: Limits,
    *,
    wait_seconds: float,
    rollback_enabled: bool = True,
    rollback_calls: int = DEFAULT_ROLLBACK_CALLS,
    backoff: Backoff = Backoff(),
    retry: Retry = Retry(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.perf_counter,
    retain_capacity: bool = False,
) -> SmokeOutcome:
    """Wait for the deployed config, smoke-test it, and roll back when it fails.

    ``wait_seconds`` bounds each wait (for the deploy, and again for a rollback). The rollback's
    own check makes ``rollback_calls`` single-row calls under the same limits. ``clock`` times
    both the waits and each call's latency (a test injects one, so no limit depends on load).
    ``retain_capacity`` (autoscaling on): the rollback keeps the instance count the endpoint has.
    """
    name = deployment.endpoint_name
    waits: WaitOptions = {"backoff": backoff, "sleep": sleep, "clock": clock}
    state = wait_for_config(sagemaker, name, deployment.expected_config, timeout=wait_seconds, **waits)
    result = smoke_test(runtime, name, payloads, limits, retry=retry, clock=clock) if state.ok else None
    outcome = SmokeOutcome(deployment, state, result, None)
    if outcome.passed:
        return outcome
    if not rollback_enabled:
        back: RollbackResult | None = RollbackResult(
            RollbackOutcome.DISABLED, "rollback disabled (--no-rollback): the endpoint was left as it is"
        )
    else:
        back = rollback(
            sagemaker,
            runtime,
            name,
            deployment.previous,
            deployment.expected_config,
            payloads,
            Limits(limits.min_prediction, limits.max_prediction, min(rollback_calls, limits.calls), limits.p95_ms),
            timeout=wait_seconds,
            retry=retry,
            retain_capacity=retain_capacity,
            **waits,
        )
    return SmokeOutcome(deployment, state, result, back)


# -- reporting ----------------------------------------------------------------------------------


def report_lines(outcome: SmokeOutcome) -> list[str]:
    """The plain-text report printed to stdout."""
    d = outcome.deployment
    previous = d.previous.config_name or d.previous.status if d.previous else "unknown"
    lines = [
        f"smoke test of endpoint {d.endpoint_name}: expected config {d.expected_config or 'any'}, "
        f"previous {previous} (from {d.source})",
        f"  {'PASS' if outcome.wait.ok else 'FAIL'} endpoint: {outcome.wait.describe()}",
    ]
    if outcome.result is not None:
        lines += [f"  {'PASS' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in outcome.result.checks]
        if outcome.result.retries:
            lines.append(f"  note: {outcome.result.retries} transient error(s) were retried")
    lines += approval_lines(outcome)
    scaling = outcome.scaling
    if scaling is not None:
        lines.append(
            f"  {scaling.result.line()}" if scaling.result is not None else f"  FAIL autoscaling: {scaling.error}"
        )
    if outcome.passed:
        lines.append(f"smoke test PASSED: {d.endpoint_name} serves {outcome.wait.config_name}")
        return lines
    lines.append(f"smoke test FAILED: {outcome.failure}")
    back = outcome.rollback
    if back is not None:
        lines.append(f"rollback: {back.message}")
        if back.check is not None:
            lines += [f"  {'PASS' if c.ok else 'FAIL'} rollback check {c.name}: {c.detail}" for c in back.check.checks]
        lines += [f"  to finish by hand: {command}" for command in back.manual]
    return lines


def approval_lines(outcome: SmokeOutcome) -> list[str]:
    """What happened to the deployed model package version."""
    approval = outcome.approval
    if approval is None:
        if outcome.deployment.model_package_arn is None:
            return ["  model package: none named by the deployment (pass --execution-arn to approve it)"]
        return []
    if approval.result is None:
        return [f"  FAIL model package: {approval.error}"]
    v = approval.result
    return [f"  model package {v.arn} (version {v.version}): {v.status} ({v.approval_description})"]


def report_markdown(outcome: SmokeOutcome) -> str:
    """The GitHub job summary: verdict, a table of checks, and the rollback."""
    d = outcome.deployment
    verdict = "passed :white_check_mark:" if outcome.passed else "FAILED :x:"
    rows = [("endpoint", outcome.wait.ok, outcome.wait.describe())]
    if outcome.result is not None:
        rows += [(c.name, c.ok, c.detail) for c in outcome.result.checks]
    out = [
        f"### Smoke test of `{d.endpoint_name}`: {verdict}",
        "",
        f"Expected config `{d.expected_config or 'any'}` (from {d.source}).",
        "",
        "| Check | Result | Detail |",
        "|---|---|---|",
        *(f"| {name} | {'pass' if ok else '**FAIL**'} | {_cell(detail)} |" for name, ok, detail in rows),
    ]
    approval = outcome.approval
    if approval is not None:
        text = (
            f"`{approval.result.arn}` is **{approval.result.status}**: {_cell(approval.result.approval_description)}"
            if approval.result is not None
            else f"**not updated**: {_cell(approval.error)}"
        )
        out += ["", f"Model package version {text}"]
    back = outcome.rollback
    if back is not None:
        out += ["", f"**Rollback ({back.outcome.replace('_', ' ')}):** {_cell(back.message)}"]
        if back.manual:
            out += ["", "Finish it by hand:", "", "```sh", *back.manual, "```"]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def publish(outcome: SmokeOutcome, out: Callable[[str], None] = print) -> int:
    """Report through ``out``; in Actions also the job summary, outputs and annotations; exit code."""
    for line in report_lines(outcome):
        out(line)
    gha.append_summary(report_markdown(outcome))
    back = outcome.rollback
    gha.set_output("smoke_result", "passed" if outcome.passed else "failed")
    gha.set_output(
        "rolled_back_to", back.config_name or "" if back and back.outcome == RollbackOutcome.ROLLED_BACK else ""
    )
    approval = outcome.approval
    if approval is not None and approval.result is not None:
        gha.set_output("model_package_status", approval.result.status)
        # What deploy.yml's promote job deploys to prod: only a version this smoke test approved.
        if approval.result.status == "Approved":
            gha.set_output("approved_model_package_arn", approval.result.arn)
    if approval is not None and not approval.ok:
        gha.error(approval.error, title="Model registry not updated")
        return 1
    if outcome.scaling is not None and not outcome.scaling.ok:
        gha.error(outcome.scaling.error, title="Autoscaling not registered")
        return 1
    if outcome.passed:
        return 0
    name = outcome.deployment.endpoint_name
    if back is not None and back.outcome == RollbackOutcome.FAILED:
        manual = " Finish it by hand: " + " && ".join(back.manual) if back.manual else ""
        gha.error(f"Endpoint {name}: {back.message}.{manual}", title="Rollback failed")
    tail = (
        f" Rolled back to {back.config_name}."
        if back is not None and back.outcome == RollbackOutcome.ROLLED_BACK
        else ""
    )
    gha.error(f"Smoke test of endpoint {name} failed: {outcome.failure}.{tail}", title="Smoke test failed")
    return 1


# -- command line ---------------------------------------------------------------------------------


def smoke_deployment(
    config: PipelineConfig,
    clients: Clients,
    *,
    execution_arn: str | None = None,
    expected_config: str | None = None,
    previous_config: str | None = None,
    endpoint_name: str | None = None,
    rollback_enabled: bool = True,
    limits: Limits | None = None,
    wait_seconds: float | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    seed: int = 7,
    rollback_calls: int = DEFAULT_ROLLBACK_CALLS,
    backoff: Backoff = Backoff(),
    model_package_arn: str | None = None,
) -> SmokeOutcome:
    """Smoke-test ``config``'s endpoint through ``clients``, rolling back on failure.

    The deployment comes from ``execution_arn``'s output, else from ``expected_config`` /
    ``previous_config`` (neither: any config, no rollback), else from ``model_package_arn``: the
    version the endpoint already serves (``run`` started nothing), approved or rejected here.
    The sample rows are encoded with the encoding stored next to the training data. Defaults
    come from the configuration.
    """
    from pipeline import aws
    from pipeline.storage import download_encoding

    wait_seconds = config.smoke.wait_seconds if wait_seconds is None else wait_seconds
    if wait_seconds < 0:
        raise UsageError(f"wait seconds = {wait_seconds} must be 0 or more")
    if previous_config and not expected_config:
        raise UsageError("--previous-config needs --expected-config (with --execution-arn it comes from the output)")
    if model_package_arn and (execution_arn or expected_config):
        raise UsageError(
            "--model-package names what the endpoint already serves: not with --execution-arn/--expected-config"
        )
    if execution_arn:
        deployment = deployment_from_execution(clients("stepfunctions"), execution_arn)
    elif model_package_arn:
        deployment = serving_deployment(clients("sagemaker"), endpoint_name or config.endpoint.name, model_package_arn)
    else:
        previous = PreviousEndpoint("InService", previous_config) if previous_config else None
        source = "command-line flags" if expected_config else "the endpoint's current config"
        deployment = Deployment(endpoint_name or config.endpoint.name, expected_config, previous, source)
    if endpoint_name and endpoint_name != deployment.endpoint_name:
        raise UsageError(
            f"--endpoint-name {endpoint_name} differs from the execution's endpoint {deployment.endpoint_name}"
        )
    payloads = prepare_payloads(download_encoding(clients("s3"), config), rows=batch_rows, seed=seed)
    # One attempt per call in botocore: the smoke test retries (and counts) transient errors itself.
    runtime = aws.client(clients.session, "sagemaker-runtime", endpoint_url=clients.endpoint_url, max_attempts=1)
    try:
        outcome = smoke_and_rollback(
            clients("sagemaker"),
            runtime,
            deployment,
            payloads,
            limits or Limits.from_config(config),
            wait_seconds=wait_seconds,
            rollback_enabled=rollback_enabled,
            rollback_calls=rollback_calls,
            backoff=backoff,
            retain_capacity=config.autoscaling.enabled,
        )
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"smoke test of {deployment.endpoint_name} could not run: {describe_error(exc)}") from None
    approval = decide_version(clients("sagemaker"), outcome, config)
    return dataclasses.replace(outcome, approval=approval, scaling=scale(clients, outcome, config))


def scale(clients: Clients, outcome: SmokeOutcome, config: PipelineConfig) -> Scaling | None:
    """After a passing test of the configured endpoint: register (or update) its autoscaling."""
    from pipeline.autoscaling import ensure_autoscaling

    if not (outcome.passed and config.autoscaling.enabled and outcome.deployment.endpoint_name == config.endpoint.name):
        return None
    try:
        return Scaling(ensure_autoscaling(config, clients("application-autoscaling")))
    except (ClientError, BotoCoreError) as exc:
        return Scaling(None, f"could not register autoscaling of {config.endpoint.name}: {describe_error(exc)}")


def decide_version(sagemaker: SageMakerClient, outcome: SmokeOutcome, config: PipelineConfig) -> Approval | None:
    """Approve the deployed version after a passing smoke test; reject it, saying why, otherwise."""
    from pipeline import registry

    arn = outcome.deployment.model_package_arn
    if not arn:
        return None
    try:
        if outcome.passed:
            summary = outcome.result.summary() if outcome.result is not None else "passed"
            return Approval(
                registry.approve(
                    sagemaker,
                    arn,
                    f"smoke test of {outcome.deployment.endpoint_name} passed: {summary}",
                    regression_pct=config.gate.max_regression_pct,
                )
            )
        back = f" Rollback: {outcome.rollback.message}." if outcome.rollback is not None else ""
        return Approval(registry.reject(sagemaker, arn, f"smoke test failed: {outcome.failure}.{back}"))
    except (ClientError, BotoCoreError, PipelineError) as exc:
        return Approval(None, f"could not update model package {arn}: {describe_error(exc)}")


def run_smoke(
    config: PipelineConfig,
    *,
    session: boto3.Session,
    endpoint_url: str | None = None,
    out: Callable[[str], None] = print,
    **options: Any,
) -> bool:
    """Smoke-test (and if needed roll back) from a boto3 session; report through ``out``.

    ``options`` are :func:`smoke_deployment`'s (``execution_arn=...`` enables the rollback).
    Returns True when the smoke test passed.
    """
    from pipeline.clients import Clients

    outcome = smoke_deployment(config, Clients(session=session, endpoint_url=endpoint_url), **options)
    return publish(outcome, out) == 0
