"""Endpoint capacity under autoscaling, as AWS's "Update endpoints that use auto scaling" describes.

- UpdateEndpoint with ``RetainAllVariantProperties=true``: variants of the same name keep the
  endpoint's current DesiredInstanceCount and DesiredWeight, whatever the new config's
  InitialInstanceCount says, unless ``ExcludeRetainedVariantProperties`` names the property.
  Without it the new config's initial values apply, dropping what autoscaling reached.
- An update that changes the instance type of a variant that is a scalable target of
  Application Auto Scaling (moto's backend) fails; the target must be deregistered first.
"""

from __future__ import annotations

from typing import Any

from moto.sagemaker.exceptions import ValidationError

_COUNT, _WEIGHT = "DesiredInstanceCount", "DesiredWeight"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def retained(endpoint: Any, retain_all: bool, exclude: list[dict[str, str]] | None) -> dict[str, dict[str, Any]]:
    """The variant properties an update keeps, by variant name (empty: none kept)."""
    if not retain_all:
        return {}
    excluded = {item.get("VariantPropertyType") for item in exclude or []}
    kept: dict[str, dict[str, Any]] = {}
    for variant in endpoint.production_variants or []:
        values = {}
        if _COUNT not in excluded and variant.get(_COUNT) is not None:
            values["count"] = variant[_COUNT]
        if _WEIGHT not in excluded and variant.get(_WEIGHT) is not None:
            values["weight"] = variant[_WEIGHT]
        kept[variant["VariantName"]] = values
    return kept


def apply_retained(endpoint: Any, kept: dict[str, dict[str, Any]]) -> None:
    """Put the retained counts and weights back on the endpoint's new variants."""
    for variant in endpoint.production_variants or []:
        values = kept.get(variant["VariantName"], {})
        if "count" in values:
            variant["DesiredInstanceCount"] = variant["CurrentInstanceCount"] = values["count"]
        if "weight" in values:
            variant["DesiredWeight"] = variant["CurrentWeight"] = values["weight"]


def _scalable_target_ids(account_id: str, region: str) -> set[str]:
    from pipeline.emulator.lazy_moto import import_autoscaling_models

    applicationautoscaling_backends = import_autoscaling_models().applicationautoscaling_backends
    if account_id not in applicationautoscaling_backends:
        return set()
    regions = applicationautoscaling_backends[account_id]
    if region not in regions:
        return set()
    return set(regions[region].targets.get(DIMENSION, {}))


def refuse_instance_type_change(backend: Any, endpoint: Any, old: dict[str, Any], new: dict[str, Any]) -> None:
    """ValidationException when a scalable-target variant would change instance type."""
    targets = _scalable_target_ids(backend.account_id, backend.region_name)
    old_types = {v["VariantName"]: v.get("InstanceType") for v in old["ProductionVariants"]}
    for variant in new["ProductionVariants"]:
        name = variant["VariantName"]
        if f"endpoint/{endpoint.endpoint_name}/variant/{name}" not in targets:
            continue
        if name in old_types and old_types[name] != variant.get("InstanceType"):
            # Approximates SageMaker's message; AWS's page says only that the call fails.
            raise ValidationError(
                message=f"The variant {name} of endpoint {endpoint.endpoint_name} is registered with Application "
                f"Auto Scaling; changing its instance type from {old_types[name]} to {variant.get('InstanceType')} "
                "requires deregistering the scalable target first."
            )
