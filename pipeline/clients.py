"""The AWS clients of one command: credentials resolved once, every client on the same endpoint."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.client import BaseClient

from pipeline import aws
from pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient


@dataclass
class Clients:
    """A boto3 session plus the endpoint every client uses (None: AWS, or ``AWS_ENDPOINT_URL``)."""

    session: boto3.Session
    endpoint_url: str | None = None
    cache: dict[str, BaseClient] = field(default_factory=dict, repr=False)

    @overload
    def __call__(self, service: Literal["application-autoscaling"]) -> ApplicationAutoScalingClient: ...
    @overload
    def __call__(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def __call__(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def __call__(self, service: Literal["iam"]) -> IAMClient: ...
    @overload
    def __call__(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sagemaker"]) -> SageMakerClient: ...
    @overload
    def __call__(self, service: Literal["sagemaker-runtime"]) -> SageMakerRuntimeClient: ...
    @overload
    def __call__(self, service: Literal["service-quotas"]) -> ServiceQuotasClient: ...
    @overload
    def __call__(self, service: Literal["stepfunctions"]) -> SFNClient: ...
    @overload
    def __call__(self, service: Literal["sts"]) -> STSClient: ...
    def __call__(self, service: str) -> BaseClient:
        """The (cached) client for ``service``, made by :func:`pipeline.aws.client` (standard retries)."""
        if service not in self.cache:
            self.cache[service] = aws.client(self.session, service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
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
        role_arn=config.account.deploy_role_arn,
        region=config.account.region,
        profile=profile,
        duration_seconds=role_duration,
        endpoint_url=endpoint_url,
    )
    sts_session = boto3.Session(region_name=config.account.region)
    session = aws.get_session(options, sts_session=sts_session)
    return Clients(session=session, endpoint_url=endpoint_url)
