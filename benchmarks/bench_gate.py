"""Benchmark: what the quality gate and the model registry add to one execution on the emulator.

Runs the generated state machine on the emulator (zero durations, Wait/Retry scaled to zero, the
placeholder trainer) ``REPEATS`` times for a first deploy (no endpoint: create) and an update
(endpoint serving a registered champion), and prints, per case, the median wall time of the
execution, its state transitions, and the transitions and milliseconds spent in the gate and
registry states. Runs on code without the gate too (it then reports none), which gives the
"before" figures: ``PYTHONPATH=<checkout before> python benchmarks/bench_gate.py``.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import boto3

from pipeline.config import load_config
from pipeline.definition import build_definition, execution_input
from pipeline.emulator import Emulator, Timings

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REPEATS = 5
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def gate_state_names() -> set[str]:
    """The names of the gate's and the registry's states (none before they existed)."""
    from pipeline.definition import state_names as names

    return set(getattr(names, "GATE_AND_REGISTRY_STATES", ()))


def run_input(cfg: Any, s3: Any, run_id: str) -> dict[str, Any]:
    """The execution input, with lineage where the code has it."""
    import inspect

    if "lineage" not in inspect.signature(execution_input).parameters:
        return execution_input(cfg, run_id=run_id)
    from pipeline.provenance import lineage_input

    return execution_input(cfg, run_id=run_id, lineage=lineage_input(s3, cfg, COMMIT))


def durations(events: list[dict[str, Any]], gate: set[str]) -> tuple[int, int, float]:
    """(transitions, transitions in gate states, seconds in gate states) of one history."""
    transitions = gate_transitions = 0
    in_gate = 0.0
    current: tuple[str, float] | None = None
    for event in events:
        when = event["timestamp"].timestamp()
        if current is not None and event["type"].endswith("StateExited"):
            name, began = current
            if name in gate:
                in_gate += when - began
            current = None
        if event["type"].endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            transitions += 1
            gate_transitions += name in gate
            current = (name, when)
    return transitions, gate_transitions, in_gate


def main() -> None:
    """Set up, run each case REPEATS times, print the figures."""
    cfg = load_config("staging")
    gate = gate_state_names()
    results: dict[str, list[tuple[float, int, int, float]]] = {"first deploy": [], "update": []}
    for repeat in range(REPEATS):
        with Emulator(timings=Timings(time_scale=0.0)):
            s3 = boto3.client("s3", region_name=cfg.region, **KEYS)
            s3.create_bucket(Bucket=cfg.bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
            for key in ("train/train.csv", "validation/validation.csv"):
                s3.put_object(Bucket=cfg.bucket, Key=f"{cfg.prefix}/data/{key}", Body=b"1,2\n")
            sfn = boto3.client("stepfunctions", region_name=cfg.region, **KEYS)
            arn = sfn.create_state_machine(
                name=f"{cfg.state_machine_name}",
                definition=json.dumps(build_definition(cfg)),
                roleArn=cfg.workflow_role_arn,
            )["stateMachineArn"]
            for case, run_id in (("first deploy", f"bench{repeat}a"), ("update", f"bench{repeat}b")):
                started = time.perf_counter()
                execution = sfn.start_execution(
                    stateMachineArn=arn, name=run_id, input=json.dumps(run_input(cfg, s3, run_id))
                )["executionArn"]
                while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                    time.sleep(0.005)
                wall = time.perf_counter() - started
                assert desc["status"] == "SUCCEEDED", desc
                events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
                results[case].append((wall, *durations(events, gate)))
    for case, runs in results.items():
        wall = statistics.median(r[0] for r in runs) * 1000
        gate_ms = statistics.median(r[3] for r in runs) * 1000
        print(
            f"{case}: wall_ms={wall:.0f} state_transitions={runs[0][1]} "
            f"gate_registry_transitions={runs[0][2]} gate_registry_ms={gate_ms:.0f} (median of {len(runs)})"
        )


if __name__ == "__main__":
    main()
