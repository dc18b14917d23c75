"""Fixtures: a live endpoint on the emulator serving a real XGBoost model, and a second model to deploy.

Two models are trained for real (the local S3 trainer inside the emulated CreateTrainingJob) on
Big Mart data prepared and uploaded by the project's own code, so the encoding the smoke test
downloads is the one training used. The endpoint starts on the "old" config; ``deploy()``
updates it to the "new" one, as a successful deploy execution would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pipeline import aws, data
from pipeline.config import PipelineConfig, load_config
from pipeline.emulator import Emulator, Timings
from pipeline.endpoint_wait import Backoff
from pipeline.local_model import LocalModelHost, S3Trainer
from pipeline.rollback import PreviousEndpoint
from pipeline.smoke import Deployment
from pipeline.smoke_checks import Limits, Payloads, Retry, prepare_payloads
from pipeline.storage import download_encoding, upload_prepared
from tests.conftest import REGION
from tests.fake_time import FakeTime

# Wait/Retry intervals of the state machine become milliseconds.
TIME_SCALE = 0.001
ROWS = 1500


class Live:
    """The emulator, its clients, and an endpoint serving the "old" model."""

    def __init__(
        self,
        emu: Emulator,
        cfg: PipelineConfig,
        session: boto3.Session,
        prepared: data.PreparedData,
        models: dict[str, int],
        trained: dict[int, bytes] | None = None,
    ):
        self.emu = emu
        # model.tar.gz bytes by boosting rounds, shared by the tests of a session: a model is
        # trained for real (CreateTrainingJob on the emulator) once, then its artifact is reused.
        self.trained = {} if trained is None else trained
        self.cfg = cfg
        self.name = cfg.endpoint.name
        self.s3 = session.client("s3")
        self.sagemaker = session.client("sagemaker")
        self.sfn = session.client("stepfunctions")
        # As the command does: botocore does not retry, the smoke test does.
        self.runtime = aws.client(session, "sagemaker-runtime", max_attempts=1)
        self.s3.create_bucket(Bucket=cfg.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        upload_prepared(prepared, self.s3, cfg, synthetic=True)
        self.payloads: Payloads = prepare_payloads(download_encoding(self.s3, cfg), rows=8, seed=11)
        self.configs: dict[str, str] = {}
        self.artifacts: dict[str, str] = {}
        self.train_and_configure(models)

    def train_and_configure(self, rounds_by_label: dict[str, int]) -> None:
        """Create each model's Model and EndpointConfig, training it for real (concurrently)
        unless this session already did with the same rounds on the same data."""
        fresh = {label: rounds for label, rounds in rounds_by_label.items() if rounds not in self.trained}
        for label, rounds in fresh.items():
            self.start_training(label, rounds)
        for label, rounds in rounds_by_label.items():
            if label in fresh:
                self.artifacts[label] = self.finish_training(label)
                bucket, key = self.artifacts[label][len("s3://") :].split("/", 1)
                self.trained[rounds] = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            else:
                self.artifacts[label] = self.reuse_artifact(label, self.trained[rounds])
            self.configure(label)

    def reuse_artifact(self, label: str, artifact: bytes) -> str:
        """Put an artifact trained earlier where its training job would have written it."""
        key = f"{self.cfg.account.prefix}/output/{self.name}-{label}-train/output/model.tar.gz"
        self.s3.put_object(Bucket=self.cfg.account.bucket, Key=key, Body=artifact)
        return f"s3://{self.cfg.account.bucket}/{key}"

    def start_training(self, label: str, rounds: int) -> None:
        """CreateTrainingJob for one model on the uploaded Big Mart data."""
        job = f"{self.name}-{label}-train"
        self.sagemaker.create_training_job(
            TrainingJobName=job,
            HyperParameters={"objective": "reg:squarederror", "num_round": str(rounds), "max_depth": "4"},
            AlgorithmSpecification={"TrainingImage": self.cfg.training_image, "TrainingInputMode": "File"},
            RoleArn=self.cfg.account.sagemaker_role_arn,
            InputDataConfig=[
                {
                    "ChannelName": channel,
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{self.cfg.data_uri}/{channel}/"}
                    },
                }
                for channel in ("train", "validation")
            ],
            OutputDataConfig={"S3OutputPath": self.cfg.output_uri},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )

    def finish_training(self, label: str) -> str:
        """Wait for the model's training job; its artifact's S3 URI."""
        job = f"{self.name}-{label}-train"
        deadline = time.monotonic() + 120  # the trainer thread only: generous, never tight
        while (desc := self.sagemaker.describe_training_job(TrainingJobName=job))["TrainingJobStatus"] == "InProgress":
            assert time.monotonic() < deadline, "training did not finish"
            time.sleep(0.02)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        return desc["ModelArtifacts"]["S3ModelArtifacts"]

    def configure(self, label: str) -> None:
        """Create the model's Model and EndpointConfig on its artifact."""
        model = f"{self.name}-{label}-model"
        self.sagemaker.create_model(
            ModelName=model,
            PrimaryContainer={"Image": self.cfg.training_image, "ModelDataUrl": self.artifacts[label]},
            ExecutionRoleArn=self.cfg.account.sagemaker_role_arn,
        )
        self.configs[label] = f"{self.name}-{label}-config"
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=self.configs[label],
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )

    def create(self, label: str = "old") -> None:
        """CreateEndpoint on a config and wait until it is InService."""
        self.sagemaker.create_endpoint(EndpointName=self.name, EndpointConfigName=self.configs[label])
        self.wait_settled()

    def deploy(self, label: str = "new") -> None:
        """UpdateEndpoint to a config and wait until it settles (a finished deploy)."""
        self.sagemaker.update_endpoint(EndpointName=self.name, EndpointConfigName=self.configs[label])
        self.wait_settled()

    def wait_settled(self) -> dict[str, Any]:
        deadline = time.monotonic() + 10
        while (desc := self.endpoint())["EndpointStatus"] in ("Creating", "Updating", "RollingBack"):
            assert time.monotonic() < deadline, desc
            time.sleep(0.01)
        return desc

    def endpoint(self) -> dict[str, Any]:
        return self.sagemaker.describe_endpoint(EndpointName=self.name)

    def served(self) -> list[float]:
        """The endpoint's predictions for the sample batch, invoked for real."""
        answer = self.runtime.invoke_endpoint(
            EndpointName=self.name, Body=self.payloads.batch, ContentType="text/csv", Accept="text/csv"
        )
        return [float(v) for v in answer["Body"].read().decode().split()]

    def model_predictions(self, label: str) -> list[float]:
        """What the model trained as ``label`` predicts for the sample batch, served aside."""
        bucket, key = self.artifacts[label][len("s3://") :].split("/", 1)
        host = LocalModelHost()
        host.load_artifact("aside", self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        body, _ = host.invoke("aside", self.payloads.batch, "text/csv", "text/csv")
        return [float(v) for v in body.decode().split()]

    def deployment(self, previous: str | None = "old", expected: str = "new") -> Deployment:
        """What a deploy execution from ``previous`` to ``expected`` would report."""
        before = PreviousEndpoint("InService", self.configs[previous]) if previous else PreviousEndpoint("Absent")
        return Deployment(self.name, self.configs[expected], before, "test")

    def limits(self, **changes: Any) -> Limits:
        return Limits.from_config(self.cfg, **{"calls": 6, **changes})

    def create_state_machine(self) -> str:
        """The project's generated state machine on the emulator (for execution-driven tests)."""
        from pipeline.definition import build_definition

        # Fewer boosting rounds than configured: the smoke test needs a real model, not a good one.
        quick = self.cfg.replace(hyperparameters={**self.cfg.training.hyperparameters, "num_round": 10})
        return self.sfn.create_state_machine(
            name=self.cfg.state_machine.name,
            definition=json.dumps(build_definition(quick)),
            roleArn=self.cfg.account.workflow_role_arn,
        )["stateMachineArn"]

    def run_execution(self, machine_arn: str, run_id: str) -> dict[str, Any]:
        """Start one deploy execution and wait for it to end."""
        from pipeline.definition import execution_input
        from pipeline.provenance import lineage_input

        lineage = lineage_input(self.s3, self.cfg, "0123456789abcdef0123456789abcdef01234567")
        arn = self.sfn.start_execution(
            stateMachineArn=machine_arn, name=run_id, input=json.dumps(execution_input(self.cfg, run_id, lineage))
        )["executionArn"]
        deadline = time.monotonic() + 30
        while (desc := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{arn} still RUNNING"
            time.sleep(0.01)
        return desc


@pytest.fixture
def emulator(fake_time: FakeTime) -> Iterator[Emulator]:
    """The emulator with the real trainer and model host, on the test's fake clock: an injected
    latency moves that clock instead of sleeping, so the smoke test measures exactly that."""
    with Emulator(
        trainer=S3Trainer(),
        model_host=LocalModelHost(),
        timings=Timings(time_scale=TIME_SCALE),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    ) as emu:
        yield emu


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    """One session for every test: it caches botocore's service models (~0.1 s per client)."""
    return boto3.Session(region_name=REGION)


@pytest.fixture(scope="session")
def prepared() -> data.PreparedData:
    """Big Mart rows prepared by the project's code (pure computation, so made once)."""
    cfg = load_config("staging")
    return data.prepare(data.generate_raw(ROWS, seed=3), cfg.data.validation_fraction, cfg.data.seed)


@pytest.fixture(scope="session")
def trained() -> dict[int, bytes]:
    """Artifacts of the models trained so far in this session, by boosting rounds."""
    return {}


@pytest.fixture
def live(
    emulator: Emulator, boto_session: boto3.Session, prepared: data.PreparedData, trained: dict[int, bytes]
) -> Live:
    """Data uploaded, "old" and "new" models trained and configured; no endpoint yet."""
    return Live(emulator, load_config("staging"), boto_session, prepared, {"old": 5, "new": 40}, trained)


@pytest.fixture
def live_one(
    emulator: Emulator, boto_session: boto3.Session, prepared: data.PreparedData, trained: dict[int, bytes]
) -> Live:
    """Data uploaded and only the "old" model trained and configured."""
    return Live(emulator, load_config("staging"), boto_session, prepared, {"old": 5}, trained)


@pytest.fixture
def live_data(emulator: Emulator, boto_session: boto3.Session, prepared: data.PreparedData) -> Live:
    """Data uploaded, no model: for tests whose models come from the deploy state machine."""
    return Live(emulator, load_config("staging"), boto_session, prepared, {})


@pytest.fixture
def fake_time() -> FakeTime:
    """A clock and sleep pair that take no real time."""
    return FakeTime()


@pytest.fixture
def quick(fake_time: FakeTime) -> dict[str, Any]:
    """Keyword arguments for smoke_and_rollback that make waits and retries instant."""
    return {
        "wait_seconds": 60.0,
        "backoff": Backoff(first=1.0, factor=2.0, most=8.0),
        "retry": Retry(attempts=3, delay=0.5, sleep=fake_time.sleep),
        "sleep": fake_time.sleep,
        "clock": fake_time.clock,
    }


@pytest.fixture(autouse=True)
def quiet_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """pytest captures at DEBUG, which makes botocore and moto render every request; INFO is enough."""
    import logging

    caplog.set_level(logging.INFO)
