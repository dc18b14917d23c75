"""Validators for AWS names and values; each returns a problem message or None."""

from __future__ import annotations

import ipaddress
import re

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STATE_MACHINE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
EXECUTION_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/]")
IAM_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+-\d$")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
S3_URI = re.compile(r"^s3://([^/]+)(/.*)?$")

SAGEMAKER_NAME_RULE = (
    "1-63 characters: letters, digits and single or repeated hyphens, starting and ending with a letter or digit"
)


def sagemaker_name(value: str) -> str | None:
    """Check a SageMaker resource name (endpoint, model, config, training job)."""
    if len(value) > 63:
        return f"is {len(value)} characters long; SageMaker names allow at most 63"
    if not SAGEMAKER_NAME.match(value):
        return f"is not a valid SageMaker name ({SAGEMAKER_NAME_RULE})"
    return None


def state_machine_name(value: str) -> str | None:
    """Check a Step Functions state machine name."""
    if not STATE_MACHINE_NAME.match(value):
        return "is not a valid state machine name (1-80 characters: letters, digits, '-' and '_')"
    return None


def execution_name(value: str) -> str | None:
    """Check a Step Functions execution name (<= 80 characters, no reserved characters)."""
    if not 1 <= len(value) <= 80:
        return f"is {len(value)} characters long; execution names allow 1-80"
    bad = EXECUTION_NAME_FORBIDDEN.search(value)
    if bad:
        return f"contains {bad.group()!r}, which execution names may not contain"
    return None


def role_arn(value: str) -> str | None:
    """Check an IAM role ARN."""
    if not IAM_ROLE_ARN.match(value):
        return "is not an IAM role ARN (expected arn:aws:iam::<12-digit account>:role/<name>)"
    return None


def region(value: str) -> str | None:
    """Check the shape of an AWS region name."""
    if not REGION.match(value):
        return "is not an AWS region (expected a name like eu-west-1 or us-east-1)"
    return None


def instance_type(value: str) -> str | None:
    """Check a SageMaker ML instance type."""
    if not INSTANCE_TYPE.match(value):
        return "is not a SageMaker instance type (expected ml.<family>.<size>, e.g. ml.m5.large)"
    return None


def bucket(value: str) -> str | None:
    """Check an S3 bucket name against S3's naming rules."""
    if not BUCKET.match(value) or ".." in value or ".-" in value or "-." in value:
        return (
            "is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, '.' and "
            "'-', starting and ending with a letter or digit)"
        )
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    return "is formatted as an IP address, which S3 bucket names may not be"


def s3_prefix(value: str) -> str | None:
    """Check an S3 key prefix: relative, no empty segments."""
    if not value or value.startswith("/") or value.endswith("/") or "//" in value:
        return "is not a valid S3 prefix (non-empty, no leading or trailing '/', no '//')"
    return None


def s3_uri(value: str) -> str | None:
    """Check an s3://bucket/key URI."""
    match = S3_URI.match(value)
    if not match:
        return "is not an S3 URI (expected s3://<bucket>/<key>)"
    return bucket(match.group(1))
