"""Create this run's endpoint config, pointing at this run's model."""

from __future__ import annotations

from stepfunctions.steps import EndpointConfigStep

from pipeline.definition import state_names as names
from pipeline.definition.context import Stage, StageContext


def build(ctx: StageContext) -> Stage:
    """CreateEndpointConfig with the configured instance type and count."""
    c = ctx.config
    step = EndpointConfigStep(
        names.CONFIGURE_ENDPOINT,
        endpoint_config_name=ctx.run["EndpointConfigName"],
        model_name=ctx.run["ModelName"],
        initial_instance_count=c.endpoint.instance_count,
        instance_type=c.endpoint.instance_type,
        tags=ctx.tags(),
        result_path="$.endpoint_config",
        timeout_seconds=c.state_machine.task_timeout_seconds,
    )
    ctx.sagemaker_call(step, names.CONFIGURE_ENDPOINT)
    return Stage(step, [step])
