"""SageMaker behaviours of the emulator: training jobs, endpoints, invocation."""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.emulator import Emulator, ModelError, Timings, TrainingFailed, TrainingLog
from tests.conftest import REGION
from tests.fake_time import FakeTime

BUCKET = "emulator-tests"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"


def _training_request(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {"num_round": "10"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }


def _clients() -> tuple[Any, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="data/train/part.csv", Body=b"1,2\n")
    return s3, boto3.client("sagemaker", region_name=REGION)


def _wait_job(sm: Any, name: str, timeout: float = 60.0) -> dict[str, Any]:
    # Waits for the trainer thread only (its durations come from the test's clock), so the
    # bound is generous: a loaded machine is slower, never wrong.
    deadline = time.monotonic() + timeout
    while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] in ("InProgress", "Stopping"):
        assert time.monotonic() < deadline, f"{name} never ended"
        time.sleep(0.01)
    return job


def _endpoint_setup(sm: Any, *configs: str) -> None:
    for config in configs:
        sm.create_model(
            ModelName=f"m-{config}",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{config}/model.tar.gz"},
        )
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": f"m-{config}",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )


def _status(sm: Any, name: str = "ep") -> tuple[str, str]:
    ep = sm.describe_endpoint(EndpointName=name)
    return ep["EndpointStatus"], ep["EndpointConfigName"]


def test_training_job_goes_in_progress_then_completed_with_an_artifact() -> None:
    fake = FakeTime()
    with Emulator(timings=Timings(training_seconds=300), clock=fake.clock, sleep=fake.sleep):
        s3, sm = _clients()
        sm.create_training_job(**_training_request("job1"))
        first = sm.describe_training_job(TrainingJobName="job1")
        assert first["TrainingJobStatus"] == "InProgress" and "ModelArtifacts" not in first
        fake.advance(299)
        assert sm.describe_training_job(TrainingJobName="job1")["TrainingJobStatus"] == "InProgress"
        fake.advance(1)
        job = _wait_job(sm, "job1")
        assert job["TrainingJobStatus"] == "Completed" and job["SecondaryStatus"] == "Completed"
        artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
        assert artifact == f"s3://{BUCKET}/output/job1/output/model.tar.gz"
        body = s3.get_object(Bucket=BUCKET, Key="output/job1/output/model.tar.gz")["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as archive:
            assert archive.getnames() == ["xgboost-model"]
        spec = job["AlgorithmSpecification"]
        assert {k: v for k, v in spec.items() if k != "MetricDefinitions"} == _training_request("job1")[
            "AlgorithmSpecification"
        ]
        # A built-in algorithm's image brings its own metric definitions, as DescribeTrainingJob shows.
        rmse = next(d for d in spec["MetricDefinitions"] if d["Name"] == "validation:rmse")
        assert rmse["Regex"].startswith(r".*\[[0-9]+\].*#011validation-rmse:")
        # Without a trainer the placeholder's one evaluation line gives the final metrics.
        metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
        assert metrics == {"train:rmse": 500.0, "validation:rmse": 600.0}
        assert all(m["Timestamp"] == job["TrainingEndTime"] for m in job["FinalMetricDataList"])


def test_final_metrics_are_the_last_values_the_metric_definitions_find_in_the_log() -> None:
    log = [
        "[0]\ttrain-rmse:30.5\tvalidation-rmse:31.25",
        "noise: validation-rmse:1",
        "[1]\ttrain-rmse:20\tvalidation-rmse:2.5e1",
    ]
    with Emulator() as emu:
        emu.faults.add(TrainingLog(lines=log, job="job-log"))
        _, sm = _clients()
        sm.create_training_job(**_training_request("job-log"))
        job = _wait_job(sm, "job-log")
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [
        ("train:rmse", 20.0),
        ("validation:rmse", 25.0),
    ]


def test_a_job_whose_log_matches_no_definition_reports_no_final_metrics() -> None:
    with Emulator() as emu:
        emu.faults.add(TrainingLog(lines=["training finished"]))
        _, sm = _clients()
        sm.create_training_job(**_training_request("job-quiet"))
        job = _wait_job(sm, "job-quiet")
    assert job["TrainingJobStatus"] == "Completed" and "FinalMetricDataList" not in job


def test_trainer_hook_gets_the_request_and_can_fail_the_job() -> None:
    seen: list[dict[str, Any]] = []

    def trainer(request: dict[str, Any], s3_client: Any) -> None:
        seen.append(request)
        raise TrainingFailed("AlgorithmError: no rows")

    with Emulator(trainer=trainer):
        _, sm = _clients()
        sm.create_training_job(**_training_request("job1"))
        job = _wait_job(sm, "job1")
    assert (job["TrainingJobStatus"], job["FailureReason"]) == ("Failed", "AlgorithmError: no rows")
    assert seen[0]["HyperParameters"] == {"num_round": "10"} and seen[0]["TrainingJobName"] == "job1"


def test_training_without_input_data_fails_like_aws() -> None:
    with Emulator():
        s3, sm = _clients()
        s3.delete_object(Bucket=BUCKET, Key="data/train/part.csv")
        sm.create_training_job(**_training_request("job1"))
        job = _wait_job(sm, "job1")
    assert job["TrainingJobStatus"] == "Failed" and "No S3 objects found" in job["FailureReason"]


def test_duplicate_training_job_name_and_stop() -> None:
    fake = FakeTime()
    with Emulator(timings=Timings(training_seconds=5), clock=fake.clock, sleep=fake.sleep):
        _, sm = _clients()
        sm.create_training_job(**_training_request("job1"))
        with pytest.raises(ClientError) as err:
            sm.create_training_job(**_training_request("job1"))
        assert err.value.response["Error"]["Code"] == "ResourceInUse"
        sm.stop_training_job(TrainingJobName="job1")
        assert _wait_job(sm, "job1")["TrainingJobStatus"] == "Stopped"
        assert fake.now == 0  # stopped long before its 5 s were up


def test_create_on_an_existing_name_fails_with_aws_text() -> None:
    with Emulator():
        _, sm = _clients()
        _endpoint_setup(sm, "c1")
        arn = sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")["EndpointArn"]
        with pytest.raises(ClientError) as err:
            sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == f'Cannot create already existing endpoint "{arn}".'


def test_endpoint_statuses_over_time_and_update_keeps_old_config_serving() -> None:
    fake = FakeTime()
    timings = Timings(endpoint_create_seconds=200, endpoint_update_seconds=200)
    with Emulator(timings=timings, clock=fake.clock, sleep=fake.sleep):
        _, sm = _clients()
        _endpoint_setup(sm, "c1", "c2")
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        assert _status(sm) == ("Creating", "c1")
        fake.advance(199)
        assert _status(sm) == ("Creating", "c1")
        fake.advance(1)
        assert _status(sm) == ("InService", "c1")
        for bad, text in (("c1", "already uses"), ("nope", "Could not find endpoint configuration")):
            with pytest.raises(ClientError, match=text):
                sm.update_endpoint(EndpointName="ep", EndpointConfigName=bad)
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
        during = sm.describe_endpoint(EndpointName="ep")
        assert (during["EndpointStatus"], during["EndpointConfigName"]) == ("Updating", "c1")
        assert during["PendingDeploymentSummary"]["EndpointConfigName"] == "c2"
        fake.advance(199)
        assert _status(sm) == ("Updating", "c1")
        fake.advance(1)
        assert _status(sm) == ("InService", "c2")


def test_failed_update_rolls_back_to_the_old_config_while_updating() -> None:
    clock = [0.0]
    with Emulator(timings=Timings(endpoint_update_seconds=10), clock=lambda: clock[0]) as emu:
        _, sm = _clients()
        _endpoint_setup(sm, "c1", "c2", "c3")
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        emu.roll_back_update("", calls=[1])
        emu.roll_back_update("capacity", final_status="UpdateRollbackFailed", calls=[2])
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
        clock[0] += 10
        # Rolling back is still Updating: botocore documents RollingBack only for autoscaling
        # with UpdateEndpointWeightsAndCapacities.
        assert _status(sm) == ("Updating", "c1")
        clock[0] += 10
        ep = sm.describe_endpoint(EndpointName="ep")
        assert (ep["EndpointStatus"], ep["EndpointConfigName"], ep["FailureReason"]) == ("InService", "c1", "")
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c3")
        clock[0] += 10
        assert _status(sm) == ("Updating", "c1")
        clock[0] += 10
        ep = sm.describe_endpoint(EndpointName="ep")
        assert (ep["EndpointStatus"], ep["FailureReason"]) == ("UpdateRollbackFailed", "capacity")


def test_failed_endpoint_can_only_be_deleted() -> None:
    fake = FakeTime()
    with Emulator(timings=Timings(endpoint_delete_seconds=100), clock=fake.clock, sleep=fake.sleep) as emu:
        _, sm = _clients()
        _endpoint_setup(sm, "c1", "c2")
        emu.fail_endpoint_creation("no capacity")
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        ep = sm.describe_endpoint(EndpointName="ep")
        assert (ep["EndpointStatus"], ep["FailureReason"]) == ("Failed", "no capacity")
        with pytest.raises(ClientError, match="Cannot update failed endpoint"):
            sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
        sm.delete_endpoint(EndpointName="ep")
        assert _status(sm)[0] == "Deleting"
        fake.advance(99)
        assert _status(sm)[0] == "Deleting"
        fake.advance(1)
        with pytest.raises(ClientError, match='Could not find endpoint "arn:aws:sagemaker:'):
            sm.describe_endpoint(EndpointName="ep")


class _Host:
    def __init__(self) -> None:
        self.loaded: dict[str, str] = {}

    def load(self, endpoint_name: str, model_data_url: str, s3_client: Any) -> None:
        self.loaded[endpoint_name] = model_data_url

    def unload(self, endpoint_name: str) -> None:
        self.loaded.pop(endpoint_name)

    def invoke(self, endpoint_name: str, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        if body == b"boom":
            raise ModelError(500, "model exploded")
        rows = body.decode().strip().splitlines()
        return "".join(f"{i}.5\n" for i in range(len(rows))).encode(), "text/csv"


def test_invoke_routes_to_the_model_host_and_applies_faults() -> None:
    host = _Host()
    fake = FakeTime()
    with Emulator(model_host=host, clock=fake.clock, sleep=fake.sleep) as emu:
        _, sm = _clients()
        _endpoint_setup(sm, "c1", "c2")
        rt = boto3.client("sagemaker-runtime", region_name=REGION)
        with pytest.raises(ClientError) as err:
            rt.invoke_endpoint(EndpointName="ep", Body=b"1,2", ContentType="text/csv")
        assert err.value.response["Error"]["Message"] == "Endpoint ep of account 123456789012 not found."
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        assert _status(sm)[0] == "InService"
        assert host.loaded == {"ep": f"s3://{BUCKET}/c1/model.tar.gz"}

        def call(body: bytes = b"1,2\n3,4\n") -> bytes:
            return rt.invoke_endpoint(EndpointName="ep", Body=body, ContentType="text/csv")["Body"].read()

        assert call() == b"0.5\n1.5\n"
        with pytest.raises(ClientError) as err:
            call(b"boom")
        assert err.value.response["Error"]["Code"] == "ModelError"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
        emu.misbehave_on_invoke("nan", calls=[1])
        emu.misbehave_on_invoke("wrong_count", calls=[2])
        emu.misbehave_on_invoke("garbage", calls=[3])
        emu.misbehave_on_invoke("error", status=503, calls=[4])
        emu.misbehave_on_invoke("latency", seconds=0.2, calls=[5])
        assert call() == b"nan\nnan\n"
        assert call() == b"0.5\n"
        assert b"not a prediction" in call()
        with pytest.raises(ClientError, match=r"Received server error \(503\)"):
            call()
        assert call() == b"0.5\n1.5\n" and fake.sleeps == [0.2]  # the latency, on the emulator's clock
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
        assert _status(sm) == ("InService", "c2") and host.loaded["ep"].endswith("/c2/model.tar.gz")
        sm.delete_endpoint(EndpointName="ep")
        assert host.loaded == {}


def test_without_a_host_existing_endpoints_keep_motos_answer() -> None:
    with Emulator():
        _, sm = _clients()
        _endpoint_setup(sm, "c1")
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="c1")
        rt = boto3.client("sagemaker-runtime", region_name=REGION)
        assert rt.invoke_endpoint(EndpointName="ep", Body=b"1")["Body"].read() == b"body"
