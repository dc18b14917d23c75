"""The deploy role grants every call pipeline.autoscaling makes, scoped as far as AWS allows."""

from __future__ import annotations

import boto3
import pytest

from pipeline import autoscaling
from pipeline.clients import Clients
from pipeline.config import load_config
from tests.bootstrap.conftest import ACCOUNT, Deployed
from tests.bootstrap.test_deploy import SAGEMAKER, role_documents
from tests.conftest import REGION
from tests.tooling.calls import Call, recorded
from tests.tooling.permissions import policy_allows

pytestmark = [
    pytest.mark.bootstrap,
    pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy:UserWarning"),
]

# A scalable target's ARN ends in an ID Application Auto Scaling makes up.
TARGET_ARN = f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/056abc1234def5678ab90cd12ef34ab5678"
LINKED_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def request(call: Call) -> tuple[str | None, dict[str, str]]:
    """The resource ARN and condition keys IAM evaluates for one recorded call."""
    service, _, operation = call.action.partition(":")
    if service == "application-autoscaling":
        context = {
            "application-autoscaling:service-namespace": call.params["ServiceNamespace"],
            "application-autoscaling:scalable-dimension": call.params.get("ScalableDimension", ""),
        }
        return ("*" if operation.startswith("Describe") else TARGET_ARN), context
    if operation == "DescribeEndpoint":
        return f"{SAGEMAKER}:endpoint/{call.params['EndpointName']}", {}
    if operation == "DescribeEndpointConfig":
        return f"{SAGEMAKER}:endpoint-config/{call.params['EndpointConfigName']}", {}
    raise AssertionError(f"no IAM mapping for {call.action}: add it here when the code makes a new call")


def test_the_deploy_role_grants_every_autoscaling_call(deployed: Deployed) -> None:
    docs = role_documents(boto3.client("iam", region_name=REGION), "big-mart-staging-deploy")
    config = load_config("staging").replace(autoscaling=True)
    session = boto3.Session(region_name=REGION)
    clients = Clients(session=session)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(ModelName="big-mart-staging-r1-model", ExecutionRoleArn=config.account.sagemaker_role_arn)
    variant = {"VariantName": "AllTraffic", "ModelName": "big-mart-staging-r1-model", "InitialInstanceCount": 1}
    for name, instance_type in (("r1", "ml.m5.large"), ("r2", "ml.m5.xlarge")):
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"big-mart-staging-{name}-config",
            ProductionVariants=[{**variant, "InstanceType": instance_type}],
        )
    sagemaker.create_endpoint(EndpointName="big-mart-staging", EndpointConfigName="big-mart-staging-r2-config")
    with recorded(session) as calls:
        sagemaker, aas = clients("sagemaker"), clients("application-autoscaling")
        autoscaling.ensure_autoscaling(config, aas)
        assert autoscaling.prepare_update(config, sagemaker, aas, out=lambda _: None)  # m5.xlarge -> m5.large
        autoscaling.ensure_autoscaling(config, aas)
        autoscaling.deregister(config, aas)
    actions = {call.action for call in calls}
    assert actions >= {
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:DescribeScalableTargets",
        "sagemaker:DescribeEndpointConfig",
    }
    for call in calls:
        resource, context = request(call)
        assert policy_allows(docs, call.action, resource, context), (call.action, resource, context)
    # What Application Auto Scaling needs besides the calls themselves: its service-linked role,
    # and the caller's rights on the variant it will scale (SageMaker's prerequisites page).
    service = {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    assert policy_allows(docs, "iam:CreateServiceLinkedRole", LINKED_ROLE, service)
    endpoint = f"{SAGEMAKER}:endpoint/big-mart-staging"
    assert policy_allows(docs, "sagemaker:UpdateEndpointWeightsAndCapacities", endpoint)


def test_the_grants_stop_at_sagemaker_variants_and_this_endpoint(deployed: Deployed) -> None:
    docs = role_documents(boto3.client("iam", region_name=REGION), "big-mart-staging-deploy")
    variant = {
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }
    assert policy_allows(docs, "application-autoscaling:RegisterScalableTarget", TARGET_ARN, variant)
    for other in (
        {
            "application-autoscaling:service-namespace": "ecs",
            "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
        },
        {**variant, "application-autoscaling:scalable-dimension": "sagemaker:inference-component:DesiredCopyCount"},
        {},
    ):
        assert not policy_allows(docs, "application-autoscaling:RegisterScalableTarget", TARGET_ARN, other)
    assert not policy_allows(docs, "application-autoscaling:PutScheduledAction", TARGET_ARN, variant)
    assert not policy_allows(
        docs,
        "iam:CreateServiceLinkedRole",
        LINKED_ROLE,
        {"iam:AWSServiceName": "ecs.application-autoscaling.amazonaws.com"},
    )
    assert not policy_allows(
        docs, "sagemaker:UpdateEndpointWeightsAndCapacities", f"{SAGEMAKER}:endpoint/big-mart-prod"
    )
