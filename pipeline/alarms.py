"""The endpoint's CloudWatch alarms, as code: 5xx errors and model latency, per environment.

``deploy`` creates or updates them (PutMetricAlarm) before it deploys the state machine, whose
guardrailed UpdateEndpoint names them in ``AutoRollbackConfiguration``: SageMaker rolls an update
back when one goes to ALARM while traffic shifts or bakes. They live here and not in the bootstrap
template because their thresholds are configuration (``config/pipeline.toml``) that changes with
the code through CI, while the bootstrap is a one-time step run with an administrator's
credentials; and because the names the definition references come from the same configuration in
the same command, they always exist before a definition that names them is deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.config import ALARM_KINDS, PipelineConfig

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

# The production variant every endpoint config of this pipeline has (the SDK's default name).
VARIANT_NAME = "AllTraffic"
NAMESPACE = "AWS/SageMaker"

# The fields of PutMetricAlarm this module sets, compared with DescribeAlarms' answer.
_COMPARED = (
    "AlarmDescription",
    "MetricName",
    "Namespace",
    "Statistic",
    "Dimensions",
    "Period",
    "EvaluationPeriods",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


def alarm_name(config: PipelineConfig, kind: str) -> str:
    """``<endpoint>-<kind>``: named after the endpoint, so the roles can be scoped to them."""
    return f"{config.endpoint.name}-{kind}"


def own_alarm_names(config: PipelineConfig) -> list[str]:
    """The alarms this pipeline creates for the environment (none when ``alarms = false``)."""
    return [alarm_name(config, kind) for kind in ALARM_KINDS] if config.alarms.enabled else []


def rollback_alarm_names(config: PipelineConfig) -> list[str]:
    """Every alarm the guardrails roll back on: the pipeline's own, then ``rollback_alarms``."""
    names = own_alarm_names(config)
    return names + [name for name in config.guardrails.rollback_alarms if name not in names]


def alarm_specs(config: PipelineConfig) -> list[dict[str, Any]]:
    """PutMetricAlarm's arguments for each of the environment's alarms."""
    if not config.alarms.enabled:
        return []
    a = config.alarms
    dimensions = [
        {"Name": "EndpointName", "Value": config.endpoint.name},
        {"Name": "VariantName", "Value": VARIANT_NAME},
    ]
    common = {
        "Namespace": NAMESPACE,
        "Dimensions": dimensions,
        "Period": a.period_seconds,
        "EvaluationPeriods": a.evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        # No traffic is not an outage: an idle endpoint must not roll a deployment back.
        "TreatMissingData": "notBreaching",
        "Tags": [{"Key": key, "Value": value} for key, value in sorted(config.account.tags.items())],
    }
    errors, latency = ALARM_KINDS
    return [
        {
            "AlarmName": alarm_name(config, errors),
            "AlarmDescription": f"{config.endpoint.name}: more than {a.errors_5xx} 5xx errors in {a.period_seconds} s",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Threshold": float(a.errors_5xx),
            **common,
        },
        {
            "AlarmName": alarm_name(config, latency),
            "AlarmDescription": f"{config.endpoint.name}: average model latency above {a.latency_ms:g} ms",
            "MetricName": "ModelLatency",
            "Statistic": "Average",
            # CloudWatch records SageMaker's ModelLatency in microseconds.
            "Threshold": a.latency_ms * 1000.0,
            **common,
        },
    ]


@dataclass(frozen=True)
class AlarmChange:
    """One alarm a deploy creates or updates (``action``: create | update | unchanged)."""

    name: str
    action: str


def _differs(spec: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    for field in _COMPARED:
        wanted, have = spec.get(field), current.get(field)
        if field == "Dimensions":
            wanted = sorted((d["Name"], d["Value"]) for d in wanted or [])
            have = sorted((d["Name"], d["Value"]) for d in have or [])
        if wanted != have:
            return True
    return False


def plan_alarms(config: PipelineConfig, cloudwatch: CloudWatchClient) -> list[AlarmChange]:
    """What :func:`ensure_alarms` would do, from one DescribeAlarms call (none when disabled)."""
    specs = alarm_specs(config)
    if not specs:
        return []
    answer = cloudwatch.describe_alarms(AlarmNames=[spec["AlarmName"] for spec in specs], AlarmTypes=["MetricAlarm"])
    current: dict[str, Any] = {alarm["AlarmName"]: alarm for alarm in answer.get("MetricAlarms", [])}
    changes = []
    for spec in specs:
        have = current.get(spec["AlarmName"])
        action = "create" if have is None else ("update" if _differs(spec, have) else "unchanged")
        changes.append(AlarmChange(spec["AlarmName"], action))
    return changes


def ensure_alarms(
    config: PipelineConfig, cloudwatch: CloudWatchClient, *, out: Callable[[str], None] = print
) -> list[AlarmChange]:
    """Create or update the environment's alarms; an unchanged alarm is not written."""
    specs = {spec["AlarmName"]: spec for spec in alarm_specs(config)}
    changes = plan_alarms(config, cloudwatch)
    for change in changes:
        if change.action != "unchanged":
            cloudwatch.put_metric_alarm(**specs[change.name])
        out(f"alarm {change.name}: {change.action}")
    return changes
