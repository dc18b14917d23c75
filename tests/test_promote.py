"""``promote --from staging --to prod``: the byte-identical artifact staging approved, no training in prod.

A real model is trained once (staging, on the emulator's local trainer) and served by the
emulated endpoints, so both environments' smoke tests really run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline import data, registry, storage
from pipeline.cli import main
from pipeline.config import PipelineConfig, load_config
from pipeline.deploy import deploy_state_machine
from pipeline.emulator import Emulator, Timings
from pipeline.emulator.restore import replay
from pipeline.emulator.snapshot import Services, capture
from pipeline.follow import follow_execution
from pipeline.local_model import LocalModelHost, S3Trainer
from pipeline.provenance import lineage_input
from pipeline.run import start_execution
from pipeline.smoke import smoke_deployment
from tests.conftest import REGION, fake_aws_environment

pytestmark = pytest.mark.emulator

COMMIT = "0123456789abcdef0123456789abcdef01234567"
FAST = {"endpoint_poll_seconds": 1, "retry_interval_seconds": 1, "smoke_wait_seconds": 60}
FAST_FLAGS = [arg for key, value in FAST.items() for arg in ("--set", f"{key}={value}")]
PROMOTE = ["promote", "--from", "staging", "--to", "prod", "--commit", COMMIT, "--poll-seconds", "0.05", *FAST_FLAGS]


class Envs:
    """Staging with one trained, deployed version; prod deployed, empty."""

    def __init__(self, emu: Emulator) -> None:
        from pipeline.clients import Clients

        self.emu = emu
        staging = load_config("staging", environ={})
        rounds = {**staging.training.hyperparameters, "num_round": 20}
        self.staging: PipelineConfig = staging.replace(**FAST, hyperparameters=rounds, max_validation_rmse=5000.0)
        self.prod: PipelineConfig = load_config("prod", environ={}).replace(**FAST)
        self.clients = Clients(session=boto3.Session(region_name=REGION))
        self.s3, self.sagemaker = self.clients("s3"), self.clients("sagemaker")
        self.sfn = self.clients("stepfunctions")
        self.version_arn = ""

    def train(self) -> None:
        """Both environments' buckets and state machines, then one run in staging (trains, deploys)."""
        location = {"LocationConstraint": REGION}
        for cfg in (self.staging, self.prod):
            self.s3.create_bucket(Bucket=cfg.account.bucket, CreateBucketConfiguration=location)
            deploy_state_machine(cfg, self.sfn, commit_sha=COMMIT, out=lambda _: None)
        prepared = data.prepare(data.generate_raw(600, seed=3), 0.2, 42)
        storage.upload_prepared(prepared, self.s3, self.staging, synthetic=True)
        arn = start_execution(
            self.staging,
            self.sfn,
            run_id="staging-1",
            target_arn=f"{self.state_machine(self.staging)}:live",
            name="staging-1",
            lineage=lineage_input(self.s3, self.staging, COMMIT),
            out=lambda _: None,
        )
        run = follow_execution(self.sfn, arn, timeout_seconds=120, poll_seconds=0.05, out=lambda _: None)
        assert run.succeeded, (run.error, run.cause)
        self.version_arn = str((run.output or {})["ModelPackageArn"])

    def services(self) -> Services:
        return Services(
            s3=self.s3,
            sagemaker=self.sagemaker,
            sfn=self.sfn,
            cloudwatch=self.clients("cloudwatch"),
            autoscaling=self.clients("application-autoscaling"),
        )

    def state_machine(self, cfg: PipelineConfig) -> str:
        return f"arn:aws:states:{REGION}:123456789012:stateMachine:{cfg.state_machine.name}"

    def approve_in_staging(self) -> None:
        """The smoke test of the version staging's endpoint serves, which approves it."""
        outcome = smoke_deployment(self.staging, self.clients, model_package_arn=self.version_arn)
        assert outcome.passed and outcome.approval is not None and outcome.approval.ok

    def version(self) -> registry.ModelVersion:
        return registry.describe(self.sagemaker, self.version_arn)

    def trainings(self) -> int:
        return len(self.sagemaker.list_training_jobs()["TrainingJobSummaries"])

    def prod_writes(self) -> dict[str, Any]:
        """What exists in prod: its group, objects and endpoint (all empty before a promotion)."""
        groups = registry.group_names(self.sagemaker)
        objects = self.s3.list_objects_v2(Bucket=self.prod.account.bucket).get("KeyCount", 0)
        endpoints = [e["EndpointName"] for e in self.sagemaker.list_endpoints()["Endpoints"]]
        return {
            "group": self.prod.registry_group in groups,
            "objects": objects,
            "endpoint": "big-mart-prod" in endpoints,
        }


class Blobs(dict[str, bytes]):
    """Object bodies of a snapshot, in memory (pipeline.emulator.snapshot.BlobStore)."""

    def put(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        self[digest] = body
        return digest

    def get(self, digest: str) -> bytes:  # type: ignore[override]
        return self[digest]


def emulator() -> Emulator:
    return Emulator(trainer=S3Trainer(), model_host=LocalModelHost(), timings=Timings(time_scale=0.001))


@pytest.fixture(scope="module")
def trained(pipeline_cache_dir: Path) -> tuple[dict[str, Any], Blobs, str]:
    """Staging trained and deployed once for the module, as a snapshot of the emulator's
    resources (pipeline.emulator.snapshot) and the trained version's ARN."""
    blobs = Blobs()
    with pytest.MonkeyPatch.context() as patch, emulator() as emu:
        fake_aws_environment(patch, pipeline_cache_dir)
        envs = Envs(emu)
        envs.train()
        return capture(envs.services(), blobs), blobs, envs.version_arn


@pytest.fixture
def envs(trained: tuple[dict[str, Any], Blobs, str]) -> Iterator[Envs]:
    """A new emulator holding what the trained one held: each test changes its own copy.

    The replay creates every resource again through the API (the endpoint loads the trained
    artifact); training jobs and executions are not kept, which nothing here reads.
    """
    document, blobs, version_arn = trained
    with emulator() as emu:
        envs = Envs(emu)
        replay(document, envs.services(), blobs)
        envs.version_arn = version_arn
        yield envs


NOTHING_IN_PROD = {"group": False, "objects": 0, "endpoint": False}


def test_prod_serves_the_byte_identical_artifact_staging_approved_without_training(
    envs: Envs, capsys: pytest.CaptureFixture[str]
) -> None:
    envs.approve_in_staging()
    staging = envs.version()
    trainings = envs.trainings()

    assert main([*PROMOTE, "--set", "allow_synthetic_data=true"]) == 0
    out = capsys.readouterr().out
    assert f"promoting big-mart-staging version 1 (validation:rmse {staging.metric:.4f}" in out
    assert "SHA-256" in out and "verified" in out
    assert envs.trainings() == trainings  # no CreateTrainingJob in prod

    lineage = registry.live_lineage(envs.sagemaker, envs.prod.endpoint.name)
    assert lineage.package is not None
    prod = lineage.package
    assert (prod.group, prod.status) == ("big-mart-prod", "Approved")
    assert prod.metadata["PromotedFrom"] == staging.arn and prod.metadata["Environment"] == "prod"
    assert prod.artifact_sha256 == staging.artifact_sha256 != ""
    assert prod.model_data_url.startswith(f"s3://{envs.prod.account.bucket}/")

    def body(uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return envs.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    assert body(prod.model_data_url) == body(staging.model_data_url)
    assert hashlib.sha256(body(prod.model_data_url)).hexdigest() == staging.artifact_sha256


def test_a_pending_version_is_refused_before_any_write(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*PROMOTE, "--set", "allow_synthetic_data=true"]) == 2
    err = capsys.readouterr().err
    assert "version 1 of big-mart-staging is PendingManualApproval, not Approved" in err
    assert "python -m pipeline smoke --env staging" in err
    assert envs.prod_writes() == NOTHING_IN_PROD


def test_a_rejected_version_is_refused(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    registry.reject(envs.sagemaker, envs.version_arn, "smoke failed")
    assert main([*PROMOTE, "--version", "1", "--set", "allow_synthetic_data=true"]) == 2
    assert "is Rejected, not Approved" in capsys.readouterr().err
    assert envs.prod_writes() == NOTHING_IN_PROD


def test_synthetic_data_is_refused_for_prod(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    envs.approve_in_staging()
    assert main(PROMOTE) == 2
    err = capsys.readouterr().err
    assert "was trained on synthetic data and prod does not allow it (allow_synthetic_data = false)" in err
    assert envs.prod_writes() == NOTHING_IN_PROD


def test_a_changed_artifact_is_refused(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    envs.approve_in_staging()
    bucket, _, key = envs.version().model_data_url.removeprefix("s3://").partition("/")
    envs.s3.put_object(Bucket=bucket, Key=key, Body=b"not the model", ChecksumAlgorithm="SHA256")
    assert main([*PROMOTE, "--set", "allow_synthetic_data=true"]) == 2
    err = capsys.readouterr().err
    assert "changed since registration: its SHA-256 is " + hashlib.sha256(b"not the model").hexdigest() in err
    assert envs.prod_writes() == NOTHING_IN_PROD


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("9", "model package version 9 does not exist in big-mart-staging"),
        (
            f"arn:aws:sagemaker:{REGION}:123456789012:model-package/other-group/1",
            "does not exist in big-mart-staging",
        ),
        ("x", "model package version 'x' must be a whole number >= 1"),
    ],
)
def test_missing_or_malformed_versions_are_refused(
    envs: Envs, version: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*PROMOTE, "--version", version, "--set", "allow_synthetic_data=true"]) == 2
    assert message in capsys.readouterr().err
    assert envs.prod_writes() == NOTHING_IN_PROD


def test_a_version_of_another_group_is_refused(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    envs.sagemaker.create_model_package_group(ModelPackageGroupName="other-group")
    other = envs.sagemaker.create_model_package(
        ModelPackageGroupName="other-group",
        InferenceSpecification={
            "Containers": [{"Image": envs.staging.training_image, "ModelDataUrl": envs.version().model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    assert main([*PROMOTE, "--version", other, "--set", "allow_synthetic_data=true"]) == 2
    assert "is in group 'other-group', not staging's 'big-mart-staging'" in capsys.readouterr().err


def test_promoting_into_the_same_environment_is_refused(envs: Envs, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["promote", "--from", "staging", "--to", "staging", "--commit", COMMIT]) == 2
    assert "--from and --to are both 'staging'" in capsys.readouterr().err
