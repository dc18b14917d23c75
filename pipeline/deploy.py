"""``deploy``: create or update the state machine, publish a version, point the alias at it.

Unlike the stepfunctions SDK (``Workflow.create`` never updates, ``Workflow.update`` writes every
time), a deploy converges: it writes only what differs, and an unchanged deploy makes exactly
one read call and no write.

How the one-read no-op works: whenever this module points the alias at a version, it writes the
alias description ``pipeline-deploy version=<n> config=sha256:<hex> [commit=<sha>]``, where the
hash covers that (immutable) version's parsed definition, role, logging and tracing. A deploy
first reads the alias (``DescribeStateMachineAlias``); if it routes 100% to the recorded version
and the recorded hash equals the hash of this commit's configuration, the alias already runs
exactly this configuration and nothing is written. Anything else (no alias, an alias edited or
rolled back by hand, a different configuration) falls through to ``DescribeStateMachine`` and a
full comparison. The state machine's ARN is built from the workflow role's account (Step
Functions can only pass a role of its own account), so no STS or List call is needed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline.aws_errors import error_code
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError
from pipeline.outcomes import DeployAction
from pipeline.printer import Printer

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import RoutingConfigurationListItemTypeDef


# Error codes meaning "the state machine (or its alias) does not exist". AWS answers a missing
# alias with ResourceNotFound; moto answers an alias of a missing machine with StateMachineDoesNotExist.
MISSING = ("StateMachineDoesNotExist", "ResourceNotFound")
DESCRIPTION_PREFIX = "pipeline-deploy"
_DESCRIPTION = re.compile(
    rf"^{DESCRIPTION_PREFIX} version=(?P<version>\d+) config=sha256:(?P<hash>[0-9a-f]{{64}})(?: commit=(?P<commit>\S+))?"
)


@dataclass(frozen=True)
class DeployResult:
    """What a deploy (or rollback) did, and the ARNs a later step needs."""

    action: DeployAction
    state_machine_arn: str
    version_arn: str
    alias_arn: str
    previous_version_arn: str | None


@dataclass(frozen=True)
class MachineSettings:
    """The parts of a state machine a deploy manages, normalised for comparison."""

    definition: dict[str, Any]
    role_arn: str
    logging: dict[str, Any]
    tracing: bool

    @classmethod
    def from_config(cls, config: PipelineConfig) -> MachineSettings:
        """The settings this configuration asks for."""
        from pipeline.definition import definition_json

        return cls(
            definition=json.loads(definition_json(config)),
            role_arn=config.account.workflow_role_arn,
            logging=normalise_logging(logging_configuration(config)),
            tracing=config.state_machine.tracing,
        )

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> MachineSettings:
        """The settings of a ``DescribeStateMachine`` answer (a machine or a version)."""
        return cls(
            definition=json.loads(described["definition"]),
            role_arn=described["roleArn"],
            logging=normalise_logging(described.get("loggingConfiguration")),
            tracing=bool((described.get("tracingConfiguration") or {}).get("enabled", False)),
        )

    def document(self) -> dict[str, Any]:
        """One JSON-ready document of every managed setting (what the hash and the diff cover)."""
        return {
            "roleArn": self.role_arn,
            "loggingConfiguration": self.logging,
            "tracingConfiguration": {"enabled": self.tracing},
            "definition": self.definition,
        }

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON document: equal exactly when the parsed settings are equal."""
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def pretty(self) -> list[str]:
        """The document as sorted, indented JSON lines, for a readable diff."""
        return (json.dumps(self.document(), sort_keys=True, indent=2) + "\n").splitlines(keepends=True)


@dataclass(frozen=True)
class AliasState:
    """The alias as read from AWS, with what its description records."""

    arn: str
    version_arn: str | None  # None unless it routes 100% to one version
    recorded_version: int | None
    recorded_hash: str | None

    def runs(self, settings: MachineSettings) -> bool:
        """True when the alias routes everything to the version it records, whose hash matches."""
        return (
            self.version_arn is not None
            and self.recorded_version is not None
            and version_number(self.version_arn) == self.recorded_version
            and self.recorded_hash == settings.fingerprint()
        )


@dataclass(frozen=True)
class Plan:
    """What a deploy would change: ``changes`` is False when it would write nothing."""

    changes: bool
    text: str


# -- names ------------------------------------------------------------------------------------
def state_machine_arn(config: PipelineConfig) -> str:
    """The state machine's ARN, in the workflow role's partition and account (no AWS call)."""
    parts = config.account.workflow_role_arn.split(":")
    partition, account = parts[1], parts[4]
    return f"arn:{partition}:states:{config.account.region}:{account}:stateMachine:{config.state_machine.name}"


def alias_arn(config: PipelineConfig) -> str:
    """The ARN of the configured alias (``config.state_machine.alias``), the target of every run."""
    return f"{state_machine_arn(config)}:{config.state_machine.alias}"


def version_number(version_arn: str) -> int:
    """The number at the end of a version ARN (``...:stateMachine:name:3`` -> 3)."""
    tail = version_arn.rsplit(":", 1)[1]
    if not tail.isdigit():
        raise PipelineError(f"{version_arn!r} is not a state machine version ARN")
    return int(tail)


def logging_configuration(config: PipelineConfig) -> dict[str, Any]:
    """The loggingConfiguration parameter for this configuration.

    Execution data (inputs and outputs) stays out of the logs: it would copy every stage's
    full SageMaker description into CloudWatch on each run.
    """
    logging: dict[str, Any] = {"level": config.state_machine.logging_level, "includeExecutionData": False}
    if config.state_machine.logging_level != "OFF" and config.state_machine.log_group_arn:
        logging["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": config.state_machine.log_group_arn}}]
    return logging


def normalise_logging(logging: dict[str, Any] | None) -> dict[str, Any]:
    """Logging settings in one shape: AWS omits empty destinations and defaults level to OFF."""
    logging = logging or {}
    groups = sorted(
        d.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", "") for d in logging.get("destinations") or []
    )
    return {
        "level": logging.get("level", "OFF"),
        "includeExecutionData": bool(logging.get("includeExecutionData", False)),
        "logGroups": groups,
    }


def alias_description(version_arn: str, settings: MachineSettings, commit_sha: str | None) -> str:
    """The alias description recording which version it runs and that version's hash."""
    text = f"{DESCRIPTION_PREFIX} version={version_number(version_arn)} config=sha256:{settings.fingerprint()}"
    return f"{text} commit={commit_sha}" if commit_sha else text


def version_description(commit_sha: str | None) -> str:
    """The description of a published version: the commit it was deployed from."""
    return f"commit {commit_sha}" if commit_sha else "deployed without a commit"


# -- reads ------------------------------------------------------------------------------------
def read_alias(sfn: SFNClient, arn: str) -> AliasState | None:
    """Describe the alias; None when it (or its state machine) does not exist."""
    try:
        alias = sfn.describe_state_machine_alias(stateMachineAliasArn=arn)
    except ClientError as exc:
        if error_code(exc) in MISSING:
            return None
        raise
    routes = alias.get("routingConfiguration") or []
    version = routes[0]["stateMachineVersionArn"] if len(routes) == 1 and routes[0].get("weight") == 100 else None
    match = _DESCRIPTION.match(alias.get("description") or "")
    return AliasState(
        arn=arn,
        version_arn=version,
        recorded_version=int(match["version"]) if match else None,
        recorded_hash=match["hash"] if match else None,
    )


def describe_or_none(sfn: SFNClient, arn: str) -> Mapping[str, Any] | None:
    """``DescribeStateMachine`` (of a machine or a version ARN); None when it does not exist."""
    try:
        return sfn.describe_state_machine(stateMachineArn=arn)
    except ClientError as exc:
        if error_code(exc) in MISSING:
            return None
        raise


# -- writes -----------------------------------------------------------------------------------
def point_alias(
    sfn: SFNClient,
    config: PipelineConfig,
    alias: AliasState | None,
    version_arn: str,
    settings: MachineSettings,
    commit_sha: str | None,
    out: Printer,
) -> None:
    """Create the alias, or update it, so it routes 100% to ``version_arn`` and records it."""
    routing: list[RoutingConfigurationListItemTypeDef] = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    description = alias_description(version_arn, settings, commit_sha)
    if alias is None:
        sfn.create_state_machine_alias(
            name=config.state_machine.alias, description=description, routingConfiguration=routing
        )
        out(f"alias {config.state_machine.alias}: created -> version {version_number(version_arn)}")
        return
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias.arn, description=description, routingConfiguration=routing
    )
    before = f"version {version_number(alias.version_arn)}" if alias.version_arn else "a split routing"
    out(f"alias {config.state_machine.alias}: {before} -> version {version_number(version_arn)}")


def deploy_state_machine(
    config: PipelineConfig, sfn: SFNClient, *, commit_sha: str | None = None, out: Printer = print
) -> DeployResult:
    """Make the alias run this configuration's state machine, writing only what differs.

    Absent: create with ``publish=True`` (version 1), then the alias. Different definition, role,
    logging or tracing: update with ``publish=True`` and move the alias. Unchanged (the alias
    already runs a version with these exact settings): one read, no write.
    """
    settings = MachineSettings.from_config(config)
    machine_arn = state_machine_arn(config)
    alias = read_alias(sfn, alias_arn(config))
    if alias is not None and alias.runs(settings):
        assert alias.version_arn is not None  # guaranteed by runs()
        out(
            f"state machine {config.state_machine.name}: unchanged; alias {config.state_machine.alias} "
            f"runs version {version_number(alias.version_arn)}"
        )
        return DeployResult(DeployAction.UNCHANGED, machine_arn, alias.version_arn, alias.arn, alias.version_arn)

    current = describe_or_none(sfn, machine_arn)
    from pipeline.definition import definition_json

    common: dict[str, Any] = {
        "definition": definition_json(config),
        "roleArn": config.account.workflow_role_arn,
        "loggingConfiguration": logging_configuration(config),
        "tracingConfiguration": {"enabled": config.state_machine.tracing},
        "publish": True,
        "versionDescription": version_description(commit_sha),
    }
    if current is None:
        response: Mapping[str, Any] = sfn.create_state_machine(
            name=config.state_machine.name,
            type="STANDARD",
            tags=[{"key": k, "value": v} for k, v in sorted(config.account.tags.items())],
            **common,
        )
        action = DeployAction.CREATED
        out(f"state machine {config.state_machine.name}: created")
    else:
        if MachineSettings.from_description(current) == settings:
            # The latest revision is right but the alias does not run it (no alias yet, a manual
            # rollback, or a deploy that stopped before moving the alias). Publishing it again is
            # how to get its version ARN: AWS returns the existing version of an unchanged
            # revision, and a fresh identical version would be as good.
            out(f"state machine {config.state_machine.name}: definition current; publishing it for the alias")
        else:
            out(f"state machine {config.state_machine.name}: {', '.join(changed_parts(current, settings))} changed")
        response = sfn.update_state_machine(stateMachineArn=machine_arn, **common)
        action = DeployAction.UPDATED
    version_arn = response["stateMachineVersionArn"]
    out(f"published version {version_number(version_arn)} ({version_description(commit_sha)})")
    if alias is None or not (alias.version_arn == version_arn and alias.runs(settings)):
        point_alias(sfn, config, alias, version_arn, settings, commit_sha, out)
    previous = alias.version_arn if alias is not None else None
    return DeployResult(action, machine_arn, version_arn, alias_arn(config), previous)


def changed_parts(current: Mapping[str, Any], settings: MachineSettings) -> list[str]:
    """Which managed settings differ between a described machine and the wanted ones."""
    deployed = MachineSettings.from_description(current)
    names = {
        "definition": deployed.definition != settings.definition,
        "role": deployed.role_arn != settings.role_arn,
        "logging": deployed.logging != settings.logging,
        "tracing": deployed.tracing != settings.tracing,
    }
    return [name for name, differs in names.items() if differs]


# -- plan -------------------------------------------------------------------------------------
def plan_deployment(config: PipelineConfig, sfn: SFNClient) -> Plan:
    """A readable unified diff of what a deploy would change, against what the alias runs.

    Compares with the version the alias runs (what executions get), else with the latest
    revision when there is no alias yet, else with nothing. Only reads.
    """
    settings = MachineSettings.from_config(config)
    alias = read_alias(sfn, alias_arn(config))
    name = config.state_machine.name
    if alias is not None and alias.version_arn is not None:
        deployed = describe_or_none(sfn, alias.version_arn)
        label = f"deployed: {name}, alias {config.state_machine.alias} -> version {version_number(alias.version_arn)}"
    else:
        deployed = describe_or_none(sfn, state_machine_arn(config))
        label = f"deployed: {name} (latest revision; alias {config.state_machine.alias} "
        label += "absent)" if alias is None else "split between versions)"
    if deployed is None:
        header = f"state machine {name} does not exist: deploy would create it and alias {config.state_machine.alias}"
        before: list[str] = []
        label = "deployed: nothing"
    else:
        current = MachineSettings.from_description(deployed)
        if current == settings and alias is not None and alias.version_arn is not None:
            return Plan(
                False, f"no changes: alias {config.state_machine.alias} of {name} already runs this configuration\n"
            )
        header = f"state machine {name}: deploy would " + (
            f"update {', '.join(changed_parts(deployed, settings))} and publish a new version"
            if current != settings
            else f"publish the current revision and point alias {config.state_machine.alias} at it"
        )
        before = current.pretty()
    diff = "".join(difflib.unified_diff(before, settings.pretty(), fromfile=label, tofile="this configuration"))
    return Plan(True, f"{header}\n{diff}")


# -- rollback ---------------------------------------------------------------------------------
def previous_version(sfn: SFNClient, config: PipelineConfig, current_version_arn: str) -> Mapping[str, Any]:
    """Describe the highest existing version below the current one.

    AWS keeps no alias history, so "previous" means the next lower version number. moto (and so
    the emulator) lacks ListStateMachineVersions; describing ``<arn>:<n>`` downwards works on
    both and usually takes one call, since versions are rarely deleted.
    """
    base = state_machine_arn(config)
    for number in range(version_number(current_version_arn) - 1, 0, -1):
        described = describe_or_none(sfn, f"{base}:{number}")
        if described is not None:
            return described
    raise PipelineError(
        f"alias {config.state_machine.alias} runs version {version_number(current_version_arn)} and no earlier "
        "version exists: nothing to roll back to"
    )


def rollback_alias(config: PipelineConfig, sfn: SFNClient, *, out: Printer = print) -> DeployResult:
    """Point the alias at the version before the one it runs; the state machine is not changed."""
    alias = read_alias(sfn, alias_arn(config))
    if alias is None:
        raise PipelineError(
            f"alias {config.state_machine.alias} of {config.state_machine.name} does not exist: deploy first"
        )
    if alias.version_arn is None:
        raise PipelineError(
            f"alias {config.state_machine.alias} splits traffic between two versions; set its routing by hand "
            "before rolling back"
        )
    target = previous_version(sfn, config, alias.version_arn)
    settings = MachineSettings.from_description(target)
    version_arn = target["stateMachineArn"]
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias.arn,
        description=alias_description(version_arn, settings, None) + " rollback",
        routingConfiguration=[{"stateMachineVersionArn": version_arn, "weight": 100}],
    )
    out(
        f"alias {config.state_machine.alias}: rolled back from version {version_number(alias.version_arn)} to "
        f"version {version_number(version_arn)} ({target.get('description') or 'no description'})"
    )
    return DeployResult(DeployAction.ROLLED_BACK, state_machine_arn(config), version_arn, alias.arn, alias.version_arn)
