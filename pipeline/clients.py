"""The AWS clients of one command: credentials resolved once, every client on the same endpoint."""

from __future__ import annotations

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


def clients_for(
    config: PipelineConfig,
    *,
    endpoint_url: str | None = None,
    profile: str | None = None,
    role_duration: int = aws.MAX_DURATION_SECONDS,
) -> Clients:
    """Resolve credentials for ``config``: GitHub OIDC into its deploy role inside Actions,
    otherwise the default chain or ``profile``; region from the configuration.

    ``endpoint_url`` (else ``$AWS_ENDPOINT_URL``, else AWS) is where every client sends its calls.
    """
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    options = aws.AwsOptions(
        role_arn=config.deploy_role_arn,
        region=config.region,
        profile=profile,
        duration_seconds=role_duration,
        endpoint_url=endpoint_url,
    )
    sts_session = boto3.Session(region_name=config.region)
    session = aws.get_session(options, sts_session=sts_session)
    return Clients(session=session, endpoint_url=endpoint_url)
