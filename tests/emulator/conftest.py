"""Fixtures: an in-process emulator, and the project's state machine deployed on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pipeline.emulator import Emulator, Timings
from pipeline.wait import Backoff, wait_until
from tests.conftest import REGION

COMMIT = "0123456789abcdef0123456789abcdef01234567"
# Wait 30 s and Retry 10 s..300 s of the real definition become 30 ms and 10..300 ms.
TIME_SCALE = 0.001


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An in-process emulator with the test time scale."""
    with Emulator(timings=Timings(time_scale=TIME_SCALE)) as emu:
        yield emu


class Pipeline:
    """The generated state machine created on the emulator, with its training data in S3."""

    def __init__(self, emu: Emulator, environment: str = "staging"):
        from pipeline.config import load_config
        from pipeline.definition import build_definition

        self.emu = emu
        self.cfg = load_config(environment)
        assert self.cfg.account.region == REGION
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.s3.create_bucket(Bucket=self.cfg.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        from pipeline.storage import CHANNEL_FILES, SYNTHETIC_METADATA

        for name in CHANNEL_FILES.values():
            self.s3.put_object(
                Bucket=self.cfg.account.bucket,
                Key=f"{self.cfg.account.prefix}/data/{name}",
                Body=b"1.0,2.0,3.0\n",
                Metadata={SYNTHETIC_METADATA: "true"},
            )
        self.definition = build_definition(self.cfg)
        self.arn = self.sfn.create_state_machine(
            name=self.cfg.state_machine.name,
            definition=json.dumps(self.definition),
            roleArn=self.cfg.account.workflow_role_arn,
        )["stateMachineArn"]

    def input(self, run_id: str) -> dict[str, Any]:
        from pipeline.definition import execution_input
        from pipeline.provenance import lineage_input

        return execution_input(self.cfg, run_id=run_id, lineage=lineage_input(self.s3, self.cfg, COMMIT))

    def start(self, run_id: str, arn: str | None = None) -> str:
        return self.sfn.start_execution(
            stateMachineArn=arn or self.arn, name=run_id, input=json.dumps(self.input(run_id))
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """DescribeExecution once the execution has ended.

        Waits on the status moto's engine keeps on the execution, not by DescribeExecution every
        few milliseconds: each call costs a millisecond or two of the CPU the engine's thread
        runs on, and a test waits through hundreds of them.
        """
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        execution = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][REGION].describe_execution(execution_arn)
        # The engine's thread runs on real time; the bound is a margin no load crosses.
        waited = wait_until(
            lambda: execution.status, lambda status: status != "RUNNING", backoff=Backoff.every(0.005), timeout=timeout
        )
        assert not waited.timed_out, f"{execution_arn} still RUNNING after {timeout} s"
        desc = self.sfn.describe_execution(executionArn=execution_arn)
        assert desc["status"] != "RUNNING", desc
        return desc

    def run(self, run_id: str) -> dict[str, Any]:
        return self.wait(self.start(run_id))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]

    def task_failures(self, execution_arn: str) -> list[dict[str, Any]]:
        return [e["taskFailedEventDetails"] for e in self.history(execution_arn) if e["type"] == "TaskFailed"]

    def resources_called(self, execution_arn: str) -> list[str]:
        return [
            e["taskScheduledEventDetails"]["resource"]
            for e in self.history(execution_arn)
            if e["type"] == "TaskScheduled"
        ]

    def endpoint(self) -> dict[str, Any]:
        return self.sagemaker.describe_endpoint(EndpointName=self.cfg.endpoint.name)

    def config_name(self, run_id: str) -> str:
        return self.input(run_id)["EndpointConfigName"]


@pytest.fixture
def pipeline(emulator: Emulator) -> Pipeline:
    """The project's generated state machine, created on the in-process emulator."""
    return Pipeline(emulator)


@pytest.fixture(autouse=True)
def quiet_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """pytest captures at DEBUG, which makes botocore and moto render every request; INFO is enough."""
    import logging

    caplog.set_level(logging.INFO)
