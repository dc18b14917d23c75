"""What a run records of its data and commit, read from S3 as the registry will show it."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from pipeline import data, storage
from pipeline.config import load_config
from pipeline.errors import PipelineError
from pipeline.provenance import lineage_input
from tests.conftest import REGION


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        yield client


def upload(s3, config, *, synthetic: bool, versioned: bool = False) -> None:
    s3.create_bucket(Bucket=config.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=config.account.bucket, VersioningConfiguration={"Status": "Enabled"})
    prepared = data.prepare(data.generate_raw(200, seed=1), config.data.validation_fraction, config.data.seed)
    storage.upload_prepared(prepared, s3, config, synthetic=synthetic)


def test_synthetic_data_in_an_unversioned_bucket(s3) -> None:
    config = load_config("staging", environ={})
    upload(s3, config, synthetic=True)
    lineage = lineage_input(s3, config, " ABCDEF0123456789 ")
    head = s3.head_object(Bucket=config.account.bucket, Key=f"{config.account.prefix}/data/train/train.csv")
    assert lineage["Commit"] == "abcdef0123456789"
    assert lineage["Data"]["Synthetic"] == "true"
    assert lineage["Data"]["train"] == {
        "Uri": f"s3://{config.account.bucket}/{config.account.prefix}/data/train/train.csv",
        "ETag": head["ETag"].strip('"'),  # CustomerMetadataProperties allow no quotes
        "Version": "null",
    }


def test_real_data_in_a_versioned_bucket_records_version_ids(s3) -> None:
    config = load_config("staging", environ={})
    upload(s3, config, synthetic=False, versioned=True)
    lineage = lineage_input(s3, config, None)
    head = s3.head_object(Bucket=config.account.bucket, Key=f"{config.account.prefix}/data/validation/validation.csv")
    assert lineage["Commit"] == "unknown" and lineage["Data"]["Synthetic"] == "false"
    assert lineage["Data"]["validation"]["Version"] == head["VersionId"] != "null"


def test_data_uploaded_by_hand_is_unknown_and_missing_data_is_an_error(s3) -> None:
    config = load_config("staging", environ={})
    s3.create_bucket(Bucket=config.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    with pytest.raises(PipelineError, match=r"train/train.csv \(404\): upload the prepared data first"):
        lineage_input(s3, config, "abc1234")
    for name in storage.CHANNEL_FILES.values():
        s3.put_object(Bucket=config.account.bucket, Key=f"{config.account.prefix}/data/{name}", Body=b"1,2\n")
    assert lineage_input(s3, config, "abc1234")["Data"]["Synthetic"] == "unknown"
