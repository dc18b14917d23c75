"""A snapshot of an emulator's resources as data: what to replay to build them again.

Read through the AWS API (so it works on any emulator URL and touches no moto internals), one
region: S3 buckets and objects, CloudWatch alarms, the SageMaker model registry (groups and
versions with approval and metadata), models, endpoint configs and endpoints, Step Functions
state machines with their versions and aliases, Application Auto Scaling targets and policies of
endpoint variants. Each resource is kept as the parameters of the
call that creates it, cut to that operation's input shape in botocore's service model
(:func:`request`), so the document is versioned by botocore's API rather than by moto's
classes. Object bodies are not in the document: :class:`BlobStore` keeps them by SHA-256.
:mod:`pipeline.emulator.restore` replays a document; ``docs/emulator.md`` ("Snapshots")
describes the format.

Not kept: training jobs and executions (their history; the registry's metadata names the job),
IAM, the emulator's faults and timings.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from botocore.model import Shape

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_stepfunctions import SFNClient

# The version of the document below; a reader refuses any other.
FORMAT_VERSION = 1
SECTIONS = ("s3", "cloudwatch", "sagemaker", "stepfunctions", "autoscaling")
# Application Auto Scaling's namespace for endpoint variants, the only one the pipeline registers.
AUTOSCALING_NAMESPACE = "sagemaker"
CHECKSUMS = ("ChecksumSHA256", "ChecksumSHA1", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME")


class BlobStore(Protocol):
    """Where object bodies go: ``put`` returns the body's SHA-256 (hex), ``get`` reads it back."""

    def put(self, body: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...


@dataclass(frozen=True)
class Services:
    """The clients of one emulator (one region) that a snapshot reads and a restore writes."""

    s3: S3Client
    sagemaker: SageMakerClient
    sfn: SFNClient
    cloudwatch: CloudWatchClient
    autoscaling: ApplicationAutoScalingClient


def sha256_hex(body: bytes) -> str:
    """The hex SHA-256 a blob is stored under."""
    return hashlib.sha256(body).hexdigest()


def fit(value: Any, shape: Shape) -> Any:
    """``value`` cut to ``shape``: members the shape lacks, None values and empty structures dropped.

    moto answers some absent structures as ``{}`` (a model's ``VpcConfig``), which an input
    would refuse for its missing required members; AWS leaves them out.
    """
    if value is None:
        return None
    if shape.type_name == "structure":
        members = shape.members  # type: ignore[attr-defined]
        fitted = {key: fit(item, members[key]) for key, item in value.items() if key in members}
        kept = {key: item for key, item in fitted.items() if item is not None}
        return kept or None
    if shape.type_name == "list":
        return [fit(item, shape.member) for item in value]  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return {key: fit(item, shape.value) for key, item in value.items()}  # type: ignore[attr-defined]
    if shape.type_name == "timestamp" and isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def request(client: Any, operation: str, described: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The parameters of ``operation`` (e.g. ``CreateModel``) found in a Describe answer, plus ``extra``."""
    shape = client.meta.service_model.operation_model(operation).input_shape
    return {**(fit(dict(described), shape) or {}), **extra}


def pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[Any]:
    """Every item under ``key`` of a List/Describe call: botocore's paginator (which knows each
    operation's token names, e.g. ListObjectsV2's ContinuationToken), else ``nextToken`` pages."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(key, [])
        return
    method: Callable[..., Any] = getattr(client, operation)
    while True:
        page = method(**params)
        yield from page.get(key, [])
        if not page.get("nextToken"):
            return
        params = {**params, "nextToken": page["nextToken"]}


def capture(services: Services, blobs: BlobStore) -> dict[str, Any]:
    """The document of every resource the emulator holds in the clients' region."""
    return {
        "s3": capture_s3(services.s3, blobs),
        "cloudwatch": {"alarms": capture_alarms(services.cloudwatch)},
        "sagemaker": capture_sagemaker(services.sagemaker),
        "stepfunctions": {"state_machines": capture_state_machines(services.sfn)},
        "autoscaling": capture_autoscaling(services.autoscaling),
    }


def capture_autoscaling(aas: ApplicationAutoScalingClient) -> dict[str, Any]:
    """Scalable targets of endpoint variants and their scaling policies (registered after the endpoints)."""
    targets = [
        request(aas, "RegisterScalableTarget", target)
        for target in pages(aas, "describe_scalable_targets", "ScalableTargets", ServiceNamespace=AUTOSCALING_NAMESPACE)
    ]
    policies = [
        request(aas, "PutScalingPolicy", policy)
        for policy in pages(aas, "describe_scaling_policies", "ScalingPolicies", ServiceNamespace=AUTOSCALING_NAMESPACE)
    ]
    return {"scalable_targets": targets, "scaling_policies": policies}


def capture_s3(s3: S3Client, blobs: BlobStore) -> list[dict[str, Any]]:
    """Buckets (location, versioning, tags) and the current version of every object."""
    buckets = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        create: dict[str, Any] = {"Bucket": name}
        if location:
            create["CreateBucketConfiguration"] = {"LocationConstraint": location}
        try:
            tags = s3.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except s3.exceptions.ClientError:
            tags = []  # NoSuchTagSet
        objects = [
            capture_object(s3, name, item["Key"], blobs)
            for item in pages(s3, "list_objects_v2", "Contents", Bucket=name)
        ]
        buckets.append(
            {
                "create": create,
                "versioning": s3.get_bucket_versioning(Bucket=name).get("Status", ""),
                "tags": [{"Key": t["Key"], "Value": t["Value"]} for t in tags],
                "objects": objects,
            }
        )
    return buckets


def capture_object(s3: S3Client, bucket: str, key: str, blobs: BlobStore) -> dict[str, Any]:
    """One object: its body (to the blob store), PutObject parameters, ETag and checksum."""
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = got["Body"].read()
    put: dict[str, Any] = {"Bucket": bucket, "Key": key, "Metadata": dict(got.get("Metadata") or {})}
    if got.get("ContentType"):
        put["ContentType"] = got["ContentType"]
    tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    if tags:
        put["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in tags])
    checksum = {name: str(got[name]) for name in CHECKSUMS if got.get(name)}  # type: ignore[literal-required]
    if checksum:
        # ChecksumSHA256 -> SHA256: S3 recomputes it from the body on the replayed put.
        put["ChecksumAlgorithm"] = next(iter(checksum)).removeprefix("Checksum")
    return {"put": put, "blob": blobs.put(body), "etag": got.get("ETag", ""), "checksum": checksum}


def capture_alarms(cloudwatch: CloudWatchClient) -> list[dict[str, Any]]:
    """Metric alarms as PutMetricAlarm parameters (with tags) and their state."""
    alarms = []
    for alarm in pages(cloudwatch, "describe_alarms", "MetricAlarms", AlarmTypes=["MetricAlarm"]):
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags", [])
        put = request(cloudwatch, "PutMetricAlarm", alarm, **({"Tags": tags} if tags else {}))
        if put.get("Metrics") == []:
            del put["Metrics"]  # moto answers [] for a single-metric alarm; both at once are refused
        alarms.append({"put": put, "state": alarm.get("StateValue", ""), "reason": alarm.get("StateReason", "")})
    return alarms


def capture_sagemaker(sagemaker: SageMakerClient) -> dict[str, Any]:
    """The registry, models, endpoint configs and endpoints, in the order a replay creates them."""
    groups, packages = capture_registry(sagemaker)
    models = [
        request(sagemaker, "CreateModel", described, **tags_of(sagemaker, described["ModelArn"]))
        for described in (
            sagemaker.describe_model(ModelName=item["ModelName"]) for item in pages(sagemaker, "list_models", "Models")
        )
    ]
    configs = [
        request(sagemaker, "CreateEndpointConfig", described, **tags_of(sagemaker, described["EndpointConfigArn"]))
        for described in (
            sagemaker.describe_endpoint_config(EndpointConfigName=item["EndpointConfigName"])
            for item in pages(sagemaker, "list_endpoint_configs", "EndpointConfigs")
        )
    ]
    return {
        "model_package_groups": groups,
        "model_packages": packages,
        "models": models,
        "endpoint_configs": configs,
        "endpoints": capture_endpoints(sagemaker),
    }


def capture_registry(sagemaker: SageMakerClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Model package groups (with tags) and their versions in number order (with approval)."""
    groups: list[dict[str, Any]] = []
    packages: list[dict[str, Any]] = []
    for summary in pages(sagemaker, "list_model_package_groups", "ModelPackageGroupSummaryList"):
        group = sagemaker.describe_model_package_group(ModelPackageGroupName=summary["ModelPackageGroupName"])
        tags = tags_of(sagemaker, group["ModelPackageGroupArn"])
        groups.append(request(sagemaker, "CreateModelPackageGroup", group, **tags))
        listed = pages(
            sagemaker,
            "list_model_packages",
            "ModelPackageSummaryList",
            ModelPackageGroupName=group["ModelPackageGroupName"],
            ModelPackageType="Versioned",
        )
        for item in listed:
            described = sagemaker.describe_model_package(ModelPackageName=item["ModelPackageArn"])
            # No Tags: a version in a group has the group's (CreateModelPackage refuses them for one).
            create = request(sagemaker, "CreateModelPackage", described)
            create.pop("ModelPackageName", None)  # a version is created by its group's name alone
            packages.append(
                {
                    "arn": described["ModelPackageArn"],
                    "version": described.get("ModelPackageVersion", 0),
                    "create": create,
                    "approval_description": described.get("ApprovalDescription", ""),
                }
            )
    packages.sort(key=lambda package: (str(package["create"].get("ModelPackageGroupName", "")), package["version"]))
    return groups, packages


def capture_endpoints(sagemaker: SageMakerClient) -> list[dict[str, Any]]:
    """Each endpoint on the config that serves it, with its status (a Deleting one is left out)."""
    endpoints = []
    for item in pages(sagemaker, "list_endpoints", "Endpoints"):
        endpoint = sagemaker.describe_endpoint(EndpointName=item["EndpointName"])
        if endpoint["EndpointStatus"] == "Deleting" or not endpoint.get("EndpointConfigName"):
            continue
        tags = tags_of(sagemaker, endpoint["EndpointArn"])
        endpoints.append(
            {
                "create": request(sagemaker, "CreateEndpoint", endpoint, **tags),
                "status": endpoint["EndpointStatus"],
                "failure_reason": endpoint.get("FailureReason", ""),
            }
        )
    return endpoints


def tags_of(sagemaker: SageMakerClient, arn: str) -> dict[str, Any]:
    """``{"Tags": [...]}`` of a SageMaker resource, or nothing when it has none."""
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in pages(sagemaker, "list_tags", "Tags", ResourceArn=arn)]
    return {"Tags": tags} if tags else {}


def capture_state_machines(sfn: SFNClient) -> list[dict[str, Any]]:
    """Each state machine: its published versions in order, its latest revision, its aliases."""
    machines = []
    for item in pages(sfn, "list_state_machines", "stateMachines"):
        arn = item["stateMachineArn"]
        latest = sfn.describe_state_machine(stateMachineArn=arn)
        tags = sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
        versions = []
        listed = list(pages(sfn, "list_state_machine_versions", "stateMachineVersions", stateMachineArn=arn))
        for summary in sorted(listed, key=lambda v: int(v["stateMachineVersionArn"].rsplit(":", 1)[1])):
            described = sfn.describe_state_machine(stateMachineArn=summary["stateMachineVersionArn"])
            update = request(sfn, "UpdateStateMachine", described, versionDescription=described.get("description", ""))
            update.pop("stateMachineArn", None)
            versions.append({"arn": summary["stateMachineVersionArn"], "update": update})
        aliases = [
            request(
                sfn,
                "CreateStateMachineAlias",
                sfn.describe_state_machine_alias(stateMachineAliasArn=a["stateMachineAliasArn"]),
            )
            for a in pages(sfn, "list_state_machine_aliases", "stateMachineAliases", stateMachineArn=arn)
        ]
        machines.append(
            {
                "arn": arn,
                "create": request(sfn, "CreateStateMachine", latest, **({"tags": tags} if tags else {})),
                "versions": versions,
                "aliases": aliases,
            }
        )
    return machines


# What each list of a document holds: the keys every item must have.
REQUIRED = {
    ("s3",): ("create", "objects"),
    ("cloudwatch", "alarms"): ("put",),
    ("sagemaker", "model_package_groups"): ("ModelPackageGroupName",),
    ("sagemaker", "model_packages"): ("arn", "version", "create"),
    ("sagemaker", "models"): ("ModelName",),
    ("sagemaker", "endpoint_configs"): ("EndpointConfigName",),
    ("sagemaker", "endpoints"): ("create",),
    ("stepfunctions", "state_machines"): ("arn", "create", "versions", "aliases"),
    ("autoscaling", "scalable_targets"): ("ServiceNamespace", "ResourceId", "ScalableDimension"),
    ("autoscaling", "scaling_policies"): ("PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension"),
}
# Sections a document of this format version may lack (none of them then): added within version 1.
OPTIONAL = {"autoscaling"}


def problems(document: Any) -> list[str]:
    """What makes ``document`` unreadable as a snapshot (empty when it is one), each with its path."""
    if not isinstance(document, dict):
        return [f"resources: an object expected, got {type(document).__name__}"]
    found = []
    for path, keys in REQUIRED.items():
        value: Any = document
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        where = ".".join(("resources", *path))
        if value is None and path[0] in OPTIONAL and path[0] not in document:
            continue
        if not isinstance(value, list):
            found.append(f"{where}: a list expected, got {type(value).__name__}")
            continue
        for index, item in enumerate(value):
            missing = [key for key in keys if not isinstance(item, dict) or key not in item]
            if missing:
                found.append(f"{where}[{index}]: missing {', '.join(missing)}")
    for index, bucket in enumerate(document.get("s3") or []):
        for number, item in enumerate(bucket.get("objects") or [] if isinstance(bucket, dict) else []):
            if not isinstance(item, dict) or not {"put", "blob"} <= set(item):
                found.append(f"resources.s3[{index}].objects[{number}]: missing put or blob")
    return found


def blobs_of(document: Mapping[str, Any]) -> set[str]:
    """The SHA-256 of every object body ``document`` names."""
    return {item["blob"] for bucket in document.get("s3", []) for item in bucket.get("objects", [])}
