"""Fixtures for deploy/run tests: an in-process emulator, fast configuration, AWS call counting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.emulator import Emulator, Timings
from tests.conftest import REGION

# The definition's Wait 1 s / Retry 1 s become 1 ms: an execution takes well under a second.
TIME_SCALE = 0.001
# --set flags giving the same fast configuration to the CLI.
FAST = ["--set", "endpoint_poll_seconds=1", "--set", "retry_interval_seconds=1"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WRITE_PREFIXES = ("Create", "Update", "Delete", "Publish", "Tag", "Untag", "Start", "Stop")


@pytest.fixture(autouse=True)
def quiet_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """pytest captures at DEBUG, which makes botocore and moto render every request; INFO is enough."""
    caplog.set_level(logging.INFO)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An in-process emulator with the test time scale. Stopping it aborts the executions still
    running and joins their threads and the trainers' (pipeline.emulator.runtime), so none
    reaches the next test's emulator (e.g. with a duplicate training job name)."""
    with Emulator(timings=Timings(time_scale=TIME_SCALE)) as emu:
        yield emu


@pytest.fixture
def config() -> PipelineConfig:
    """The staging configuration with short polling and retry intervals."""
    return load_config("staging", environ={}).replace(endpoint_poll_seconds=1, retry_interval_seconds=1)


class CallLog:
    """Step Functions operations a client sent, recorded by botocore's ``before-call`` hook."""

    def __init__(self, client: Any):
        self.calls: list[str] = []
        # The event is named after the service id ("SFN" -> "sfn"), not the endpoint prefix "states".
        client.meta.events.register("before-call.sfn.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    @property
    def writes(self) -> list[str]:
        """The calls that change something."""
        return [name for name in self.calls if name.startswith(WRITE_PREFIXES)]

    @property
    def reads(self) -> list[str]:
        """The calls that only read."""
        return [name for name in self.calls if not name.startswith(WRITE_PREFIXES)]

    def clear(self) -> None:
        """Forget the calls so far."""
        self.calls.clear()


@pytest.fixture
def sfn(emulator: Emulator) -> Any:
    """A Step Functions client on the emulator."""
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def calls(sfn: Any) -> CallLog:
    """The calls made through the ``sfn`` fixture's client."""
    return CallLog(sfn)


@pytest.fixture
def bucket(emulator: Emulator, config: PipelineConfig) -> str:
    """The configured bucket, created on the emulator."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=config.account.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return config.account.bucket


@pytest.fixture
def actions_env(actions_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A GitHub Actions job on the emulator: the root fixture's output and summary files, and a
    config file without deploy roles (with one, the CLI would ask GitHub for an OIDC token, which
    tests/test_aws.py covers)."""
    source = Path(__file__).resolve().parents[2] / "config" / "pipeline.toml"
    lines = [line for line in source.read_text().splitlines() if not line.startswith("deploy_role_arn")]
    config_file = tmp_path / "pipeline.toml"
    config_file.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("PIPELINE_CONFIG", str(config_file))
    return actions_env


def read_outputs(path: Any) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT`` file of ``name<<DELIMITER`` blocks (the last value wins)."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        name, _, delimiter = lines[index].partition("<<")
        end = lines.index(delimiter, index + 1)
        outputs[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return outputs


@pytest.fixture
def cli_deployed(emulator: Emulator, bucket: str, actions_env: dict[str, Path]) -> dict[str, Path]:
    """The state machine deployed by ``deploy --commit`` in a GitHub Actions job on the emulator
    (with the bucket): the job's output and summary files."""
    from pipeline.cli import main

    assert main(["deploy", "--commit", COMMIT, *FAST]) == 0
    return actions_env
