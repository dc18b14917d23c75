"""Data capture: the endpoint config carries DataCaptureConfig and the emulator writes SageMaker's records."""

from __future__ import annotations

import json

import boto3
import pytest

from pipeline.capture import latest_records, split_s3_uri
from pipeline.config import load_config
from pipeline.errors import ConfigError
from tests.conftest import REGION
from tests.emulator.conftest import Pipeline

pytestmark = pytest.mark.emulator

ROWS = [b"1,2,3\n", b"4,5,6\n", b"7,8,9\n", b"1,1,1\n"]


def invoke_all(pipeline: Pipeline) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    for row in ROWS:
        runtime.invoke_endpoint(EndpointName=pipeline.cfg.endpoint.name, Body=row, ContentType="text/csv")


def test_every_call_is_captured_in_sagemakers_format_and_key_layout(pipeline: Pipeline) -> None:
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    config_name = pipeline.config_name("run1")
    capture = pipeline.sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["DestinationS3Uri"] == pipeline.cfg.capture_uri
    invoke_all(pipeline)
    bucket, prefix = split_s3_uri(pipeline.cfg.capture_uri)
    keys = [item["Key"] for item in pipeline.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert len(keys) == len(ROWS)
    for key in keys:
        # <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
        parts = key.removeprefix(prefix + "/").split("/")
        assert parts[:2] == ["big-mart-staging", "AllTraffic"] and len(parts) == 7, key
        assert [len(p) for p in parts[2:6]] == [4, 2, 2, 2] and parts[6].endswith(".jsonl")
        record = json.loads(pipeline.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert record["eventVersion"] == "0"
        assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}
        endpoint_input = record["captureData"]["endpointInput"]
        assert endpoint_input["mode"] == "INPUT" and endpoint_input["encoding"] == "CSV"
        assert endpoint_input["observedContentType"] == "text/csv"
        assert record["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    newest = latest_records(pipeline.s3, pipeline.cfg, limit=3)
    assert len(newest) == 3
    assert {r.input for r in latest_records(pipeline.s3, pipeline.cfg, limit=10)} == {r.decode() for r in ROWS}


def test_sampling_percentage_captures_that_share_of_the_calls(emulator) -> None:
    pipeline = Pipeline(emulator)
    pipeline.cfg = pipeline.cfg.replace(data_capture_percent=50)
    from pipeline.definition import build_definition

    pipeline.sfn.update_state_machine(
        stateMachineArn=pipeline.arn, definition=json.dumps(build_definition(pipeline.cfg))
    )
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    invoke_all(pipeline)
    assert len(latest_records(pipeline.s3, pipeline.cfg, limit=10)) == 2


def test_capture_off_writes_no_config() -> None:
    from pipeline.definition import build_definition

    config = load_config("staging", environ={}).replace(data_capture=False)
    params = build_definition(config)["States"]["Configure endpoint"]["Parameters"]
    assert "DataCaptureConfig" not in params


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data_capture_percent": 101}, "data_capture_percent = 101 is out of range (must be between 0 and 100)"),
        ({"data_capture_percent": -1}, "data_capture_percent = -1 is out of range (must be between 0 and 100)"),
        (
            {"data_capture_destination": "s3://someone-elses-bucket/capture"},
            "data_capture_destination = 's3://someone-elses-bucket/capture' is outside "
            "s3://big-mart-pipeline-staging-123456789012/sagemaker/big-mart-pipeline/data-capture/",
        ),
    ],
)
def test_bad_capture_settings_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("staging", environ={}).replace(**changes)
    assert any(problem.startswith(message) for problem in caught.value.problems), caught.value.problems


def test_captures_command_prints_the_newest_records_and_refuses_a_bad_limit(pipeline: Pipeline, capsys) -> None:
    from pipeline.cli import main

    assert main(["captures", "--env", "staging"]) == 1  # nothing captured yet
    assert "no captured records" in capsys.readouterr().out
    assert pipeline.run("run1")["status"] == "SUCCEEDED"
    invoke_all(pipeline)
    assert main(["captures", "--env", "staging", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2 newest captured record(s) of big-mart-staging") and len(out) == 3
    assert out[1].split("  ")[2].startswith("1,1,1")  # the last call first
    assert main(["captures", "--limit", "0"]) == 2
    assert "--limit '0' must be a whole number >= 1" in capsys.readouterr().err
