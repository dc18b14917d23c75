"""The quality gate and the registry, executed end to end on the emulator (placeholder trainer).

The emulator's placeholder job prints one evaluation line; a ``training_log`` fault chooses the
validation:rmse each job reports, so the gate sees exactly the value a test needs.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from pipeline import registry
from pipeline.definition import state_names as names
from pipeline.definition.stages.register_model import config_fingerprint
from pipeline.emulator import TrainingLog
from pipeline.fingerprint import training_fingerprint
from tests.emulator.conftest import COMMIT, Pipeline

pytestmark = pytest.mark.emulator


def reports(pipeline: Pipeline, run_id: str, rmse: float) -> None:
    """Make run ``run_id``'s training job report validation:rmse ``rmse``."""
    job = pipeline.input(run_id)["TrainingJobName"]
    line = f"[99]\ttrain-rmse:{rmse - 50:.5f}\tvalidation-rmse:{rmse:.5f}"
    pipeline.emu.faults.add(TrainingLog(lines=[line], job=job))


def output(desc: dict[str, Any]) -> dict[str, Any]:
    assert desc["status"] == "SUCCEEDED", (desc.get("error"), desc.get("cause"))
    return json.loads(desc["output"])


def failure(desc: dict[str, Any]) -> tuple[str, str]:
    assert desc["status"] == "FAILED"
    return desc["error"], desc["cause"]


def entered(pipeline: Pipeline, arn: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in pipeline.history(arn) if "stateEnteredEventDetails" in e]


def versions(pipeline: Pipeline) -> list[registry.ModelVersion]:
    return registry.list_versions(pipeline.sagemaker, pipeline.cfg.registry_group)


def test_first_deploy_registers_every_field_and_serves_from_the_version(pipeline: Pipeline) -> None:
    reports(pipeline, "run1", 612.5)
    out = output(pipeline.run("run1"))
    gate = out["QualityGate"]
    assert (gate["Metric"], gate["Value"], gate["MaxValidationRmse"]) == ("validation:rmse", 612.5, 900.0)
    assert gate["Champion"] == {
        "Found": False,
        "Reason": "no endpoint yet: first deploy, only the absolute bar applies",
    }

    (version,) = versions(pipeline)
    assert version.arn == out["ModelPackageArn"] and version.version == 1
    assert version.status == "PendingManualApproval" and version.ours
    names_ = pipeline.input("run1")
    meta = version.metadata
    data = f"s3://{pipeline.cfg.account.bucket}/{pipeline.cfg.account.prefix}/data"
    etag = pipeline.s3.head_object(
        Bucket=pipeline.cfg.account.bucket, Key=f"{pipeline.cfg.account.prefix}/data/train/train.csv"
    )
    execution = (
        f"arn:aws:states:{pipeline.cfg.account.region}:123456789012:execution:{pipeline.cfg.state_machine.name}:run1"
    )
    assert meta == {
        "WrittenBy": "big-mart-pipeline",
        "Environment": "staging",
        "Commit": COMMIT,
        "TrainingJob": names_["TrainingJobName"],
        "Execution": execution,
        "GateMetric": "validation:rmse",
        "ValidationRmse": "612.5",
        "TrainRmse": "562.5",
        "ConfigFingerprint": config_fingerprint(pipeline.cfg),
        "ArtifactSha256": meta["ArtifactSha256"],
        "DataSynthetic": "true",
        "TrainData": f"{data}/train/train.csv",
        "TrainDataETag": etag["ETag"].strip('"'),
        "TrainDataVersion": "null",
        "ValidationData": f"{data}/validation/validation.csv",
        "ValidationDataETag": meta["ValidationDataETag"],
        "ValidationDataVersion": "null",
        # The definition's States.Hash of the training inputs equals the one run computes to look it up.
        "TrainingFingerprint": training_fingerprint(
            pipeline.cfg, {"train": {"ETag": meta["TrainDataETag"]}, "validation": {"ETag": meta["ValidationDataETag"]}}
        ),
    }
    # The artifact is the registered copy, and its SHA-256 is the one S3 computed for it.
    registered = f"{pipeline.cfg.account.prefix}/registry/{names_['TrainingJobName']}/model.tar.gz"
    assert version.model_data_url == f"s3://{pipeline.cfg.account.bucket}/{registered}"
    body = pipeline.s3.get_object(Bucket=pipeline.cfg.account.bucket, Key=registered)["Body"].read()
    assert version.artifact_sha256 == hashlib.sha256(body).hexdigest()
    assert meta["ArtifactSha256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert version.image == pipeline.cfg.training_image
    desc = pipeline.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert desc["MetadataProperties"] == {"CommitId": COMMIT, "GeneratedBy": execution}
    assert desc["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large"]

    # endpoint -> config -> model -> version -> job, data, commit.
    lineage = registry.live_lineage(pipeline.sagemaker, pipeline.cfg.endpoint.name)
    assert (lineage.config, lineage.model) == (names_["EndpointConfigName"], names_["ModelName"])
    assert lineage.package is not None and lineage.package.arn == version.arn and lineage.trusted


def test_above_the_absolute_bar_nothing_is_created_and_the_endpoint_is_unchanged(pipeline: Pipeline) -> None:
    reports(pipeline, "run1", 600.0)
    output(pipeline.run("run1"))
    before = pipeline.endpoint()
    reports(pipeline, "run2", 1258.14)
    arn = pipeline.start("run2")
    error, cause = failure(pipeline.wait(arn))
    assert error == "Pipeline.QualityGateFailed"
    assert cause.startswith("validation:rmse 1258.14 is above max_validation_rmse 900.")
    assert "endpoint big-mart-staging is unchanged" in cause
    assert names.ABOVE_ABSOLUTE_BAR in entered(pipeline, arn)
    assert names.COPY_ARTIFACT not in entered(pipeline, arn)
    assert len(versions(pipeline)) == 1
    models = {m["ModelName"] for m in pipeline.sagemaker.list_models()["Models"]}
    assert pipeline.input("run2")["ModelName"] not in models
    after = pipeline.endpoint()
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", before["EndpointConfigName"])


def test_worse_than_the_approved_champion_fails_and_a_close_one_passes(pipeline: Pipeline) -> None:
    reports(pipeline, "run1", 600.0)
    first = output(pipeline.run("run1"))
    registry.approve(pipeline.sagemaker, first["ModelPackageArn"], "smoke ok", regression_pct=5.0)
    champion = registry.describe(pipeline.sagemaker, first["ModelPackageArn"])
    assert champion.metadata[registry.REGRESSION_BAR] == "630.0" and champion.status == "Approved"

    reports(pipeline, "run2", 640.0)
    error, cause = failure(pipeline.run("run2"))
    assert error == "Pipeline.QualityGateFailed"
    assert cause.startswith(
        "validation:rmse 640.0 is worse than the serving model (version 1, validation:rmse 600.0) by more than "
        "max_regression_pct 5%: the bar was 630.0"
    )
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run1")
    assert len(versions(pipeline)) == 1

    reports(pipeline, "run3", 629.0)
    third = output(pipeline.run("run3"))
    assert third["QualityGate"]["Champion"]["ModelPackageArn"] == first["ModelPackageArn"]
    assert third["QualityGate"]["Champion"]["Bar"] == 630.0
    assert pipeline.endpoint()["EndpointConfigName"] == pipeline.config_name("run3")
    assert [v.version for v in versions(pipeline)] == [2, 1]


def test_an_unapproved_champion_is_compared_with_its_own_metric(pipeline: Pipeline) -> None:
    reports(pipeline, "run1", 600.0)
    output(pipeline.run("run1"))
    reports(pipeline, "run2", 600.5)
    error, cause = failure(pipeline.run("run2"))
    assert error == "Pipeline.QualityGateFailed"
    assert "the bar was 600.0 (no bar for 5% was recorded when the champion was approved" in cause


def test_a_version_not_written_by_the_pipeline_is_never_a_champion(pipeline: Pipeline) -> None:
    reports(pipeline, "run1", 600.0)
    first = output(pipeline.run("run1"))
    # Someone points the endpoint at a model from a version with no metadata of ours.
    sm = pipeline.sagemaker
    foreign = sm.create_model_package(
        ModelPackageGroupName=pipeline.cfg.registry_group,
        InferenceSpecification={
            "Containers": [{"Image": pipeline.cfg.training_image, "ModelDataUrl": first["ModelArtifacts"]}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    sm.create_model(
        ModelName="by-hand",
        ExecutionRoleArn=pipeline.cfg.account.sagemaker_role_arn,
        PrimaryContainer={"ModelPackageName": foreign},
    )
    sm.create_endpoint_config(
        EndpointConfigName="by-hand",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "by-hand", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    sm.update_endpoint(EndpointName=pipeline.cfg.endpoint.name, EndpointConfigName="by-hand")
    while pipeline.endpoint()["EndpointStatus"] != "InService":
        pass
    reports(pipeline, "run2", 899.0)  # far worse than 600, but the serving version is not trusted
    second = output(pipeline.run("run2"))
    assert second["QualityGate"]["Champion"]["Found"] is False
    assert "not written by this pipeline" in second["QualityGate"]["Champion"]["Reason"]
    listed = {v.arn: v for v in versions(pipeline)}
    assert not listed[foreign].ours and listed[second["ModelPackageArn"]].ours


def test_an_input_without_lineage_is_refused_before_training(pipeline: Pipeline) -> None:
    from pipeline.definition import execution_input

    bare = execution_input(pipeline.cfg, "run1")
    arn = pipeline.sfn.start_execution(stateMachineArn=pipeline.arn, name="run1", input=json.dumps(bare))[
        "executionArn"
    ]
    error, cause = failure(pipeline.wait(arn))
    assert error == "Pipeline.InvalidInput" and "needs Commit and Data" in cause
    assert pipeline.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
