"""Smoke-test figures: what the smoke test and a rollback cost on the embedded emulator.

Uploads prepared Big Mart data, trains two models for real (emulated CreateTrainingJob with the
local trainer), serves the first, updates to the second, then times: the smoke test of a healthy
endpoint (latency percentiles through boto3 + moto + the local model host), and a failing smoke
test with its rollback. Figures only: nothing is asserted.

    /work/venv/bin/python benchmarks/bench_smoke.py [--rows 8523] [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Offline only: fake credentials, and the repository's tests package for the fixtures' helpers.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from pipeline import data
from pipeline.config import load_config
from pipeline.emulator import Emulator, Timings
from pipeline.endpoint_wait import Backoff
from pipeline.local_model import LocalModelHost, S3Trainer
from pipeline.smoke import smoke_and_rollback
from pipeline.smoke_checks import percentile, smoke_test
from tests.smoke.conftest import Live


def main(argv: list[str] | None = None) -> int:
    """Run the phases and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=8523, help="raw Big Mart rows to generate")
    parser.add_argument("--calls", type=int, default=100, help="single-row calls of the smoke test")
    args = parser.parse_args(argv)

    cfg = load_config("staging")
    prepared = data.prepare(data.generate_raw(args.rows, seed=3), cfg.data.validation_fraction, cfg.data.seed)
    with Emulator(trainer=S3Trainer(log=lambda _line: None), model_host=LocalModelHost(), timings=Timings()) as emu:
        started = time.perf_counter()
        live = Live(emu, cfg, boto3.Session(region_name=cfg.account.region), prepared, {"old": 20, "new": 100})
        setup = time.perf_counter() - started
        live.create("old")
        live.deploy("new")

        started = time.perf_counter()
        healthy = smoke_test(live.runtime, live.name, live.payloads, live.limits(calls=args.calls))
        healthy_s = time.perf_counter() - started

        emu.misbehave_on_invoke("nan", endpoint=live.name, calls=[1])
        started = time.perf_counter()
        outcome = smoke_and_rollback(
            live.sagemaker,
            live.runtime,
            live.deployment(),
            live.payloads,
            live.limits(calls=args.calls),
            wait_seconds=60,
            backoff=Backoff(first=0.01),
        )
        rollback_s = time.perf_counter() - started

    lat = healthy.latencies_ms
    print(f"setup (upload, train 2 models on {args.rows} rows): {setup:.2f} s")
    print(f"healthy smoke test, {args.calls} single rows + 1 batch: {healthy_s:.2f} s, passed={healthy.passed}")
    print(f"  latency ms: p50 {percentile(lat, 0.5):.2f}  p95 {percentile(lat, 0.95):.2f}  max {max(lat):.2f}")
    print(f"failing smoke test + rollback + check: {rollback_s:.2f} s, rollback={outcome.rollback.outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
