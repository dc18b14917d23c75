"""teardown also deletes the endpoint's autoscaling, alarms and data-capture objects, and only those."""

from __future__ import annotations

import boto3
import pytest

from pipeline.alarms import ensure_alarms
from pipeline.autoscaling import NAMESPACE, ensure_autoscaling
from pipeline.cli import main
from pipeline.emulator import Emulator, Timings
from tests.conftest import REGION
from tests.emulator.conftest import TIME_SCALE, Pipeline

pytestmark = pytest.mark.emulator


def test_teardown_deregisters_autoscaling_and_deletes_alarms_and_captures(capsys: pytest.CaptureFixture[str]) -> None:
    with Emulator(timings=Timings(time_scale=TIME_SCALE)) as emu:
        staging = Pipeline(emu)
        cfg = staging.cfg
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        aas = boto3.client("application-autoscaling", region_name=REGION)
        ensure_alarms(cfg, cloudwatch, out=lambda _: None)
        # Someone else's alarm on the same endpoint (e.g. named in rollback_alarms) stays.
        cloudwatch.put_metric_alarm(
            AlarmName="big-mart-staging-custom",
            MetricName="Invocations",
            Namespace="AWS/SageMaker",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
        assert staging.run("run1")["status"] == "SUCCEEDED"
        ensure_autoscaling(cfg.replace(autoscaling=True), aas)
        bucket, prefix = cfg.account.bucket, cfg.account.prefix
        capture = f"{prefix}/data-capture/big-mart-staging/AllTraffic/2026/12/02/04/capture.jsonl"
        other = f"{prefix}/data-capture/big-mart-prod/AllTraffic/2026/12/02/04/capture.jsonl"
        for key in (capture, other):
            staging.s3.put_object(Bucket=bucket, Key=key, Body=b"{}\n")

        assert main(["teardown"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "would delete scalable-target endpoint/big-mart-staging/variant/AllTraffic"
        assert "would delete alarm big-mart-staging-invocation-5xx-errors" in lines
        assert "would delete alarm big-mart-staging-model-latency" in lines
        assert f"would delete capture-objects s3://{bucket}/{prefix}/data-capture/big-mart-staging/" in lines
        assert not any("big-mart-staging-custom" in line for line in lines)
        assert len(cloudwatch.describe_alarms()["MetricAlarms"]) == 3  # the dry run deleted nothing

        assert main(["teardown", "--execute"]) == 0
        out = capsys.readouterr().out
        assert "deleting scalable-target endpoint/big-mart-staging/variant/AllTraffic" in out
        assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []
        assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []
        assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["big-mart-staging-custom"]
        left = staging.s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/data-capture/").get("Contents", [])
        assert [item["Key"] for item in left] == [other]
