"""Autoscaling on the emulator: an update keeps the capacity autoscaling reached; a new instance
type needs the scalable target deregistered first (AWS's "Update endpoints that use auto scaling")."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.autoscaling import DIMENSION, NAMESPACE, current, ensure_autoscaling, prepare_update, resource_id
from pipeline.emulator import Emulator, Timings
from tests.conftest import REGION
from tests.emulator.conftest import TIME_SCALE, Pipeline

pytestmark = pytest.mark.emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(timings=Timings(time_scale=TIME_SCALE)) as emulator:
        yield emulator


def variant(pipeline: Pipeline) -> dict:
    return pipeline.endpoint()["ProductionVariants"][0]


def scale_to(pipeline: Pipeline, count: int) -> None:
    """What Application Auto Scaling does when traffic grows (its service-linked role's call)."""
    pipeline.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=pipeline.cfg.endpoint.name,
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": count}],
    )


def test_prod_registers_the_configured_target_and_policy_and_an_update_keeps_the_reached_capacity(
    emu: Emulator,
) -> None:
    prod = Pipeline(emu, "prod")
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert prod.run("run1")["status"] == "SUCCEEDED"
    assert variant(prod)["DesiredInstanceCount"] == prod.cfg.endpoint.instance_count == 2
    result = ensure_autoscaling(prod.cfg, aas)
    assert result.action == "registered"
    target = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(prod.cfg)])[
        "ScalableTargets"
    ][0]
    assert target["ResourceId"] == "endpoint/big-mart-prod/variant/AllTraffic"
    assert target["ScalableDimension"] == DIMENSION
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    policy = aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=resource_id(prod.cfg))[
        "ScalingPolicies"
    ][0]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 70.0
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (300, 60)
    assert ensure_autoscaling(prod.cfg, aas).action == "unchanged"
    assert ensure_autoscaling(prod.cfg.replace(autoscaling_max_capacity=6), aas).action == "updated"
    assert current(prod.cfg, aas).max_capacity == 6

    scale_to(prod, 4)  # autoscaling reached its maximum under load
    assert prod.run("run2")["status"] == "SUCCEEDED"
    assert prod.endpoint()["EndpointConfigName"] == prod.config_name("run2")
    assert variant(prod)["DesiredInstanceCount"] == variant(prod)["CurrentInstanceCount"] == 4


def test_without_autoscaling_an_update_takes_the_new_configs_count(emu: Emulator) -> None:
    # The control: the emulator drops a reached capacity unless the update retains it.
    staging = Pipeline(emu)
    assert not staging.cfg.autoscaling.enabled
    assert staging.run("run1")["status"] == "SUCCEEDED"
    scale_to(staging, 3)
    assert staging.run("run2")["status"] == "SUCCEEDED"
    assert variant(staging)["DesiredInstanceCount"] == staging.cfg.endpoint.instance_count == 1
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert not current(staging.cfg, aas).registered
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []


def test_a_new_instance_type_is_refused_until_the_target_is_deregistered(emu: Emulator) -> None:
    prod = Pipeline(emu, "prod")
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert prod.run("run1")["status"] == "SUCCEEDED"
    ensure_autoscaling(prod.cfg, aas)
    serving = prod.sagemaker.describe_endpoint_config(EndpointConfigName=prod.config_name("run1"))
    bigger = prod.cfg.replace(endpoint_instance_type="ml.m5.xlarge")
    prod.sagemaker.create_endpoint_config(
        EndpointConfigName="big-mart-prod-bigger",
        ProductionVariants=[{**serving["ProductionVariants"][0], "InstanceType": "ml.m5.xlarge"}],
    )
    with pytest.raises(ClientError, match="Application Auto Scaling"):
        prod.sagemaker.update_endpoint(EndpointName="big-mart-prod", EndpointConfigName="big-mart-prod-bigger")
    # The same type (a new model only) needs nothing, as AWS's page says.
    assert prepare_update(prod.cfg, prod.sagemaker, aas, out=lambda _: None) is False
    lines: list[str] = []
    assert prepare_update(bigger, prod.sagemaker, aas, execute=False, out=lines.append) is True
    assert current(prod.cfg, aas).registered, "a plan deregisters nothing"
    assert "would deregister endpoint/big-mart-prod/variant/AllTraffic" in lines[0] and "ml.m5.xlarge" in lines[0]
    assert prepare_update(bigger, prod.sagemaker, aas, out=lines.append) is True
    assert not current(prod.cfg, aas).registered
    prod.sagemaker.update_endpoint(
        EndpointName="big-mart-prod", EndpointConfigName="big-mart-prod-bigger", RetainAllVariantProperties=True
    )


def test_turning_autoscaling_off_deregisters_at_the_next_deploy(emu: Emulator) -> None:
    prod = Pipeline(emu, "prod")
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert prod.run("run1")["status"] == "SUCCEEDED"
    ensure_autoscaling(prod.cfg, aas)
    lines: list[str] = []
    assert prepare_update(prod.cfg.replace(autoscaling=False), prod.sagemaker, aas, out=lines.append)
    assert "autoscaling = false" in lines[0]
    assert not current(prod.cfg, aas).registered
    assert aas.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"] == []
