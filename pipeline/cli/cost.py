"""``cost``: what the configured endpoint and training cost per hour (pipeline.pricing)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli.common import add_aws_arguments, add_config_arguments, clients_from_args, config_from_args
from pipeline.errors import PipelineError, UsageError

if TYPE_CHECKING:
    from pipeline.clients import Clients
    from pipeline.config import PipelineConfig


def register(commands: Any) -> None:
    """Add the ``cost`` command."""
    parser = commands.add_parser(
        "cost", help="hourly cost of the configured endpoint and training (Price List API, else the checked-in table)"
    )
    add_config_arguments(parser)
    add_aws_arguments(parser)
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="rewrite pipeline/prices.json from the Price List API (needs credentials)",
    )
    parser.add_argument("--table", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def pricing_client(clients: Clients) -> Any:
    """A Price List API client (us-east-1), or None on an emulator (which has no Price List API)."""
    from pipeline import aws, pricing

    if clients.endpoint_url:
        return None
    return aws.client(clients.session, "pricing", region_name=pricing.PRICING_REGION)


def cost_lines(config: PipelineConfig, clients: Clients) -> list[str]:
    """The cost lines ``deploy --plan`` and ``cost`` print."""
    from pipeline import pricing

    return pricing.describe_rates(config, pricing.hourly_rates(config, pricing_client(clients)))


def handle(args: argparse.Namespace) -> int:
    """Print the hourly costs; with --refresh rewrite the price table from the API."""
    from pipeline import pricing

    config = config_from_args(args)
    clients = clients_from_args(config, args)
    if not args.refresh:
        for line in cost_lines(config, clients):
            print(line)
        return 0
    client = pricing_client(clients)
    if client is None:
        raise UsageError("cost --refresh needs the real Price List API; unset --endpoint-url / AWS_ENDPOINT_URL")
    path = Path(args.table) if args.table else pricing.TABLE_PATH
    table = pricing.load_table(path)
    extra = [(config.region, kind, instance_type) for kind, instance_type, _ in pricing.configured_uses(config)]
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    try:
        refreshed = pricing.refresh_table(client, table, extra, today=today)
    except pricing.PricingUnavailable as exc:
        raise PipelineError(f"price table not refreshed: {exc}") from None
    path.write_text(json.dumps(refreshed, indent=2) + "\n", encoding="utf-8")
    print(f"refreshed {path} ({refreshed['retrieved']})")
    return 0
