"""The IAM actions a state machine definition needs, and how a policy compares with them.

The workflow role in ``infra/bootstrap.yaml`` must grant exactly what the generated state
machine calls: ``required_actions(build_definition(cfg))`` walks every Task state (inside
Parallel branches and Map processors too), maps its ``Resource`` to IAM actions and adds what
the integration pattern needs (``.sync`` polls and listens to EventBridge; a ``Tags``
parameter needs ``sagemaker:AddTags``). ``compare`` then reports what a policy lacks and what it
grants beyond that. The mapping follows the AWS Step Functions guide, "IAM policies for Amazon
SageMaker" (sagemaker-iam.html); an integration it does not know is an error, so a new kind of
stage cannot slip through without someone deciding its permissions.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import PipelineError

_SERVICE_INTEGRATION = re.compile(r"^arn:aws[a-z-]*:states:::(?P<integration>.+)$")
_LAMBDA_FUNCTION = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:.+$")
_ACTIVITY = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:activity:.+$")
_PATTERN_SUFFIXES = (".sync:2", ".sync", ".waitForTaskToken")

TRAINING_JOB_SYNC = frozenset(
    {
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:ListTags",
        "iam:PassRole",
        # The managed rule StepFunctionsGetEventsForSageMakerTrainingJobsRule.
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    }
)

# Optimised integrations (arn:aws:states:::<key>) -> IAM actions, before the Tags rule.
OPTIMIZED_INTEGRATIONS: Mapping[str, frozenset[str]] = {
    "sagemaker:createTrainingJob": frozenset({"sagemaker:CreateTrainingJob", "sagemaker:ListTags", "iam:PassRole"}),
    "sagemaker:createTrainingJob.sync": TRAINING_JOB_SYNC,
    # AWS's page grants sagemaker:ListTags with these three (as CDK does); the template scopes
    # it to the project's resources, which the Service Authorization Reference allows.
    "sagemaker:createModel": frozenset({"sagemaker:CreateModel", "sagemaker:ListTags", "iam:PassRole"}),
    "sagemaker:createEndpointConfig": frozenset({"sagemaker:CreateEndpointConfig", "sagemaker:ListTags"}),
    "sagemaker:createEndpoint": frozenset({"sagemaker:CreateEndpoint", "sagemaker:ListTags"}),
    "sagemaker:updateEndpoint": frozenset({"sagemaker:UpdateEndpoint"}),
}

# aws-sdk actions that are not themselves IAM actions: CopyObject is authorised as a read of the
# source and a write of the destination (S3's "Actions, resources, and condition keys" page).
SDK_ACTION_OVERRIDES: Mapping[str, frozenset[str]] = {
    "s3:copyObject": frozenset({"s3:GetObject", "s3:PutObject"}),
}

# aws-sdk service names whose IAM prefix differs from the SDK name.
SDK_SERVICE_PREFIXES: Mapping[str, str] = {
    "sfn": "states",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "sagemakerruntime": "sagemaker",
}


class UnknownIntegrationError(PipelineError):
    """A Task calls a service integration whose IAM actions this module does not know."""


@dataclass(frozen=True)
class TaskCall:
    """One Task state of a definition: where it is, what it calls and whether it sends tags."""

    state: str
    resource: str
    sends_tags: bool
    # UpdateEndpoint with DeploymentConfig.AutoRollbackConfiguration: SageMaker's guardrails page
    # says the caller needs cloudwatch:DescribeAlarms on those alarms.
    rollback_alarms: bool = False


@dataclass(frozen=True)
class PermissionDiff:
    """The difference between the actions a definition needs and those a policy grants."""

    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """True when the policy grants exactly the required actions."""
        return not self.missing and not self.extra

    def describe(self, role: str = "the workflow role") -> str:
        """A readable report: each missing action with the states needing it, then the extras."""
        lines = []
        for action, states in sorted(self.missing.items()):
            lines.append(f"{role} lacks {action}, needed by state(s) {', '.join(states)}")
        for action in sorted(self.extra):
            lines.append(f"{role} grants {action}, which no state of the definition needs")
        return "\n".join(lines) if lines else f"{role} grants exactly what the definition needs"


def task_calls(definition: Mapping[str, Any]) -> list[TaskCall]:
    """Every Task state in ``definition``, including those inside Parallel and Map states."""
    return list(_walk(definition, ""))


def _walk(machine: Mapping[str, Any], path: str) -> Iterator[TaskCall]:
    for name, state in machine.get("States", {}).items():
        where = f"{path}{name}"
        kind = state.get("Type")
        if kind == "Task":
            arguments = state.get("Parameters") or state.get("Arguments") or {}
            sends_tags = isinstance(arguments, Mapping) and ("Tags" in arguments or "Tags.$" in arguments)
            deployment = arguments.get("DeploymentConfig") if isinstance(arguments, Mapping) else None
            alarms = isinstance(deployment, Mapping) and "AutoRollbackConfiguration" in deployment
            yield TaskCall(where, str(state.get("Resource", "")), sends_tags, rollback_alarms=alarms)
        elif kind == "Parallel":
            for index, branch in enumerate(state.get("Branches", [])):
                yield from _walk(branch, f"{where}/branch{index}/")
        elif kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            yield from _walk(processor, f"{where}/")


def actions_for(call: TaskCall) -> frozenset[str]:
    """The IAM actions one Task state needs; raises UnknownIntegrationError if unmapped."""
    actions = _integration_actions(call)
    if call.rollback_alarms and "sagemaker:UpdateEndpoint" in actions:
        actions |= {"cloudwatch:DescribeAlarms"}
    return actions


def _integration_actions(call: TaskCall) -> frozenset[str]:
    resource = call.resource
    if _LAMBDA_FUNCTION.match(resource):
        return frozenset({"lambda:InvokeFunction"})
    if _ACTIVITY.match(resource):
        return frozenset()  # the worker polls the activity; the role needs nothing
    match = _SERVICE_INTEGRATION.match(resource)
    if not match:
        raise UnknownIntegrationError(
            f"state {call.state!r}: Resource {resource!r} is not a Step Functions integration ARN"
        )
    integration = match.group("integration")
    if integration.startswith("aws-sdk:"):
        return _sdk_actions(call, integration)
    actions = OPTIMIZED_INTEGRATIONS.get(integration)
    if actions is None:
        known = ", ".join(sorted(OPTIMIZED_INTEGRATIONS))
        raise UnknownIntegrationError(
            f"state {call.state!r}: integration {integration!r} has no IAM mapping in pipeline.permissions "
            f"(known: {known}, aws-sdk:*); add it with the actions the AWS guide lists"
        )
    if call.sends_tags and integration.startswith("sagemaker:"):
        actions = actions | {"sagemaker:AddTags"}
    return actions


def _sdk_actions(call: TaskCall, integration: str) -> frozenset[str]:
    parts = integration.split(":")
    if len(parts) != 3 or not parts[2]:
        raise UnknownIntegrationError(f"state {call.state!r}: {integration!r} is not aws-sdk:<service>:<action>")
    service, api = parts[1], parts[2]
    for suffix in _PATTERN_SUFFIXES:
        if api.endswith(suffix):
            if suffix != ".waitForTaskToken":
                raise UnknownIntegrationError(f"state {call.state!r}: aws-sdk integrations do not support {suffix}")
            api = api[: -len(suffix)]
    override = SDK_ACTION_OVERRIDES.get(f"{service}:{api}")
    if override is not None:
        return override
    prefix = SDK_SERVICE_PREFIXES.get(service, service)
    actions = frozenset({f"{prefix}:{api[:1].upper()}{api[1:]}"})
    if call.sends_tags and prefix == "sagemaker":
        # SageMaker authorises tags given at creation as sagemaker:AddTags on the new resource.
        actions |= {"sagemaker:AddTags"}
    return actions


def required_actions(definition: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Map each IAM action the definition needs to the states that need it."""
    needed: dict[str, list[str]] = {}
    for call in task_calls(definition):
        for action in actions_for(call):
            needed.setdefault(action, []).append(call.state)
    return {action: tuple(states) for action, states in sorted(needed.items())}


def policy_actions(documents: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """All actions the Allow statements of the policy documents grant (as written, patterns kept).

    ``NotAction`` is refused: it grants everything it does not name, which defeats the check.
    """
    granted: set[str] = set()
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, Mapping) else statements:
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                raise PipelineError(f"statement {statement.get('Sid', '?')!r} uses NotAction; list the actions instead")
            action = statement.get("Action", [])
            granted.update([action] if isinstance(action, str) else action)
    return frozenset(granted)


def compare(required: Mapping[str, Iterable[str]], granted: Iterable[str]) -> PermissionDiff:
    """Compare required actions with granted ones (IAM actions match case-insensitively).

    An action is missing when no granted entry matches it (wildcards honoured, so ``sagemaker:*``
    covers everything); a granted entry is extra unless it is exactly one required action, so a
    wildcard is always reported.
    """
    grants = {g.lower(): g for g in granted}
    missing = {
        action: tuple(states)
        for action, states in required.items()
        if not any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in grants)
    }
    wanted = {action.lower() for action in required}
    extra = frozenset(original for lowered, original in grants.items() if lowered not in wanted)
    return PermissionDiff(missing=missing, extra=extra)


def check_definition(definition: Mapping[str, Any], documents: Iterable[Mapping[str, Any]]) -> PermissionDiff:
    """Compare what ``definition`` needs with what the policy ``documents`` grant."""
    return compare(required_actions(definition), policy_actions(documents))


# --- A small evaluator of identity and trust policies -------------------------------------
# Enough of IAM's rules to check this project's own policies offline (moto does not enforce
# IAM): Allow/Deny, Action/Resource wildcards, Principal, and the condition operators the
# templates use. An operator it does not know is an error, never a silent pass.

_STRING_OPERATORS = {
    "StringEquals": lambda actual, wanted: actual == wanted,
    "StringLike": lambda actual, wanted: fnmatch.fnmatchcase(actual, wanted),
    "ArnEquals": lambda actual, wanted: actual == wanted,
    "ArnLike": lambda actual, wanted: fnmatch.fnmatchcase(actual, wanted),
    "Bool": lambda actual, wanted: actual.lower() == str(wanted).lower(),
}


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _matches(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _condition_holds(operator: str, actual: Any, wanted: list[str]) -> bool:
    """One operator on one key; ``actual`` is None when the request does not carry the key."""
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return all((actual is None) == (str(w).lower() == "true") for w in wanted)
    qualifier, _, base = operator.rpartition(":")
    compare_values = _STRING_OPERATORS.get(base)
    if compare_values is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise PipelineError(f"condition operator {operator!r} is not supported by pipeline.permissions")
    if qualifier == "ForAllValues":
        # IAM: true when every value of a multivalued key matches, and also when there is none.
        return all(any(compare_values(value, w) for w in wanted) for value in _as_list(actual or []))
    if qualifier == "ForAnyValue":
        return any(any(compare_values(value, w) for w in wanted) for value in _as_list(actual or []))
    return actual is not None and any(compare_values(actual, w) for w in wanted)


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str | Sequence[str]]) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if not _condition_holds(operator, context.get(key), [str(w) for w in _as_list(wanted)]):
                return False
    return True


def _principal_matches(statement: Mapping[str, Any], principal: Mapping[str, str] | None) -> bool:
    if principal is None:
        return "Principal" not in statement
    declared = statement.get("Principal")
    if declared == "*":
        return True
    if not isinstance(declared, Mapping):
        return False
    return any(value in _as_list(declared.get(kind, [])) for kind, value in principal.items())


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str | None,
    context: Mapping[str, str | Sequence[str]] | None = None,
    principal: Mapping[str, str] | None = None,
) -> bool:
    """True when ``statement`` covers this request (whatever its Effect)."""
    if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
        raise PipelineError("NotAction, NotResource and NotPrincipal are not supported by pipeline.permissions")
    if not any(_matches(a, action, case_sensitive=False) for a in _as_list(statement.get("Action", []))):
        return False
    if resource is not None and not any(
        _matches(r, resource, case_sensitive=True) for r in _as_list(statement.get("Resource", []))
    ):
        return False
    if not _principal_matches(statement, principal):
        return False
    return _conditions_hold(statement.get("Condition", {}), context or {})


def policy_allows(
    documents: Iterable[Mapping[str, Any]],
    action: str,
    resource: str | None,
    context: Mapping[str, str | Sequence[str]] | None = None,
    principal: Mapping[str, str] | None = None,
) -> bool:
    """Evaluate one request against policy documents: an explicit Deny wins, else any Allow.

    For a trust policy pass ``resource=None`` and the caller as ``principal`` (e.g.
    ``{"Federated": provider_arn}``) with the token's claims in ``context``.
    """
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in [statements] if isinstance(statements, Mapping) else statements:
            if statement_applies(statement, action, resource, context, principal):
                if statement.get("Effect") == "Deny":
                    return False
                allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def web_identity_allowed(trust_policy: Mapping[str, Any], *, provider_arn: str, claims: Mapping[str, str]) -> bool:
    """Whether a GitHub OIDC token with ``claims`` (``aud``, ``sub``, ...) may assume the role."""
    issuer = "token.actions.githubusercontent.com"
    context = {f"{issuer}:{name}": value for name, value in claims.items()}
    return policy_allows(
        [trust_policy], "sts:AssumeRoleWithWebIdentity", None, context, principal={"Federated": provider_arn}
    )
