"""SageMaker service quotas on the emulator (moto 5.2.5 serves Service Quotas for ``vpc`` only).

The emulated account has the per-instance-type quotas SageMaker names "<type> for endpoint
usage" and "<type> for training job usage", as data: AWS's defaults for a new account (often 0
for ml.m5) are not modelled; every listed type gets ``DEFAULT_VALUE`` instances, so the
pipeline runs. ``set_quota`` changes one applied value (a test of a too-low quota). Quota codes
are the emulator's own (``L-`` + a hash of the name): real codes come from the real API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from moto.servicequotas.models import ServiceQuotasBackend, servicequotas_backends
from moto.servicequotas.responses import ServiceQuotasResponse

DEFAULT_VALUE = 4.0
INSTANCE_TYPES = (
    "ml.t2.medium",
    "ml.m4.xlarge",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.c5.large",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
)
USAGES = ("endpoint usage", "training job usage")
SERVICE_NAME = "Amazon SageMaker"


def quota_code(name: str) -> str:
    """The emulator's stable code for a quota name."""
    return "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def _quota(backend: ServiceQuotasBackend, name: str, value: float) -> dict[str, Any]:
    code = quota_code(name)
    return {
        "ServiceCode": "sagemaker",
        "ServiceName": SERVICE_NAME,
        "QuotaArn": f"arn:aws:servicequotas:{backend.region_name}:{backend.account_id}:sagemaker/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": value,
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


def default_quotas(backend: ServiceQuotasBackend) -> list[dict[str, Any]]:
    """AWS's default values, as the emulated account has them."""
    names = [f"{kind} for {usage}" for kind in INSTANCE_TYPES for usage in USAGES]
    return [_quota(backend, name, DEFAULT_VALUE) for name in names]


def _applied(backend: ServiceQuotasBackend) -> dict[str, float]:
    applied: dict[str, float] = backend.__dict__.setdefault("_emulator_sagemaker_applied", {})
    return applied


def set_quota(account_id: str, region: str, name: str, value: float) -> None:
    """Apply ``value`` to the SageMaker quota ``name`` in one emulated account and region."""
    _applied(servicequotas_backends[account_id][region])[name] = float(value)


def list_aws_default_service_quotas(original: Callable[..., Any], self: ServiceQuotasResponse) -> Any:
    """ListAWSDefaultServiceQuotas, with SageMaker's quotas added."""
    if json.loads(self.body or "{}").get("ServiceCode") != "sagemaker":
        return original(self)
    return json.dumps({"Quotas": default_quotas(self.backend)})


def list_service_quotas(self: ServiceQuotasResponse) -> str:
    """ListServiceQuotas: the applied values (only those ``set_quota`` changed, as AWS lists
    only quotas with an applied value)."""
    params = json.loads(self.body or "{}")
    if params.get("ServiceCode") != "sagemaker":
        return json.dumps({"Quotas": []})
    applied = _applied(self.backend)
    return json.dumps({"Quotas": [_quota(self.backend, name, value) for name, value in sorted(applied.items())]})
