"""run: start or attach, follow the real definition on the emulator, report, exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.cli import main
from pipeline.config import PipelineConfig
from pipeline.definition import execution_input, run_id_for_commit
from pipeline.definition import state_names as names
from pipeline.deploy import deploy_state_machine
from pipeline.emulator import Emulator, Timings
from pipeline.errors import UsageError
from pipeline.follow import follow_execution, new_events
from pipeline.run import execution_arn_for, start_execution
from tests.deploy.conftest import COMMIT, FAST, TIME_SCALE, read_outputs

pytestmark = pytest.mark.deploy

RUN_ID = run_id_for_commit(COMMIT, 1)
STAGES = list(names.FIRST_RUN_STAGES)
QUICK = ["--poll-seconds", "0.02"]
SYNTHETIC = ["--set", "training_data=synthetic"]


@pytest.fixture
def deployed(config: PipelineConfig, sfn: Any, bucket: str) -> Any:
    """The state machine and its alias deployed on the emulator, training data uploaded."""
    from pipeline import data, storage

    prepared = data.prepare(data.generate_raw(400, seed=1), config.data.validation_fraction, config.data.seed)
    storage.upload_prepared(prepared, boto3.client("s3", region_name=config.account.region), config, synthetic=True)
    return deploy_state_machine(config, sfn, commit_sha=COMMIT, out=lambda _: None)


def lineage(config: PipelineConfig) -> dict[str, Any]:
    from pipeline.provenance import lineage_input

    return lineage_input(boto3.client("s3", region_name=config.account.region), config, COMMIT)


def start(config: PipelineConfig, sfn: Any, deployed: Any, run_id: str = RUN_ID) -> str:
    return start_execution(
        config,
        sfn,
        run_id=run_id,
        target_arn=deployed.alias_arn,
        name=run_id,
        lineage=lineage(config),
        out=lambda _: None,
    )


def test_run_of_the_real_definition_succeeds_with_a_line_per_stage(
    config: PipelineConfig, sfn: Any, deployed: Any
) -> None:
    arn = start(config, sfn, deployed)
    lines: list[str] = []

    result = follow_execution(sfn, arn, timeout_seconds=30, out=lines.append, poll_seconds=0.02)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.succeeded
    assert [stage.name for stage in result.stages] == STAGES
    assert all(stage.seconds is not None and stage.seconds >= 0 for stage in result.stages)
    assert result.output is not None and result.output["EndpointName"] == config.endpoint.name
    assert result.output["PreviousEndpoint"]["EndpointStatus"] == "Absent"
    assert result.version_arn == deployed.version_arn
    assert result.failed_stage is None and result.error is None
    for stage in STAGES:
        assert sum(line.endswith(f"{stage}: entered") for line in lines) == 1
    assert any("Train model: succeeded in" in line for line in lines)
    assert "Find endpoint: caught SageMaker" in "\n".join(lines)  # the "no endpoint yet" route
    assert lines[-1].endswith("execution succeeded")


def test_rerun_of_a_finished_execution_attaches_to_it(config: PipelineConfig, sfn: Any, deployed: Any) -> None:
    first = start(config, sfn, deployed)
    follow_execution(sfn, first, timeout_seconds=30, out=lambda _: None, poll_seconds=0.02)
    lines: list[str] = []

    again = start_execution(config, sfn, run_id=RUN_ID, target_arn=deployed.alias_arn, name=RUN_ID, out=lines.append)

    assert again == first == execution_arn_for(deployed.alias_arn, RUN_ID)
    assert "already exists (SUCCEEDED): attaching" in lines[0]
    executions = sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [RUN_ID]


def test_same_name_with_a_different_input_is_a_clear_error(config: PipelineConfig, sfn: Any, deployed: Any) -> None:
    first = start(config, sfn, deployed)
    follow_execution(sfn, first, timeout_seconds=30, out=lambda _: None, poll_seconds=0.02)
    other = config.replace(endpoint_name="big-mart-other")

    with pytest.raises(UsageError, match=r"different input.*new attempt"):
        start_execution(other, sfn, run_id=RUN_ID, target_arn=deployed.alias_arn, name=RUN_ID)


def test_training_failure_names_stage_error_and_cause(
    emulator: Emulator, config: PipelineConfig, sfn: Any, deployed: Any
) -> None:
    emulator.fail_training("AlgorithmError: label column has NaN")
    lines: list[str] = []

    result = follow_execution(
        sfn, start(config, sfn, deployed), timeout_seconds=30, out=lines.append, poll_seconds=0.02
    )

    assert result.status == "FAILED"
    assert result.failed_stage == names.TRAIN_MODEL
    assert result.error == "Pipeline.TrainModelFailed"
    assert "label column has NaN" in (result.cause or "")
    assert [(s.name, s.status) for s in result.stages] == [(names.TRAIN_MODEL, "failed")]
    assert "execution FAILED at stage 'Train model': Pipeline.TrainModelFailed" in lines[-1]


def test_follow_pages_newest_first_and_stops_at_seen_events() -> None:
    """Against AWS's paging (which moto lacks): reverse order, nextToken, stop at the last seen id."""

    class History:
        def __init__(self, count: int) -> None:
            start = datetime(2026, 1, 1, tzinfo=timezone.utc)
            self.events = [
                {"id": i, "type": "PassStateEntered", "timestamp": start + timedelta(seconds=i)}
                for i in range(1, count + 1)
            ]
            self.requests: list[dict[str, Any]] = []

        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            self.requests.append(kwargs)
            assert kwargs["reverseOrder"] is True
            ordered = self.events[::-1]
            begin = int(kwargs.get("nextToken", 0))
            page = ordered[begin : begin + 3]
            more = begin + 3 < len(ordered)
            return {"events": page, **({"nextToken": str(begin + 3)} if more else {})}

    history = History(10)
    assert [e["id"] for e in new_events(history, "arn", after=0)] == list(range(1, 11))
    assert len(history.requests) == 4
    history.requests.clear()
    assert [e["id"] for e in new_events(history, "arn", after=8)] == [9, 10]
    assert len(history.requests) == 1
    assert new_events(history, "arn", after=10) == []


def test_cli_run_succeeds_and_writes_outputs_and_summary(
    config: PipelineConfig, cli_deployed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST, *SYNTHETIC]) == 0
    out = capsys.readouterr().out
    assert 'uploaded synthetic data (8523 generated rows, training_data = "synthetic")' in out
    # Synthetic data is said first in the job summary (the deploy plan wrote nothing before it here).
    assert cli_deployed["summary"].read_text().startswith("> **Synthetic data**")
    assert "::warning title=synthetic data::" in out
    assert "Train model: entered" in out and "execution succeeded" in out
    first = read_outputs(cli_deployed["output"])
    assert first["execution_arn"].endswith(f":execution:big-mart-staging:{RUN_ID}")
    assert first["endpoint_name"] == "big-mart-staging"
    assert first["state_machine_version"].endswith(":stateMachine:big-mart-staging:1")
    assert first["previous_endpoint_config"] == ""

    # A second attempt (training again: the inputs are unchanged) updates the endpoint: the
    # previous config is reported for a rollback step.
    assert main(["run", "--commit", COMMIT, "--attempt", "2", "--retrain", *QUICK, *FAST]) == 0
    second = read_outputs(cli_deployed["output"])
    assert second["previous_endpoint_config"] == execution_input(config, RUN_ID)["EndpointConfigName"]
    summary = cli_deployed["summary"].read_text()
    assert "| Train model | succeeded | 1 |" in summary
    assert "```mermaid\nflowchart TD" in summary
    assert summary.count("### ✅ Pipeline run") == 2


def test_cli_run_failure_exits_1_naming_stage_error_and_cause(
    emulator: Emulator, bucket: str, actions_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", *FAST]) == 0
    emulator.fail_training("AlgorithmError: out of memory")

    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST, *SYNTHETIC]) == 1

    out = capsys.readouterr().out
    assert "::error title=pipeline run FAILED::execution FAILED: stage 'Train model'" in out
    assert "error: Pipeline.TrainModelFailed" in out and "out of memory" in out
    assert "| Train model | failed |" in actions_env["summary"].read_text()
    assert read_outputs(actions_env["output"])["status"] == "FAILED"


def test_cli_run_timeout_exits_1_with_a_clear_message(
    emulator: Emulator, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.timings = Timings(training_seconds=3.0, time_scale=TIME_SCALE)
    assert main(["deploy", *FAST]) == 0

    assert main(["run", "--commit", COMMIT, "--timeout", "1", "--upload-data", *QUICK, *FAST, *SYNTHETIC]) == 1

    captured = capsys.readouterr()
    assert "still running after 1s" in captured.out
    assert "still RUNNING after the 1s timeout; it was not stopped" in captured.err


def test_cli_run_exit_codes_for_bad_input(emulator: Emulator, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--commit", COMMIT, *FAST]) == 2  # no training data in the bucket
    err = capsys.readouterr().err
    assert f"cannot read s3://{bucket}/" in err and "upload the prepared data first" in err
    assert main(["run", "--commit", COMMIT, "--upload-data", *FAST, *SYNTHETIC]) == 2  # nothing deployed
    assert "deploy the state machine first" in capsys.readouterr().err
    assert main(["run", "--commit", "not-a-sha", *FAST]) == 2
    assert "not a hexadecimal git commit id" in capsys.readouterr().err
    assert main(["run", "--commit", COMMIT, "--attempt", "0"]) == 2
    assert main(["run", "--commit", COMMIT, "--poll-seconds", "0"]) == 2
    assert main(["run", "--commit", COMMIT, "--data", "/nonexistent/Train.csv", *FAST]) == 2


def test_cli_run_rerun_attaches_and_different_input_exits_2(
    emulator: Emulator, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", *FAST]) == 0
    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST, *SYNTHETIC]) == 0
    assert main(["run", "--commit", COMMIT, *QUICK, *FAST]) == 0
    assert "already exists (SUCCEEDED): attaching to it" in capsys.readouterr().out
    assert main(["run", "--commit", COMMIT, *QUICK, *FAST, "--set", "endpoint_name=big-mart-other"]) == 2
    assert "already exists with a different input" in capsys.readouterr().err


def test_execution_input_round_trips_through_the_execution(config: PipelineConfig, sfn: Any, deployed: Any) -> None:
    arn = start(config, sfn, deployed)
    given = json.loads(sfn.describe_execution(executionArn=arn)["input"])
    assert given == execution_input(config, RUN_ID, lineage(config))
    assert given["Commit"] == COMMIT and given["Data"]["Synthetic"] == "true"
    assert given["Data"]["train"]["Uri"].endswith("/data/train/train.csv") and given["Data"]["train"]["ETag"]


def test_rerun_while_running_gets_the_same_execution(
    emulator: Emulator, config: PipelineConfig, sfn: Any, deployed: Any
) -> None:
    emulator.timings = Timings(training_seconds=1.0, time_scale=TIME_SCALE)
    first = start(config, sfn, deployed)
    assert sfn.describe_execution(executionArn=first)["status"] == "RUNNING"

    again = start(config, sfn, deployed)

    assert again == first
    assert len(sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]) == 1
    result = follow_execution(sfn, again, timeout_seconds=30, out=lambda _: None, poll_seconds=0.05)
    assert result.succeeded, (result.error, result.cause)


def test_a_failure_is_blamed_on_the_running_stage_not_the_last_caught_one() -> None:
    from pipeline.follow import HistoryTracker

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    at = [start + timedelta(seconds=s) for s in range(6)]
    tracker = HistoryTracker(start, out=lambda _: None)
    events = [
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Find endpoint"}},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "SageMaker.SageMakerException"}},
        {"type": "TaskStateExited", "stateExitedEventDetails": {"name": "Find endpoint"}},  # caught: absent
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Create endpoint"}},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "States.Runtime"}},
        {"type": "ExecutionFailed", "executionFailedEventDetails": {"error": "States.Runtime", "cause": "x"}},
    ]
    for number, (event, when) in enumerate(zip(events, at, strict=True), start=1):
        tracker.feed({**event, "id": number, "timestamp": when})

    assert tracker.status == "FAILED"
    assert tracker.failed_stage == "Create endpoint"
    assert tracker.stages["Find endpoint"].status == "caught"
    assert tracker.stages["Create endpoint"].status == "failed"


def test_upload_data_takes_the_configured_train_csv(
    emulator: Emulator, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import data

    monkeypatch.chdir(tmp_path)
    # The default training_data is data/Train.csv, relative to where the workflow runs (the clone).
    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST]) == 2
    err = capsys.readouterr().err
    assert "training_data = 'data/Train.csv'" in err and "the file does not exist" in err
    assert 'or set training_data = "s3"' in err
    assert boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket=bucket).get("KeyCount") == 0

    (tmp_path / "data").mkdir()
    data.generate_raw(300, seed=3).to_csv(tmp_path / "data" / "Train.csv", index=False)
    assert main(["deploy", *FAST]) == 0
    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST]) == 0
    out = capsys.readouterr().out
    assert "uploaded data/Train.csv (300 rows) to s3://" in out and "synthetic" not in out


def test_upload_data_with_training_data_s3_uploads_nothing(
    config: PipelineConfig, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.run import upload_data

    lines: list[str] = []
    written = upload_data(
        config.replace(training_data="s3"), boto3.client("s3", region_name="eu-west-1"), None, out=lines.append
    )
    assert written == [] and "nothing uploaded" in lines[0]
    assert boto3.client("s3", region_name="eu-west-1").list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_cli_run_deploys_a_registered_version_without_training(
    cli_deployed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--commit", COMMIT, "--upload-data", *QUICK, *FAST, *SYNTHETIC]) == 0
    assert "model package version 1 (trained and registered by this run" in capsys.readouterr().out
    trainings = len(boto3.client("sagemaker", region_name="eu-west-1").list_training_jobs()["TrainingJobSummaries"])

    assert main(["run", "--commit", COMMIT, "--attempt", "2", "--model-package", "1", *QUICK, *FAST]) == 0
    out = capsys.readouterr().out
    assert "Train model: entered" not in out and "Read registered version: entered" in out
    assert "model package version 1 (deployed from the registry; PendingManualApproval): training job " in out
    assert f"big-mart-staging-{COMMIT[:12]}-1-train" in out
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == trainings
    assert "Deployed: model package version 1 (deployed from the registry" in cli_deployed["summary"].read_text()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "'0' must be a whole number >= 1"),
        ("latest", "'latest' must be a whole number"),
        ("arn:aws:s3:::b/k", "is not a model package version ARN"),
    ],
)
def test_cli_run_bad_model_package_exits_2_naming_it(
    value: str, message: str, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--commit", COMMIT, "--model-package", value, *FAST]) == 2
    assert message in capsys.readouterr().err


def test_cli_run_model_package_with_upload_data_exits_2(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--commit", COMMIT, "--model-package", "1", "--upload-data", *FAST]) == 2
    assert "trains nothing" in capsys.readouterr().err
