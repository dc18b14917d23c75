"""Deploy this run's config: decide from the endpoint's status, never from a failed create.

absent -> create; InService -> update (with blue/green guardrails when configured); Failed ->
delete, wait until gone, look again; changing -> wait and look again; UpdateRollbackFailed ->
stop for an operator (nothing is deleted).
"""

from __future__ import annotations

from typing import Any

from stepfunctions.steps import Catch, Choice, ChoiceRule, EndpointStep, Pass, Task, Wait
from stepfunctions.steps.states import State

from pipeline import endpoint_status as status
from pipeline.alarms import rollback_alarm_names
from pipeline.config import PipelineConfig
from pipeline.definition import state_names as names
from pipeline.definition.context import (
    CONFIG_NOT_VISIBLE_YET,
    DESCRIBE_RETRY_ERRORS,
    LOOKUP_ERRORS,
    NOT_FOUND_PATTERN,
    THROTTLING_ERRORS,
    Stage,
    StageContext,
    status_in,
    throttled,
)

STATUS = "$.endpoint.EndpointStatus"


def build(ctx: StageContext) -> Stage:
    """Find the endpoint and route by its status; exits are the create and update calls."""
    c = ctx.config
    name = c.endpoint.name
    # No ResultSelector: botocore marks EndpointConfigName optional in DescribeEndpoint's
    # output, and a selector reading a missing field fails with States.Runtime, which no Catch
    # sees. The whole answer is kept (it is also the run's PreviousEndpoint, read with .get).
    find = ctx.describe(names.FIND_ENDPOINT, "$.endpoint", None)
    find.add_retry(ctx.retry(DESCRIBE_RETRY_ERRORS))
    missing = Choice(names.ENDPOINT_MISSING, comment="Only 'not found' means absent; any other error fails.")
    find.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=missing, result_path="$.error"))
    find.add_catch(ctx.caught(names.FIND_ENDPOINT))

    absent = Pass(names.NO_ENDPOINT_YET, result={"EndpointStatus": "Absent"}, result_path="$.endpoint")
    create = ctx.sagemaker_call(
        EndpointStep(
            names.CREATE_ENDPOINT,
            endpoint_name=name,
            endpoint_config_name=ctx.run["EndpointConfigName"],
            tags=ctx.tags(),
            result_path="$.deploy_call",
            timeout_seconds=c.state_machine.task_timeout_seconds,
        ),
        names.CREATE_ENDPOINT,
        transient=(CONFIG_NOT_VISIBLE_YET,),
    )
    settle = Wait(names.WAIT_TO_SETTLE, seconds=c.endpoint.poll_seconds)
    update = update_endpoint(ctx, settle)
    delete = ctx.sdk_task(
        names.DELETE_FAILED_ENDPOINT,
        "deleteEndpoint",
        {"EndpointName": name},
        "$.delete_call",
        comment="A Failed endpoint serves nothing and AWS allows only DeleteEndpoint on it.",
    )
    delete.add_retry(ctx.retry(THROTTLING_ERRORS))
    # Throttled: wait, look again and delete again if the endpoint is still Failed.
    ctx.sdk_errors(delete, names.DELETE_THROTTLED, names.DELETE_FAILED_ENDPOINT, settle)
    delete.add_catch(ctx.caught(names.DELETE_FAILED_ENDPOINT))
    unexpected = ctx.failure(
        names.UNEXPECTED_ENDPOINT_STATUS,
        names.FIND_ENDPOINT,
        "UnexpectedEndpointStatus",
        f"States.Format('Endpoint {{}} has status {{}}, which the pipeline does not handle.', '{name}', {STATUS})",
    )

    route = Choice(names.ROUTE_BY_STATUS)
    route.add_choice(ChoiceRule.StringEquals(STATUS, status.IN_SERVICE), update)
    route.add_choice(ChoiceRule.StringEquals(STATUS, status.FAILED), delete)
    route.add_choice(ChoiceRule.StringEquals(STATUS, status.UPDATE_ROLLBACK_FAILED), needs_operator(ctx))
    route.add_choice(status_in(STATUS, status.CHANGING_STATUSES), settle)
    route.default_choice(unexpected)

    missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", NOT_FOUND_PATTERN), absent)
    missing.add_choice(throttled("$.error.Cause"), settle)
    missing.default_choice(ctx.stage_failure(names.FIND_ENDPOINT))

    find.next(route)
    absent.next(create)
    settle.next(find)
    delete.next(settle)
    return Stage(find, [create, update])


def update_endpoint(ctx: StageContext, settle: Wait) -> Task:
    """UpdateEndpoint through the AWS SDK integration, with the guardrails' DeploymentConfig.

    Not the optimised ``sagemaker:updateEndpoint``: AWS's Step Functions page for SageMaker
    lists UpdateEndpoint without saying which of its parameters the optimised integration
    passes on (it predates DeploymentConfig, added in November 2021), an optimised integration
    refuses a field it does not know with States.Runtime, which no Catch sees, and it offers no
    optimisation for request-response calls. The aws-sdk integration takes every parameter of
    botocore's model. Its errors are SageMaker.SageMakerException with the message in the
    Cause: a throttle (or a config not readable yet) waits, looks at the endpoint again and
    updates again while it is InService; any other error (ValidationException) fails at once.
    """
    c = ctx.config
    parameters: dict[str, Any] = {
        "EndpointName": c.endpoint.name,
        "EndpointConfigName.$": "$$.Execution.Input['EndpointConfigName']",
    }
    guardrails = deployment_config(c)
    if guardrails:
        parameters["DeploymentConfig"] = guardrails
    if c.autoscaling.enabled:
        # AWS's "Update endpoints that use auto scaling": the variant keeps the DesiredInstanceCount
        # autoscaling reached (and its weight) instead of the new config's InitialInstanceCount.
        parameters["RetainAllVariantProperties"] = True
    update = ctx.sdk_task(
        names.UPDATE_ENDPOINT,
        "updateEndpoint",
        parameters,
        "$.deploy_call",
        comment="Blue/green: the old config serves until the new fleet takes the traffic.",
    )
    update.add_retry(ctx.retry(THROTTLING_ERRORS))
    ctx.sdk_errors(update, names.UPDATE_THROTTLED, names.UPDATE_ENDPOINT, settle, (CONFIG_NOT_VISIBLE_YET,))
    update.add_catch(ctx.caught(names.UPDATE_ENDPOINT))
    return update


def needs_operator(ctx: StageContext) -> State:
    """The failure for an UpdateRollbackFailed endpoint, shared with the deployment check."""
    name = ctx.config.endpoint.name
    return ctx.shared(
        names.NEEDS_OPERATOR,
        lambda: ctx.failure(
            names.NEEDS_OPERATOR,
            names.DEPLOY_STAGE,
            "EndpointUpdateRollbackFailed",
            f"States.Format('Endpoint {{}} is UpdateRollbackFailed: part of its fleet runs the old config "
            f"and part the new one. Nothing was changed or deleted. Finish by hand: aws sagemaker "
            f"update-endpoint --endpoint-name {{}} --endpoint-config-name <the config to keep>, wait until it "
            f"is InService, then run the pipeline again.', '{name}', '{name}')",
        ),
    )


def deployment_config(config: PipelineConfig) -> dict[str, Any] | None:
    """UpdateEndpoint's DeploymentConfig for the configured guardrails, or None when off."""
    if config.guardrails.strategy == "none":
        return None
    routing: dict[str, Any] = {
        "Type": config.guardrails.strategy.upper(),
        "WaitIntervalInSeconds": config.guardrails.wait_seconds,
    }
    step = {"Type": "CAPACITY_PERCENT", "Value": config.guardrails.step_percent}
    if config.guardrails.strategy == "canary":
        routing["CanarySize"] = step
    elif config.guardrails.strategy == "linear":
        routing["LinearStepSize"] = step
    result: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": config.guardrails.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": config.guardrails.max_seconds,
        }
    }
    alarms = rollback_alarm_names(config)
    if alarms:
        # The workflow role needs cloudwatch:DescribeAlarms on these (SageMaker's guardrails page).
        result["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
    return result
