"""deploy: create, no-op, update, plan and rollback of the state machine and its alias, on the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.config import PipelineConfig
from pipeline.definition import definition_json
from pipeline.deploy import (
    MachineSettings,
    alias_arn,
    deploy_state_machine,
    plan_deployment,
    rollback_alias,
    state_machine_arn,
)
from pipeline.errors import PipelineError
from tests.deploy.conftest import COMMIT, FAST, CallLog, read_outputs

pytestmark = pytest.mark.deploy

OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def quiet(_: str) -> None:
    """Swallow progress lines."""


def alias_version(sfn: Any, config: PipelineConfig) -> str:
    routes = sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn(config))["routingConfiguration"]
    assert len(routes) == 1 and routes[0]["weight"] == 100
    return routes[0]["stateMachineVersionArn"]


def test_arn_is_built_from_the_workflow_roles_partition_and_account(config: PipelineConfig) -> None:
    china = config.replace(
        region="cn-north-1",
        workflow_role_arn="arn:aws-cn:iam::210987654321:role/wf",
        sagemaker_role_arn="arn:aws-cn:iam::210987654321:role/sm",
        deploy_role_arn=None,
    )
    assert state_machine_arn(china) == "arn:aws-cn:states:cn-north-1:210987654321:stateMachine:big-mart-staging"
    assert alias_arn(china).endswith(":stateMachine:big-mart-staging:live")


def test_first_deploy_creates_version_1_and_the_alias(config: PipelineConfig, sfn: Any, calls: CallLog) -> None:
    lines: list[str] = []
    result = deploy_state_machine(config, sfn, commit_sha=COMMIT, out=lines.append)

    arn = state_machine_arn(config)
    assert result.action == "created"
    assert result.state_machine_arn == arn
    assert result.version_arn == f"{arn}:1"
    assert result.alias_arn == f"{arn}:live"
    assert result.previous_version_arn is None
    assert calls.writes == ["CreateStateMachine", "CreateStateMachineAlias"]
    assert alias_version(sfn, config) == f"{arn}:1"
    version = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert COMMIT in version["description"]
    assert json.loads(version["definition"]) == json.loads(definition_json(config))
    assert version["roleArn"] == config.account.workflow_role_arn
    assert version["tracingConfiguration"] == {"enabled": False}
    assert version["loggingConfiguration"]["level"] == "OFF"
    tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
    assert tags == config.account.tags
    assert any("created" in line for line in lines)


def test_unchanged_deploy_is_one_read_and_no_write(config: PipelineConfig, sfn: Any, calls: CallLog) -> None:
    first = deploy_state_machine(config, sfn, commit_sha=COMMIT, out=quiet)
    calls.clear()

    again = deploy_state_machine(config, sfn, commit_sha=OTHER_COMMIT, out=quiet)

    assert calls.calls == ["DescribeStateMachineAlias"]
    assert again.action == "unchanged"
    assert again.version_arn == first.version_arn == again.previous_version_arn


def test_changed_definition_updates_once_publishes_and_moves_the_alias(
    config: PipelineConfig, sfn: Any, calls: CallLog
) -> None:
    first = deploy_state_machine(config, sfn, commit_sha=COMMIT, out=quiet)
    changed = config.replace(hyperparameters={**config.training.hyperparameters, "eta": 0.3})
    calls.clear()

    result = deploy_state_machine(changed, sfn, commit_sha=OTHER_COMMIT, out=quiet)

    assert result.action == "updated"
    assert calls.writes == ["UpdateStateMachine", "UpdateStateMachineAlias"]
    assert result.version_arn == f"{state_machine_arn(config)}:2"
    assert result.previous_version_arn == first.version_arn
    assert alias_version(sfn, config) == result.version_arn
    latest = sfn.describe_state_machine(stateMachineArn=result.version_arn)
    assert json.loads(latest["definition"]) == json.loads(definition_json(changed))
    assert OTHER_COMMIT in latest["description"]
    # And the next deploy of the changed configuration is a no-op again.
    calls.clear()
    assert deploy_state_machine(changed, sfn, out=quiet).action == "unchanged"
    assert calls.writes == []


def test_changed_role_is_an_update_not_a_create(config: PipelineConfig, sfn: Any, calls: CallLog) -> None:
    deploy_state_machine(config, sfn, commit_sha=COMMIT, out=quiet)
    new_role = "arn:aws:iam::123456789012:role/big-mart-staging-workflow-v2"
    calls.clear()

    result = deploy_state_machine(config.replace(workflow_role_arn=new_role), sfn, out=quiet)

    assert result.action == "updated"
    assert "CreateStateMachine" not in calls.calls
    assert calls.writes == ["UpdateStateMachine", "UpdateStateMachineAlias"]
    assert sfn.describe_state_machine(stateMachineArn=result.version_arn)["roleArn"] == new_role


def test_logging_and_tracing_changes_are_updates(config: PipelineConfig, sfn: Any) -> None:
    deploy_state_machine(config, sfn, out=quiet)
    group = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/states/big-mart-staging:*"
    observed = config.replace(logging_level="ERROR", log_group_arn=group, tracing=True)

    result = deploy_state_machine(observed, sfn, out=quiet)

    assert result.action == "updated"
    described = sfn.describe_state_machine(stateMachineArn=result.version_arn)
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["loggingConfiguration"]["level"] == "ERROR"
    assert described["loggingConfiguration"]["destinations"] == [{"cloudWatchLogsLogGroup": {"logGroupArn": group}}]
    assert deploy_state_machine(observed, sfn, out=quiet).action == "unchanged"


def test_an_alias_moved_by_hand_is_moved_back_with_the_same_configuration(
    config: PipelineConfig, sfn: Any, calls: CallLog
) -> None:
    deploy_state_machine(config, sfn, out=quiet)
    second = deploy_state_machine(config.replace(tracing=True), sfn, out=quiet)
    sfn.update_state_machine_alias(  # an operator points it back without touching the description
        stateMachineAliasArn=second.alias_arn,
        routingConfiguration=[{"stateMachineVersionArn": f"{second.state_machine_arn}:1", "weight": 100}],
    )
    calls.clear()

    result = deploy_state_machine(config.replace(tracing=True), sfn, out=quiet)

    # The alias no longer runs what it records, so the deploy does not trust it: it republishes.
    assert "UpdateStateMachineAlias" in calls.writes
    assert result.previous_version_arn == f"{second.state_machine_arn}:1"
    runs = sfn.describe_state_machine(stateMachineArn=alias_version(sfn, config))
    assert MachineSettings.from_description(runs) == MachineSettings.from_config(config.replace(tracing=True))


def test_plan_writes_nothing_and_shows_the_diff(config: PipelineConfig, sfn: Any, calls: CallLog) -> None:
    absent = plan_deployment(config, sfn)
    assert absent.changes and "does not exist" in absent.text
    deploy_state_machine(config, sfn, out=quiet)
    assert plan_deployment(config, sfn) == plan_deployment(config, sfn)
    unchanged = plan_deployment(config, sfn)
    assert not unchanged.changes and unchanged.text.startswith("no changes")
    calls.clear()

    plan = plan_deployment(
        config.replace(
            hyperparameters={**config.training.hyperparameters, "eta": 0.3},
            workflow_role_arn="arn:aws:iam::123456789012:role/other",
        ),
        sfn,
    )

    assert calls.writes == []
    assert plan.changes
    assert "definition, role" in plan.text
    assert '-            "eta": "0.2",' in plan.text and '+            "eta": "0.3",' in plan.text
    assert '-  "roleArn": "arn:aws:iam::123456789012:role/big-mart-staging-workflow"' in plan.text
    assert alias_version(sfn, config).endswith(":1")


def test_rollback_points_the_alias_at_the_previous_version(config: PipelineConfig, sfn: Any, calls: CallLog) -> None:
    first = deploy_state_machine(config, sfn, out=quiet)
    second = deploy_state_machine(config.replace(tracing=True), sfn, out=quiet)
    calls.clear()

    result = rollback_alias(config, sfn, out=quiet)

    assert result.action == "rolled_back"
    assert result.version_arn == first.version_arn
    assert result.previous_version_arn == second.version_arn
    assert calls.writes == ["UpdateStateMachineAlias"]
    assert alias_version(sfn, config) == first.version_arn
    # The rolled-back alias records version 1's configuration: deploying that is a no-op...
    assert deploy_state_machine(config, sfn, out=quiet).action == "unchanged"
    # ...and there is nothing before version 1.
    with pytest.raises(PipelineError, match="no earlier version"):
        rollback_alias(config, sfn, out=quiet)


def test_rollback_without_an_alias_is_an_error(config: PipelineConfig, sfn: Any) -> None:
    with pytest.raises(PipelineError, match="does not exist: deploy first"):
        rollback_alias(config, sfn, out=quiet)


def test_cli_deploy_plan_and_rollback(
    emulator: Any, actions_env: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "--commit", COMMIT, *FAST]) == 0
    outputs = read_outputs(actions_env["output"])
    assert outputs["action"] == "created"
    assert outputs["version_arn"].endswith(":stateMachine:big-mart-staging:1")
    assert outputs["alias_arn"].endswith(":stateMachine:big-mart-staging:live")
    assert outputs["previous_version_arn"] == ""

    assert main(["deploy", "--plan", *FAST, "--set", "tracing=true"]) == 0
    out = capsys.readouterr().out
    assert '-    "enabled": false' in out and '+    "enabled": true' in out
    assert read_outputs(actions_env["output"])["changes"] == "true"
    assert "```diff" in actions_env["summary"].read_text()

    assert main(["deploy", *FAST, "--set", "tracing=true"]) == 0
    assert main(["deploy", "--rollback", *FAST]) == 0
    assert "rolled back from version 2 to version 1" in capsys.readouterr().out
    assert main(["deploy", "--plan", *FAST]) == 0
    assert "no changes" in capsys.readouterr().out


def test_cli_usage_errors_exit_2(emulator: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--plan", "--rollback"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["deploy", "--set", "alias_name=123"]) == 2
    assert "alias_name" in capsys.readouterr().err
    assert main(["deploy", "--rollback", *FAST]) == 1
    assert "deploy first" in capsys.readouterr().err


def test_an_alias_that_splits_traffic_is_not_read_as_running_its_first_route(
    config: PipelineConfig, sfn: Any, calls: CallLog
) -> None:
    from pipeline.deploy import read_alias

    deploy_state_machine(config, sfn, out=quiet)
    second = deploy_state_machine(config.replace(tracing=True), sfn, out=quiet)
    machine = second.state_machine_arn
    # The alias records version 2 and routes half of the traffic to it first.
    sfn.update_state_machine_alias(
        stateMachineAliasArn=second.alias_arn,
        routingConfiguration=[
            {"stateMachineVersionArn": f"{machine}:2", "weight": 50},
            {"stateMachineVersionArn": f"{machine}:1", "weight": 50},
        ],
    )

    assert read_alias(sfn, second.alias_arn).version_arn is None
    plan = plan_deployment(config.replace(tracing=True), sfn)
    assert plan.changes and f"point alias {config.state_machine.alias} at it" in plan.text
    calls.clear()

    # Half of the executions would run version 1: the deploy routes everything to this config.
    deploy_state_machine(config.replace(tracing=True), sfn, out=quiet)

    assert "UpdateStateMachineAlias" in calls.writes
    routes = sfn.describe_state_machine_alias(stateMachineAliasArn=second.alias_arn)["routingConfiguration"]
    assert len(routes) == 1 and routes[0]["weight"] == 100
    runs = sfn.describe_state_machine(stateMachineArn=routes[0]["stateMachineVersionArn"])
    assert MachineSettings.from_description(runs) == MachineSettings.from_config(config.replace(tracing=True))


def test_plan_without_the_alias_is_a_change_even_when_the_machine_matches(
    config: PipelineConfig, sfn: Any, calls: CallLog
) -> None:
    first = deploy_state_machine(config, sfn, out=quiet)
    sfn.delete_state_machine_alias(stateMachineAliasArn=first.alias_arn)

    plan = plan_deployment(config, sfn)

    assert plan.changes, plan.text
    assert not plan.text.startswith("no changes")
    assert f"point alias {config.state_machine.alias} at it" in plan.text
