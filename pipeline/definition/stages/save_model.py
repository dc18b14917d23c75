"""Create this run's SageMaker model from the release: the version the registry stage made, or the
registered version the run was given to deploy."""

from __future__ import annotations

from stepfunctions.steps import ModelStep

from pipeline.definition import state_names as names
from pipeline.definition.context import Stage, StageContext
from pipeline.definition.states import extend


def build(ctx: StageContext) -> Stage:
    """CreateModel from the registered version (the training stage must be built first)."""
    if ctx.training is None:
        raise RuntimeError("the model stage needs the training stage before it")
    step = ModelStep(
        names.SAVE_MODEL,
        model=ctx.training.get_expected_model(),
        model_name=ctx.run["ModelName"],
        tags=ctx.tags(),
        result_path="$.model",
        timeout_seconds=ctx.config.state_machine.task_timeout_seconds,
    )
    # From the registry version (image and artifact come with it), so endpoint -> config ->
    # model -> version -> job, data and commit can be followed.
    # The release is the version this run registered, or the one it was given to deploy.
    step.parameters["PrimaryContainer"] = {"ModelPackageName.$": "$.release.ModelPackageArn"}
    extend(step, ResultSelector={"ModelArn.$": "$.ModelArn"})
    ctx.sagemaker_call(step, names.SAVE_MODEL)
    return Stage(step, [step])
