"""``deploy``: converge the state machine and its alias on the configuration (plan, deploy, roll back)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline.cli.common import add_command, aws_failure, clients_from_args, config_from_args

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig
    from pipeline.deploy import Plan


def register(commands: Any) -> None:
    """Add the ``deploy`` command."""
    parser = add_command(
        commands,
        "deploy",
        "create or update the state machine, publish a version and point the alias at it",
        "Converge the state machine and its alias on this configuration; write nothing if unchanged.",
    )
    parser.add_argument(
        "--commit", default=None, help="commit SHA recorded on the version (default: $GITHUB_SHA, else git HEAD)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--plan", action="store_true", help="print the diff against what is deployed; write nothing")
    mode.add_argument("--rollback", action="store_true", help="point the alias at the version before the one it runs")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Plan, roll back, or deploy; write step outputs in GitHub Actions."""
    from botocore.exceptions import ClientError

    from pipeline import github_actions
    from pipeline.alarms import ensure_alarms, plan_alarms
    from pipeline.autoscaling import prepare_update
    from pipeline.cli.cost import cost_lines
    from pipeline.commit import resolve_commit
    from pipeline.deploy import deploy_state_machine, plan_deployment, rollback_alias

    config = config_from_args(args)
    clients = clients_from_args(config, args)
    sfn = clients("stepfunctions")
    try:
        if args.plan:
            plan = plan_deployment(config, sfn)
            print(plan.text, end="")
            for change in plan_alarms(config, clients("cloudwatch")):
                print(f"alarm {change.name}: {change.action}")
            prepare_update(config, clients("sagemaker"), clients("application-autoscaling"), execute=False)
            costs = cost_lines(config, clients)
            for line in costs:
                print(line)
            github_actions.append_summary(plan_summary(config, plan, costs))
            github_actions.set_output("changes", "true" if plan.changes else "false")
            return 0
        if args.rollback:
            result = rollback_alias(config, sfn)
        else:
            # The alarms first: the definition's guardrails name them.
            ensure_alarms(config, clients("cloudwatch"))
            # Before the run's UpdateEndpoint: AWS refuses a new instance type on a scalable target.
            prepare_update(config, clients("sagemaker"), clients("application-autoscaling"))
            result = deploy_state_machine(config, sfn, commit_sha=resolve_commit(args.commit, required=False))
    except ClientError as exc:
        raise aws_failure(exc) from None
    for name, value in (
        ("action", result.action),
        ("state_machine_arn", result.state_machine_arn),
        ("version_arn", result.version_arn),
        ("alias_arn", result.alias_arn),
        ("previous_version_arn", result.previous_version_arn or ""),
    ):
        github_actions.set_output(name, value)
    return 0


def plan_summary(config: PipelineConfig, plan: Plan, costs: list[str] | None = None) -> str:
    """The job summary of ``deploy --plan``: synthetic data first when configured, the diff, the costs."""
    from pipeline.training_data import synthetic_notice

    notice = synthetic_notice(config)
    title = (
        f"{notice}\n\n" if notice else ""
    ) + f"### Deploy plan: {config.state_machine.name} ({config.environment})\n\n"
    cost_text = "".join(f"- {line}\n" for line in costs or [])
    return title + f"```diff\n{plan.text}```\n" + (f"\n{cost_text}" if cost_text else "")
