"""Benchmark: one happy-path execution of the generated state machine on the emulator.

Zero durations and the real Wait/Retry intervals scaled to zero; prints the wall time of the
execution (after imports and set-up) and its number of state transitions.
Run: python benchmarks/bench_emulator.py
"""

from __future__ import annotations

import json
import time

import boto3

from pipeline.config import load_config
from pipeline.definition import build_definition, execution_input
from pipeline.emulator import Emulator, Timings
from pipeline.provenance import lineage_input
from pipeline.storage import CHANNEL_FILES

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def main() -> None:
    """Set up, run once, print the figures."""
    cfg = load_config("staging")
    with Emulator(timings=Timings(time_scale=0.0)):
        s3 = boto3.client("s3", region_name=cfg.region, **KEYS)
        s3.create_bucket(Bucket=cfg.bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
        for name in CHANNEL_FILES.values():
            s3.put_object(Bucket=cfg.bucket, Key=f"{cfg.prefix}/data/{name}", Body=b"1,2\n")
        sfn = boto3.client("stepfunctions", region_name=cfg.region, **KEYS)
        arn = sfn.create_state_machine(
            name=cfg.state_machine_name, definition=json.dumps(build_definition(cfg)), roleArn=cfg.workflow_role_arn
        )["stateMachineArn"]
        started = time.perf_counter()
        execution = sfn.start_execution(
            stateMachineArn=arn,
            name="bench",
            input=json.dumps(execution_input(cfg, run_id="bench", lineage=lineage_input(s3, cfg, "0" * 40))),
        )["executionArn"]
        while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            time.sleep(0.005)
        wall = time.perf_counter() - started
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
        print(f"status={desc['status']} wall_time_s={wall:.3f} state_transitions={transitions}")


if __name__ == "__main__":
    main()
