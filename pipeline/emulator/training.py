"""Training jobs that take time, run a trainer hook, and end Completed, Failed or Stopped."""

from __future__ import annotations

import copy
import io
import tarfile
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from moto.core.utils import utcnow
from moto.sagemaker import models as sm_models
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError

from pipeline.emulator import runtime as rt
from pipeline.emulator.errors import TrainingFailed
from pipeline.emulator.lifecycle import TRAINING, TRAINING_STEPS, TRAINING_STOP
from pipeline.emulator.metrics import final_metrics, metric_definitions

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PLACEHOLDER_NOTE = b"Placeholder model written by the embedded AWS emulator (no trainer configured).\n"
# What a placeholder job "prints": one evaluation round in the built-in algorithm's format, so
# its FinalMetricDataList has train:rmse and validation:rmse (replace it with a training_log fault).
PLACEHOLDER_LOG = ("[0]\ttrain-rmse:500.00000\tvalidation-rmse:600.00000",)


@dataclass
class TrainingRun:
    """Emulator-side state of one training job (kept off moto's object, which is serialised)."""

    started: float
    request: dict[str, Any]
    outcome: tuple[str, str | None] | None = None  # (final status, FailureReason) once known
    stop_requested: bool = False
    log: tuple[str, ...] = ()  # the algorithm's output, which SageMaker's metric regexes read


def _key(backend: Any, name: str) -> tuple[str, str, str]:
    return (backend.account_id, backend.region_name, name)


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def placeholder_model_tar() -> bytes:
    """A tiny model.tar.gz so ModelArtifacts points at a real object without a trainer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(PLACEHOLDER_NOTE)
        tar.addfile(info, io.BytesIO(PLACEHOLDER_NOTE))
    return buf.getvalue()


def _check_inputs(request: dict[str, Any], s3: S3Client) -> None:
    # AWS fails the job when a channel's S3 prefix holds no object.
    for channel in request.get("InputDataConfig") or []:
        uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        if not uri:
            continue
        bucket, prefix = _split_s3(uri)
        try:
            found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
        except ClientError:
            found = 0
        if not found:
            raise TrainingFailed(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data '
                f"source. Please ensure that the bucket exists in the selected region, that "
                f"objects exist under that S3 prefix, and that the role has permission to read them."
            )


def _run(run: TrainingRun, region: str) -> None:
    runtime = rt.current()
    if runtime is None:
        return
    request = run.request
    try:
        s3 = runtime.s3_client_factory(region)
        _check_inputs(request, s3)
        if runtime.trainer is not None:
            produced = runtime.trainer(copy.deepcopy(request), s3)
            log = tuple(getattr(produced, "log", ()) or ())
        else:
            bucket, prefix = _split_s3(request["OutputDataConfig"]["S3OutputPath"])
            key = "/".join(p for p in (prefix.rstrip("/"), request["TrainingJobName"], "output", "model.tar.gz") if p)
            s3.put_object(Bucket=bucket, Key=key, Body=placeholder_model_tar())
            fault = runtime.faults.training_log(request["TrainingJobName"])
            log = tuple(fault.lines) if fault is not None else PLACEHOLDER_LOG
        with runtime.lock:
            run.log = log
        outcome: tuple[str, str | None] = ("Completed", None)
    except TrainingFailed as exc:
        outcome = ("Failed", exc.reason)
    except (ClientError, BotoCoreError) as exc:
        outcome = ("Failed", f"ClientError: {exc}")
    except Exception as exc:
        outcome = ("Failed", f"AlgorithmError: {type(exc).__name__}: {exc}")
    with runtime.lock:
        run.outcome = outcome


def create_training_job(original: Any, backend: Any, **kwargs: Any) -> Any:
    """CreateTrainingJob: unique names, InProgress at first, trainer in the background."""
    runtime = rt.current()
    if runtime is None:
        return original(backend, **kwargs)
    name = kwargs["training_job_name"]
    if name in backend.training_jobs:
        arn = backend.training_jobs[name].arn
        raise ResourceInUseException(
            f"Training job names must be unique within an AWS account and region, and a "
            f"training job with this name already exists ({arn})"
        )
    spec = copy.deepcopy(kwargs.get("algorithm_specification") or {})
    job = original(backend, **kwargs)
    # moto adds made-up metric definitions; AWS echoes the request and, for a built-in
    # algorithm's image, adds the image's own definitions.
    definitions = metric_definitions(spec.get("TrainingImage", ""))
    if definitions and not spec.get("MetricDefinitions"):
        spec["MetricDefinitions"] = definitions
    job.algorithm_specification = spec
    # AWS answers KmsKeyId "" when the request named no key (S3's default key encrypts the
    # output); the SageMaker SDK's Estimator.attach reads it unguarded.
    job.output_data_config = {"KmsKeyId": "", **(job.output_data_config or {})}
    job.training_job_status = TRAINING.during
    job.secondary_status = "Starting"
    job.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": job.creation_time, "StatusMessage": "Launching requested ML instances"}
    ]
    job.training_start_time = None
    job.training_end_time = None
    job.final_metric_data_list = None
    artifacts = job.model_artifacts
    job.model_artifacts = None
    request = _request_from_kwargs(kwargs)
    run = TrainingRun(started=runtime.clock(), request=request)
    run.artifacts = artifacts  # type: ignore[attr-defined]
    runtime.training_runs[_key(backend, name)] = run
    fault = runtime.faults.training_failure(name)
    if fault is not None:
        run.outcome = (fault.status, fault.reason)
    else:
        thread = threading.Thread(target=_run, args=(run, backend.region_name), name=f"trainer-{name}", daemon=True)
        runtime.threads.append(thread)
        thread.start()
    return job


def _request_from_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = {
        "training_job_name": "TrainingJobName",
        "hyper_parameters": "HyperParameters",
        "algorithm_specification": "AlgorithmSpecification",
        "role_arn": "RoleArn",
        "input_data_config": "InputDataConfig",
        "output_data_config": "OutputDataConfig",
        "resource_config": "ResourceConfig",
        "stopping_condition": "StoppingCondition",
        "tags": "Tags",
        "vpc_config": "VpcConfig",
        "checkpoint_config": "CheckpointConfig",
    }
    return {aws: copy.deepcopy(kwargs[py]) for py, aws in names.items() if kwargs.get(py) is not None}


def advance(backend: Any, name: str) -> None:
    """Move a job to its final status once its trainer finished and its duration passed."""
    runtime = rt.current()
    job = backend.training_jobs.get(name)
    if runtime is None or job is None:
        return
    with runtime.lock:
        run = runtime.training_runs.get(_key(backend, name))
        if run is None or job.training_job_status not in (TRAINING.during, TRAINING_STOP.during):
            return
        elapsed = runtime.clock() - run.started
        if job.training_job_status == TRAINING.during and job.secondary_status == "Starting" and elapsed >= 0:
            job.secondary_status = "Training"
            job.training_start_time = job.creation_time
        if run.stop_requested:
            _finish(job, run, TRAINING_STOP.end("Stopped"), None)
            return
        if run.outcome is None or elapsed < TRAINING.duration(runtime.timings):
            return
        status, reason = run.outcome
        _finish(job, run, TRAINING.end(status), reason)


def _finish(job: Any, run: TrainingRun, status: str | None, reason: str | None) -> None:
    assert status is not None  # the lifecycle has no training end without a status
    start = job.creation_time
    end = max(utcnow(), start)  # moto's timestamps are naive UTC
    steps = TRAINING_STEPS[status]
    job.secondary_status_transitions = [
        {"Status": s, "StartTime": start, "EndTime": end, "StatusMessage": s} for s in steps
    ] + [{"Status": status, "StartTime": end, "StatusMessage": reason or status}]
    job.training_job_status = status
    job.secondary_status = status
    job.training_start_time = start
    job.training_end_time = end
    job.last_modified_time = end
    seconds = max(1, int((end - start).total_seconds()))
    job.training_time_in_seconds = seconds
    job.billable_time_in_seconds = seconds
    if status == "Completed":
        job.model_artifacts = run.artifacts  # type: ignore[attr-defined]
        image = run.request.get("AlgorithmSpecification", {}).get("TrainingImage", "")
        job.final_metric_data_list = final_metrics(metric_definitions(image), run.log, end) or None
    else:
        job.failure_reason = reason if reason is not None else "Training job stopped by request"


def describe_training_job(original: Any, backend: Any, training_job_name: str) -> Any:
    """DescribeTrainingJob after advancing the job's clock."""
    advance(backend, training_job_name)
    return original(backend, training_job_name)


def stop_training_job(backend: Any, training_job_name: str) -> None:
    """StopTrainingJob (moto lacks it): InProgress -> Stopping -> Stopped."""
    job = backend.training_jobs.get(training_job_name)
    if job is None:
        arn = sm_models.FakeTrainingJob.arn_formatter(training_job_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Requested resource not found: {arn}")
    runtime = rt.current()
    if runtime is None or job.training_job_status not in TRAINING_STOP.allowed_from:
        raise ValidationError(
            message=f"The request was rejected because the training job is in status {job.training_job_status}."
        )
    with runtime.lock:
        run = runtime.training_runs[_key(backend, training_job_name)]
        run.stop_requested = True
        job.training_job_status = TRAINING_STOP.during
        job.secondary_status = TRAINING_STOP.during
