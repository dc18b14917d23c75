"""The emulator's model registry: groups and versions as AWS keeps them (where moto differs)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.emulator import Emulator
from tests.conftest import REGION

IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def _version(sm: Any, group: str = "g", url: str = "s3://b/registry/job/model.tar.gz", **extra: Any) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


@pytest.fixture
def sm() -> Any:
    with Emulator():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model_package_group(ModelPackageGroupName="g")
        yield client


def test_a_group_name_is_unique(sm: Any) -> None:
    with pytest.raises(ClientError, match="Model Package Group already exists") as caught:
        sm.create_model_package_group(ModelPackageGroupName="g")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_versions_count_up_and_start_pending_manual_approval(sm: Any) -> None:
    first, second = _version(sm), _version(sm)
    assert first.endswith(":model-package/g/1") and second.endswith(":model-package/g/2")
    assert sm.describe_model_package(ModelPackageName=first)["ModelApprovalStatus"] == "PendingManualApproval"
    listed = sm.list_model_packages(ModelPackageGroupName="g")["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [1, 2]


def test_update_changes_only_what_it_is_given(sm: Any) -> None:
    arn = _version(sm, CustomerMetadataProperties={"WrittenBy": "big-mart-pipeline", "ValidationRmse": "600"})
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"RegressionBar": "630"})
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="smoke ok")
    desc = sm.describe_model_package(ModelPackageName=arn)
    assert desc["CustomerMetadataProperties"] == {
        "WrittenBy": "big-mart-pipeline",
        "ValidationRmse": "600",
        "RegressionBar": "630",
    }
    assert (desc["ModelApprovalStatus"], desc["ApprovalDescription"]) == ("Approved", "smoke ok")
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataPropertiesToRemove=["RegressionBar"])
    assert "RegressionBar" not in sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]


def test_a_model_needs_the_version_it_is_created_from(sm: Any) -> None:
    missing = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/g/9"
    with pytest.raises(ClientError, match="does not exist"):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": missing})
    arn = _version(sm)
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
    assert sm.describe_model(ModelName="m")["PrimaryContainer"] == {"ModelPackageName": arn}


def test_an_endpoint_serves_the_artifact_of_its_model_s_version() -> None:
    loaded: list[str] = []

    class Host:
        def load(self, endpoint_name: str, model_data_url: str, s3_client: Any) -> None:
            loaded.append(model_data_url)

        def unload(self, endpoint_name: str) -> None: ...

        def invoke(self, endpoint_name: str, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
            return b"1.0", "text/csv"

    with Emulator(model_host=Host()):
        sm = boto3.client("sagemaker", region_name=REGION)
        sm.create_model_package_group(ModelPackageGroupName="g")
        arn = _version(sm, url="s3://b/registry/job-7/model.tar.gz")
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": arn})
        sm.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
            ],
        )
        sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
        while sm.describe_endpoint(EndpointName="e")["EndpointStatus"] == "Creating":
            pass
    assert loaded == ["s3://b/registry/job-7/model.tar.gz"]
