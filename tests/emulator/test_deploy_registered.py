"""Deploying a registered version: the Choice at the start skips training, the gate and registration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline import registry
from pipeline.definition import execution_input
from pipeline.definition import state_names as names
from tests.emulator.conftest import COMMIT, Pipeline
from tests.emulator.test_quality_gate import entered, failure, output, reports, versions

pytestmark = pytest.mark.emulator

TRAINING = "arn:aws:states:::sagemaker:createTrainingJob.sync"


def start_with_version(pipeline: Pipeline, run_id: str, package_arn: str) -> str:
    """An execution given a registered version (no Commit/Data: the version carries its lineage)."""
    payload = execution_input(pipeline.cfg, run_id, model_package_arn=package_arn)
    return pipeline.sfn.start_execution(stateMachineArn=pipeline.arn, name=run_id, input=json.dumps(payload))[
        "executionArn"
    ]


def trained(pipeline: Pipeline, run_id: str, rmse: float) -> dict[str, Any]:
    reports(pipeline, run_id, rmse)
    return output(pipeline.run(run_id))


def test_a_registered_version_is_deployed_without_training_gate_or_registration(pipeline: Pipeline) -> None:
    first = trained(pipeline, "run1", 610.0)
    assert first["Release"]["Source"] == "trained" and first["Release"]["Version"] == "1"
    trained(pipeline, "run2", 605.0)
    registry.approve(pipeline.sagemaker, first["ModelPackageArn"], "smoke ok", regression_pct=5.0)

    arn = start_with_version(pipeline, "run3", first["ModelPackageArn"])
    out = output(pipeline.wait(arn))
    states = entered(pipeline, arn)
    assert TRAINING not in pipeline.resources_called(arn)
    for skipped in (names.CHECK_RUN_INPUT, names.TRAIN_MODEL, names.QUALITY_GATE, names.REGISTER_MODEL):
        assert skipped not in states
    assert states[:3] == [
        names.REGISTERED_VERSION_GIVEN,
        names.READ_REGISTERED_VERSION,
        names.REGISTERED_VERSION_COMPLETE,
    ]
    # The report says what was deployed: version, training job, commit, metric.
    release = out["Release"]
    job1 = pipeline.input("run1")["TrainingJobName"]
    assert (release["Source"], release["Version"], release["ApprovalStatus"]) == ("registry", "1", "Approved")
    assert (release["TrainingJob"], release["Commit"], release["ValidationRmse"]) == (job1, COMMIT, "610.0")
    assert out["TrainingJobName"] == job1 and out["ModelPackageArn"] == first["ModelPackageArn"]
    assert out["ModelArtifacts"] == first["ModelArtifacts"]
    assert out["QualityGate"]["Value"] == 610.0 and "Skipped" in out["QualityGate"]
    # Nothing new in the registry; the endpoint serves version 1 again, on this run's config.
    assert len(versions(pipeline)) == 2
    lineage = registry.live_lineage(pipeline.sagemaker, pipeline.cfg.endpoint.name)
    assert lineage.config == pipeline.config_name("run3")
    assert lineage.package is not None and lineage.package.arn == first["ModelPackageArn"]


def test_a_rejected_version_is_refused_and_the_endpoint_is_unchanged(pipeline: Pipeline) -> None:
    first = trained(pipeline, "run1", 610.0)
    registry.reject(pipeline.sagemaker, first["ModelPackageArn"], "smoke failed")
    before = pipeline.endpoint()["EndpointConfigName"]
    arn = start_with_version(pipeline, "run2", first["ModelPackageArn"])
    error, cause = failure(pipeline.wait(arn))
    assert error == "Pipeline.VersionNotDeployable"
    assert cause.startswith(f"Model package {first['ModelPackageArn']} is Rejected")
    assert names.SAVE_MODEL not in entered(pipeline, arn)
    assert pipeline.endpoint()["EndpointConfigName"] == before


def test_a_version_this_pipeline_did_not_write_is_refused(pipeline: Pipeline) -> None:
    trained(pipeline, "run1", 610.0)
    foreign = pipeline.sagemaker.create_model_package(
        ModelPackageGroupName=pipeline.cfg.registry_group,
        InferenceSpecification={
            "Containers": [{"Image": pipeline.cfg.training_image, "ModelDataUrl": "s3://elsewhere/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    arn = start_with_version(pipeline, "run2", foreign)
    error, cause = failure(pipeline.wait(arn))
    assert error == "Pipeline.VersionNotDeployable"
    assert f"Model package {foreign} was not registered by this pipeline" in cause
    assert names.SAVE_MODEL not in entered(pipeline, arn)


def test_a_missing_version_fails_in_its_stage(pipeline: Pipeline) -> None:
    missing = f"arn:aws:sagemaker:{pipeline.cfg.account.region}:123456789012:model-package/big-mart-staging/9"
    error, cause = failure(pipeline.wait(start_with_version(pipeline, "run1", missing)))
    assert error == "Pipeline.DeployRegisteredVersionFailed"
    assert 'Stage "Deploy registered version" failed' in cause
