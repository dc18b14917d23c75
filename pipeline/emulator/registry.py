"""The SageMaker model registry as AWS keeps it, where moto 5.2.5 differs.

moto has model package groups and versions; these wrappers fill what its backend does not do
the way the API reference (and botocore's shapes) describe: a group name is unique, a version
registered in a group starts ``PendingManualApproval``, UpdateModelPackage changes only what it
is given (CustomerMetadataProperties are merged key by key), and a model created from a package
version needs that version to exist. The endpoint then serves the version's artifact.
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.utils import arn_formatter

from pipeline.emulator import runtime as rt

PENDING = "PendingManualApproval"


def create_model_package_group(original: Any, backend: Any, **kwargs: Any) -> Any:
    """CreateModelPackageGroup: an existing name is refused (moto would replace the group)."""
    name = kwargs["model_package_group_name"]
    if rt.current() is not None and name in backend.model_package_groups:
        arn = arn_formatter("model-package-group", name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Model Package Group already exists: {arn}")
    return original(backend, **kwargs)


def create_model_package(original: Any, backend: Any, **kwargs: Any) -> Any:
    """CreateModelPackage: a version in a group is PendingManualApproval unless told otherwise."""
    if rt.current() is not None and kwargs.get("model_package_group_name") and not kwargs.get("model_approval_status"):
        kwargs["model_approval_status"] = PENDING
    return original(backend, **kwargs)


def update_model_package(original: Any, backend: Any, **kwargs: Any) -> Any:
    """UpdateModelPackage: fields not in the request keep their values; metadata is merged."""
    if rt.current() is None:
        return original(backend, **kwargs)
    package = backend.describe_model_package(kwargs["model_package_arn"])
    if kwargs.get("model_approval_status") is None:
        kwargs["model_approval_status"] = package.model_approval_status
    if kwargs.get("approval_description") is None:
        kwargs["approval_description"] = package.approval_description
    merged = dict(package.customer_metadata_properties or {})
    merged.update(kwargs.get("customer_metadata_properties") or {})
    kwargs["customer_metadata_properties"] = merged
    return original(backend, **kwargs)


def create_model(original: Any, backend: Any, **kwargs: Any) -> Any:
    """CreateModel: a container naming a model package version needs that version to exist."""
    if rt.current() is not None:
        containers = [kwargs.get("primary_container") or {}, *(kwargs.get("containers") or [])]
        for container in containers:
            name = container.get("ModelPackageName")
            if name and backend.model_package_name_mapping.get(name, name) not in backend.model_packages:
                raise ValidationError(message=f"Model package {name} does not exist.")
    return original(backend, **kwargs)


def package_model_data_url(backend: Any, package_name: str) -> str:
    """The artifact a model package version names (its first inference container's)."""
    package = backend.describe_model_package(package_name)
    containers = (package.inference_specification or {}).get("Containers") or [{}]
    return containers[0].get("ModelDataUrl", "")
