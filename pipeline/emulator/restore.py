"""Replay a snapshot (:mod:`pipeline.emulator.snapshot`) into an emulator that holds nothing yet.

Every resource is created again through the AWS API, in dependency order: S3 buckets and objects
(the models' artifacts and the data), CloudWatch alarms (and their state), the model registry,
models, endpoint configs, endpoints (waited InService, so the model host loads the restored
artifact and serves it), state machines: version 1 by CreateStateMachine, each later version
by UpdateStateMachine with ``publish=True``, the latest revision, the aliases; then Application Auto Scaling targets and policies. Each replayed ARN,
ETag and checksum is compared with the recorded one; a difference that would change what the
pipeline decides (a version number, a checksum) fails the restore, one that cannot (a multipart
ETag) becomes a note.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.snapshot import BlobStore, Services
from pipeline.wait import Backoff, wait_until

# Endpoint statuses a replay sets through the emulator's control API after creating it InService.
SETTLED_FAILURES = ("Failed", "UpdateRollbackFailed")
ENDPOINT_WAIT_SECONDS = 120.0


class RestoreError(EmulatorError):
    """A snapshot could not be replayed; ``where`` names the resource."""

    def __init__(self, where: str, problem: str):
        self.where = where
        super().__init__(f"{where}: {problem}")


@dataclass
class Restored:
    """What a replay created (counts per kind) and what differs from the recording."""

    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        """Count ``n`` more resources of ``kind``."""
        self.counts[kind] = self.counts.get(kind, 0) + n

    def line(self) -> str:
        """``2 bucket(s), 14 object(s), ...`` in replay order."""
        return ", ".join(f"{n} {kind}(s)" for kind, n in self.counts.items()) or "nothing"


SetEndpointStatus = Callable[[str, str, str], None]


def replay(
    document: Mapping[str, Any],
    services: Services,
    blobs: BlobStore,
    *,
    set_endpoint_status: SetEndpointStatus | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Restored:
    """Create every resource of ``document``; RestoreError naming the first one that fails."""
    done = Restored()
    replay_s3(document["s3"], services, blobs, done)
    replay_alarms(document["cloudwatch"]["alarms"], services, done)
    replay_registry(document["sagemaker"], services, done)
    replay_endpoints(document["sagemaker"], services, done, set_endpoint_status, clock, sleep)
    replay_state_machines(document["stepfunctions"]["state_machines"], services, done)
    replay_autoscaling(document.get("autoscaling") or {}, services, done)
    return done


def replay_autoscaling(autoscaling: Mapping[str, Any], services: Services, done: Restored) -> None:
    """RegisterScalableTarget, then PutScalingPolicy (a policy needs its target)."""
    aas = services.autoscaling
    for target in autoscaling.get("scalable_targets", []):
        attempt(f"scalable target {target['ResourceId']}", aas.register_scalable_target, **target)
        done.add("scalable target")
    for policy in autoscaling.get("scaling_policies", []):
        attempt(f"scaling policy {policy['PolicyName']}", aas.put_scaling_policy, **policy)
        done.add("scaling policy")


def attempt(where: str, call: Callable[..., Any], **params: Any) -> Any:
    """``call(**params)``, one replayed call; any failure becomes a RestoreError naming ``where``."""
    try:
        return call(**params)
    except RestoreError:
        raise
    except Exception as exc:  # botocore's ClientError and ParamValidationError alike
        raise RestoreError(where, str(exc)) from None


def replay_s3(buckets: list[dict[str, Any]], services: Services, blobs: BlobStore, done: Restored) -> None:
    """Buckets (with versioning and tags), then each object's body, metadata and checksum."""
    s3 = services.s3
    for bucket in buckets:
        name = bucket["create"]["Bucket"]
        attempt(f"s3 bucket {name}", s3.create_bucket, **bucket["create"])
        if bucket.get("versioning"):
            status = {"Status": bucket["versioning"]}
            attempt(f"s3 bucket {name}", s3.put_bucket_versioning, Bucket=name, VersioningConfiguration=status)
        if bucket.get("tags"):
            attempt(f"s3 bucket {name}", s3.put_bucket_tagging, Bucket=name, Tagging={"TagSet": bucket["tags"]})
        done.add("bucket")
        for item in bucket["objects"]:
            replay_object(item, services, blobs, done)


def replay_object(item: Mapping[str, Any], services: Services, blobs: BlobStore, done: Restored) -> None:
    """PutObject with the recorded body; the checksum must come back the same, the ETag should."""
    put = item["put"]
    where = f"s3://{put['Bucket']}/{put['Key']}"
    body = blobs.get(item["blob"])
    answer = attempt(where, services.s3.put_object, Body=body, **put)
    for name, value in item.get("checksum", {}).items():
        if name == f"Checksum{put.get('ChecksumAlgorithm', '')}" and answer.get(name) != value:
            raise RestoreError(where, f"{name} is {answer.get(name)!r} after the replay, {value!r} was recorded")
    if item.get("etag") and answer.get("ETag") != item["etag"]:
        # A multipart upload's ETag is not the MD5 a single put gets: the fingerprint then differs
        # and the next run trains again (never the reverse).
        done.notes.append(f"{where}: ETag {answer.get('ETag')} (recorded {item['etag']}, a multipart upload)")
    done.add("object")


def replay_alarms(alarms: list[dict[str, Any]], services: Services, done: Restored) -> None:
    """PutMetricAlarm, then SetAlarmState when the alarm was not INSUFFICIENT_DATA."""
    cloudwatch = services.cloudwatch
    for alarm in alarms:
        name = alarm["put"]["AlarmName"]
        attempt(f"alarm {name}", cloudwatch.put_metric_alarm, **alarm["put"])
        if alarm.get("state") and alarm["state"] != "INSUFFICIENT_DATA":
            reason = alarm.get("reason") or "restored"
            attempt(
                f"alarm {name}",
                cloudwatch.set_alarm_state,
                AlarmName=name,
                StateValue=alarm["state"],
                StateReason=reason,
            )
        done.add("alarm")


def replay_registry(sagemaker: Mapping[str, Any], services: Services, done: Restored) -> None:
    """Groups, then versions in number order (gaps left by deletions kept), approval included."""
    client = services.sagemaker
    for group in sagemaker["model_package_groups"]:
        attempt(f"model package group {group['ModelPackageGroupName']}", client.create_model_package_group, **group)
        done.add("model package group")
    placeholders: list[str] = []
    for package in sagemaker["model_packages"]:
        group = package["create"]["ModelPackageGroupName"]
        # A deleted version leaves its number unused: fill it with a placeholder deleted below.
        while True:
            arn = attempt(package["arn"], client.create_model_package, **package["create"])["ModelPackageArn"]
            if arn == package["arn"]:
                break
            if int(arn.rsplit("/", 1)[1]) >= int(package["version"]):
                raise RestoreError(package["arn"], f"replayed as {arn}")
            placeholders.append(arn)
            done.notes.append(f"{arn}: a placeholder for a deleted version, deleted again")
        if package.get("approval_description"):
            description = package["approval_description"]
            attempt(
                package["arn"],
                client.update_model_package,
                ModelPackageArn=package["arn"],
                ApprovalDescription=description,
            )
        done.add("model package version")
    for arn in placeholders:
        attempt(arn, client.delete_model_package, ModelPackageName=arn)
    for model in sagemaker["models"]:
        attempt(f"model {model['ModelName']}", client.create_model, **model)
        done.add("model")
    for config in sagemaker["endpoint_configs"]:
        attempt(f"endpoint config {config['EndpointConfigName']}", client.create_endpoint_config, **config)
        done.add("endpoint config")


def replay_endpoints(
    sagemaker: Mapping[str, Any],
    services: Services,
    done: Restored,
    set_endpoint_status: SetEndpointStatus | None,
    clock: Callable[[], float] | None,
    sleep: Callable[[float], None] | None,
) -> None:
    """CreateEndpoint on the recorded config and wait until it serves; then any recorded failure."""
    client = services.sagemaker
    timing: dict[str, Any] = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
    for endpoint in sagemaker["endpoints"]:
        name = endpoint["create"]["EndpointName"]
        attempt(f"endpoint {name}", client.create_endpoint, **endpoint["create"])
        waited = attempt(
            f"endpoint {name}",
            wait_until,
            poll=partial(client.describe_endpoint, EndpointName=name),
            done=lambda described: described["EndpointStatus"] != "Creating",
            backoff=Backoff(first=0.02, factor=1.5, most=0.5),
            timeout=ENDPOINT_WAIT_SECONDS,
            **timing,
        )
        status = waited.value["EndpointStatus"]
        if status != "InService":
            reason = waited.value.get("FailureReason", "") or f"still {status} after {ENDPOINT_WAIT_SECONDS:.0f} s"
            raise RestoreError(f"endpoint {name}", f"did not come back InService: {reason}")
        recorded = endpoint.get("status", "InService")
        if recorded in SETTLED_FAILURES:
            if set_endpoint_status is None:
                done.notes.append(f"endpoint {name}: was {recorded}, restored InService (no control API)")
            else:
                set_endpoint_status(name, recorded, endpoint.get("failure_reason", ""))
        done.add("endpoint")


def replay_state_machines(machines: list[dict[str, Any]], services: Services, done: Restored) -> None:
    """Versions 1..N in order (their ARNs must match), the latest revision, then the aliases."""
    sfn = services.sfn
    for machine in machines:
        create = dict(machine["create"])
        where = f"state machine {create['name']}"
        versions = machine["versions"]
        if versions:
            first = versions[0]["update"]
            answer = attempt(where, sfn.create_state_machine, **{**create, **first, "publish": True})
            expect_version(where, answer, versions[0]["arn"])
            for version in versions[1:]:
                params = {**version["update"], "stateMachineArn": machine["arn"], "publish": True}
                expect_version(where, attempt(where, sfn.update_state_machine, **params), version["arn"])
            latest = {
                k: create[k]
                for k in ("definition", "roleArn", "loggingConfiguration", "tracingConfiguration")
                if k in create
            }
            if any(latest.get(k) != versions[-1]["update"].get(k) for k in latest):
                attempt(where, sfn.update_state_machine, stateMachineArn=machine["arn"], **latest)
        else:
            attempt(where, sfn.create_state_machine, **create)
        done.add("state machine")
        done.add("state machine version", len(versions))
        for alias in machine["aliases"]:
            attempt(f"{where} alias {alias['name']}", sfn.create_state_machine_alias, **alias)
            done.add("alias")


def expect_version(where: str, answer: Mapping[str, Any], arn: str) -> None:
    """The published version must get its recorded ARN (aliases and descriptions name it)."""
    if answer.get("stateMachineVersionArn") != arn:
        raise RestoreError(where, f"version replayed as {answer.get('stateMachineVersionArn')}, recorded {arn}")
