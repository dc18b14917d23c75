"""What the configured endpoint and training instances cost per hour.

Prices come from AWS's Price List API (``pricing:GetProducts``, service ``AmazonSageMaker``) when
the credentials allow it, else from the checked-in table ``pipeline/prices.json`` (its source,
date and refresh command are in the file). Offline runs (an emulator endpoint) use the table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from mypy_boto3_pricing import PricingClient
    from mypy_boto3_pricing.type_defs import FilterTypeDef

TABLE_PATH = Path(__file__).resolve().parent / "prices.json"
SERVICE_CODE = "AmazonSageMaker"
# The Price List API is served from a few regions only; us-east-1 answers for every region.
PRICING_REGION = "us-east-1"
# Usage types read "<region code>-Host:<instance>" / "<region code>-Train:<instance>" (us-east-1 has
# no region code); spot training ("Train-Spot:") and other components are different usage types.
USAGE_KINDS = {"hosting": "Host", "training": "Train"}


class PricingUnavailable(Exception):
    """The Price List API could not be asked (no permission, no network, no such product)."""


@dataclass(frozen=True)
class Rate:
    """The hourly price of one kind of instance use: ``hosting`` (endpoint) or ``training``."""

    kind: str
    instance_type: str
    count: int
    usd_per_instance_hour: float | None
    source: str

    @property
    def usd_per_hour(self) -> float | None:
        """The price of all ``count`` instances for an hour, or None when unknown."""
        return None if self.usd_per_instance_hour is None else self.usd_per_instance_hour * self.count


def load_table(path: Path | None = None) -> dict[str, Any]:
    """The checked-in price table (``source``, ``retrieved``, ``refresh``, ``prices``)."""
    with (path or TABLE_PATH).open(encoding="utf-8") as handle:
        table: dict[str, Any] = json.load(handle)
    return table


def table_price(table: Mapping[str, Any], region: str, kind: str, instance_type: str) -> float | None:
    """The table's USD per instance-hour, or None when the table does not list it."""
    value = table.get("prices", {}).get(region, {}).get(kind, {}).get(instance_type)
    return None if value is None else float(value)


def product_filters(region: str, instance_type: str) -> list[FilterTypeDef]:
    """GetProducts filters for one instance type in one region (botocore: Type TERM_MATCH)."""
    return [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
    ]


def on_demand_price(price_list: Iterable[str], kind: str, instance_type: str) -> float | None:
    """The on-demand hourly USD price of ``kind`` use in GetProducts' ``PriceList`` (JSON strings).

    Only products whose usage type ends in ``Host:<type>`` or ``Train:<type>`` count; several
    distinct prices for one usage type mean the filter was not specific enough, so None.
    """
    suffix = f"{USAGE_KINDS[kind]}:{instance_type}"
    prices: set[float] = set()
    for raw in price_list:
        product = json.loads(raw)
        usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
        if usage != suffix and not usage.endswith("-" + suffix):
            continue
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None and str(dimension.get("unit", "")).lower().startswith("hr"):
                    prices.add(float(usd))
    return prices.pop() if len(prices) == 1 else None


def api_price(pricing: PricingClient, region: str, kind: str, instance_type: str) -> float:
    """Ask the Price List API; raise PricingUnavailable when it cannot say."""
    price_list: list[str] = []
    try:
        for page in pricing.get_paginator("get_products").paginate(
            ServiceCode=SERVICE_CODE, Filters=product_filters(region, instance_type), FormatVersion="aws_v1"
        ):
            price_list.extend(page.get("PriceList", []))
    except (ClientError, BotoCoreError) as exc:
        raise PricingUnavailable(str(exc)) from exc
    price = on_demand_price(price_list, kind, instance_type)
    if price is None:
        raise PricingUnavailable(f"no single on-demand {kind} price for {instance_type} in {region}")
    return price


def configured_uses(config: PipelineConfig) -> list[tuple[str, str, int]]:
    """(kind, instance type, count) of what the configuration runs."""
    return [
        ("hosting", config.endpoint.instance_type, config.endpoint.instance_count),
        ("training", config.training.instance_type, config.training.instance_count),
    ]


def hourly_rates(
    config: PipelineConfig, pricing: PricingClient | None = None, table: Mapping[str, Any] | None = None
) -> list[Rate]:
    """The configured endpoint's and training's hourly rates: API first (if ``pricing``), else table."""
    table = load_table() if table is None else table
    rates = []
    for kind, instance_type, count in configured_uses(config):
        price: float | None = None
        source = f"price table of {table.get('retrieved', '?')}"
        if pricing is not None:
            try:
                price, source = api_price(pricing, config.account.region, kind, instance_type), "AWS Price List API"
            except PricingUnavailable:
                price = None
        if price is None:
            price = table_price(table, config.account.region, kind, instance_type)
            if price is None:
                source = "not in the price table (python -m pipeline cost --refresh adds it)"
        rates.append(Rate(kind, instance_type, count, price, source))
    return rates


def describe_rates(config: PipelineConfig, rates: Iterable[Rate]) -> list[str]:
    """One line per rate, e.g. ``endpoint: 2 x ml.m5.large = $0.256/h while it exists (...)``."""
    lines = []
    for rate in rates:
        what = "endpoint" if rate.kind == "hosting" else "training"
        when = "while the endpoint exists, traffic or not" if rate.kind == "hosting" else "while a training job runs"
        total = "unknown" if rate.usd_per_hour is None else f"${rate.usd_per_hour:.3f}/h"
        lines.append(
            f"cost {what}: {rate.count} x {rate.instance_type} in {config.account.region} = {total} {when} ({rate.source})"
        )
    return lines


def refresh_table(
    pricing: PricingClient, table: Mapping[str, Any], extra: Iterable[tuple[str, str, str]] = (), *, today: str
) -> dict[str, Any]:
    """A new table with every listed (and ``extra``) region/kind/type priced by the API.

    Raises PricingUnavailable naming the first entry the API cannot price, so a partial
    refresh never replaces the table.
    """
    wanted = {
        (region, kind, instance_type)
        for region, kinds in table.get("prices", {}).items()
        for kind, types in kinds.items()
        for instance_type in types
    }
    wanted.update(extra)
    prices: dict[str, dict[str, dict[str, float]]] = {}
    for region, kind, instance_type in sorted(wanted):
        try:
            price = api_price(pricing, region, kind, instance_type)
        except PricingUnavailable as exc:
            raise PricingUnavailable(f"{kind} {instance_type} in {region}: {exc}") from exc
        prices.setdefault(region, {}).setdefault(kind, {})[instance_type] = price
    return {**table, "retrieved": today, "prices": prices}
