"""The bootstrap stack deployed on moto through bootstrap(): change sets, outputs, roles."""

from __future__ import annotations

import argparse
import ast
from typing import Any

import boto3
import pytest

from pipeline.bootstrap import BootstrapParameters, environment_project_names, overlapping_names
from pipeline.cli import bootstrap as bootstrap_cli
from pipeline.config import load_config
from pipeline.definition import execution_input, run_id_for_commit
from tests.bootstrap.conftest import ACCOUNT, PROVIDER_ARN, STACK, Deployed, deploy, make_parameters
from tests.conftest import REGION
from tests.tooling.permissions import policy_allows, web_identity_allowed

pytestmark = [
    pytest.mark.bootstrap,
    # moto's CloudFormation skips AWS::S3::BucketPolicy (checked statically in test_template.py).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy:UserWarning"),
]

SAGEMAKER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
STATES = f"arn:aws:states:{REGION}:{ACCOUNT}"


def role_documents(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The resolved inline policy documents of a role, as IAM (moto) stores them."""
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    documents = [iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"] for name in names]
    # AWS returns JSON that boto3 decodes; moto 5.2.5 returns the repr of the dict CloudFormation
    # resolved (single quotes), so that is read as a Python literal.
    return [doc if isinstance(doc, dict) else ast.literal_eval(doc) for doc in documents]


def stack_events(cfn: Any) -> int:
    return len(cfn.describe_stack_events(StackName=STACK)["StackEvents"])


def test_first_run_creates_the_stack_through_a_change_set(cfn: Any, deployed: Deployed) -> None:
    result = deployed.result
    assert result.status == "created"
    assert result.change_set_name and result.change_set_name.startswith("bootstrap-")
    summaries = cfn.list_change_sets(StackName=STACK)["Summaries"]
    assert [(s["ChangeSetName"], s["ExecutionStatus"]) for s in summaries] == [
        (result.change_set_name, "EXECUTE_COMPLETE")
    ]
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    added = {(c.action, c.logical_id, c.resource_type) for c in result.changes}
    assert {
        ("Add", "DeployRole", "AWS::IAM::Role"),
        ("Add", "WorkflowRole", "AWS::IAM::Role"),
        ("Add", "SageMakerExecutionRole", "AWS::IAM::Role"),
        ("Add", "ArtifactBucket", "AWS::S3::Bucket"),
    } <= added


def test_the_change_set_is_printed_before_it_is_executed(deployed: Deployed) -> None:
    printed = deployed.printed
    table = printed.index("Action  ")
    assert printed.index(f"Change set {deployed.result.change_set_name} (CREATE)") < table
    assert table < printed.index("Executing change set")
    assert "Add     DeployRole" in printed and "AWS::IAM::Role" in printed and "Replacement" in printed


def test_outputs_and_github_variables(deployed: Deployed) -> None:
    outputs = deployed.result.outputs
    assert outputs["DeployRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/big-mart-staging-deploy"
    assert outputs["WorkflowRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/big-mart-staging-workflow"
    assert outputs["SageMakerRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/big-mart-staging-sagemaker"
    assert outputs["OidcProviderArn"] == PROVIDER_ARN
    assert outputs["StateMachineArn"] == f"{STATES}:stateMachine:big-mart-staging"
    variables = deployed.result.github_variables
    assert variables == {
        "AWS_REGION": REGION,
        "PIPELINE_DEPLOY_ROLE_ARN": outputs["DeployRoleArn"],
        "PIPELINE_WORKFLOW_ROLE_ARN": outputs["WorkflowRoleArn"],
        "PIPELINE_SAGEMAKER_ROLE_ARN": outputs["SageMakerRoleArn"],
        "PIPELINE_BUCKET": f"big-mart-pipeline-staging-{ACCOUNT}",
        "PIPELINE_PREFIX": "sagemaker/big-mart-pipeline",
        "PIPELINE_STATE_MACHINE_NAME": "big-mart-staging",
        "PIPELINE_ENDPOINT_NAME": "big-mart-staging",
    }
    for name, value in variables.items():
        assert f"  {name}={value}\n" in deployed.printed
    assert (
        f"gh variable set PIPELINE_BUCKET --env staging --repo acme/big-mart --body {variables['PIPELINE_BUCKET']}"
        in deployed.printed
    )


def test_outputs_agree_with_the_checked_in_configuration(deployed: Deployed) -> None:
    cfg = load_config("staging")
    outputs = deployed.result.outputs
    assert (outputs["SageMakerRoleArn"], outputs["WorkflowRoleArn"], outputs["DeployRoleArn"]) == (
        cfg.sagemaker_role_arn,
        cfg.workflow_role_arn,
        cfg.deploy_role_arn,
    )
    assert (outputs["BucketName"], outputs["Prefix"], outputs["Region"]) == (cfg.bucket, cfg.prefix, cfg.region)


def test_resources_exist(deployed: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    names = {role["RoleName"] for role in iam.list_roles()["Roles"]}
    assert {"big-mart-staging-deploy", "big-mart-staging-workflow", "big-mart-staging-sagemaker"} <= names
    s3 = boto3.client("s3", region_name=REGION)
    encryption = s3.get_bucket_encryption(Bucket=deployed.parameters.bucket_name)
    assert encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


def test_second_run_reports_no_changes_and_writes_nothing(cfn: Any, deployed: Deployed, template_body: str) -> None:
    iam = boto3.client("iam", region_name=REGION)
    before_stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    before_events = stack_events(cfn)
    before_trust = iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["AssumeRolePolicyDocument"]

    result, printed = deploy(cfn, deployed.parameters, template_body)

    assert result.status == "no-changes" and result.changes == ()
    assert "no changes" in printed and "Executing" not in printed
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName=STACK)["Summaries"]] == [
        deployed.result.change_set_name
    ]
    assert stack_events(cfn) == before_events
    after_stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert after_stack["StackStatus"] == before_stack["StackStatus"]
    assert after_stack.get("LastUpdatedTime") == before_stack.get("LastUpdatedTime")
    assert iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["AssumeRolePolicyDocument"] == before_trust
    assert result.github_variables == deployed.result.github_variables


def test_a_changed_template_updates_the_stack(cfn: Any, deployed: Deployed, template_body: str) -> None:
    # A template change rather than a parameter change: moto's change sets do not see
    # parameters used only inside Fn::Sub (AWS does), so they would look empty here.
    changed = template_body.replace(
        'Description: !Sub "GitHub Actions', 'Description: !Sub "Deploy role of GitHub Actions'
    )
    assert changed != template_body
    result, printed = deploy(cfn, deployed.parameters, changed)
    assert result.status == "updated"
    assert [(c.action, c.logical_id) for c in result.changes] == [("Modify", "DeployRole")]
    assert "(UPDATE)" in printed and "Modify  DeployRole" in printed
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    iam = boto3.client("iam", region_name=REGION)
    # (moto applies only a role's Description on update, so that is what the change is.)
    assert iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["Description"].startswith("Deploy role of GitHub")
    assert result.outputs == deployed.result.outputs
    again, _ = deploy(cfn, deployed.parameters, changed)
    assert again.status == "no-changes"


def test_dry_run_prints_the_change_set_and_leaves_nothing(
    cfn: Any, parameters: BootstrapParameters, template_body: str
) -> None:
    result, printed = deploy(cfn, parameters, template_body, execute=False)
    assert result.status == "planned" and result.outputs == {}
    assert "Add     DeployRole" in printed and "Dry run" in printed
    assert cfn.list_stacks(StackStatusFilter=["REVIEW_IN_PROGRESS", "CREATE_COMPLETE"])["StackSummaries"] == []
    iam = boto3.client("iam", region_name=REGION)
    assert [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("big-mart")] == []


def test_dry_run_of_an_update_keeps_the_stack_as_it_was(cfn: Any, deployed: Deployed, template_body: str) -> None:
    changed = template_body.replace(
        'Description: !Sub "GitHub Actions', 'Description: !Sub "Deploy role of GitHub Actions'
    )
    result, printed = deploy(cfn, make_parameters(github_repo="other"), changed, execute=False)
    assert result.status == "planned" and "(UPDATE)" in printed and "Modify  DeployRole" in printed
    iam = boto3.client("iam", region_name=REGION)
    trust = iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"].startswith(
        "repo:acme/big-mart:"
    )
    assert iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["Description"].startswith("GitHub Actions acme/")
    assert len(cfn.list_change_sets(StackName=STACK)["Summaries"]) == 1


def test_the_deploy_role_can_be_assumed_with_a_web_identity(deployed: Deployed) -> None:
    sts = boto3.client("sts", region_name=REGION)
    response = sts.assume_role_with_web_identity(
        RoleArn=deployed.result.outputs["DeployRoleArn"],
        RoleSessionName="github-actions",
        WebIdentityToken="header.payload.signature",
    )
    assert ":assumed-role/big-mart-staging-deploy/github-actions" in response["AssumedRoleUser"]["Arn"]
    assert response["Credentials"]["AccessKeyId"]


@pytest.mark.parametrize(
    "claims,allowed",
    [
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart:environment:staging"}, True),
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart:environment:prod"}, False),
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart:ref:refs/heads/main"}, False),
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart:pull_request"}, False),
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart-evil:environment:staging"}, False),
        ({"aud": "sts.amazonaws.com", "sub": "repo:evil/big-mart:environment:staging"}, False),
        ({"aud": "https://github.com/acme", "sub": "repo:acme/big-mart:environment:staging"}, False),
        ({"sub": "repo:acme/big-mart:environment:staging"}, False),
    ],
)
def test_only_the_environment_s_jobs_may_assume_the_deploy_role(
    deployed: Deployed, claims: dict[str, str], allowed: bool
) -> None:
    iam = boto3.client("iam", region_name=REGION)
    trust = iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["AssumeRolePolicyDocument"]
    assert web_identity_allowed(trust, provider_arn=PROVIDER_ARN, claims=claims) is allowed
    other = "arn:aws:iam::123456789012:oidc-provider/example.com"
    assert not web_identity_allowed(trust, provider_arn=other, claims=claims)


def run_resources(run_id: str) -> dict[str, str]:
    names = execution_input(load_config("staging"), run_id)
    return {
        "training-job": f"{SAGEMAKER}:training-job/{names['TrainingJobName']}",
        "model": f"{SAGEMAKER}:model/{names['ModelName']}",
        "endpoint-config": f"{SAGEMAKER}:endpoint-config/{names['EndpointConfigName']}",
        "endpoint": f"{SAGEMAKER}:endpoint/big-mart-staging",
    }


def test_the_workflow_role_reaches_exactly_the_run_s_resources(deployed: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    docs = role_documents(iam, "big-mart-staging-workflow")
    run = run_resources(run_id_for_commit("0123456789abcdef", 1))
    expected = {
        "training-job": ["CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "AddTags", "ListTags"],
        "model": ["CreateModel", "AddTags"],
        "endpoint-config": ["CreateEndpointConfig", "AddTags", "CreateEndpoint", "UpdateEndpoint"],
        "endpoint": ["CreateEndpoint", "UpdateEndpoint", "DescribeEndpoint", "DeleteEndpoint", "AddTags"],
    }
    config = load_config("staging")
    # What SageMaker puts in sagemaker:InstanceTypes for this run's Create* requests.
    instance_types = {
        "training-job": [config.training_instance_type],
        "endpoint-config": [config.endpoint_instance_type],
    }
    for kind, actions in expected.items():
        context = {"sagemaker:InstanceTypes": instance_types.get(kind, [])}
        for action in actions:
            assert policy_allows(docs, f"sagemaker:{action}", run[kind], context), (action, run[kind])
    # Creation is limited to the configured instance types, and the key must be present.
    for action, kind in (("CreateTrainingJob", "training-job"), ("CreateEndpointConfig", "endpoint-config")):
        wanted = instance_types[kind]
        assert not policy_allows(
            docs, f"sagemaker:{action}", run[kind], {"sagemaker:InstanceTypes": ["ml.p4d.24xlarge"]}
        )
        assert not policy_allows(
            docs, f"sagemaker:{action}", run[kind], {"sagemaker:InstanceTypes": [*wanted, "ml.p5.48xlarge"]}
        )
        assert not policy_allows(docs, f"sagemaker:{action}", run[kind])
    # The gate's champion lookup and the registry, scoped to this environment's group and names.
    assert policy_allows(docs, "sagemaker:DescribeEndpointConfig", run["endpoint-config"])
    assert policy_allows(docs, "sagemaker:DescribeModel", run["model"])
    group = f"{SAGEMAKER}:model-package-group/big-mart-staging"
    version = f"{SAGEMAKER}:model-package/big-mart-staging/7"
    for action in ("CreateModelPackageGroup", "DescribeModelPackageGroup", "CreateModelPackage", "AddTags"):
        assert policy_allows(docs, f"sagemaker:{action}", group), action
        assert not policy_allows(docs, f"sagemaker:{action}", f"{SAGEMAKER}:model-package-group/big-mart-prod")
    for action in ("CreateModelPackage", "DescribeModelPackage"):
        assert policy_allows(docs, f"sagemaker:{action}", version), action
        assert not policy_allows(docs, f"sagemaker:{action}", f"{SAGEMAKER}:model-package/big-mart-prod/7")
    assert not policy_allows(docs, "sagemaker:UpdateModelPackage", version)  # approval is the CI job's
    prefix = f"arn:aws:s3:::big-mart-pipeline-staging-{ACCOUNT}/sagemaker/big-mart-pipeline"
    assert policy_allows(docs, "s3:GetObject", f"{prefix}/output/job/output/model.tar.gz")
    assert policy_allows(docs, "s3:PutObject", f"{prefix}/registry/job/model.tar.gz")
    assert not policy_allows(docs, "s3:PutObject", f"{prefix}/output/job/output/model.tar.gz")
    assert not policy_allows(docs, "s3:GetObject", f"{prefix}/data/train/train.csv")
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert policy_allows(docs, action, rule)
        assert not policy_allows(docs, action, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other")
    sagemaker_role = deployed.result.outputs["SageMakerRoleArn"]
    assert policy_allows(docs, "iam:PassRole", sagemaker_role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not policy_allows(docs, "iam:PassRole", sagemaker_role, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not policy_allows(
        docs,
        "iam:PassRole",
        deployed.result.outputs["DeployRoleArn"],
        {"iam:PassedToService": "sagemaker.amazonaws.com"},
    )
    # Another project's resources and other actions stay out of reach.
    assert not policy_allows(docs, "sagemaker:CreateModel", f"{SAGEMAKER}:model/big-mart-prod-x-model")
    assert not policy_allows(docs, "sagemaker:DeleteEndpoint", f"{SAGEMAKER}:endpoint/big-mart-prod")
    assert not policy_allows(docs, "sagemaker:DeleteEndpoint", f"{SAGEMAKER}:endpoint/big-mart-staging-2")
    assert not policy_allows(docs, "sagemaker:DeleteModel", run["model"])


def test_the_deploy_role_can_deploy_run_and_smoke_test_only_this_pipeline(deployed: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    docs = role_documents(iam, "big-mart-staging-deploy")
    machine = f"{STATES}:stateMachine:big-mart-staging"
    for action in (
        "CreateStateMachine",
        "UpdateStateMachine",
        "DescribeStateMachine",
        "PublishStateMachineVersion",
        "ListStateMachineVersions",
        "StartExecution",
        "TagResource",
    ):
        assert policy_allows(docs, f"states:{action}", machine), action
    for action in ("CreateStateMachineAlias", "UpdateStateMachineAlias", "DescribeStateMachineAlias", "StartExecution"):
        assert policy_allows(docs, f"states:{action}", f"{machine}:live"), action
    assert policy_allows(docs, "states:StartExecution", f"{machine}:3")
    execution = f"{STATES}:execution:big-mart-staging:0123456789ab-1"
    for action in ("DescribeExecution", "GetExecutionHistory", "StopExecution"):
        assert policy_allows(docs, f"states:{action}", execution), action
    workflow_role = deployed.result.outputs["WorkflowRoleArn"]
    assert policy_allows(docs, "iam:PassRole", workflow_role, {"iam:PassedToService": "states.amazonaws.com"})
    assert not policy_allows(
        docs,
        "iam:PassRole",
        deployed.result.outputs["SageMakerRoleArn"],
        {"iam:PassedToService": "states.amazonaws.com"},
    )
    version = f"{SAGEMAKER}:model-package/big-mart-staging/3"
    for action in ("DescribeModelPackage", "UpdateModelPackage"):
        assert policy_allows(docs, f"sagemaker:{action}", version), action
        assert not policy_allows(docs, f"sagemaker:{action}", f"{SAGEMAKER}:model-package/big-mart-prod/3")
    endpoint = f"{SAGEMAKER}:endpoint/big-mart-staging"
    for action in ("DescribeEndpoint", "UpdateEndpoint", "InvokeEndpoint"):
        assert policy_allows(docs, f"sagemaker:{action}", endpoint), action
    assert policy_allows(
        docs, "sagemaker:DescribeEndpointConfig", f"{SAGEMAKER}:endpoint-config/big-mart-staging-x-config"
    )
    bucket = f"arn:aws:s3:::big-mart-pipeline-staging-{ACCOUNT}"
    assert policy_allows(docs, "s3:PutObject", f"{bucket}/sagemaker/big-mart-pipeline/data/train/train.csv")
    assert policy_allows(docs, "s3:GetObject", f"{bucket}/sagemaker/big-mart-pipeline/output/model.tar.gz")
    # Nothing beyond this pipeline.
    assert not policy_allows(docs, "states:StartExecution", f"{STATES}:stateMachine:big-mart-prod")
    assert not policy_allows(docs, "states:DeleteStateMachine", machine)
    assert not policy_allows(docs, "sagemaker:InvokeEndpoint", f"{SAGEMAKER}:endpoint/big-mart-prod")
    assert not policy_allows(docs, "sagemaker:CreateEndpoint", endpoint)
    assert not policy_allows(docs, "s3:PutObject", f"{bucket}/elsewhere/x")
    assert not policy_allows(docs, "s3:DeleteObject", f"{bucket}/sagemaker/big-mart-pipeline/data/x")


def test_the_sagemaker_role_reads_data_writes_output_and_pulls_the_image(deployed: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    docs = role_documents(iam, "big-mart-staging-sagemaker")
    bucket = f"arn:aws:s3:::big-mart-pipeline-staging-{ACCOUNT}"
    prefix = f"{bucket}/sagemaker/big-mart-pipeline"
    assert policy_allows(docs, "s3:GetObject", f"{prefix}/data/train/train.csv")
    assert policy_allows(docs, "s3:GetObject", f"{prefix}/output/job/output/model.tar.gz")
    assert policy_allows(docs, "s3:PutObject", f"{prefix}/output/job/output/model.tar.gz")
    assert not policy_allows(docs, "s3:PutObject", f"{prefix}/data/train/train.csv")
    # Endpoints serve the registered copy; only the state machine writes it.
    assert policy_allows(docs, "s3:GetObject", f"{prefix}/registry/job/model.tar.gz")
    assert not policy_allows(docs, "s3:PutObject", f"{prefix}/registry/job/model.tar.gz")
    assert policy_allows(docs, "s3:ListBucket", bucket, {"s3:prefix": "sagemaker/big-mart-pipeline/data/train"})
    assert not policy_allows(docs, "s3:ListBucket", bucket, {"s3:prefix": "other/"})
    repository = f"arn:aws:ecr:{REGION}:141502667606:repository/sagemaker-xgboost"
    for action in ("BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability"):
        assert policy_allows(docs, f"ecr:{action}", repository)
        assert not policy_allows(docs, f"ecr:{action}", f"arn:aws:ecr:{REGION}:141502667606:repository/other")
    assert policy_allows(docs, "ecr:GetAuthorizationToken", "*")
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs"
    assert policy_allows(docs, "logs:PutLogEvents", f"{group}:log-stream:big-mart-staging-x-train/algo-1")
    assert not policy_allows(docs, "logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/other")


def test_run_deploys_from_the_configuration(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    bootstrap_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "bootstrap",
            "--env",
            "staging",
            "--github-owner",
            "acme",
            "--github-repo",
            "big-mart",
            "--existing-oidc-provider-arn",
            PROVIDER_ARN,
            "--poll-seconds",
            "0",
        ]
    )
    result = bootstrap_cli.run(args, session=boto3.Session(region_name=REGION))
    assert result.status == "created" and result.stack_name == STACK
    assert "PIPELINE_DEPLOY_ROLE_ARN=arn:aws:iam::123456789012:role/big-mart-staging-deploy" in capsys.readouterr().out
    again = bootstrap_cli.run(args, session=boto3.Session(region_name=REGION))
    assert again.status == "no-changes"


def test_python_m_pipeline_bootstrap(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    argv = ["bootstrap", "--env", "staging", "--github-owner", "acme", "--github-repo", "big-mart",
            "--existing-oidc-provider-arn", PROVIDER_ARN]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Change set bootstrap-" in printed and "PIPELINE_WORKFLOW_ROLE_ARN=" in printed
    assert main(argv) == 0
    assert "no changes" in capsys.readouterr().out


def test_python_m_pipeline_bootstrap_rejects_bad_values_with_exit_2(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    code = main(["bootstrap", "--env", "staging", "--github-owner=-acme", "--github-repo", "big?mart"])
    assert code == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith("error: github_owner (GitHubOwner) = '-acme' is not allowed")
    assert errors[1].startswith("error: github_repo (GitHubRepo) = 'big?mart' contains a wildcard")
    assert boto3.client("cloudformation", region_name=REGION).list_stacks()["StackSummaries"] == []


ID_CLAIMS = "repository_owner_id:72338:repository_id:987654"


@pytest.mark.parametrize(
    "claims,allowed",
    [
        ({"aud": "sts.amazonaws.com", "sub": f"{ID_CLAIMS}:environment:staging:ref:refs/heads/main"}, True),
        ({"aud": "sts.amazonaws.com", "sub": f"{ID_CLAIMS}:environment:staging:ref:refs/heads/feature"}, False),
        ({"aud": "sts.amazonaws.com", "sub": f"{ID_CLAIMS}:environment:prod:ref:refs/heads/main"}, False),
        (
            {
                "aud": "sts.amazonaws.com",
                "sub": "repository_owner_id:72338:repository_id:111:environment:staging:ref:refs/heads/main",
            },
            False,
        ),
        # The name form no longer works once the stack trusts IDs.
        ({"aud": "sts.amazonaws.com", "sub": "repo:acme/big-mart:environment:staging"}, False),
    ],
)
def test_the_id_subject_trusts_the_repository_id_the_environment_and_main_only(
    cfn: Any, template_body: str, claims: dict[str, str], allowed: bool
) -> None:
    parameters = make_parameters(oidc_subject="id", github_owner_id="72338", github_repository_id="987654")
    _, printed = deploy(cfn, parameters.validate(), template_body)
    iam = boto3.client("iam", region_name=REGION)
    trust = iam.get_role(RoleName="big-mart-staging-deploy")["Role"]["AssumeRolePolicyDocument"]
    assert web_identity_allowed(trust, provider_arn=PROVIDER_ARN, claims=claims) is allowed
    assert f"sub = {ID_CLAIMS}:environment:staging:ref:refs/heads/main" in printed
    assert "actions/oidc/customization/sub -F use_default=false" in printed


@pytest.mark.parametrize(
    "names,overlaps",
    [
        ({"staging": "big-mart-staging", "prod": "big-mart-prod"}, False),
        ({"staging": "big-mart", "prod": "big-mart-prod"}, True),  # big-mart-* matches big-mart-prod-*
        ({"staging": "big-mart", "prod": "big-mart"}, True),
        ({"staging": "big-mart-x", "prod": "big-martx"}, False),
    ],
)
def test_environment_name_patterns_must_not_overlap(names: dict[str, str], overlaps: bool) -> None:
    problems = overlapping_names(names)
    assert bool(problems) is overlaps
    if overlaps:
        assert "would also match the other's resources" in problems[0]


def test_the_checked_in_environments_do_not_overlap() -> None:
    config = load_config("staging")
    assert overlapping_names(environment_project_names(config, None)) == []
    assert set(environment_project_names(config, None)) == {"staging", "prod"}
