"""Train the built-in XGBoost algorithm on the prepared CSV channels (``.sync``: waits for the job).

The execution input is checked first: it must carry the lineage the registry records.
"""

from __future__ import annotations

import functools
from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from stepfunctions.steps import Choice, ChoiceRule, TrainingStep

from pipeline.definition import state_names as names
from pipeline.definition.context import Stage, StageContext

# Extra time the training task may take beyond the job's own MaxRuntime (queueing, provisioning).
TRAINING_TIMEOUT_MARGIN_SECONDS = 3600
CHANNELS = ("train", "validation")


def build(ctx: StageContext) -> Stage:
    """The training task; records it on ``ctx`` for the model stage."""
    c = ctx.config
    estimator = Estimator(
        image_uri=c.training_image,
        role=c.account.sagemaker_role_arn,
        instance_count=c.training.instance_count,
        instance_type=c.training.instance_type,
        volume_size=c.training.volume_gb,
        max_run=c.training.max_runtime_seconds,
        output_path=c.output_uri,
        # CreateTrainingJob takes strings; the SDK would str() each value anyway.
        hyperparameters=dict(c.training.hyperparameter_strings()),
        debugger_hook_config=False,
        disable_profiler=True,
        sagemaker_session=offline_session(c.account.region),
    )
    channels = {name: TrainingInput(f"{c.data_uri}/{name}/", content_type="text/csv") for name in CHANNELS}
    step = TrainingStep(
        names.TRAIN_MODEL,
        estimator=estimator,
        job_name=ctx.run["TrainingJobName"],
        data=channels,
        tags=ctx.tags(),
        result_path="$.training",
        timeout_seconds=c.training.max_runtime_seconds + TRAINING_TIMEOUT_MARGIN_SECONDS,
    )
    step.parameters.pop("ProfilerConfig", None)
    step.parameters.pop("ProfilerRuleConfigurations", None)
    # The whole DescribeTrainingJob answer is kept (no ResultSelector): FinalMetricDataList is
    # optional in botocore's model, and a selector reading a missing field fails with
    # States.Runtime, which no Catch sees. The quality gate reads it behind an IsPresent.
    ctx.training = step
    ctx.sagemaker_call(step, names.TRAIN_MODEL)
    return Stage(check_input(ctx, step), [step])


def check_input(ctx: StageContext, training: TrainingStep) -> Choice:
    """Refuse, before paying for training, an input without the lineage the registry records."""
    check = Choice(
        names.CHECK_RUN_INPUT, comment="Commit and Data are written by `run` and `local` (pipeline.provenance)."
    )
    present = [
        ChoiceRule.IsPresent(f"$.{path}", True) for path in ("Commit", "Data.train.ETag", "Data.validation.ETag")
    ]
    check.add_choice(ChoiceRule.And(present), training)
    check.default_choice(
        ctx.failure(
            names.RUN_INPUT_INCOMPLETE,
            names.CHECK_RUN_INPUT,
            "InvalidInput",
            "States.Format('The execution input needs Commit and Data (train and validation: Uri, ETag, Version; "
            "Synthetic), which python -m pipeline run writes; got {}', States.JsonToString($))",
        )
    )
    return check


@functools.lru_cache(maxsize=8)
def offline_session(region: str) -> Any:
    """A SageMaker session that can describe jobs but never reaches AWS while building."""
    import boto3
    import sagemaker

    # Static placeholder credentials: building a definition must work on machines with none,
    # and this session is only handed to the SDK's request builders, which make no calls.
    boto_session = boto3.Session(
        region_name=region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",  # noqa: S106
    )
    return sagemaker.Session(boto_session=boto_session, default_bucket="offline-unused")
