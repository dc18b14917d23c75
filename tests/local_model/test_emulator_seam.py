"""The emulator's seams with the real model: a training job and an endpoint through boto3."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb

from pipeline.local_model import LocalModelHost, S3Trainer
from pipeline.local_model.artifact import MODEL_NAME
from pipeline.wait import Backoff, wait_until
from tests.local_model.conftest import make_rows

emulator = pytest.importorskip("pipeline.emulator", reason="the emulator is another engineer's package")

REGION = "eu-west-1"
BUCKET = "seam-bucket"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"
IMAGE = f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:3.0-5"


def _csv(table: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in table).encode() + b"\n"


def _wait(describe: Callable[[], dict[str, Any]], key: str, done: tuple[str, ...]) -> dict[str, Any]:
    # The emulator's trainer and host run on real threads, so real time is the clock here; the
    # bound is one no load reaches, and nothing asserts how long the wait took.
    waited = wait_until(describe, lambda answer: answer[key] in done, backoff=Backoff.every(0.05), timeout=60)
    if waited.timed_out:
        raise AssertionError(f"{key} still {waited.value[key]} after 60 s")
    return waited.value


def _train(name: str, params: dict[str, str], rows: int, seed: int) -> tuple[Any, Any, dict[str, Any], Any, Any]:
    """Upload ``rows`` rows, run one training job to its end; return (s3, sagemaker, job, x, y)."""
    s3 = boto3.client("s3", region_name=REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    x, y = make_rows(rows, seed=seed)
    s3.put_object(Bucket=BUCKET, Key="train/train.csv", Body=_csv(np.column_stack([y, x])))
    sagemaker.create_training_job(**_training_request(name, params))
    job = _wait(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus", ("Completed", "Failed")
    )
    return s3, sagemaker, job, x, y


def _booster(s3: Any) -> xgb.Booster:
    """The booster inside the seam training job's artifact."""
    body = s3.get_object(Bucket=BUCKET, Key="models/seam-train/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile(MODEL_NAME)
        assert member is not None
        return xgb.Booster(model_file=bytearray(member.read()))


def _training_request(name: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "HyperParameters": params,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def test_training_job_and_endpoint_use_the_real_model() -> None:
    with emulator.Emulator(trainer=S3Trainer(), model_host=LocalModelHost()):
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        s3, sagemaker, job, x, y = _train("seam-train", {"num_round": "20", "max_depth": "3"}, rows=300, seed=21)
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        model_url = job["ModelArtifacts"]["S3ModelArtifacts"]
        assert model_url == f"s3://{BUCKET}/models/seam-train/output/model.tar.gz"
        # The final metric is the last round's, as the algorithm printed it (5 decimals).
        (metric,) = job["FinalMetricDataList"]
        assert metric["MetricName"] == "train:rmse"
        booster_rmse = trained_rmse(s3, x, y)
        assert metric["Value"] == pytest.approx(booster_rmse, abs=1e-4)

        sagemaker.create_model(
            ModelName="seam-model",
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url},
            ExecutionRoleArn=ROLE,
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="seam-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "seam-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="seam-endpoint", EndpointConfigName="seam-config")
        endpoint = _wait(
            lambda: sagemaker.describe_endpoint(EndpointName="seam-endpoint"), "EndpointStatus", ("InService", "Failed")
        )
        assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")

        rows, _ = make_rows(5, seed=3)
        answer = runtime.invoke_endpoint(EndpointName="seam-endpoint", Body=_csv(rows), ContentType="text/csv")
        served = np.array(answer["Body"].read().decode().split(), dtype=np.float32)

        np.testing.assert_array_equal(served, _booster(s3).predict(xgb.DMatrix(rows)))


def trained_rmse(s3: Any, x: np.ndarray, y: np.ndarray) -> float:
    """RMSE of the trained artifact on its training rows, computed here from the model itself."""
    predictions = _booster(s3).predict(xgb.DMatrix(x)).astype(np.float64)
    return float(np.sqrt(np.mean((predictions - y) ** 2)))


def test_bad_hyperparameter_fails_the_training_job() -> None:
    with emulator.Emulator(trainer=S3Trainer(), model_host=LocalModelHost()):
        _s3, _sagemaker, job, _x, _y = _train("seam-bad", {"num_round": "20", "max_dept": "3"}, rows=50, seed=2)
        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("AlgorithmError: Extraneous hyperparameter found: max_dept")
