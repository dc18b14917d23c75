"""Register the model that passed the gate as a version of the environment's model package group.

A state machine cannot hash an S3 object, and SageMaker's training output carries no SHA-256
checksum, so the artifact is first copied under ``<prefix>/registry/`` with CopyObject's
``ChecksumAlgorithm=SHA256``: S3 computes the SHA-256 of the whole object (a single-part copy)
and returns it, and anyone can read it again with HeadObject (``ChecksumMode=ENABLED``). That
copy is the version's artifact, so what the registry points at is what was hashed. The group is
created on first use. The version is ``PendingManualApproval`` with its lineage; the CI job's
smoke step approves or rejects it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stepfunctions.steps import Catch, Choice, ChoiceRule, Pass, Wait

from pipeline import fingerprint
from pipeline import registry as reg
from pipeline.config import PipelineConfig
from pipeline.definition import state_names as names
from pipeline.definition.context import (
    DESCRIBE_RETRY_ERRORS,
    LOOKUP_ERRORS,
    THROTTLING_ERRORS,
    Stage,
    StageContext,
    throttled,
)
from pipeline.definition.states import extend

INPUT = "$$.Execution.Input"
JOB = f"{INPUT}.TrainingJobName"
GROUP_MISSING_PATTERN = "*does not exist*"
SHA256 = "$.artifact.CopyObjectResult.ChecksumSHA256"
# S3's retriable errors as the aws-sdk integration names them.
S3_RETRY_ERRORS = ["S3.SlowDownException", "S3.InternalErrorException", "S3.S3Exception"]


def config_fingerprint(config: PipelineConfig) -> str:
    """SHA-256 of the configuration's values (by file key): what the registry records a model was built with."""
    values = config.values()
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def registered_artifact(config: PipelineConfig) -> str:
    """The registered copy's S3 URI, as a States.Format template on the training job's name."""
    return f"{config.registry_uri}/{{}}/model.tar.gz"


def build(ctx: StageContext) -> Stage:
    """Copy the artifact (S3 computes its SHA-256), ensure the group, register the version."""
    c = ctx.config
    stage = names.REGISTER_STAGE
    copy = ctx.sdk_task(
        names.COPY_ARTIFACT,
        "copyObject",
        {
            "Bucket": c.account.bucket,
            "Key.$": f"States.Format('{c.account.prefix}/registry/{{}}/model.tar.gz', {JOB})",
            "CopySource.$": f"States.Format('{c.account.bucket}/{c.account.prefix}/output/{{}}/output/model.tar.gz', {JOB})",
            "ChecksumAlgorithm": "SHA256",
        },
        "$.artifact",
        service="s3",
        comment="S3 computes the artifact's SHA-256 while copying it where the registry points.",
    )
    # No ResultSelector: CopyObjectResult and its ChecksumSHA256 are optional in botocore's model,
    # and a selector reading a missing field fails with States.Runtime; a Choice checks it.
    ctx.guard(copy, stage, S3_RETRY_ERRORS)
    hashed = Choice(names.ARTIFACT_HASHED)
    hashed.default_choice(
        ctx.failure(
            names.ARTIFACT_NOT_HASHED,
            stage,
            "RegisterModelFailed",
            "States.Format('S3 returned no SHA-256 checksum for the registered copy of training job {}: nothing "
            f"was registered or deployed.', {JOB})",
        )
    )

    group = ctx.sdk_task(
        names.FIND_GROUP, "describeModelPackageGroup", {"ModelPackageGroupName": c.registry_group}, "$.registry_group"
    )
    extend(group, ResultSelector={"ModelPackageGroupArn.$": "$.ModelPackageGroupArn"})
    group.add_retry(ctx.retry(DESCRIBE_RETRY_ERRORS))
    missing = Choice(names.GROUP_MISSING)
    group.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=missing, result_path="$.error"))
    group.add_catch(ctx.caught(stage))
    # aws-sdk SageMaker throttles are SageMaker.SageMakerException with the code in the Cause: wait
    # and look again. A throttled create made nothing, so looking again (and creating) is safe.
    again = Wait(names.WAIT_FOR_REGISTRY, seconds=c.endpoint.poll_seconds)
    again.next(group)
    create_parameters: dict[str, Any] = {
        "ModelPackageGroupName": c.registry_group,
        "ModelPackageGroupDescription": f"Big Mart sales models of {c.environment} (endpoint {c.endpoint.name})",
    }
    if c.account.tags:
        # Versions in a group take the group's tags; CreateModelPackage refuses Tags for them.
        create_parameters["Tags"] = [{"Key": k, "Value": v} for k, v in c.account.tags.items()]
    create = ctx.sdk_task(names.CREATE_GROUP, "createModelPackageGroup", create_parameters, "$.registry_group")
    create.add_retry(ctx.retry(THROTTLING_ERRORS))
    registry_throttled = ctx.sdk_errors(create, names.REGISTRY_THROTTLED, stage, again)
    create.add_catch(ctx.caught(stage))
    missing.add_choice(throttled("$.error.Cause"), again)
    missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", GROUP_MISSING_PATTERN), create)
    missing.default_choice(ctx.stage_failure(stage))

    register = ctx.sdk_task(
        names.REGISTER_MODEL,
        "createModelPackage",
        {
            "ModelPackageGroupName": c.registry_group,
            # The fingerprint in the description too: ListModelPackages returns descriptions, so
            # run finds a version trained on the same inputs without describing every version.
            "ModelPackageDescription.$": (
                f"States.Format('{reg.GATE_METRIC} {{}}, trained by {{}} from commit {{}}, {fingerprint.DESCRIPTION_MARK}{{}}', "
                f"$.gate.Values[0], {JOB}, {INPUT}.Commit, {fingerprint.asl_expression(c, f'{INPUT}.Data')})"
            ),
            "ModelApprovalStatus": reg.PENDING,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": c.training_image,
                        "ModelDataUrl.$": f"States.Format('{registered_artifact(c)}', {JOB})",
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
                "SupportedRealtimeInferenceInstanceTypes": [c.endpoint.instance_type],
            },
            "MetadataProperties": {"CommitId.$": f"{INPUT}.Commit", "GeneratedBy.$": "$$.Execution.Id"},
            "CustomerMetadataProperties": metadata(c),
        },
        "$.registered",
        comment="Every model that passed the gate, PendingManualApproval until the smoke test approves it.",
    )
    extend(register, ResultSelector={"ModelPackageArn.$": "$.ModelPackageArn"})
    # A create retried after an unknown outcome could register the version twice: throttling only
    # (a throttled call registered nothing).
    register.add_retry(ctx.retry(THROTTLING_ERRORS))
    register.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=registry_throttled, result_path="$.error"))
    register.add_catch(ctx.caught(stage))
    copy.next(hashed)
    hashed.add_choice(ChoiceRule.IsPresent(SHA256, True), group)
    group.next(register)
    create.next(register)
    release = trained_release(ctx)
    register.next(release)
    return Stage(copy, [release])


def trained_release(ctx: StageContext) -> Pass:
    """The release of a run that trained and registered its model (the register stage's exit)."""
    c = ctx.config
    return Pass(
        names.TRAINED_VERSION,
        comment="What is deployed, for the report: the version this run registered.",
        parameters={
            "Source": "trained",
            "ModelPackageArn.$": "$.registered.ModelPackageArn",
            # arn:...:model-package/<group>/<version>; group names have no '/'.
            "Version.$": "States.ArrayGetItem(States.StringSplit($.registered.ModelPackageArn, '/'), 2)",
            "ApprovalStatus": reg.PENDING,
            "TrainingJob.$": "$.TrainingJobName",
            "Commit.$": "$.Commit",
            "ValidationRmse.$": "States.Format('{}', $.gate.Values[0])",
            "ModelArtifacts.$": f"States.Format('{registered_artifact(c)}', $.TrainingJobName)",
            "QualityGate": {
                "Metric.$": "$.gate.Metric",
                "Value.$": "$.gate.Values[0]",
                "MaxValidationRmse.$": "$.gate.MaxValidationRmse",
                "MaxRegressionPct.$": "$.gate.MaxRegressionPct",
                "Champion.$": "$.champion",
            },
        },
        result_path="$.release",
    )


def metadata(c: PipelineConfig) -> dict[str, Any]:
    """The version's CustomerMetadataProperties (strings; see pipeline.registry for the keys)."""
    data = f"{INPUT}.Data"
    result: dict[str, Any] = {
        reg.WRITTEN_BY: reg.WRITER,
        reg.ENVIRONMENT: c.environment,
        f"{reg.COMMIT}.$": f"{INPUT}.Commit",
        f"{reg.TRAINING_JOB}.$": JOB,
        f"{reg.EXECUTION}.$": "$$.Execution.Id",
        reg.METRIC: reg.GATE_METRIC,
        f"{reg.VALIDATION_RMSE}.$": "States.Format('{}', $.gate.Values[0])",
        f"{reg.TRAIN_RMSE}.$": "States.Format('{}', $.gate.TrainValues[0])",
        reg.CONFIG_FINGERPRINT: config_fingerprint(c),
        f"{reg.TRAINING_FINGERPRINT}.$": fingerprint.asl_expression(c, data),
        f"{reg.ARTIFACT_SHA256}.$": SHA256,
        f"{reg.DATA_SYNTHETIC}.$": f"{data}.Synthetic",
    }
    for channel, (uri, etag, version) in reg.DATA_KEYS.items():
        result[f"{uri}.$"] = f"{data}.{channel}.Uri"
        result[f"{etag}.$"] = f"{data}.{channel}.ETag"
        result[f"{version}.$"] = f"{data}.{channel}.Version"
    return result
