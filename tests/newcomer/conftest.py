"""Fixtures of the newcomer tests: a moto account bootstrapped as a new user would do it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline.bootstrap import TEMPLATE_PATH, Repository, bootstrap, default_stack_name, parameters_from_config
from pipeline.config import PipelineConfig, load_config
from pipeline.data import generate_raw
from pipeline.emulator import patches, quotas
from tests.conftest import REGION

ACCOUNT = "123456789012"  # moto's default account, also config/pipeline.toml's sample account
OWNER, REPO = "acme", "big-mart"
PROVIDER_URL = "https://token.actions.githubusercontent.com"


class Clients:
    """boto3 clients on the moto account, one per service (the shape pipeline.clients.Clients has)."""

    endpoint_url = None

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}
        self.session = boto3.Session(region_name=REGION)

    def __call__(self, service: str) -> Any:
        if service not in self.cache:
            self.cache[service] = boto3.client(service, region_name=REGION)
        return self.cache[service]


@dataclass
class Account:
    """A bootstrapped moto account: the staging configuration, its clients and the OIDC provider."""

    config: PipelineConfig
    clients: Clients
    provider_arn: str
    printed: str


def write_train_csv(path: Path, rows: int = 50) -> Path:
    """A small CSV with the real Train.csv's columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_raw(rows, seed=1).to_csv(path, index=False)
    return path


@pytest.fixture
def moto_account() -> Iterator[None]:
    """A moto account with the emulator's patches (stack outputs, SageMaker quotas)."""
    patches.install()
    with mock_aws():
        yield


def bootstrap_environment(environment: str, clients: Clients) -> tuple[PipelineConfig, str]:
    """Run the bootstrap as docs/github-setup.md says (it finds the OIDC provider itself)."""
    config = load_config(environment, environ={})
    parameters = parameters_from_config(config, Repository(OWNER, REPO))
    out = io.StringIO()
    result = bootstrap(
        clients("cloudformation"),
        stack_name=default_stack_name(parameters.project_name),
        parameters=parameters,
        template_body=TEMPLATE_PATH.read_text(encoding="utf-8"),
        out=out,
        poll_seconds=0,
        iam=clients("iam"),
        s3=clients("s3"),
    )
    assert result.status == "created", out.getvalue()
    return config, out.getvalue()


def create_oidc_provider(clients: Clients) -> str:
    """GitHub's OIDC provider, as an account that already used GitHub OIDC has it."""
    return str(
        clients("iam").create_open_id_connect_provider(
            Url=PROVIDER_URL, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
        )["OpenIDConnectProviderArn"]
    )


@pytest.fixture(scope="module")
def shared_account() -> Iterator[Account]:
    """The staging stack bootstrapped once per module (moto's CloudFormation takes seconds); the
    account already had GitHub's OIDC provider (moto's CloudFormation cannot create one). Tests
    that change it put it back (see ``account``)."""
    patches.install()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws():
            clients = Clients()
            provider = create_oidc_provider(clients)
            config, printed = bootstrap_environment("staging", clients)
            yield Account(config, clients, provider, printed)


@pytest.fixture
def account(shared_account: Account) -> Iterator[Account]:
    """The bootstrapped account; quotas, the OIDC provider and the data prefix restored after each test."""
    yield shared_account
    quotas._applied(quotas.servicequotas_backends[ACCOUNT][REGION]).clear()
    iam = shared_account.clients("iam")
    if not iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        create_oidc_provider(shared_account.clients)
    s3 = shared_account.clients("s3")
    listed = s3.list_objects_v2(Bucket=shared_account.config.account.bucket).get("Contents", [])
    for item in listed:
        s3.delete_object(Bucket=shared_account.config.account.bucket, Key=item["Key"])
