"""Endpoints with AWS's life cycle: Creating, Updating (rolling back included), Deleting, Failed.

Transitions happen when the endpoint is next looked at (describe, list, invoke), once the
configured duration has passed; the old config keeps serving during an update.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig

from pipeline.emulator import capacity
from pipeline.emulator import runtime as rt
from pipeline.emulator.alarms import in_alarm
from pipeline.emulator.lifecycle import ENDPOINT_OPERATIONS as OPERATIONS
from pipeline.emulator.lifecycle import ENDPOINT_SERVING
from pipeline.emulator.registry import package_model_data_url

SERVING_STATUSES = ENDPOINT_SERVING


@dataclass
class EndpointOp:
    """An operation in progress on one endpoint (kept off moto's serialised object)."""

    kind: str  # "create" | "update" | "rollback" | "delete"
    started: float
    config_name: str | None = None
    failure: Any = None  # the fault that makes it fail, if any
    # A guarded update's AutoRollbackConfiguration alarms: one in ALARM rolls the update back.
    alarms: tuple[str, ...] = ()
    # RetainAllVariantProperties: the counts and weights the new fleet keeps, by variant name.
    retained: dict[str, dict[str, Any]] | None = None
    # The variants before the update, restored when it rolls back.
    before: list[dict[str, Any]] | None = None


def _key(backend: Any, name: str) -> tuple[str, str, str]:
    return (backend.account_id, backend.region_name, name)


def _not_found(backend: Any, name: str) -> ValidationError:
    arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
    return ValidationError(message=f'Could not find endpoint "{arn}".')


def _config(backend: Any, config_name: str) -> dict[str, Any]:
    if config_name not in backend.endpoint_configs:
        arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
    return backend.endpoint_configs[config_name].response_object


def model_data_url(backend: Any, config_name: str) -> str:
    """Config -> first production variant -> model -> PrimaryContainer.ModelDataUrl (or its package's)."""
    variant = _config(backend, config_name)["ProductionVariants"][0]
    model = backend._models[variant["ModelName"]]
    container = model.primary_container or (model.containers or [{}])[0]
    if container.get("ModelPackageName") and not container.get("ModelDataUrl"):
        return package_model_data_url(backend, container["ModelPackageName"])
    return container.get("ModelDataUrl", "")


def create_endpoint(original: Any, backend: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
    """CreateEndpoint: refuses an existing name as AWS does; starts Creating."""
    runtime = rt.current()
    if runtime is None:
        return original(backend, endpoint_name, endpoint_config_name, tags)
    with runtime.lock:
        if endpoint_name in backend.endpoints:
            arn = backend.endpoints[endpoint_name].arn
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        _config(backend, endpoint_config_name)
        endpoint = original(backend, endpoint_name, endpoint_config_name, tags)
        endpoint.endpoint_status = OPERATIONS["create"].during
        runtime.endpoint_ops[_key(backend, endpoint_name)] = EndpointOp(
            "create", runtime.clock(), endpoint_config_name, runtime.faults.endpoint_create_failure(endpoint_name)
        )
        return endpoint


def update_endpoint(
    backend: Any,
    endpoint_name: str,
    endpoint_config_name: str,
    deployment_config: dict[str, Any] | None = None,
    retain_all: bool = False,
    exclude_retained: list[dict[str, str]] | None = None,
) -> Any:
    """UpdateEndpoint (moto lacks it): a different, existing config; the old one serves meanwhile.

    With ``DeploymentConfig.AutoRollbackConfiguration`` the update watches those alarms while it
    shifts traffic and bakes: one in ALARM rolls it back to the old config, as SageMaker does.
    ``retain_all`` (RetainAllVariantProperties) keeps the variants' current instance counts and
    weights (pipeline.emulator.capacity); a scalable-target variant cannot change instance type.
    """
    runtime = rt.current()
    if runtime is None:
        raise NotImplementedError("UpdateEndpoint needs the embedded emulator")
    with runtime.lock:
        advance(backend, endpoint_name)
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _not_found(backend, endpoint_name)
        config = _config(backend, endpoint_config_name)
        if endpoint.endpoint_status not in OPERATIONS["update"].allowed_from:
            raise ValidationError(
                message=f'Cannot update in-progress endpoint "{endpoint.arn}".'
                if endpoint.endpoint_status != "Failed"
                else f'Cannot update failed endpoint "{endpoint.arn}". Delete it and create it again.'
            )
        if endpoint_config_name == endpoint.endpoint_config_name:
            raise ValidationError(
                message=f'Cannot update endpoint "{endpoint.arn}" with the endpoint configuration '
                f'"{endpoint_config_name}" it already uses. Create a new endpoint configuration.'
            )
        if endpoint.endpoint_config_name in backend.endpoint_configs:
            capacity.refuse_instance_type_change(
                backend, endpoint, _config(backend, endpoint.endpoint_config_name), config
            )
        endpoint.endpoint_status = OPERATIONS["update"].during
        endpoint.failure_reason = None
        endpoint.last_modified_time = utcnow()
        endpoint.pending_deployment_summary = {
            "EndpointConfigName": endpoint_config_name,
            "ProductionVariants": [
                {"VariantName": v["VariantName"], "VariantStatus": [{"Status": "Creating", "StartTime": utcnow()}]}
                for v in config["ProductionVariants"]
            ],
            "StartTime": utcnow(),
        }
        rollback = (deployment_config or {}).get("AutoRollbackConfiguration") or {}
        runtime.endpoint_ops[_key(backend, endpoint_name)] = EndpointOp(
            "update",
            runtime.clock(),
            endpoint_config_name,
            runtime.faults.update_rollback(endpoint_name),
            alarms=tuple(alarm["AlarmName"] for alarm in rollback.get("Alarms") or []),
            retained=capacity.retained(endpoint, retain_all, exclude_retained),
            before=copy.deepcopy(endpoint.production_variants),
        )
        return endpoint


def delete_endpoint(original: Any, backend: Any, endpoint_name: str) -> None:
    """DeleteEndpoint: allowed in any settled status, Failed included; Deleting takes time."""
    runtime = rt.current()
    if runtime is None:
        return original(backend, endpoint_name)
    with runtime.lock:
        advance(backend, endpoint_name)
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _not_found(backend, endpoint_name)
        if endpoint.endpoint_status not in OPERATIONS["delete"].allowed_from:
            raise ValidationError(message=f'Cannot delete in-progress endpoint "{endpoint.arn}".')
        endpoint.endpoint_status = OPERATIONS["delete"].during
        endpoint.last_modified_time = utcnow()
        runtime.endpoint_ops[_key(backend, endpoint_name)] = EndpointOp("delete", runtime.clock())
        advance(backend, endpoint_name)
        return None


def describe_endpoint(original: Any, backend: Any, endpoint_name: str) -> Any:
    """DescribeEndpoint after advancing; AWS's message (double quotes) when missing."""
    if rt.current() is None:
        return original(backend, endpoint_name)
    advance(backend, endpoint_name)
    if endpoint_name not in backend.endpoints:
        raise _not_found(backend, endpoint_name)
    return original(backend, endpoint_name)


def list_endpoints(original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    """ListEndpoints after advancing every endpoint."""
    if rt.current() is not None:
        for name in list(backend.endpoints):
            advance(backend, name)
    return original(backend, *args, **kwargs)


def set_status(backend: Any, endpoint_name: str, status: str, reason: str = "") -> None:
    """Force an existing endpoint into ``status`` (tests: Failed, UpdateRollbackFailed, ...)."""
    runtime = rt.current()
    assert runtime is not None
    with runtime.lock:
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is None:
            raise _not_found(backend, endpoint_name)
        runtime.endpoint_ops.pop(_key(backend, endpoint_name), None)
        endpoint.endpoint_status = status
        endpoint.failure_reason = reason if status in ("Failed", "UpdateRollbackFailed") or reason else None
        endpoint.last_modified_time = utcnow()


def _apply_config(backend: Any, endpoint: Any, config_name: str) -> None:
    config = _config(backend, config_name)
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(copy.deepcopy(config["ProductionVariants"]))


def _load(backend: Any, endpoint: Any) -> str | None:
    # Returns a failure reason when the model host cannot load the model.
    runtime = rt.current()
    if runtime is None or runtime.model_host is None:
        return None
    try:
        url = model_data_url(backend, endpoint.endpoint_config_name)
        runtime.model_host.load(endpoint.endpoint_name, url, runtime.s3_client_factory(backend.region_name))
    except Exception as exc:
        return f"The primary container for production variant AllTraffic did not pass the ping health check. {exc}"
    return None


def advance(backend: Any, endpoint_name: str) -> None:
    """Apply the transition an in-progress operation has reached, if any."""
    runtime = rt.current()
    if runtime is None:
        return
    with runtime.lock:
        key = _key(backend, endpoint_name)
        op = runtime.endpoint_ops.get(key)
        endpoint = backend.endpoints.get(endpoint_name)
        if op is None or endpoint is None:
            return
        if op.kind == "update" and op.failure is None and op.alarms:
            tripped = in_alarm(backend.account_id, backend.region_name, op.alarms)
            if tripped:
                # Approximates SageMaker's FailureReason; the emulator cannot confirm its wording.
                op.failure = _Rollback(
                    f"Deployment was rolled back: CloudWatch alarm(s) {', '.join(tripped)} went to ALARM "
                    "during the deployment."
                )
                endpoint.last_modified_time = utcnow()
                endpoint.endpoint_status = "Updating"
                # The rollback starts when the alarm is seen and takes as long as an update.
                runtime.endpoint_ops[key] = EndpointOp("rollback", runtime.clock(), failure=op.failure)
                advance(backend, endpoint_name)
                return
        operation = OPERATIONS[op.kind]
        if runtime.clock() - op.started < operation.duration(runtime.timings):
            return
        del runtime.endpoint_ops[key]
        endpoint.last_modified_time = utcnow()
        if op.kind == "create":
            reason = op.failure.reason if op.failure is not None else _load(backend, endpoint)
            endpoint.endpoint_status = operation.end("Failed" if reason is not None else "InService")
            endpoint.failure_reason = reason
        elif op.kind == "update":
            if op.failure is None:
                previous = endpoint.endpoint_config_name
                _apply_config(backend, endpoint, op.config_name)
                capacity.apply_retained(endpoint, op.retained or {})
                reason = _load(backend, endpoint)
                if reason is None:
                    endpoint.endpoint_status = operation.end("InService")
                    endpoint.pending_deployment_summary = None
                    return
                # The new fleet failed its health check: AWS rolls back to the old config, whose
                # fleet (and the capacity it had) never stopped serving.
                _apply_config(backend, endpoint, previous)
                if op.before is not None:
                    endpoint.production_variants = op.before
                op.failure = _Rollback(reason)
            # The endpoint stays Updating while SageMaker rolls back (lifecycle.py says why).
            endpoint.endpoint_status = operation.end(OPERATIONS["rollback"].during)
            # The rollback began when the update ended, not when someone looked.
            runtime.endpoint_ops[key] = EndpointOp(
                "rollback", op.started + operation.duration(runtime.timings), failure=op.failure
            )
            advance(backend, endpoint_name)
        elif op.kind == "rollback":
            endpoint.pending_deployment_summary = None
            endpoint.endpoint_status = operation.end(getattr(op.failure, "final_status", "InService"))
            endpoint.failure_reason = op.failure.reason
        elif op.kind == "delete":
            operation.end(None)
            del backend.endpoints[endpoint_name]
            if runtime.model_host is not None:
                runtime.model_host.unload(endpoint_name)


@dataclass
class _Rollback:
    reason: str
    final_status: str = "InService"
