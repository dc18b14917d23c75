"""Reuse figures: an unchanged push against a changed one, and a promotion, on the embedded emulator.

Runs the commands a workflow runs (``deploy``, ``run --upload-data``-like uploads, ``smoke``,
``promote``) in this process against the emulator with the local XGBoost trainer and model host,
and counts the SageMaker write calls the emulator answered (the state machine's and the CLI's):

1. a first push (trains version 1; smoke approves it),
2. an unchanged push (same data uploaded again: same ETags, same fingerprint),
3. a changed push (other data: trains),
4. ``promote --to prod`` of the version staging serves (copy, register, deploy, smoke; no training).

Figures only: nothing is asserted.

    /work/main/.venv/bin/python benchmarks/bench_reuse.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# Offline only: fake credentials, no Actions files, the repository importable.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from pipeline import data, storage
from pipeline.cli import main as cli
from pipeline.config import load_config
from pipeline.emulator import Emulator, Timings
from pipeline.local_model import LocalModelHost, S3Trainer

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FAST = ["--set", "endpoint_poll_seconds=1", "--set", "retry_interval_seconds=1"]
WRITE_PREFIXES = ("Create", "Update", "Delete", "Add", "Stop", "Start")


def sagemaker_writes(now: Counter[str], before: Counter[str]) -> dict[str, int]:
    """SageMaker write operations answered between two copies of the emulator's call counter."""
    delta = {op: now[op] - before.get(op, 0) for op in now if op.startswith("sagemaker:")}
    return {
        op.split(":", 1)[1]: n
        for op, n in sorted(delta.items())
        if n and op.split(":", 1)[1].startswith(WRITE_PREFIXES)
    }


def quiet(*argv: str) -> int:
    """One CLI command, its output swallowed; its exit code."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return cli(list(argv))


def main(argv: list[str] | None = None) -> int:
    """Run the four phases and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="raw Big Mart rows to generate")
    args = parser.parse_args(argv)
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        os.environ.pop(name, None)  # the figures are this script's, not an Actions job's

    with tempfile.TemporaryDirectory() as scratch:
        # The checked-in configuration without deploy roles (with one, the CLI would ask GitHub
        # for an OIDC token).
        lines = (ROOT / "config" / "pipeline.toml").read_text().splitlines()
        config_file = Path(scratch) / "pipeline.toml"
        config_file.write_text("\n".join(line for line in lines if not line.startswith("deploy_role_arn")) + "\n")
        os.environ["PIPELINE_CONFIG"] = str(config_file)
        staging, prod = load_config("staging"), load_config("prod")
        os.environ["AWS_DEFAULT_REGION"] = staging.account.region
        timings = Timings(time_scale=0.001)
        with Emulator(trainer=S3Trainer(log=lambda _line: None), model_host=LocalModelHost(), timings=timings) as emu:
            s3 = boto3.client("s3", region_name=staging.account.region)
            for cfg in (staging, prod):
                with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                    s3.create_bucket(
                        Bucket=cfg.account.bucket,
                        CreateBucketConfiguration={"LocationConstraint": cfg.account.region},
                    )

            def upload(seed: int) -> None:
                raw = data.generate_raw(args.rows, seed=seed)
                prepared = data.prepare(raw, staging.data.validation_fraction, staging.data.seed)
                # Recorded as real data: prod refuses synthetic models, and this is about reuse.
                storage.upload_prepared(prepared, s3, staging, synthetic=False)

            def push(label: str, attempt: int, seed: int) -> None:
                before = Counter(emu.runtime.calls)
                started = time.perf_counter()
                upload(seed)
                output = Path(scratch) / f"output-{attempt}"
                output.write_text("")
                os.environ["GITHUB_OUTPUT"] = str(output)
                code = quiet("run", "--commit", COMMIT, "--attempt", str(attempt), "--poll-seconds", "0.02", *FAST)
                os.environ.pop("GITHUB_OUTPUT")
                text = output.read_text()
                execution = text.split("execution_arn<<", 1)[1].split("\n", 2)[1]
                package = text.split("model_package_arn<<", 1)[1].split("\n", 2)[1]
                smoke = ["--execution-arn", execution] if execution else ["--model-package", package]
                smoked = quiet("smoke", *smoke, "--poll-seconds", "0.01", "--calls", "5")
                seconds = time.perf_counter() - started
                writes = sagemaker_writes(emu.runtime.calls, before)
                executions = emu.runtime.calls["stepfunctions:StartExecution"] - before.get(
                    "stepfunctions:StartExecution", 0
                )
                print(
                    f"{label:<16} run exit {code}, smoke exit {smoked}: {seconds:6.2f} s wall; "
                    f"{sum(writes.values())} SageMaker writes {writes or '{}'}; "
                    f"{writes.get('CreateTrainingJob', 0)} training job(s), "
                    f"{writes.get('UpdateEndpoint', 0)} endpoint update(s), {executions} execution(s)"
                )

            assert quiet("deploy", "--commit", COMMIT, *FAST) == 0
            assert quiet("deploy", "--env", "prod", "--commit", COMMIT, *FAST) == 0
            push("first push", 1, seed=1)
            push("unchanged push", 2, seed=1)
            push("changed push", 3, seed=2)

            before = Counter(emu.runtime.calls)
            started = time.perf_counter()
            code = quiet("promote", "--to", "prod", "--commit", COMMIT, "--poll-seconds", "0.02", *FAST)
            seconds = time.perf_counter() - started
            writes = sagemaker_writes(emu.runtime.calls, before)
            print(
                f"{'promote to prod':<16} exit {code}: {seconds:6.2f} s wall; {sum(writes.values())} SageMaker "
                f"writes {writes}; {writes.get('CreateTrainingJob', 0)} training job(s)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
