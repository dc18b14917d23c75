"""What a role's trust policy lets assume it: a service, or GitHub OIDC tokens of one subject.

A reader of the two shapes the bootstrap writes (doctor checks them), not a policy engine:
Allow statements only, ``StringEquals`` / ``StringLike`` conditions on the keys asked about;
a statement with any other condition operator is not counted as trusting.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

OIDC_ISSUER = "token.actions.githubusercontent.com"
_OPERATORS = ("StringEquals", "StringLike")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The policy's statements as a list."""
    found = document.get("Statement", [])
    return [found] if isinstance(found, Mapping) else list(found)


def _allows(statement: Mapping[str, Any], action: str) -> bool:
    actions = [str(a).lower() for a in _as_list(statement.get("Action"))]
    return statement.get("Effect") == "Allow" and (action.lower() in actions or "sts:*" in actions)


def _conditions_hold(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, pairs in condition.items():
        if operator not in _OPERATORS:
            return False
        for key, wanted in pairs.items():
            value = context.get(key)
            if value is None:
                return False
            patterns = [str(item) for item in _as_list(wanted)]
            if operator == "StringEquals" and value not in patterns:
                return False
            if operator == "StringLike" and not any(fnmatch.fnmatchcase(value, p) for p in patterns):
                return False
    return True


def _trusts(document: Mapping[str, Any], action: str, principal: tuple[str, str], context: Mapping[str, str]) -> bool:
    """Whether an Allow statement grants ``action`` to ``principal`` (kind, value) under ``context``."""
    kind, value = principal
    return any(
        _allows(statement, action)
        and value in _as_list(statement.get("Principal", {}).get(kind))
        and _conditions_hold(statement.get("Condition", {}), context)
        for statement in statements(document)
    )


def trusts_service(document: Mapping[str, Any], service: str, context: Mapping[str, str]) -> bool:
    """Whether ``service`` (e.g. ``states.amazonaws.com``) may call sts:AssumeRole with ``context``."""
    return _trusts(document, "sts:AssumeRole", ("Service", service), context)


def github_providers(document: Mapping[str, Any]) -> list[str]:
    """The GitHub OIDC provider ARNs the policy names as federated principals."""
    return [
        str(principal)
        for statement in statements(document)
        for principal in _as_list(statement.get("Principal", {}).get("Federated"))
        if str(principal).endswith(f"oidc-provider/{OIDC_ISSUER}")
    ]


def trusts_github(document: Mapping[str, Any], provider_arn: str, *, audience: str, subject: str) -> bool:
    """Whether a token from ``provider_arn`` with this ``aud`` and ``sub`` may assume the role."""
    context = {f"{OIDC_ISSUER}:aud": audience, f"{OIDC_ISSUER}:sub": subject}
    return _trusts(document, "sts:AssumeRoleWithWebIdentity", ("Federated", provider_arn), context)


def github_subjects(document: Mapping[str, Any]) -> list[str]:
    """The ``sub`` values the policy's conditions name (exact or patterns), in order."""
    found: list[str] = []
    for statement in statements(document):
        for operator in _OPERATORS:
            for key, wanted in statement.get("Condition", {}).get(operator, {}).items():
                if key == f"{OIDC_ISSUER}:sub":
                    found += [str(item) for item in _as_list(wanted)]
    return found
