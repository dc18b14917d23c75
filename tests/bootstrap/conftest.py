"""Fixtures of the bootstrap tests: the template, valid parameters and a moto account."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode_str
from moto import mock_aws
from moto.cloudformation.models import CloudFormationBackend

from pipeline.bootstrap import TEMPLATE_PATH, BootstrapParameters, BootstrapResult, bootstrap
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
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto account, with one gap of moto 5.2.5 filled so outputs can be read.

    moto builds a stack's outputs when the Stack object is created; a stack created through a
    CREATE change set therefore keeps the empty outputs of its empty template and an UPDATE
    change set never refreshes them (CreateStack/UpdateStack do). AWS recomputes outputs on
    every execution, so after moto's ExecuteChangeSet this rebuilds them from the new template.
    """
    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", execute_change_set)
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
