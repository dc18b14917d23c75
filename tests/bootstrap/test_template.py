"""Static checks of infra/bootstrap.yaml: lint, least privilege, trust policy, bucket."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import config as pipeline_config
from pipeline.bootstrap import GITHUB_VARIABLES, TEMPLATE_PATH, BootstrapParameters
from tests.bootstrap.conftest import make_parameters

pytestmark = pytest.mark.bootstrap

# Allow statements whose Resource may be "*", with the reason. Everything else must be scoped.
WILDCARD_RESOURCE_ALLOWED = {
    ("SageMakerExecutionRole", "EcrLogin"): "ecr:GetAuthorizationToken has no resource type",
    ("SageMakerExecutionRole", "PublishSageMakerMetrics"): (
        "cloudwatch:PutMetricData has no resource type; a cloudwatch:namespace condition limits it"
    ),
    ("DeployRole", "PreflightQuotas"): "servicequotas:ListServiceQuotas has no resource type (doctor)",
    ("DeployRole", "PreflightDefaultQuotas"): "servicequotas:ListAWSDefaultServiceQuotas has no resource type",
    ("DeployRole", "HourlyCosts"): "pricing:GetProducts has no resource type (deploy --plan's costs)",
    ("DeployRole", "FindReusableVersion"): "sagemaker:ListModelPackages has no resource type (run's reuse)",
    ("DeployRole", "ReadScalableTargets"): "application-autoscaling:DescribeScalableTargets has no resource type",
    ("DeployRole", "ReadScalingPolicies"): "application-autoscaling:DescribeScalingPolicies has no resource type",
    ("DeployRole", "ListModels"): "sagemaker:ListModels has no resource type (prune)",
    ("DeployRole", "ListEndpointConfigs"): "sagemaker:ListEndpointConfigs has no resource type (prune)",
    ("DeployRole", "ListModelVersions"): "sagemaker:ListModelPackages has no resource type (prune)",
}


def role_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every statement of every role's inline policies."""
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            # A conditional policy (Fn::If [condition, policy, AWS::NoValue]) is checked as if granted.
            policy = policy["Fn::If"][1] if "Fn::If" in policy else policy
            for statement in policy["PolicyDocument"]["Statement"]:
                found.append((logical_id, statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    completed = subprocess.run(
        [str(cfn_lint), "--regions", "eu-west-1", "us-east-1", "--", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_no_wildcard_actions(template: dict[str, Any]) -> None:
    for logical_id, statement in role_statements(template):
        assert "NotAction" not in statement and "NotResource" not in statement, (logical_id, statement)
        for action in as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, f"{logical_id}/{statement.get('Sid')}: {action}"


def test_no_wildcard_resources_except_the_allow_list(template: dict[str, Any]) -> None:
    seen = set()
    for logical_id, statement in role_statements(template):
        key = (logical_id, statement.get("Sid"))
        if as_list(statement["Resource"]) == ["*"] or "*" in as_list(statement["Resource"]):
            assert key in WILDCARD_RESOURCE_ALLOWED, f"{key} grants {statement['Action']} on '*'"
            assert len(as_list(statement["Action"])) == 1, f"{key}: keep allow-listed wildcards to one action"
            seen.add(key)
    assert seen == set(WILDCARD_RESOURCE_ALLOWED), "the allow-list names statements that no longer exist"


def test_every_allow_statement_is_in_the_account_or_a_parameter(template: dict[str, Any]) -> None:
    # Scoped ARNs are built with ${AWS::AccountId} / GetAtt / Ref, never a literal account.
    for logical_id, statement in role_statements(template):
        text = repr(statement["Resource"])
        assert not re.search(r"\d{12}", text), f"{logical_id}/{statement.get('Sid')} hard-codes an account"


def test_pass_role_is_conditioned_and_scoped(template: dict[str, Any]) -> None:
    expected = {
        "WorkflowRole": ("SageMakerExecutionRole", "sagemaker.amazonaws.com"),
        "DeployRole": ("WorkflowRole", "states.amazonaws.com"),
    }
    found = {}
    for logical_id, statement in role_statements(template):
        if "iam:PassRole" not in as_list(statement["Action"]):
            continue
        assert as_list(statement["Action"]) == ["iam:PassRole"], "PassRole gets a statement of its own"
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": expected[logical_id][1]}}
        assert statement["Resource"] == {"Fn::GetAtt": [expected[logical_id][0], "Arn"]}
        found[logical_id] = True
    assert set(found) == set(expected)
    assert "iam:PassRole" not in repr([s for r, s in role_statements(template) if r == "SageMakerExecutionRole"])


def test_deploy_role_trust_is_exact(template: dict[str, Any]) -> None:
    trust = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {
        "Federated": {
            "Fn::If": ["CreateOidcProvider", {"Ref": "GitHubOidcProvider"}, {"Ref": "ExistingOidcProviderArn"}]
        }
    }
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": {
                "Fn::If": [
                    "SubjectById",
                    {
                        "Fn::Sub": "repository_owner_id:${GitHubOwnerId}:repository_id:${GitHubRepositoryId}"
                        ":environment:${EnvironmentName}:ref:refs/heads/main"
                    },
                    {"Fn::Sub": "repo:${GitHubOwner}/${GitHubRepo}:environment:${EnvironmentName}"},
                ]
            },
        }
    }
    text = repr(trust)
    assert "ForAllValues" not in text and "ForAnyValue" not in text and "StringLike" not in text


def test_service_roles_trust_only_their_service_in_this_account(template: dict[str, Any]) -> None:
    for logical_id, service in (
        ("WorkflowRole", "states.amazonaws.com"),
        ("SageMakerExecutionRole", "sagemaker.amazonaws.com"),
    ):
        (statement,) = template["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": service}
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize(
    "field,values",
    [
        ("github_owner", ["acme", "a-b", "A1", "", "a*", "-a", "a-", "a--b", "a" * 40, "a/b", "a?"]),
        ("github_repo", ["big-mart", "x.y_z", "", "r*", "a b", "a/b", "r" * 101]),
        ("environment_name", ["staging", "prod-eu", "", "*", "st?", "a b", "-x", "e" * 65]),
        ("project_name", ["big-mart-staging", "a", "Big", "-a", "a-", "a_b", "", "x*", "p" * 41]),
        ("state_machine_name", ["big-mart-staging", "A_b-1", "", "a b", "a*", "s" * 81]),
        ("bucket_name", ["big-mart-pipeline-staging-123456789012", "ab", "Abc", "a_b", "abc-", "", "b*c"]),
        ("prefix", ["sagemaker/big-mart-pipeline", "p", "/p", "p/", "a//b", "", "p/*", "a b"]),
        ("github_owner_id", ["", "72338", "0", "12a", "-1", "1" * 21, "*"]),
        ("github_repository_id", ["", "123456789", "01", "x", "9" * 20]),
        ("training_instance_type", ["ml.m5.xlarge", "m5.xlarge", "ml.m5", "ml.*", ""]),
        ("endpoint_instance_type", ["ml.m5.large", "ml.g4dn.xlarge", "ML.m5.large", ""]),
        (
            "existing_oidc_provider_arn",
            [
                "",
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                "arn:aws:iam::123456789012:oidc-provider/*",
                "arn:aws:iam::123456789012:oidc-provider/example.com",
            ],
        ),
    ],
)
def test_python_validation_agrees_with_the_template_patterns(
    template: dict[str, Any], field: str, values: list[str]
) -> None:
    spec = template["Parameters"][BootstrapParameters.CFN_NAMES[field]]
    pattern = re.compile(spec["AllowedPattern"])
    for value in values:
        accepted_by_template = bool(pattern.match(value)) and len(value) <= spec.get("MaxLength", 10**6)
        accepted_by_python = not make_parameters(**{field: value}).problems()
        if field == "bucket_name" and accepted_by_template and not accepted_by_python:
            continue  # Python also applies S3 rules a regex cannot express (IP form, '..')
        assert accepted_by_template == accepted_by_python, (field, value)
        if "*" in value or "?" in value:
            assert not accepted_by_template, (field, value)


def test_template_parameters_are_exactly_the_python_ones(template: dict[str, Any]) -> None:
    assert set(template["Parameters"]) == set(BootstrapParameters.CFN_NAMES.values())


def test_bucket_is_encrypted_private_versioned_and_retained(template: dict[str, Any]) -> None:
    # moto's CloudFormation ignores these bucket properties, so they are checked here.
    bucket = template["Resources"]["ArtifactBucket"]
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_bucket_policy_denies_plain_http(template: dict[str, Any]) -> None:
    policy = template["Resources"]["ArtifactBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArtifactBucket"}
    statements = policy["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Deny" for s in statements), "the bucket policy only denies"
    tls = [s for s in statements if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1
    assert tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*"
    assert tls[0]["Resource"] == [{"Fn::GetAtt": ["ArtifactBucket", "Arn"]}, {"Fn::Sub": "${ArtifactBucket.Arn}/*"}]


def test_oidc_provider_is_created_only_without_an_existing_one(template: dict[str, Any]) -> None:
    assert template["Conditions"]["CreateOidcProvider"] == {"Fn::Equals": [{"Ref": "ExistingOidcProviderArn"}, ""]}
    provider = template["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]
    assert provider["DeletionPolicy"] == "Retain"


def test_outputs_cover_every_github_variable(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for variable, output in GITHUB_VARIABLES:
        assert output in outputs, f"{variable} needs output {output}"


def test_github_variable_names_are_the_config_environment_variables() -> None:
    for variable, _output in GITHUB_VARIABLES:
        if variable == "AWS_REGION":
            continue
        key = variable.removeprefix(pipeline_config.ENV_PREFIX).lower()
        assert key in pipeline_config.KEYS, f"{variable} sets no configuration key"
        assert pipeline_config.env_var_name(key) == variable


def test_role_names_match_the_configuration_convention(template: dict[str, Any]) -> None:
    cfg = pipeline_config.load_config("staging")
    names = {
        logical_id: resource["Properties"]["RoleName"]["Fn::Sub"].replace("${ProjectName}", cfg.endpoint.name)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    assert cfg.account.sagemaker_role_arn.endswith(":role/" + names["SageMakerExecutionRole"])
    assert cfg.account.workflow_role_arn.endswith(":role/" + names["WorkflowRole"])
    assert cfg.account.deploy_role_arn is not None and cfg.account.deploy_role_arn.endswith(
        ":role/" + names["DeployRole"]
    )


def test_oidc_subject_is_name_or_id(template: dict[str, Any]) -> None:
    spec = template["Parameters"]["OidcSubject"]
    assert spec["AllowedValues"] == ["name", "id"] and spec["Default"] == "name"
    assert not make_parameters(oidc_subject="name").problems()
    assert make_parameters(oidc_subject="ids").problems() == [
        "oidc_subject (OidcSubject) = 'ids' is not allowed; use 'name' (the default) or 'id'"
    ]


def test_the_id_subject_needs_both_ids() -> None:
    problems = make_parameters(oidc_subject="id", github_owner_id="72338").problems()
    assert problems == [
        "github_repository_id (GitHubRepositoryId) is required with oidc_subject = 'id' "
        "(gh api repos/acme/big-mart --jq '.owner.id, .id')"
    ]


def test_subject_matches_the_template_for_both_formats() -> None:
    assert make_parameters().subject() == "repo:acme/big-mart:environment:staging"
    by_id = make_parameters(oidc_subject="id", github_owner_id="72338", github_repository_id="987654")
    assert by_id.subject() == "repository_owner_id:72338:repository_id:987654:environment:staging:ref:refs/heads/main"


def creation_statement(template: dict[str, Any], action: str) -> dict[str, Any]:
    (statement,) = [
        s for role, s in role_statements(template) if role == "WorkflowRole" and action in as_list(s["Action"])
    ]
    return statement


@pytest.mark.parametrize(
    ("action", "parameter"),
    [
        ("sagemaker:CreateTrainingJob", "TrainingInstanceType"),
        ("sagemaker:CreateEndpointConfig", "EndpointInstanceType"),
    ],
)
def test_sagemaker_creation_is_limited_to_the_configured_instance_type(
    template: dict[str, Any], action: str, parameter: str
) -> None:
    statement = creation_statement(template, action)
    assert as_list(statement["Action"]) == [action], "alone, so the condition binds exactly this action"
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [{"Ref": parameter}]},
        # ForAllValues is also true when the key is absent: require it.
        "Null": {"sagemaker:InstanceTypes": "false"},
    }


def test_log_permissions_name_the_project_s_log_groups_and_streams(template: dict[str, Any]) -> None:
    statements = [
        s for role, s in role_statements(template) if any(a.startswith("logs:") for a in as_list(s["Action"]))
    ]
    resources = [r["Fn::Sub"] for s in statements for r in as_list(s["Resource"])]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    assert sorted(resources) == sorted(
        [
            prefix + "/aws/sagemaker/TrainingJobs",
            prefix + "/aws/sagemaker/Endpoints/${ProjectName}",
            prefix + "/aws/sagemaker/TrainingJobs:log-stream:${ProjectName}-*",
            prefix + "/aws/sagemaker/Endpoints/${ProjectName}:log-stream:*",
        ]
    )
