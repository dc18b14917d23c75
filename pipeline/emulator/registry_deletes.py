"""DeleteModelPackage and DeleteModelPackageGroup, which moto 5.2.5 lacks (teardown uses them).

As on AWS: a group with versions left cannot be deleted (ConflictException-like
ValidationError naming them), and deleting a missing package or group is a ValidationError.
"""

from __future__ import annotations

from moto.core.responses import EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse


def delete_model_package(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackage by name or ARN."""
    backend = self.sagemaker_backend
    wanted = self._get_param("ModelPackageName")
    for key, package in list(backend.model_packages.items()):
        if wanted in (key, package.arn, package.model_package_name):
            del backend.model_packages[key]
            for name, arn in list(backend.model_package_name_mapping.items()):
                if arn == package.arn:
                    del backend.model_package_name_mapping[name]
            return EmptyResult()
    raise ValidationError(message=f"Model package {wanted} does not exist.")


def delete_model_package_group(self: SageMakerResponse) -> EmptyResult:
    """DeleteModelPackageGroup: only once it holds no versions."""
    backend = self.sagemaker_backend
    name = self._get_param("ModelPackageGroupName")
    if name not in backend.model_package_groups:
        raise ValidationError(message=f"Model package group {name} does not exist.")
    left = [p.arn for p in backend.model_packages.values() if p.model_package_group_name == name]
    if left:
        raise ValidationError(message=f"Model package group {name} still has model packages: {', '.join(left)}")
    del backend.model_package_groups[name]
    return EmptyResult()
