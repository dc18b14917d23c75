"""``python -m pipeline models``: versions with status, metric, commit, data and where they serve."""

from __future__ import annotations

import json

import pytest

from pipeline import registry
from pipeline.cli import main
from pipeline.emulator import TrainingLog
from tests.emulator.conftest import COMMIT, Pipeline

pytestmark = pytest.mark.emulator


def run(pipeline: Pipeline, run_id: str, rmse: float) -> dict:
    job = pipeline.input(run_id)["TrainingJobName"]
    pipeline.emu.faults.add(TrainingLog(lines=[f"[9]\ttrain-rmse:{rmse}\tvalidation-rmse:{rmse}"], job=job))
    desc = pipeline.run(run_id)
    return json.loads(desc["output"]) if desc["status"] == "SUCCEEDED" else {}


def test_versions_are_listed_newest_first_with_where_they_serve(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run(pipeline, "run1", 600.0)
    registry.approve(pipeline.sagemaker, first["ModelPackageArn"], "smoke ok", regression_pct=5.0)
    second = run(pipeline, "run2", 610.0)
    registry.reject(pipeline.sagemaker, second["ModelPackageArn"], "smoke test failed: NaN")
    # A version registered by hand, without this pipeline's metadata.
    pipeline.sagemaker.create_model_package(
        ModelPackageGroupName=pipeline.cfg.registry_group,
        InferenceSpecification={
            "Containers": [{"Image": pipeline.cfg.training_image, "ModelDataUrl": first["ModelArtifacts"]}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )

    assert main(["models", "--env", "staging"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model package group big-mart-staging (staging, eu-west-1): 3 version(s)"
    assert lines[1].split() == ["version", "status", "validation:rmse", "commit", "data", "deployed", "in", "note"]
    rows = [line.split(None, 6) for line in lines[2:5]]
    assert rows[0][:3] == ["3", "PendingManualApproval", "-"] and "not written by this pipeline" in rows[0][-1]
    # Synthetic data is loud: the column in capitals, a note on the row and a line under the table.
    warning = "trained on SYNTHETIC data (generated rows, not real sales)"
    assert rows[1] == ["2", "Rejected", "610.0000", COMMIT[:12], "SYNTHETIC", "staging", warning]
    assert rows[2] == ["1", "Approved", "600.0000", COMMIT[:12], "SYNTHETIC", "-", warning]
    assert (
        lines[5] == f"note: 2 version(s) were {warning}: promote refuses them where allow_synthetic_data = false (prod)"
    )
    assert "1 version(s) were not written by this pipeline" in lines[6] and "never trusted as a champion" in lines[6]


def test_live_follows_each_environment_s_endpoint_to_its_data_and_commit(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(pipeline, "run1", 600.0)
    assert main(["models", "--live"]) == 0
    text = capsys.readouterr().out
    names = pipeline.input("run1")
    version = registry.describe(pipeline.sagemaker, out["ModelPackageArn"])
    assert "[staging]\nendpoint big-mart-staging (InService)\n" in text
    assert f"  -> endpoint config {names['EndpointConfigName']}\n  -> model {names['ModelName']}\n" in text
    assert f"  -> model package {version.arn} (version 1, PendingManualApproval)" in text
    assert f"  -> training job {names['TrainingJobName']} (execution " in text
    assert f"validation:rmse 600.0000; commit {COMMIT}" in text
    assert (
        f"train data s3://{pipeline.cfg.account.bucket}/{pipeline.cfg.account.prefix}/data/train/train.csv (ETag "
        in text
    )
    assert f"sha256 {version.artifact_sha256}" in text and len(version.artifact_sha256) == 64
    assert "[prod]\nendpoint big-mart-prod (absent)\n  !! the endpoint does not exist (first deploy)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--env", "qa"], "environment 'qa' is not defined in"),
        (
            ["--group", "no-such-group"],
            "model package group 'no-such-group' does not exist (existing: big-mart-staging)",
        ),
    ],
)
def test_unknown_environment_or_group_exits_2_naming_what_exists(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(pipeline, "run1", 600.0)
    assert main(["models", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "--env" in argv:
        assert "(defined: prod, staging)" in err
