"""doctor: each check passes on a bootstrapped account and fails, with its fix, when broken."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pipeline import doctor
from pipeline.cli import main
from pipeline.doctor import FAIL, OK, WARN, Check
from pipeline.emulator import quotas
from tests.conftest import REGION
from tests.newcomer.conftest import ACCOUNT, OWNER, REPO, Account, write_train_csv

pytestmark = pytest.mark.newcomer


def checks_of(account: Account, tmp_path: Path, **changes: Any) -> dict[str, Check]:
    environ = changes.pop("environ", {})
    config = account.config.replace(**changes) if changes else account.config
    found = doctor.run_checks(config, account.clients, repository=f"{OWNER}/{REPO}", environ=environ, root=tmp_path)
    return {check.name: check for check in found}


def test_every_check_passes_on_a_bootstrapped_account(account: Account, tmp_path: Path) -> None:
    write_train_csv(tmp_path / "data" / "Train.csv")
    checks = checks_of(account, tmp_path)
    assert {name: check.status for name, check in checks.items()} == {
        "region": OK,
        "credentials": OK,
        "deploy role big-mart-staging-deploy": OK,
        "OIDC provider": OK,
        "workflow role big-mart-staging-workflow": OK,
        "sagemaker role big-mart-staging-sagemaker": OK,
        "bucket": OK,
        "quota ml.m5.large for endpoint usage": OK,
        "quota ml.m5.xlarge for training job usage": OK,
        "training data": OK,
    }
    assert f"account {ACCOUNT}" in checks["credentials"].detail
    assert checks["deploy role big-mart-staging-deploy"].detail == (
        f"trusts repo:{OWNER}/{REPO}:environment:staging through {account.provider_arn}"
    )


def test_the_cli_prints_one_line_per_check_and_exits_0(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_train_csv(tmp_path / "data" / "Train.csv")
    assert main(["doctor", "--repository", f"{OWNER}/{REPO}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and all(line.startswith("ok ") for line in lines[:-1])
    assert lines[-1] == "10 of 10 checks passed"


def test_a_repository_the_deploy_role_does_not_trust_fails_with_the_subject(account: Account, tmp_path: Path) -> None:
    found = doctor.run_checks(
        account.config.replace(training_data="synthetic"),
        account.clients,
        repository="someone/else",
        environ={},
        root=tmp_path,
    )
    check = next(c for c in found if c.name.startswith("deploy role"))
    assert check.status == FAIL
    assert check.detail.startswith("does not trust repo:someone/else:environment:staging (it trusts repo:acme/big-mart")
    assert "OIDC subject template" in check.fix


def test_an_unknown_repository_is_a_warning_not_a_failure(account: Account, tmp_path: Path) -> None:
    found = doctor.run_checks(account.config, account.clients, repository=None, environ={}, root=tmp_path)
    check = next(c for c in found if c.name.startswith("deploy role"))
    assert check.status == WARN and "--repository" in check.fix


def test_missing_roles_and_bucket_fail_with_bootstrap_as_the_fix(account: Account, tmp_path: Path) -> None:
    other = "arn:aws:iam::123456789012:role/nothing-here-{}"
    checks = checks_of(
        account,
        tmp_path,
        deploy_role_arn=other.format("deploy"),
        workflow_role_arn=other.format("workflow"),
        bucket="no-such-bucket-big-mart",
        training_data="synthetic",
    )
    for name in ("deploy role nothing-here-deploy", "workflow role nothing-here-workflow", "bucket"):
        assert checks[name].status == FAIL and "bootstrap" in checks[name].fix, checks[name]
    assert checks["OIDC provider"].status == FAIL  # nothing to find it from
    assert checks["training data"].status == WARN and "synthetic" in checks["training data"].detail


def test_a_too_low_quota_fails_with_the_request_command(account: Account, tmp_path: Path) -> None:
    quotas.set_quota(ACCOUNT, REGION, "ml.m5.large for endpoint usage", 0)
    checks = checks_of(account, tmp_path, training_data="synthetic")
    check = checks["quota ml.m5.large for endpoint usage"]
    assert check.status == FAIL
    assert check.detail.startswith("0 instances allowed, 1 configured")
    code = quotas.quota_code("ml.m5.large for endpoint usage")
    assert check.fix == (
        f"aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code {code} "
        f"--desired-value 1 --region {REGION}"
    )
    # The prod count (2) is checked against the same quota.
    assert checks_of(account, tmp_path, endpoint_instance_count=5, training_data="synthetic")[
        "quota ml.m5.large for endpoint usage"
    ].detail.startswith("0 instances allowed, 5 configured")


def test_an_instance_type_without_a_quota_fails(account: Account, tmp_path: Path) -> None:
    checks = checks_of(account, tmp_path, training_instance_type="ml.p4d.24xlarge", training_data="synthetic")
    check = checks["quota ml.p4d.24xlarge for training job usage"]
    assert check.status == FAIL and "no such SageMaker quota" in check.detail


def test_a_deleted_oidc_provider_fails(account: Account, tmp_path: Path) -> None:
    account.clients("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=account.provider_arn)
    check = checks_of(account, tmp_path, training_data="synthetic")["OIDC provider"]
    assert check.status == FAIL and "does not exist" in check.detail


def test_credentials_of_another_account_fail(account: Account, tmp_path: Path) -> None:
    arn = "arn:aws:iam::999999999999:role/big-mart-staging-{}"
    checks = checks_of(account, tmp_path, workflow_role_arn=arn.format("workflow"), training_data="synthetic")
    assert checks["credentials"].status == FAIL
    assert "configuration's roles are in account 999999999999" in checks["credentials"].detail


def test_in_actions_missing_environment_variables_fail_first(account: Account, tmp_path: Path) -> None:
    environ = {"GITHUB_ACTIONS": "true", "PIPELINE_ENV": "staging", "AWS_REGION": REGION, "PIPELINE_BUCKET": "b"}
    found = doctor.run_checks(account.config, account.clients, repository=None, environ=environ, root=tmp_path)
    assert found[0].name == "variables" and found[0].status == FAIL
    assert found[0].detail == (
        "not set on the GitHub environment 'staging': PIPELINE_DEPLOY_ROLE_ARN, PIPELINE_WORKFLOW_ROLE_ARN, "
        "PIPELINE_SAGEMAKER_ROLE_ARN"
    )
    complete = dict(
        environ, PIPELINE_DEPLOY_ROLE_ARN="x", PIPELINE_WORKFLOW_ROLE_ARN="x", PIPELINE_SAGEMAKER_ROLE_ARN="x"
    )
    assert doctor.run_checks(account.config, account.clients, environ=complete, root=tmp_path)[0].status == OK
    # Outside Actions there is no such check.
    assert doctor.run_checks(account.config, account.clients, environ={}, root=tmp_path)[0].name == "region"


@pytest.mark.parametrize(
    "content,problem",
    [
        (None, "the file does not exist"),
        ("a,b\n1,2\n", "its header lacks Item_Identifier"),
    ],
)
def test_training_data_that_is_not_there_fails(
    account: Account, tmp_path: Path, content: str | None, problem: str
) -> None:
    if content is not None:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "Train.csv").write_text(content)
    check = checks_of(account, tmp_path)["training data"]
    assert check.status == FAIL and problem in check.detail and "Train.csv" in check.fix


def test_training_data_in_s3_is_checked_for_the_prepared_files(account: Account, tmp_path: Path) -> None:
    check = checks_of(account, tmp_path, training_data="s3")["training data"]
    assert check.status == FAIL and "lacks train/, validation/, encoding.json" in check.detail
    s3 = account.clients("s3")
    for key in ("train/train.csv", "validation/validation.csv", "encoding.json"):
        s3.put_object(Bucket=account.config.bucket, Key=f"{account.config.prefix}/data/{key}", Body=b"x")
    assert checks_of(account, tmp_path, training_data="s3")["training data"].status == OK


def test_without_credentials_every_aws_check_is_skipped_with_one_failure(account: Account, tmp_path: Path) -> None:
    found = doctor.run_checks(
        account.config.replace(training_data="synthetic"),
        None,
        credentials_problem="STS said no",
        environ={},
        root=tmp_path,
    )
    assert [(c.name, c.status) for c in found] == [("region", OK), ("credentials", FAIL), ("training data", WARN)]
    assert found[1].detail == "STS said no"


def test_the_cli_exits_1_when_a_check_fails_and_writes_the_summary(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "doctor",
                "--repository",
                f"{OWNER}/{REPO}",
                "--set",
                "training_data=synthetic",
                "--set",
                "bucket=no-such-bucket-big-mart",
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "FAIL bucket: no-such-bucket-big-mart does not exist -> fix: run `python -m pipeline bootstrap`" in out
    assert out.splitlines()[-1] == "9 of 10 checks passed; fix the FAIL lines"
    text = summary.read_text()
    # Synthetic data is the summary's first line.
    assert text.splitlines()[0].startswith("> **Synthetic data**")
    assert "| FAIL | bucket |" in text


def test_quota_calls_match_botocore_s_model() -> None:
    """The two Service Quotas calls, with the parameters and response shapes botocore models."""
    client = boto3.client("service-quotas", region_name=REGION)
    quota = {"QuotaName": "ml.m5.large for endpoint usage", "QuotaCode": "L-12345678", "Value": 2.0}
    with Stubber(client) as stub:
        stub.add_response(
            "list_aws_default_service_quotas", {"Quotas": [dict(quota, Value=0.0)]}, {"ServiceCode": "sagemaker"}
        )
        stub.add_response("list_service_quotas", {"Quotas": [quota]}, {"ServiceCode": "sagemaker"})
        found = doctor.sagemaker_quotas(client)
        stub.assert_no_pending_responses()
    # The applied value wins over AWS's default.
    assert found["ml.m5.large for endpoint usage"]["Value"] == 2.0


def test_oidc_and_role_calls_match_botocore_s_model() -> None:
    iam = boto3.client("iam", region_name=REGION)
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    with Stubber(iam) as stub:
        stub.add_response(
            "get_open_id_connect_provider",
            {"Url": "token.actions.githubusercontent.com", "ClientIDList": ["sts.amazonaws.com"], "ThumbprintList": []},
            {"OpenIDConnectProviderArn": arn},
        )
        assert doctor.check_oidc_provider(iam, arn).status == OK
        stub.add_response(
            "get_open_id_connect_provider", {"ClientIDList": ["something-else"]}, {"OpenIDConnectProviderArn": arn}
        )
        check = doctor.check_oidc_provider(iam, arn)
        assert check.status == FAIL and "add-client-id-to-open-id-connect-provider" in check.fix


def test_an_id_subject_is_compared_inside_actions(account: Account) -> None:
    """The bootstrap's oidc_subject = "id" trust, compared with the IDs Actions exposes."""
    sub = "repository_owner_id:11:repository_id:22:environment:staging:ref:refs/heads/main"
    iam = account.clients("iam")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": account.provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": sub,
                    }
                },
            }
        ],
    }
    import json

    iam.create_role(RoleName="id-subject-deploy", AssumeRolePolicyDocument=json.dumps(policy))
    arn = iam.get_role(RoleName="id-subject-deploy")["Role"]["Arn"]
    ids = {"GITHUB_REPOSITORY_OWNER_ID": "11", "GITHUB_REPOSITORY_ID": "22"}
    check, _ = doctor.check_deploy_role(iam, arn, f"{OWNER}/{REPO}", "staging", ids)
    assert check.status == OK and check.detail.startswith(f"trusts {sub}")
    check, _ = doctor.check_deploy_role(iam, arn, f"{OWNER}/{REPO}", "staging", {})
    assert check.status == WARN and "compared inside Actions only" in check.fix
    check, _ = doctor.check_deploy_role(iam, arn, f"{OWNER}/{REPO}", "staging", dict(ids, GITHUB_REPOSITORY_ID="23"))
    assert check.status == FAIL
