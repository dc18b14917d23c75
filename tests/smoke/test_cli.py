"""``python -m pipeline smoke`` end to end: exit codes, the deploy execution's output, reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import registry
from pipeline.cli import main
from pipeline.emulator import Emulator
from pipeline.smoke import publish, smoke_and_rollback
from tests.smoke.conftest import Live

pytestmark = pytest.mark.smoke

FAST = ["--wait-seconds", "5", "--poll-seconds", "0.01", "--calls", "4"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--execution-arn", "run1"], "execution ARN 'run1' is not valid"),
        (["--execution-arn", "arn:aws:states:eu-west-1:123456789012:stateMachine:big-mart"], "is not valid"),
        (["--calls", "0"], "--calls: 0 must be at least 1"),
        (["--calls", "many"], "--calls: 'many' is not a whole number"),
        (["--previous-config", "a-config"], "--previous-config needs --expected-config"),
        (["--expected-config", "bad_name!"], "--expected-config 'bad_name!' is not a valid SageMaker name"),
        (
            ["--execution-arn", "arn:aws:states:eu-west-1:123456789012:execution:m:x", "--expected-config", "c"],
            "not allowed with argument",
        ),
        (["--p95-ms", "-3"], "--p95-ms: -3 must be a finite number above 0"),
    ],
)
def test_bad_input_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["smoke", *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_execution_exits_2(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:big-mart-staging:no-such-run"
    assert main(["smoke", "--execution-arn", arn, *FAST]) == 2
    assert f"execution {arn} does not exist" in capsys.readouterr().err


def test_passes_then_fails_and_rolls_back_to_the_previous_deploy(
    live_data: Live, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = live_data.create_state_machine()
    first = live_data.run_execution(machine, "run1")
    assert first["status"] == "SUCCEEDED", first
    assert json.loads(first["output"])["PreviousEndpoint"] == {"EndpointStatus": "Absent"}
    first_model = live_data.served()
    second = live_data.run_execution(machine, "run2")
    assert second["status"] == "SUCCEEDED", second
    run1_config, run2_config = (f"{live_data.name}-{run}-config" for run in ("run1", "run2"))
    assert json.loads(second["output"])["PreviousEndpoint"]["EndpointConfigName"] == run1_config
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert main(["smoke", "--execution-arn", second["executionArn"], *FAST]) == 0
    out = capsys.readouterr().out
    assert f"PASS endpoint: endpoint {live_data.name} is InService on {run2_config}" in out
    assert f"smoke test PASSED: {live_data.name} serves {run2_config}" in out
    assert "| single rows | pass |" in summary.read_text()
    # The version the endpoint's model was created from is approved, with its challenger bar.
    package = json.loads(second["output"])["ModelPackageArn"]
    assert f"model package {package} (version 2): Approved (smoke test of {live_data.name} passed" in out
    approved = registry.describe(live_data.sagemaker, package)
    assert approved.status == "Approved" and approved.ours
    assert approved.metric is not None
    assert float(approved.metadata[registry.REGRESSION_BAR]) == pytest.approx(approved.metric * 1.05, rel=1e-6)
    assert approved.metadata[registry.REGRESSION_PCT] == "5"

    live_data.emu.misbehave_on_invoke("garbage", endpoint=live_data.name, calls=[1])
    assert main(["smoke", "--execution-arn", second["executionArn"], *FAST]) == 1
    captured = capsys.readouterr()
    assert "smoke test FAILED: single row (call 1 of 4): body is not UTF-8 text" in captured.out
    assert f"rollback: updated back to {run1_config}; it answers correctly" in captured.out
    assert f"Rolled back to {run1_config}." in captured.err
    endpoint = live_data.endpoint()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", run1_config)
    assert live_data.served() == pytest.approx(first_model)
    assert "**Rollback (rolled back):**" in summary.read_text()
    rejected = registry.describe(live_data.sagemaker, package)
    assert rejected.status == "Rejected"
    assert rejected.approval_description.startswith("smoke test failed: single row (call 1 of 4): body is not UTF-8")
    assert f"Rollback: updated back to {run1_config}" in rejected.approval_description
    assert f"model package {package} (version 2): Rejected" in captured.out


def test_first_deploy_failing_says_there_is_nothing_to_roll_back(
    live_data: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = live_data.create_state_machine()
    first = live_data.run_execution(machine, "run1")
    assert first["status"] == "SUCCEEDED", first
    live_data.emu.misbehave_on_invoke("nan", endpoint=live_data.name)

    assert main(["smoke", "--execution-arn", first["executionArn"], *FAST]) == 1
    out = capsys.readouterr().out
    assert "rollback: nothing to roll back to: this was the first deploy" in out
    assert live_data.endpoint()["EndpointStatus"] == "InService"
    package = registry.describe(live_data.sagemaker, json.loads(first["output"])["ModelPackageArn"])
    assert package.status == "Rejected" and "is not finite" in package.approval_description


def test_failed_execution_exits_1(live_data: Live, capsys: pytest.CaptureFixture[str]) -> None:
    machine = live_data.create_state_machine()
    live_data.emu.fail_training("AlgorithmError: bad data", job="*run1*")
    desc = live_data.run_execution(machine, "run1")
    assert desc["status"] == "FAILED"

    assert main(["smoke", "--execution-arn", desc["executionArn"], *FAST]) == 1
    err = capsys.readouterr().err
    assert "is FAILED (Pipeline.TrainModelFailed" in err and "only a SUCCEEDED deploy" in err


def test_expected_config_flags_roll_back_with_no_rollback_respected(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    live.create("old")
    live.deploy("new")
    live.emu.misbehave_on_invoke("wrong_count", endpoint=live.name, calls=[1])
    flags = ["--expected-config", live.configs["new"], "--previous-config", live.configs["old"], *FAST]

    assert main(["smoke", *flags, "--no-rollback"]) == 1
    assert "rollback disabled (--no-rollback)" in capsys.readouterr().out
    assert live.endpoint()["EndpointConfigName"] == live.configs["new"]

    live.emu.misbehave_on_invoke("wrong_count", endpoint=live.name, calls=[1])
    assert main(["smoke", *flags]) == 1
    assert f"updated back to {live.configs['old']}" in capsys.readouterr().out
    assert live.endpoint()["EndpointConfigName"] == live.configs["old"]


def test_failed_rollback_is_an_actions_error_with_the_manual_command(
    live: Live,
    quick: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live.create("old")
    live.deploy("new")
    live.emu.misbehave_on_invoke("nan", endpoint=live.name, calls=[1])
    live.emu.fail_call("sagemaker:UpdateEndpoint", "ValidationException", "Cannot update in-progress endpoint")
    outcome = smoke_and_rollback(live.sagemaker, live.runtime, live.deployment(), live.payloads, live.limits(), **quick)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))

    assert publish(outcome) == 1

    out = capsys.readouterr().out
    command = f"aws sagemaker update-endpoint --endpoint-name {live.name} --endpoint-config-name {live.configs['old']}"
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert errors[0].startswith("::error title=Rollback failed::Endpoint big-mart-staging: UpdateEndpoint to")
    assert errors[0].endswith(f"Finish it by hand: {command}")
    assert errors[1].startswith("::error title=Smoke test failed::")
    assert f"```sh\n{command}\n```" in (tmp_path / "summary.md").read_text()
    assert "smoke_result<<" in (tmp_path / "output").read_text()
