"""Deploy a registered model package version instead of training one (promotion, reuse).

Given ``ModelPackageArn`` in the execution input, the state machine reads that version, refuses
one this pipeline did not write or one that was Rejected, and goes straight to the model stage:
no training, no quality gate (the version passed it when it was trained), no registration. The
release it deploys (version, training job, commit, metric, artifact) is what the report shows.
Without the key the run trains as before.
"""

from __future__ import annotations

from stepfunctions.steps import Choice, ChoiceRule, Pass, Wait

from pipeline import registry as reg
from pipeline.definition import state_names as names
from pipeline.definition.context import DESCRIBE_RETRY_ERRORS, Stage, StageContext
from pipeline.definition.names import DEPLOY_KEY
from pipeline.definition.stages import save_model

PACKAGE = "$.registered_package"
META = f"{PACKAGE}.CustomerMetadataProperties"
# What a version must carry to be deployed: this pipeline's lineage and the artifact's digest.
REQUIRED_METADATA = (reg.WRITTEN_BY, reg.TRAINING_JOB, reg.COMMIT, reg.VALIDATION_RMSE, reg.ARTIFACT_SHA256)


def build(ctx: StageContext) -> Stage:
    """The Choice at the start; its default (no version given) goes on to training."""
    c = ctx.config
    stage = names.DEPLOY_REGISTERED_STAGE
    given = Choice(
        names.REGISTERED_VERSION_GIVEN,
        comment=f"{DEPLOY_KEY} in the input: deploy that registered version; skip training, gate and registration.",
    )
    read = ctx.sdk_task(
        names.READ_REGISTERED_VERSION, "describeModelPackage", {"ModelPackageName.$": f"$.{DEPLOY_KEY}"}, PACKAGE
    )
    read.add_retry(ctx.retry(DESCRIBE_RETRY_ERRORS))
    again = Wait(names.WAIT_TO_READ_REGISTERED, seconds=c.endpoint.poll_seconds)
    again.next(read)
    ctx.sdk_errors(read, names.READ_REGISTERED_THROTTLED, stage, again)
    read.add_catch(ctx.caught(stage))
    given.add_choice(ChoiceRule.IsPresent(f"$.{DEPLOY_KEY}", True), read)

    # Only IsPresent in this Choice: a comparison on a missing field would fail the execution.
    complete = Choice(names.REGISTERED_VERSION_COMPLETE)
    read.next(complete)
    present = [
        ChoiceRule.IsPresent(path, True)
        for path in (
            f"{PACKAGE}.ModelApprovalStatus",
            f"{PACKAGE}.ModelPackageVersion",
            f"{PACKAGE}.InferenceSpecification",
            f"{PACKAGE}.InferenceSpecification.Containers",
            META,
            *(f"{META}.{key}" for key in REQUIRED_METADATA),
        )
    ]
    usable = Choice(names.REGISTERED_VERSION_USABLE)
    complete.add_choice(ChoiceRule.And(present), usable)
    complete.default_choice(
        ctx.failure(
            names.REGISTERED_VERSION_FOREIGN,
            stage,
            "VersionNotDeployable",
            f"States.Format('Model package {{}} was not registered by this pipeline (it lacks the approval status, "
            f"the container or the metadata {', '.join(REQUIRED_METADATA)}): only a version this pipeline trained "
            f"and registered can be deployed. Endpoint {c.endpoint.name} is unchanged.', $.{DEPLOY_KEY})",
        )
    )
    container = Pass(
        names.READ_REGISTERED_CONTAINER,
        parameters={"Container.$": f"States.ArrayGetItem({PACKAGE}.InferenceSpecification.Containers, 0)"},
        result_path="$.registered_container",
    )
    usable.add_choice(
        ChoiceRule.StringEquals(f"{PACKAGE}.ModelApprovalStatus", reg.REJECTED),
        ctx.failure(
            names.REGISTERED_VERSION_REJECTED,
            stage,
            "VersionNotDeployable",
            f"States.Format('Model package {{}} is Rejected: a rejected version is never deployed. "
            f"Endpoint {c.endpoint.name} is unchanged; deploy an Approved version (python -m pipeline models).', "
            f"$.{DEPLOY_KEY})",
        ),
    )
    usable.default_choice(container)
    release = Pass(
        names.DEPLOY_REGISTERED_VERSION,
        comment="What is deployed, for the report: the version and what it was trained from.",
        parameters={
            "Source": "registry",
            "ModelPackageArn.$": f"{PACKAGE}.ModelPackageArn",
            "Version.$": f"States.Format('{{}}', {PACKAGE}.ModelPackageVersion)",
            "ApprovalStatus.$": f"{PACKAGE}.ModelApprovalStatus",
            "TrainingJob.$": f"{META}.{reg.TRAINING_JOB}",
            "Commit.$": f"{META}.{reg.COMMIT}",
            "ValidationRmse.$": f"{META}.{reg.VALIDATION_RMSE}",
            "ModelArtifacts.$": "$.registered_container.Container.ModelDataUrl",
            "QualityGate": {
                "Metric": reg.GATE_METRIC,
                "Value.$": f"States.StringToJson({META}.{reg.VALIDATION_RMSE})",
                "Skipped": "a registered version is deployed: it passed the gate when it was trained",
            },
        },
        result_path="$.release",
    )
    container.next(release)
    return Stage(given, defaults=[given], skips={save_model.build: [release]})
