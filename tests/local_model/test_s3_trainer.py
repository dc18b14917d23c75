"""S3Trainer against moto's S3, and LocalModelHost.load from the artifact it uploads."""

from __future__ import annotations

import io
import tarfile
import types
from collections.abc import Callable
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb
from moto import mock_aws

from pipeline.local_model import LocalModelHost, ModelLoadError, S3Trainer
from pipeline.local_model.artifact import MODEL_NAME
from pipeline.local_model.exceptions import AlgorithmError
from pipeline.local_model.images import check_training_image, installed_xgboost
from tests.local_model.conftest import make_rows

REGION = "eu-west-1"
BUCKET = "big-mart-artifacts"
IMAGE = f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:3.0-5"
Params = Callable[..., dict[str, str]]


def _csv(x: np.ndarray, y: np.ndarray | None = None) -> bytes:
    table = x if y is None else np.column_stack([y, x])
    return "\n".join(",".join(repr(float(v)) for v in row) for row in table).encode() + b"\n"


def _request(params: dict[str, str], **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "big-mart-train-1",
        "HyperParameters": params,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": name,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/data/{name}",
                    }
                },
            }
            for name in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/"},
    }
    request.update(overrides)
    return request


@pytest.fixture
def s3() -> Any:
    """A moto S3 client with the bucket and train (two objects) / validation data uploaded."""
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        x, y = make_rows(500, seed=7)
        client.put_object(Bucket=BUCKET, Key="data/train/part-0.csv", Body=_csv(x[:200], y[:200]))
        client.put_object(
            Bucket=BUCKET,
            Key="data/train/2024/part-1.csv",
            Body=_csv(x[200:400], y[200:400]),
        )
        client.put_object(Bucket=BUCKET, Key="data/train/", Body=b"")  # console folder marker
        client.put_object(
            Bucket=BUCKET,
            Key="data/validation/validation.csv",
            Body=_csv(x[400:], y[400:]),
        )
        yield client


def test_trains_uploads_and_serves(s3: Any, hyperparameters: Params, emulator_errors: types.SimpleNamespace) -> None:
    lines: list[str] = []
    result = S3Trainer(log=lines.append)(_request(hyperparameters()), s3)
    assert result.train_rows == 400 and result.validation_rows == 100
    assert lines[-1] == f"Uploaded s3://{BUCKET}/models/big-mart-train-1/output/model.tar.gz"
    key = "models/big-mart-train-1/output/model.tar.gz"
    artifact = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        assert tar.getnames() == [MODEL_NAME]
        member = tar.extractfile(MODEL_NAME)
        assert member is not None
        booster = xgb.Booster(model_file=bytearray(member.read()))

    host = LocalModelHost()
    host.load("ep", f"s3://{BUCKET}/{key}", s3)
    x, _ = make_rows(10, seed=123)
    body, _ = host.invoke("ep", _csv(x), "text/csv", "text/csv")
    np.testing.assert_array_equal(
        np.array(body.decode().split(), dtype=np.float32),
        booster.predict(xgb.DMatrix(x)),
    )


def test_output_path_without_trailing_slash(s3: Any, hyperparameters: Params) -> None:
    S3Trainer()(
        _request(
            hyperparameters(num_round="2"),
            OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ),
        s3,
    )
    s3.head_object(Bucket=BUCKET, Key="out/big-mart-train-1/output/model.tar.gz")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"HyperParameters": {"max_depth": "6"}},
            "AlgorithmError: Missing required hyperparameter: num_round",
        ),
        (
            {"HyperParameters": {"num_round": "10", "eta": "2"}},
            "AlgorithmError: Hyperparameter eta: 2.0 is not in [0, 1]",
        ),
        (
            {"AlgorithmSpecification": {"TrainingImage": IMAGE.replace("3.0-5", "1.7-1")}},
            (
                f"AlgorithmError: Training image {IMAGE.replace('3.0-5', '1.7-1')} runs xgboost 1.7.4 "
                f"but the local algorithm has xgboost {installed_xgboost()} (image tag 3.0-5)"
            ),
        ),
    ],
)
def test_failures_raise_training_failed(
    s3: Any,
    hyperparameters: Params,
    emulator_errors: types.SimpleNamespace,
    change: dict[str, Any],
    reason: str,
) -> None:
    request = _request(hyperparameters())
    request.update(change)
    with pytest.raises(emulator_errors.TrainingFailed) as caught:
        S3Trainer()(request, s3)
    assert caught.value.reason.startswith(reason)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")


def test_empty_prefix_fails(s3: Any, hyperparameters: Params, emulator_errors: types.SimpleNamespace) -> None:
    request = _request(hyperparameters())
    request["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{BUCKET}/data/nothing"
    with pytest.raises(
        emulator_errors.TrainingFailed,
        match=r"no S3 objects found under S3 URL s3://big-mart-artifacts/data/nothing",
    ):
        S3Trainer()(request, s3)


def test_missing_bucket_is_a_client_error(
    s3: Any, hyperparameters: Params, emulator_errors: types.SimpleNamespace
) -> None:
    request = _request(hyperparameters())
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://no-such-bucket/train"
    with pytest.raises(emulator_errors.TrainingFailed) as caught:
        S3Trainer()(request, s3)
    assert caught.value.reason.startswith("ClientError: ") and "NoSuchBucket" in caught.value.reason


def test_non_numeric_training_data_fails(
    s3: Any, hyperparameters: Params, emulator_errors: types.SimpleNamespace
) -> None:
    s3.put_object(
        Bucket=BUCKET,
        Key="data/train/raw.csv",
        Body=b"Item_Identifier,Item_Weight\nFDA15,9.3\n",
    )
    with pytest.raises(
        emulator_errors.TrainingFailed,
        match=r"raw.csv, line 1, column 1: 'Item_Identifier' is not a number",
    ):
        S3Trainer()(_request(hyperparameters()), s3)


def test_host_load_errors(s3: Any) -> None:
    host = LocalModelHost()
    with pytest.raises(
        ModelLoadError,
        match=r"Cannot download s3://big-mart-artifacts/missing/model.tar.gz",
    ):
        host.load("ep", f"s3://{BUCKET}/missing/model.tar.gz", s3)
    with pytest.raises(ModelLoadError, match=r"is not an s3://bucket/key URL"):
        host.load("ep", "https://example.com/model.tar.gz", s3)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            "123.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1",
            "is not the SageMaker built-in XGBoost algorithm",
        ),
        (
            "123.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:2.9-9",
            "tag '2.9-9' of .* has no known xgboost version",
        ),
        (
            "123.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost@sha256:abc",
            "is pinned by digest",
        ),
    ],
)
def test_image_check_messages(image: str, message: str) -> None:
    with pytest.raises(AlgorithmError, match=message):
        check_training_image(image)


def test_image_tags_with_suffixes_are_recognised() -> None:
    assert check_training_image(IMAGE) == "3.0-5"
    assert check_training_image(IMAGE + "-cpu-py3") == "3.0-5"
