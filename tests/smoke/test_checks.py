"""The pure parts: response parsing, percentiles, limits, execution ARNs and output."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pipeline.config import load_config
from pipeline.errors import PipelineError, UsageError
from pipeline.smoke import check_execution_arn, deployment_from_execution
from pipeline.smoke_checks import InvalidResponse, Limits, parse_predictions, percentile

pytestmark = pytest.mark.smoke

LIMITS = Limits(min_prediction=0.0, max_prediction=100.0, calls=3, p95_ms=50.0)
CSV = "text/csv; charset=utf-8"


def test_one_prediction_per_line_and_the_comma_form_are_read() -> None:
    assert parse_predictions(b"1.5\n2\n3e1\n", CSV, 3, LIMITS) == [1.5, 2.0, 30.0]
    assert parse_predictions(b"1.5,2,3e1", "text/csv", 3, LIMITS) == [1.5, 2.0, 30.0]


@pytest.mark.parametrize(
    ("body", "content_type", "rows", "message"),
    [
        (b'{"predictions": [{"score": 1.0}]}', "application/json", 1, "content type 'application/json'"),
        (b"1.0\n", "text/html; charset=utf-8", 1, "content type"),
        (b"", CSV, 1, "0 predictions for 1 rows"),
        (b"1\n2\n", CSV, 1, "2 predictions for 1 rows"),
        (b"inf\n", CSV, 1, "prediction inf is not finite"),
        (b"-0.5\n", CSV, 1, "prediction -0.5 outside the plausible range [0, 100]"),
        (b"100.01\n", CSV, 1, "prediction 100.01 outside the plausible range"),
        (b"<html>oops</html>\n", CSV, 1, "not a number: '<html>oops</html>'"),
    ],
)
def test_bad_responses_are_named(body: bytes, content_type: str, rows: int, message: str) -> None:
    with pytest.raises(InvalidResponse, match="^" + re.escape(message)):
        parse_predictions(body, content_type, rows, LIMITS)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (50.0, 95.0, 100.0)
    assert percentile([7.0], 0.95) == 7.0


def test_limits_come_from_the_configuration_with_overrides() -> None:
    cfg = load_config("prod", environ={}).replace(smoke_min_prediction=-10.0)
    assert Limits.from_config(cfg) == Limits(-10.0, 20000.0, 20, 500.0, None)
    assert Limits.from_config(cfg, calls=3, p95_ms=None, p50_ms=80.0) == Limits(-10.0, 20000.0, 3, 500.0, 80.0)
    assert Limits.from_config(cfg.replace(smoke_p50_ms=40.0)).p50_ms == 40.0


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:states:eu-west-1:123456789012:execution:big-mart-staging:abc123def456-1",
        "arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:big-mart:run",
        "arn:aws:states:us-east-1:123456789012:express:big-mart:run:0e3d1b2c-aaaa",
    ],
)
def test_execution_arns_are_accepted(arn: str) -> None:
    assert check_execution_arn(arn) == arn


class FakeSfn:
    """describe_execution returning a fixed answer (the parsing is what is under test)."""

    def __init__(self, answer: dict[str, Any]):
        self.answer = answer

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"executionArn": executionArn, **self.answer}


ARN = "arn:aws:states:eu-west-1:123456789012:execution:big-mart-staging:run2"


def test_execution_output_gives_the_deployment() -> None:
    output = {
        "EndpointName": "big-mart-staging",
        "EndpointConfigName": "big-mart-staging-run2-config",
        "ModelName": "m",
        "TrainingJobName": "t",
        "ModelArtifacts": "s3://b/k",
        "PreviousEndpoint": {"EndpointStatus": "InService", "EndpointConfigName": "big-mart-staging-run1-config"},
    }
    deployment = deployment_from_execution(FakeSfn({"status": "SUCCEEDED", "output": json.dumps(output)}), ARN)
    assert (deployment.endpoint_name, deployment.expected_config) == (
        "big-mart-staging",
        "big-mart-staging-run2-config",
    )
    assert deployment.previous is not None and deployment.previous.restorable
    assert deployment.previous.config_name == "big-mart-staging-run1-config"


def test_output_that_is_not_a_deploy_is_bad_input() -> None:
    with pytest.raises(UsageError, match=r"has no deploy output .*PreviousEndpoint"):
        deployment_from_execution(FakeSfn({"status": "SUCCEEDED", "output": '{"EndpointName": "x"}'}), ARN)


def test_running_execution_is_a_failure_not_bad_input() -> None:
    with pytest.raises(PipelineError, match="is RUNNING; only a SUCCEEDED deploy") as caught:
        deployment_from_execution(FakeSfn({"status": "RUNNING"}), ARN)
    assert caught.value.exit_code == 1
