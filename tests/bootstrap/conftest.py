"""Fixtures of the bootstrap tests: the template, valid parameters and a moto account."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline.bootstrap import TEMPLATE_PATH, BootstrapParameters, BootstrapResult, bootstrap
from pipeline.emulator import patches
from tests.conftest import REGION

ACCOUNT = "123456789012"  # moto's default account
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
STACK = "big-mart-staging-bootstrap"


@pytest.fixture(scope="session")
def template_body() -> str:
    """The template's text, as CloudFormation receives it."""
    return Path(TEMPLATE_PATH).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def template(template_body: str) -> dict[str, Any]:
    """The template parsed by cfn-lint's decoder (short-form intrinsics become Fn:: dicts)."""
    # Imported here: cfn-lint pulls in sympy and networkx (~0.6 s), which a worker that collects
    # the bootstrap tests but runs none of them would pay for nothing.
    from cfnlint.decode import decode_str

    parsed, matches = decode_str(template_body)
    assert not matches, matches
    return parsed


def make_parameters(**changes: str) -> BootstrapParameters:
    """Valid staging parameters (the values config/pipeline.toml gives), with ``changes``."""
    values = {
        "github_owner": "acme",
        "github_repo": "big-mart",
        "environment_name": "staging",
        "project_name": "big-mart-staging",
        "state_machine_name": "big-mart-staging",
        "bucket_name": f"big-mart-pipeline-staging-{ACCOUNT}",
        "prefix": "sagemaker/big-mart-pipeline",
        "algorithm_image_repository_arn": f"arn:aws:ecr:{REGION}:141502667606:repository/sagemaker-xgboost",
        # moto skips AWS::IAM::OIDCProvider, so the tests take the "existing provider" path.
        "existing_oidc_provider_arn": PROVIDER_ARN,
    }
    values.update(changes)
    return BootstrapParameters(**values)


@pytest.fixture
def parameters() -> BootstrapParameters:
    """Valid staging parameters."""
    return make_parameters()


@pytest.fixture
def aws() -> Iterator[None]:
    """A moto account with the emulator's patches, which rebuild a stack's outputs after
    ExecuteChangeSet as AWS does (moto 5.2.5 leaves them empty)."""
    patches.install()
    with mock_aws():
        yield


@pytest.fixture
def cfn(aws: None) -> Any:
    """A CloudFormation client on the moto account."""
    return boto3.client("cloudformation", region_name=REGION)


@dataclass
class Deployed:
    """A bootstrap stack deployed on moto, with what the first run printed."""

    result: BootstrapResult
    printed: str
    parameters: BootstrapParameters


def deploy(cfn: Any, parameters: BootstrapParameters, template_body: str, **kwargs: Any) -> tuple[BootstrapResult, str]:
    """Run bootstrap() against moto without sleeping; return the result and what it printed."""
    out = io.StringIO()
    result = bootstrap(
        cfn,
        stack_name=kwargs.pop("stack_name", STACK),
        parameters=parameters,
        template_body=template_body,
        out=out,
        poll_seconds=0,
        **kwargs,
    )
    return result, out.getvalue()


@pytest.fixture
def deployed(cfn: Any, parameters: BootstrapParameters, template_body: str) -> Deployed:
    """The bootstrap stack, created by bootstrap() through a change set on moto."""
    result, printed = deploy(cfn, parameters, template_body)
    return Deployed(result, printed, parameters)
