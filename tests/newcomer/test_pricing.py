"""Hourly costs: the Price List API when it answers (checked against botocore's model), else the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from pipeline import pricing
from pipeline.cli import main
from pipeline.config import load_config

pytestmark = pytest.mark.newcomer


def product(usage: str, usd: str, unit: str = "Hrs") -> str:
    """One GetProducts PriceList entry in the Price List's JSON shape."""
    return json.dumps(
        {
            "product": {"attributes": {"usagetype": usage, "instanceName": usage.split(":")[-1]}},
            "terms": {
                "OnDemand": {
                    "SKU.TERM": {"priceDimensions": {"SKU.TERM.DIM": {"unit": unit, "pricePerUnit": {"USD": usd}}}}
                }
            },
        }
    )


def stubbed_products(stubber: Stubber, instance_type: str, price_list: list[str], region: str = "eu-west-1") -> None:
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": price_list},
        {
            "ServiceCode": "AmazonSageMaker",
            "Filters": pricing.product_filters(region, instance_type),
            "FormatVersion": "aws_v1",
        },
    )


@pytest.fixture
def client() -> Any:
    return boto3.client("pricing", region_name=pricing.PRICING_REGION)


def test_the_table_has_its_source_date_and_refresh_command() -> None:
    table = pricing.load_table()
    assert (
        "aws.amazon.com/sagemaker/pricing" in table["source"]
        and table["retrieved"]
        and "cost --refresh" in table["refresh"]
    )
    staging = load_config("staging", environ={})
    # Every configured environment's instance types are in the table for its region.
    for env in ("staging", "prod"):
        config = load_config(env, environ={})
        for kind, instance_type, _ in pricing.configured_uses(config):
            assert pricing.table_price(table, config.region, kind, instance_type), (env, kind, instance_type)
    assert staging.region in table["prices"]


def test_offline_the_table_prices_endpoint_and_training() -> None:
    prod = load_config("prod", environ={})
    rates = pricing.hourly_rates(prod, None)
    table = pricing.load_table()
    endpoint, training = rates
    assert endpoint.kind == "hosting" and endpoint.count == 2
    assert endpoint.usd_per_hour == pytest.approx(2 * table["prices"]["eu-west-1"]["hosting"]["ml.m5.large"])
    assert training.usd_per_hour == pytest.approx(table["prices"]["eu-west-1"]["training"]["ml.m5.xlarge"])
    lines = pricing.describe_rates(prod, rates)
    assert lines[0].startswith("cost endpoint: 2 x ml.m5.large in eu-west-1 = $")
    assert "while the endpoint exists, traffic or not" in lines[0]
    assert f"(price table of {table['retrieved']})" in lines[0]


def test_the_price_list_api_is_used_when_it_answers(client: Any) -> None:
    config = load_config("staging", environ={})
    with Stubber(client) as stub:
        stubbed_products(
            stub,
            "ml.m5.large",
            [product("EU-Host:ml.m5.large", "0.1300000000"), product("EU-Train:ml.m5.large", "0.13")],
        )
        stubbed_products(
            stub,
            "ml.m5.xlarge",
            [product("EU-Train:ml.m5.xlarge", "0.2600000000"), product("EU-Train-Spot:ml.m5.xlarge", "0.08")],
        )
        endpoint, training = pricing.hourly_rates(config, client)
        stub.assert_no_pending_responses()
    assert (endpoint.usd_per_hour, endpoint.source) == (0.13, "AWS Price List API")
    assert training.usd_per_hour == 0.26  # spot usage is another usage type


def test_an_api_that_refuses_falls_back_to_the_table(client: Any) -> None:
    config = load_config("staging", environ={})
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not authorized to perform pricing:GetProducts")
        stubbed_products(stub, "ml.m5.xlarge", [])  # no product: the table again
        endpoint, training = pricing.hourly_rates(config, client)
    assert endpoint.source.startswith("price table of") and training.source.startswith("price table of")
    assert endpoint.usd_per_hour == pricing.table_price(pricing.load_table(), "eu-west-1", "hosting", "ml.m5.large")


def test_an_unknown_instance_type_says_so_and_how_to_add_it() -> None:
    config = load_config("staging", environ={}).replace(endpoint_instance_type="ml.c5.xlarge")
    line = pricing.describe_rates(config, pricing.hourly_rates(config, None))[0]
    assert "= unknown" in line and "cost --refresh" in line


def test_ambiguous_products_give_no_price() -> None:
    listed = [product("EU-Host:ml.m5.large", "0.1"), product("Host:ml.m5.large", "0.2")]
    assert pricing.on_demand_price(listed, "hosting", "ml.m5.large") is None
    assert pricing.on_demand_price([product("EU-Host:ml.m5.large", "0.1", unit="GB")], "hosting", "ml.m5.large") is None


def test_refresh_replaces_every_price_or_none(client: Any) -> None:
    table = {
        "source": "s",
        "retrieved": "old",
        "refresh": "r",
        "prices": {"eu-west-1": {"hosting": {"ml.m5.large": 9.0}}},
    }
    with Stubber(client) as stub:
        stubbed_products(stub, "ml.m5.large", [product("EU-Host:ml.m5.large", "0.128")])
        stubbed_products(stub, "ml.m5.xlarge", [product("EU-Train:ml.m5.xlarge", "0.256")])
        new = pricing.refresh_table(client, table, [("eu-west-1", "training", "ml.m5.xlarge")], today="2030-01-02")
    assert new["retrieved"] == "2030-01-02"
    assert new["prices"] == {"eu-west-1": {"hosting": {"ml.m5.large": 0.128}, "training": {"ml.m5.xlarge": 0.256}}}
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "no")
        with pytest.raises(pricing.PricingUnavailable, match=r"hosting ml\.m5\.large in eu-west-1"):
            pricing.refresh_table(client, table, today="2030-01-02")


def test_cost_command_offline_uses_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # an emulator: never asks the API
    assert main(["cost", "--env", "prod"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("cost endpoint: 2 x ml.m5.large") and out[1].startswith("cost training:")
    assert main(["cost", "--refresh"]) == 2
    assert "needs the real Price List API" in capsys.readouterr().err


def test_the_checked_in_table_is_valid_json_with_numbers() -> None:
    table = json.loads(Path(pricing.TABLE_PATH).read_text())
    for region, kinds in table["prices"].items():
        for kind, prices in kinds.items():
            assert kind in pricing.USAGE_KINDS, (region, kind)
            assert all(isinstance(value, float) and value > 0 for value in prices.values())
