"""What teardown deletes besides SageMaker's resources: the endpoint's autoscaling, its alarms and
its data-capture objects (each created by this project for the environment, and nothing else).

- the scalable target ``endpoint/<endpoint>/variant/AllTraffic`` and its policy, deregistered
  before the endpoint goes (AWS's order: policy, then target);
- the alarms pipeline.alarms creates (``<endpoint>-<kind>``), when their tags are the
  environment's; alarms named in ``rollback_alarms`` belong to someone else and stay;
- every object version under ``<data_capture_destination>/<endpoint>/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from pipeline import autoscaling
from pipeline.alarms import alarm_name
from pipeline.aws_errors import error_code
from pipeline.cleanup import Resource, TeardownPlan, empty_bucket, ownership_problem, tag_map
from pipeline.config import ALARM_KINDS, PipelineConfig
from pipeline.printer import Printer

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client

    from pipeline.clients import Clients

KINDS = ("scalable-target", "alarm", "capture-objects")


def plan_autoscaling(plan: TeardownPlan, config: PipelineConfig, aas: ApplicationAutoScalingClient) -> None:
    """The endpoint's scalable target, first in the plan (before the endpoint is deleted)."""
    if autoscaling.current(config, aas).registered:
        plan.delete.insert(0, Resource("scalable-target", autoscaling.resource_id(config), config.endpoint.name))


def plan_alarms(plan: TeardownPlan, config: PipelineConfig, cloudwatch: CloudWatchClient) -> None:
    """The alarms this project creates for the endpoint, claimed by their tags."""
    names = [alarm_name(config, kind) for kind in ALARM_KINDS]
    found = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"]).get("MetricAlarms", [])
    for alarm in sorted(found, key=lambda a: a["AlarmName"]):
        resource = Resource("alarm", alarm["AlarmName"], alarm["AlarmArn"])
        tags = tag_map(cloudwatch.list_tags_for_resource(ResourceARN=resource.arn).get("Tags", []))
        problem = ownership_problem(config, tags)
        if problem:
            plan.kept.append((resource, problem))
        else:
            plan.delete.append(resource)


def capture_location(config: PipelineConfig) -> tuple[str, str]:
    """(bucket, key prefix) of the endpoint's captured requests and responses."""
    bucket, _, key = config.capture_uri.removeprefix("s3://").partition("/")
    return bucket, f"{key}/{config.endpoint.name}/"


def plan_capture(plan: TeardownPlan, config: PipelineConfig, s3: S3Client) -> None:
    """The endpoint's data-capture objects, when there are any."""
    bucket, prefix = capture_location(config)
    try:
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
    except ClientError as exc:
        if error_code(exc) == "NoSuchBucket":
            return
        raise
    if found:
        plan.delete.append(Resource("capture-objects", f"s3://{bucket}/{prefix}", f"arn:aws:s3:::{bucket}/{prefix}*"))


def plan_extras(plan: TeardownPlan, config: PipelineConfig, clients: Clients) -> None:
    """Add the autoscaling, alarms and captures of the environment to ``plan`` (read-only)."""
    plan_autoscaling(plan, config, clients("application-autoscaling"))
    plan_alarms(plan, config, clients("cloudwatch"))
    plan_capture(plan, config, clients("s3"))


def delete_extra(resource: Resource, clients: Clients, out: Printer) -> None:
    """Delete one resource of the kinds above (its name says which: no configuration needed)."""
    if resource.kind == "scalable-target":
        autoscaling.deregister_endpoint(resource.arn, clients("application-autoscaling"))
    elif resource.kind == "alarm":
        clients("cloudwatch").delete_alarms(AlarmNames=[resource.name])
    elif resource.kind == "capture-objects":
        bucket, _, prefix = resource.name.removeprefix("s3://").partition("/")
        out(f"  {empty_bucket(clients('s3'), bucket, prefix)} object versions and delete markers deleted")
