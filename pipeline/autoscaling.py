"""Capacity that follows traffic: the endpoint's variant registered with Application Auto Scaling.

After a passing smoke test (``pipeline.smoke``) the variant ``endpoint/<name>/variant/AllTraffic``
is registered as a scalable target (dimension ``sagemaker:variant:DesiredInstanceCount``) between
``autoscaling_min_capacity`` and ``autoscaling_max_capacity``, with a target tracking policy on
``SageMakerVariantInvocationsPerInstance``. Both calls are idempotent: a deploy re-applies the
configured values, and an unchanged registration is not written again.

AWS's page "Update endpoints that use auto scaling" says an update that changes the instance type
of a variant that is a scalable target fails, and that the target must then be deregistered first
(only then: a new model alone is allowed). ``prepare_update`` does that before the state machine
runs, and deregisters a target the configuration no longer wants (``autoscaling = false``). The
state machine's UpdateEndpoint passes ``RetainAllVariantProperties`` whenever autoscaling is on,
so a new config never drops the instance count autoscaling reached (the same page, step 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from pipeline.alarms import VARIANT_NAME
from pipeline.aws_errors import error_code
from pipeline.config import PipelineConfig
from pipeline.endpoint_wait import is_not_found as endpoint_missing
from pipeline.printer import Printer

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient

NAMESPACE: Final = "sagemaker"
DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
POLICY_TYPE = "TargetTrackingScaling"
# DeregisterScalableTarget/DeleteScalingPolicy of something absent: AWS's modelled error, and
# the ValidationException moto raises for a missing target.
_ABSENT = ("ObjectNotFoundException", "ValidationException")


def resource_id(config: PipelineConfig) -> str:
    """``endpoint/<endpoint>/variant/AllTraffic``: the scalable target's ResourceId."""
    return variant_resource_id(config.endpoint.name)


def variant_resource_id(endpoint: str) -> str:
    """The ResourceId of an endpoint's AllTraffic variant."""
    return f"endpoint/{endpoint}/variant/{VARIANT_NAME}"


def policy_name(config: PipelineConfig) -> str:
    """The target tracking policy's name, after the endpoint (one per environment)."""
    return endpoint_policy_name(config.endpoint.name)


def endpoint_policy_name(endpoint: str) -> str:
    """``<endpoint>-invocations-per-instance``."""
    return f"{endpoint}-invocations-per-instance"


def target_spec(config: PipelineConfig) -> dict[str, Any]:
    """RegisterScalableTarget's arguments."""
    a = config.autoscaling
    return {
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(config),
        "ScalableDimension": DIMENSION,
        "MinCapacity": a.min_capacity,
        "MaxCapacity": a.max_capacity,
    }


def policy_spec(config: PipelineConfig) -> dict[str, Any]:
    """PutScalingPolicy's arguments: target tracking on invocations per instance."""
    a = config.autoscaling
    return {
        "PolicyName": policy_name(config),
        "ServiceNamespace": NAMESPACE,
        "ResourceId": resource_id(config),
        "ScalableDimension": DIMENSION,
        "PolicyType": POLICY_TYPE,
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": a.target_invocations,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": a.scale_in_cooldown_seconds,
            "ScaleOutCooldown": a.scale_out_cooldown_seconds,
        },
    }


@dataclass(frozen=True)
class Registration:
    """What Application Auto Scaling holds for the variant (None fields: nothing registered)."""

    min_capacity: int | None = None
    max_capacity: int | None = None
    policy: Mapping[str, Any] | None = None

    @property
    def registered(self) -> bool:
        """True when the variant is a scalable target."""
        return self.min_capacity is not None


def current(config: PipelineConfig, aas: ApplicationAutoScalingClient) -> Registration:
    """The variant's scalable target and this pipeline's policy, read with two Describe calls."""
    targets = aas.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(config)], ScalableDimension=DIMENSION
    ).get("ScalableTargets", [])
    if not targets:
        return Registration()
    policies = aas.describe_scaling_policies(
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(config),
        ScalableDimension=DIMENSION,
        PolicyNames=[policy_name(config)],
    ).get("ScalingPolicies", [])
    policy = policies[0].get("TargetTrackingScalingPolicyConfiguration") if policies else None
    return Registration(int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"]), policy)


@dataclass(frozen=True)
class AutoscalingResult:
    """What :func:`ensure_autoscaling` did: ``action`` registered | updated | unchanged."""

    action: str
    min_capacity: int
    max_capacity: int
    target_invocations: float
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int
    resource_id: str

    def line(self) -> str:
        """One line with the values in force."""
        return (
            f"autoscaling {self.action}: {self.resource_id} {self.min_capacity}-{self.max_capacity} instances, "
            f"target {self.target_invocations:g} {METRIC} (per instance per minute), cooldowns "
            f"scale-in {self.scale_in_cooldown_seconds} s / scale-out {self.scale_out_cooldown_seconds} s"
        )


def _policy_differs(wanted: Mapping[str, Any], have: Mapping[str, Any] | None) -> bool:
    if have is None:
        return True
    return any(have.get(key) != value for key, value in wanted.items())


def ensure_autoscaling(config: PipelineConfig, aas: ApplicationAutoScalingClient) -> AutoscalingResult:
    """Register (or update) the variant's scalable target and its policy; write only what differs.

    Call once the endpoint is InService on the new config (the smoke test has proved it): a
    scalable target needs the variant to exist.
    """
    a = config.autoscaling
    target, policy = target_spec(config), policy_spec(config)
    have = current(config, aas)
    target_changed = (have.min_capacity, have.max_capacity) != (a.min_capacity, a.max_capacity)
    policy_changed = _policy_differs(policy["TargetTrackingScalingPolicyConfiguration"], have.policy)
    if target_changed:
        aas.register_scalable_target(**target)
    if policy_changed:
        aas.put_scaling_policy(**policy)
    action = "registered" if not have.registered else ("updated" if target_changed or policy_changed else "unchanged")
    return AutoscalingResult(
        action,
        a.min_capacity,
        a.max_capacity,
        a.target_invocations,
        a.scale_in_cooldown_seconds,
        a.scale_out_cooldown_seconds,
        resource_id(config),
    )


def deregister(config: PipelineConfig, aas: ApplicationAutoScalingClient) -> bool:
    """Delete the policy, then deregister the target (AWS's order); False when none was registered."""
    return deregister_endpoint(config.endpoint.name, aas)


def deregister_endpoint(endpoint: str, aas: ApplicationAutoScalingClient) -> bool:
    """:func:`deregister` by endpoint name (teardown's plan holds names)."""
    try:
        aas.delete_scaling_policy(
            PolicyName=endpoint_policy_name(endpoint),
            ServiceNamespace=NAMESPACE,
            ResourceId=variant_resource_id(endpoint),
            ScalableDimension=DIMENSION,
        )
    except ClientError as exc:
        if error_code(exc) not in _ABSENT:
            raise
    try:
        aas.deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=variant_resource_id(endpoint), ScalableDimension=DIMENSION
        )
    except ClientError as exc:
        if error_code(exc) not in _ABSENT:
            raise
        return False
    return True


def serving_instance_type(config: PipelineConfig, sagemaker: SageMakerClient) -> str | None:
    """The instance type of the config the endpoint runs now (None: no endpoint, or no config)."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=config.endpoint.name)
    except ClientError as exc:
        if endpoint_missing(exc):
            return None
        raise
    name = endpoint.get("EndpointConfigName")
    if not name:
        return None
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"]
    for variant in variants:
        if variant["VariantName"] == VARIANT_NAME:
            return variant.get("InstanceType")
    return None


def update_plan(config: PipelineConfig, sagemaker: SageMakerClient, aas: ApplicationAutoScalingClient) -> str | None:
    """Why the registered target must go before this deploy's update (None: it may stay).

    Only two reasons: the configuration turned autoscaling off, or the update changes the
    instance type, which AWS refuses for a variant that is a scalable target.
    """
    if not current(config, aas).registered:
        return None
    if not config.autoscaling.enabled:
        return "autoscaling = false, but the variant is still a scalable target"
    serving = serving_instance_type(config, sagemaker)
    if serving is not None and serving != config.endpoint.instance_type:
        return (
            f"the update changes the instance type from {serving} to {config.endpoint.instance_type}, which "
            "AWS refuses while the variant is a scalable target (registered again after the smoke test)"
        )
    return None


def prepare_update(
    config: PipelineConfig,
    sagemaker: SageMakerClient,
    aas: ApplicationAutoScalingClient,
    *,
    execute: bool = True,
    out: Printer = print,
) -> bool:
    """Before a deploy: deregister the target when :func:`update_plan` says so; True when it did
    (or, with ``execute=False``, would)."""
    reason = update_plan(config, sagemaker, aas)
    if reason is None:
        return False
    verb = "deregistering" if execute else "would deregister"
    out(f"autoscaling: {verb} {resource_id(config)}: {reason}")
    if execute:
        deregister(config, aas)
    return True
