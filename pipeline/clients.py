"""The AWS clients of one command: credentials resolved once, every client on the same endpoint."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

import boto3

from pipeline import aws
from pipeline.config import PipelineConfig


@dataclass
class Clients:
    """A boto3 session plus the endpoint every client uses (None: AWS, or ``AWS_ENDPOINT_URL``)."""

    session: boto3.Session
    endpoint_url: str | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __call__(self, service: str) -> Any:
        """The (cached) client for ``service``, with standard retries."""
        if service not in self.cache:
            self.cache[service] = aws.client(self.session, service, endpoint_url=self.endpoint_url)
        return self.cache[service]


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that choose where AWS calls go and with which credentials."""
    group = parser.add_argument_group("AWS")
    group.add_argument(
        "--endpoint-url",
        default=None,
        help="send every AWS call here, e.g. the offline emulator's URL (default: $AWS_ENDPOINT_URL, else AWS)",
    )
    group.add_argument("--profile", default=None, help="named AWS profile (outside GitHub Actions)")
    group.add_argument(
        "--role-duration",
        type=int,
        default=aws.MAX_DURATION_SECONDS,
        help="lifetime in seconds of the assumed role's session, 900-3600 (default: 3600)",
    )


def clients_for(config: PipelineConfig, args: argparse.Namespace | None = None) -> Clients:
    """Resolve credentials for ``config``: GitHub OIDC into its deploy role inside Actions,
    otherwise the default chain or ``--profile``; region from the configuration."""
    endpoint_url = getattr(args, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL") or None
    options = aws.AwsOptions(
        role_arn=config.deploy_role_arn,
        region=config.region,
        profile=getattr(args, "profile", None),
        duration_seconds=getattr(args, "role_duration", aws.MAX_DURATION_SECONDS),
        endpoint_url=endpoint_url,
    )
    sts_session = boto3.Session(region_name=config.region)
    session = aws.get_session(options, sts_session=sts_session)
    return Clients(session=session, endpoint_url=endpoint_url)
