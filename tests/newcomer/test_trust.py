"""The trust-policy reader doctor uses, on the shapes the bootstrap writes and on near misses."""

from __future__ import annotations

import pytest

from pipeline import trust

pytestmark = pytest.mark.newcomer

PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
SUB = "repo:acme/big-mart:environment:staging"


def deploy_trust(condition: dict[str, dict[str, object]]) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


EXACT = {
    "StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": SUB,
    }
}


def test_the_bootstrap_s_exact_subject() -> None:
    document = deploy_trust(EXACT)
    assert trust.github_providers(document) == [PROVIDER]
    assert trust.trusts_github(document, PROVIDER, audience="sts.amazonaws.com", subject=SUB)
    assert not trust.trusts_github(
        document, PROVIDER, audience="sts.amazonaws.com", subject=SUB.replace("staging", "prod")
    )
    assert not trust.trusts_github(document, PROVIDER, audience="other", subject=SUB)
    assert not trust.trusts_github(
        document, PROVIDER.replace("123456789012", "999999999999"), audience="sts.amazonaws.com", subject=SUB
    )


def test_string_like_and_unknown_operators() -> None:
    like = {
        "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
    }
    assert trust.trusts_github(deploy_trust(like), PROVIDER, audience="sts.amazonaws.com", subject=SUB)
    # An operator the reader does not evaluate never counts as trusting.
    other = {"ForAnyValue:StringEquals": {"token.actions.githubusercontent.com:sub": [SUB]}}
    assert not trust.trusts_github(deploy_trust(other), PROVIDER, audience="sts.amazonaws.com", subject=SUB)


def test_a_deny_or_another_action_does_not_trust() -> None:
    document = deploy_trust(EXACT)
    document["Statement"][0]["Effect"] = "Deny"  # type: ignore[index]
    assert not trust.trusts_github(document, PROVIDER, audience="sts.amazonaws.com", subject=SUB)


def test_service_roles() -> None:
    document = {
        "Statement": {
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
            "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    }
    assert trust.trusts_service(document, "states.amazonaws.com", {"aws:SourceAccount": "123456789012"})
    assert not trust.trusts_service(document, "states.amazonaws.com", {"aws:SourceAccount": "999999999999"})
    assert not trust.trusts_service(document, "sagemaker.amazonaws.com", {"aws:SourceAccount": "123456789012"})
