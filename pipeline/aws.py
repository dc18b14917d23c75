"""AWS sessions and clients: GitHub OIDC -> STS inside GitHub Actions, the default chain elsewhere.

Inside a GitHub Actions job with a deploy role configured, ``get_session`` fetches the job's
OIDC token (audience ``sts.amazonaws.com``), calls ``sts:AssumeRoleWithWebIdentity`` and,
optionally, chains ``sts:AssumeRole`` into a per-environment role. Elsewhere it uses the
default credential chain or a named profile. Every secret is masked in the Actions log before
anything else is printed, and none is ever put in an exception message.

All STS calls go through ``client()``, like every other client of the project, so an explicit
``endpoint_url`` (or boto3's own ``AWS_ENDPOINT_URL``) sends them to the offline emulator too.
Inside GitHub Actions, though, the OIDC token goes only to AWS STS over HTTPS: whatever can set
the job's environment must not be able to send the token elsewhere, so an STS endpoint that is
not AWS's is refused before the token is even requested. The offline rehearsal alone may point
STS at an emulator on this machine's loopback, and says so with ``PIPELINE_ALLOW_LOCAL_STS=1``.

Assumed-role credentials are botocore ``RefreshableCredentials``: before they expire, botocore
calls back here for a new OIDC token and a new AssumeRoleWithWebIdentity (then the chained
AssumeRole), so a command may follow an execution for hours on one-hour sessions.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import http.client
import ipaddress
import json
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from pipeline import github_actions as gha
from pipeline import validation
from pipeline.aws_errors import read_error
from pipeline.errors import PipelineError, UsageError
from pipeline.wait import Backoff, wait_until

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_pricing import PricingClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_service_quotas import ServiceQuotasClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

AUDIENCE = "sts.amazonaws.com"
MIN_DURATION_SECONDS = 900
# Role chaining caps a session at one hour, so a longer first session would buy nothing; every
# session is renewed before it expires (refresh_windows), so commands may run longer than this.
MAX_DURATION_SECONDS = 3600
# botocore's own windows: renew when 15 min are left (if no other thread is renewing), and block
# every caller on a renewal when 10 min are left. For a session of under 45 min the windows
# shrink to a third and a sixth of its length: with 15-minute sessions botocore's defaults would
# renew on every single call (botocore issue #2189).
ADVISORY_REFRESH_SECONDS = 15 * 60
MANDATORY_REFRESH_SECONDS = 10 * 60
# botocore's "standard" mode retries throttling, 5xx, connection errors and (special-cased for
# STS) IDPCommunicationError, with exponential backoff and jitter; 5 attempts ride out a blip.
DEFAULT_MAX_ATTEMPTS = 5
LOCAL_SESSION_NAME = "big-mart-pipeline"

# Set (to "1") only by the offline rehearsal: lets the Actions token exchange reach an STS
# emulator on a loopback address. No workflow sets it (tests/rehearsal/test_workflows.py).
ALLOW_LOCAL_STS = "PIPELINE_ALLOW_LOCAL_STS"
# AWS's own STS hosts: global, regional, FIPS, China and dual-stack endpoints.
_AWS_STS_HOST = re.compile(r"sts(?:-fips)?(?:\.[a-z0-9-]+)?\.(?:amazonaws\.com|amazonaws\.com\.cn|api\.aws)")

# STS's RoleSessionName pattern, ASCII only (Python's \w would also accept non-ASCII letters).
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_NOT_SESSION_NAME_CHAR = re.compile(r"[^\w+=,.@-]", re.ASCII)


class CredentialsError(PipelineError):
    """AWS credentials could not be obtained."""


class OidcTokenError(CredentialsError):
    """The GitHub Actions OIDC token could not be fetched."""


class IdTokenPermissionError(UsageError):
    """A deploy role is configured in GitHub Actions but the job may not request an OIDC token."""


class StsError(CredentialsError):
    """STS refused a call; ``code`` is the AWS error code, ``role_arn`` the role asked for."""

    def __init__(self, message: str, *, code: str, role_arn: str):
        super().__init__(message)
        self.code = code
        self.role_arn = role_arn


@dataclass(frozen=True)
class AwsOptions:
    """How to obtain credentials; validated on creation (bad values raise UsageError).

    role_arn: role assumed with the GitHub OIDC token; used only inside GitHub Actions.
    chain_role_arn: optional per-environment role assumed next with ``sts:AssumeRole``.
    duration_seconds: lifetime of each STS session, 900-3600.
    session_name: STS role session name; default ``gha-<run id>-<attempt>`` in Actions.
    region: AWS region; default from the profile or ``AWS_DEFAULT_REGION`` / ``AWS_REGION``.
    profile: named profile for the default credential chain (outside the OIDC path).
    endpoint_url: endpoint for every client (the offline emulator); default boto3's own
        resolution, which honours ``AWS_ENDPOINT_URL``.
    """

    role_arn: str | None = None
    chain_role_arn: str | None = None
    duration_seconds: int = MAX_DURATION_SECONDS
    session_name: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        for field_name in ("role_arn", "chain_role_arn"):
            value = getattr(self, field_name)
            if value is not None:
                validate_role_arn(value, field_name)
        validate_duration(self.duration_seconds)
        if self.session_name is not None and not (
            isinstance(self.session_name, str) and _SESSION_NAME.fullmatch(self.session_name)
        ):
            raise UsageError(
                f"session_name = {self.session_name!r} is not a valid role session name "
                r"(2-64 characters from [A-Za-z0-9_+=,.@-])"
            )
        if self.region is not None:
            validate_region(self.region)
        if self.profile is not None and not (isinstance(self.profile, str) and self.profile):
            raise UsageError(f"profile = {self.profile!r} is not a profile name")
        if self.endpoint_url is not None:
            parts = urllib.parse.urlsplit(str(self.endpoint_url))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise UsageError(f"endpoint_url = {self.endpoint_url!r} is not an http(s)://host[:port] URL")


def validate_role_arn(value: object, name: str = "role_arn") -> str:
    """Return ``value`` if it is an IAM role ARN, else raise UsageError naming it."""
    problem = validation.role_arn(value) if isinstance(value, str) else "is not a string"
    if problem:
        raise UsageError(f"{name} = {value!r} {problem}")
    return str(value)


def validate_duration(value: object) -> int:
    """Return ``value`` if it is a whole number of seconds in 900-3600, else raise UsageError."""
    # bool is an int subclass; True would otherwise pass as 1 and fail confusingly later.
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (MIN_DURATION_SECONDS <= value <= MAX_DURATION_SECONDS)
    ):
        raise UsageError(
            f"duration_seconds = {value!r} is not a whole number of seconds from "
            f"{MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS}"
        )
    return value


def validate_region(value: object) -> str:
    """Return ``value`` if it looks like an AWS region name, else raise UsageError naming it."""
    problem = validation.region(value) if isinstance(value, str) else "is not a string"
    if problem:
        raise UsageError(f"region = {value!r} {problem}")
    return str(value)


# The services the package calls; each overload gives mypy that service's typed client.
@overload
def client(
    session: boto3.Session,
    service_name: Literal["application-autoscaling"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> ApplicationAutoScalingClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["cloudformation"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> CloudFormationClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["cloudwatch"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> CloudWatchClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["iam"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> IAMClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["pricing"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> PricingClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["s3"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> S3Client: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["sagemaker"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> SageMakerClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["sagemaker-runtime"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> SageMakerRuntimeClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["service-quotas"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> ServiceQuotasClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["stepfunctions"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> SFNClient: ...
@overload
def client(
    session: boto3.Session,
    service_name: Literal["sts"],
    *,
    endpoint_url: str | None = ...,
    region_name: str | None = ...,
    max_attempts: int = ...,
    credentials: Mapping[str, Any] | None = ...,
) -> STSClient: ...
def client(
    session: boto3.Session,
    service_name: str,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    credentials: Mapping[str, Any] | None = None,
) -> BaseClient:
    """Create a ``service_name`` client from ``session`` with standard retries: the one client factory.

    ``max_attempts`` is the total number of attempts per call, the first one included.
    ``endpoint_url`` overrides the endpoint (the offline emulator); when None, boto3 resolves it
    itself and honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``. ``region_name``
    and ``credentials`` (an STS ``Credentials`` dict) override the session's for this client.
    """
    kwargs: dict[str, Any] = {
        # botocore's "max_attempts" counts retries only; "total_max_attempts" includes the
        # first call, which is what max_attempts means here.
        "config": Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
    }
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if region_name:
        kwargs["region_name"] = region_name
    if credentials is not None:
        kwargs["aws_access_key_id"] = credentials["AccessKeyId"]
        kwargs["aws_secret_access_key"] = credentials["SecretAccessKey"]
        kwargs["aws_session_token"] = credentials["SessionToken"]
    made: BaseClient = session.client(service_name, **kwargs)  # type: ignore[call-overload]
    return made


def sanitize_session_name(raw: str) -> str:
    """Turn ``raw`` into a valid STS role session name: [\\w+=,.@-], 2-64 characters."""
    name = _NOT_SESSION_NAME_CHAR.sub("-", raw)[:64]
    return name.ljust(2, "-")


def default_session_name(environ: Mapping[str, str] | None = None) -> str:
    """Return ``gha-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>`` in Actions, else ``big-mart-pipeline``.

    Naming the run and attempt makes every CloudTrail event of a deploy traceable to it.
    """
    env = os.environ if environ is None else environ
    run_id = env.get(gha.GITHUB_RUN_ID)
    if not run_id:
        return LOCAL_SESSION_NAME
    return sanitize_session_name(f"gha-{run_id}-{env.get(gha.GITHUB_RUN_ATTEMPT) or '1'}")


def oidc_token_url(request_url: str, audience: str = AUDIENCE) -> str:
    """Add ``audience=<audience>`` (URL-encoded) to the runner's token request URL.

    The runner's URL already carries a query (``?api-version=2.0``), hence ``&``; ``?`` is used
    when it has none. A fragment, if any, stays at the end.
    """
    parts = urllib.parse.urlsplit(request_url)
    extra = urllib.parse.urlencode({"audience": audience})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _where(url: str) -> str:
    # Only scheme and host go into messages: enough to debug, nothing from path or query.
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def fetch_oidc_token(
    request_url: str,
    request_token: str,
    *,
    audience: str = AUDIENCE,
    timeout: float = 10.0,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Fetch the job's OIDC token from the runner and mask it; return the JWT.

    Sends ``Authorization: bearer <request_token>`` to ``request_url`` + ``audience``, with a
    ``timeout`` per attempt. HTTP 5xx/429, timeouts and connection errors are retried up to
    ``attempts`` times in all, sleeping ``backoff``, 2x``backoff``, ... in between; other HTTP
    errors fail at once. Raises OidcTokenError; neither token appears in any message.
    """
    url = oidc_token_url(request_url, audience)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        # urllib would also open file:// and ftp:// URLs; the runner only ever gives https.
        raise OidcTokenError(f"{gha.ACTIONS_ID_TOKEN_REQUEST_URL} is not an http(s) URL; is it set by the runner?")
    gha.mask(request_token)
    request = urllib.request.Request(  # noqa: S310 - scheme checked to be http(s) above
        url,
        headers={"Authorization": f"bearer {request_token}", "Accept": "application/json"},
    )
    where = _where(url)

    def attempt() -> str | _Problem:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked to be http(s) above
                body = response.read()
        except urllib.error.HTTPError as err:
            err.close()
            if err.code >= 500 or err.code == 429:
                return _Problem(f"HTTP {err.code}")
            hint = (
                " (the request token was refused: it is valid only inside the job that received it)"
                if err.code in (401, 403)
                else ""
            )
            raise OidcTokenError(
                f"The GitHub OIDC token request to {where} failed with HTTP {err.code}{hint}"
            ) from None
        except (OSError, http.client.HTTPException) as err:
            # URLError (refused, DNS), TimeoutError and a truncated body all land here.
            return _Problem(type(err).__name__ if not str(err) else f"{type(err).__name__}: {err}")
        return _token_from_body(body, where)

    fetched = wait_until(
        attempt,
        lambda result: isinstance(result, str),
        backoff=Backoff(first=backoff, factor=2.0, most=math.inf),
        attempts=attempts,
        sleep=sleep,
    )
    if isinstance(fetched.value, _Problem):
        raise OidcTokenError(
            f"Could not fetch the GitHub OIDC token from {where} after {attempts} attempts "
            f"(last error: {fetched.value.text}); re-run the job if GitHub is having an incident"
        )
    gha.mask(fetched.value)
    return fetched.value


@dataclass(frozen=True)
class _Problem:
    """Why one attempt at the OIDC token failed in a way another attempt may cure."""

    text: str


def _token_from_body(body: bytes, where: str) -> str:
    try:
        value = json.loads(body.decode("utf-8")).get("value")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        value = None
    if not isinstance(value, str) or not value:
        # The body is not quoted: if it is half a token, it must not reach the log.
        raise OidcTokenError(f"The GitHub OIDC token response from {where} has no JSON string field 'value'")
    return value


def token_claims(token: str) -> dict[str, Any]:
    """Decode a JWT's payload WITHOUT verifying it, for error messages only; {} if unreadable."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _trust_policy_hint(token: str) -> str:
    sub = token_claims(token).get("sub")
    if not isinstance(sub, str):
        return "the role's trust policy must allow this repository's sub claim"
    return (
        f'the role\'s trust policy must allow sub "{sub}" '
        f'(StringEquals on token.actions.githubusercontent.com:sub) and aud "{AUDIENCE}"'
    )


def _web_identity_message(code: str, aws_message: str, attempts: int, role_arn: str, token: str) -> str:
    head = f"sts:AssumeRoleWithWebIdentity for {role_arn} failed ({code})"
    if code == "ExpiredTokenException":
        return (
            f"{head}: the GitHub OIDC token has expired. It is fetched right before this call, "
            "so re-run the job; if it recurs, check the runner's clock."
        )
    if code == "InvalidIdentityToken":
        return (
            f"{head}: STS does not accept the GitHub OIDC token: {aws_message}. The account "
            "needs an IAM OIDC identity provider for https://token.actions.githubusercontent.com "
            f'with audience "{AUDIENCE}", named as the Federated principal of the role\'s trust '
            "policy."
        )
    if code in ("IDPRejectedClaim", "AccessDenied"):
        return f"{head}: {aws_message}. {_trust_policy_hint(token)}."
    if code == "IDPCommunicationError":
        return (
            f"{head}: STS could not reach GitHub's OIDC provider to validate the token "
            f"({attempts} attempts). This is usually transient: re-run the job."
        )
    return f"{head}: {_common_message(code, aws_message)}"


def _assume_role_message(code: str, aws_message: str, attempts: int, role_arn: str, source: str) -> str:
    head = f"sts:AssumeRole into {role_arn} failed ({code})"
    if code == "AccessDenied":
        return (
            f"{head}: {aws_message}. {source} may not assume it: the chained role's trust policy "
            f"must allow the principal {source} and that role's permissions must allow "
            f"sts:AssumeRole on {role_arn}."
        )
    return f"{head}: {_common_message(code, aws_message)}"


def _common_message(code: str, aws_message: str) -> str:
    if code in ("MalformedPolicyDocument", "PackedPolicyTooLarge"):
        return f"the session policy or session tags were rejected: {aws_message}"
    if code == "RegionDisabledException":
        return (
            f"{aws_message}. STS is not activated in this region for the account: activate it "
            "under IAM > Account settings, or use another region."
        )
    if code == "ValidationError" and "DurationSeconds" in aws_message:
        return f"{aws_message}. Lower duration_seconds or raise the role's maximum session duration."
    return aws_message or "no message from AWS"


def _call_sts(
    call: Callable[[], Mapping[str, Any]],
    describe: Callable[[str, str, int], str],
    role_arn: str,
    endpoint: str,
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    try:
        credentials: dict[str, Any] = dict(call()["Credentials"])
    except ClientError as err:
        error = read_error(err)
        code = error.code or "Unknown"
        aws_message = _redact(error.message, secrets)
        message = _redact(describe(code, aws_message, error.attempts), secrets)
        raise StsError(message, code=code, role_arn=role_arn) from None
    except BotoCoreError as err:
        # e.g. EndpointConnectionError: a wrong endpoint_url or no network. botocore's text
        # names the URL, never the request parameters.
        raise CredentialsError(f"Could not call STS at {endpoint}: {_redact(str(err), secrets)}") from None
    # Masked as soon as they exist, so no later log line of the job can show them.
    for key in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        gha.mask(credentials[key])
    return credentials


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sts_endpoint_problem(endpoint_url: str, environ: Mapping[str, str]) -> str | None:
    """Why the GitHub OIDC token must not be sent to ``endpoint_url``, or None when it may be.

    Allowed: AWS STS over HTTPS; with ``PIPELINE_ALLOW_LOCAL_STS=1``, also a loopback host.
    """
    parts = urllib.parse.urlsplit(endpoint_url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and _AWS_STS_HOST.fullmatch(host) and parts.username is None:
        return None
    if environ.get(ALLOW_LOCAL_STS) == "1" and parts.scheme in ("http", "https") and _is_loopback(host):
        return None
    return (
        f"In GitHub Actions the OIDC token is exchanged only with AWS STS over HTTPS, but the STS "
        f"endpoint is {endpoint_url} (from endpoint_url, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS or a "
        f"config file's endpoint_url): remove that override. Only the offline rehearsal may use an "
        f"emulator on a loopback address, with {ALLOW_LOCAL_STS}=1."
    )


def _checked_sts(sts: STSClient) -> STSClient:
    problem = sts_endpoint_problem(str(sts.meta.endpoint_url), os.environ)
    if problem:
        raise UsageError(problem)
    return sts


def assume_role_with_web_identity(
    sts: STSClient,
    *,
    role_arn: str,
    token: str,
    session_name: str,
    duration_seconds: int,
) -> dict[str, Any]:
    """Exchange the OIDC ``token`` for ``role_arn``'s credentials; return STS ``Credentials``.

    The credentials are masked in Actions. Raises StsError with a message that says how to fix
    each known failure, CredentialsError when STS cannot be reached.
    """
    return _call_sts(
        lambda: sts.assume_role_with_web_identity(
            RoleArn=role_arn,
            RoleSessionName=session_name,
            WebIdentityToken=token,
            DurationSeconds=duration_seconds,
        ),
        lambda code, msg, attempts: _web_identity_message(code, msg, attempts, role_arn, token),
        role_arn,
        sts.meta.endpoint_url,
        (token,),
    )


def assume_role(
    sts: STSClient,
    *,
    role_arn: str,
    session_name: str,
    duration_seconds: int,
    source: str = "the current role",
) -> dict[str, Any]:
    """Assume ``role_arn`` with the client's credentials (role chaining); return ``Credentials``.

    ``source`` names the principal doing the call in error messages. The credentials are
    masked in Actions. Raises StsError or CredentialsError.
    """
    return _call_sts(
        lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=duration_seconds),
        lambda code, msg, attempts: _assume_role_message(code, msg, attempts, role_arn, source),
        role_arn,
        sts.meta.endpoint_url,
        (),
    )


def refresh_windows(duration_seconds: int) -> tuple[int, int]:
    """(advisory, mandatory) seconds before expiry at which a session of this length is renewed."""
    return (
        min(ADVISORY_REFRESH_SECONDS, duration_seconds // 3),
        min(MANDATORY_REFRESH_SECONDS, duration_seconds // 6),
    )


def _metadata(credentials: Mapping[str, Any]) -> dict[str, str]:
    # The shape RefreshableCredentials reads from a refresh function.
    expiration = credentials["Expiration"]
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
        "expiry_time": expiration.isoformat() if isinstance(expiration, datetime.datetime) else str(expiration),
    }


def _parse_time(text: str) -> datetime.datetime:
    # STS's ISO 8601 with a "Z"; fromisoformat reads "Z" only from Python 3.11.
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Provider(CredentialProvider):
    """Hands botocore one credentials object; the session's only provider."""

    METHOD = "assume-role-with-web-identity"

    def __init__(self, credentials: RefreshableCredentials):
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def refreshable_session(
    fetch: Callable[[], Mapping[str, Any]],
    region: str,
    *,
    duration_seconds: int,
    now: Callable[[], datetime.datetime] | None = None,
) -> boto3.Session:
    """A Session whose credentials botocore renews by calling ``fetch`` before they expire.

    ``fetch`` returns STS ``Credentials`` (with ``Expiration``); it is called once now and again
    whenever the session nears its end (see ``refresh_windows``). ``now`` (timezone-aware) is
    botocore's clock for that decision; tests inject one. A failing renewal raises from the AWS
    call that needed it, once the mandatory window is reached (before that botocore keeps the
    old credentials and tries again on a later call).
    """
    advisory, mandatory = refresh_windows(duration_seconds)
    first = fetch()
    expiration = first["Expiration"]
    kwargs: dict[str, Any] = {} if now is None else {"time_fetcher": now}
    credentials = RefreshableCredentials(
        access_key=first["AccessKeyId"],
        secret_key=first["SecretAccessKey"],
        token=first["SessionToken"],
        expiry_time=expiration if isinstance(expiration, datetime.datetime) else _parse_time(str(expiration)),
        refresh_using=lambda: _metadata(fetch()),
        method=_Provider.METHOD,
        advisory_timeout=advisory,
        mandatory_timeout=mandatory,
        **kwargs,
    )
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver(providers=[_Provider(credentials)]))
    return boto3.Session(botocore_session=core, region_name=region)


def _region(options: AwsOptions, session: boto3.Session) -> str:
    # boto3 reads AWS_DEFAULT_REGION and the profile but not AWS_REGION; the other AWS SDKs
    # and configure-aws-credentials use AWS_REGION, so it is honoured as a last resort.
    region = options.region or session.region_name or os.environ.get("AWS_REGION")
    if not region:
        raise UsageError("No AWS region: set region in the configuration, or AWS_REGION / AWS_DEFAULT_REGION")
    return validate_region(region)


def _default_session(options: AwsOptions) -> boto3.Session:
    """The default credential chain or ``options.profile``, with a resolved region."""
    try:
        session = boto3.Session(profile_name=options.profile, region_name=options.region)
        region = _region(options, session)
        if session.region_name != region:  # the region came from AWS_REGION
            session = boto3.Session(profile_name=options.profile, region_name=region)
        # Resolved now, not at the first AWS call, so that "no credentials" is reported
        # as such instead of as a signing error deep inside a deploy.
        found = session.get_credentials()
    except ProfileNotFound:
        raise UsageError(f"AWS profile not found: {options.profile!r}") from None
    except BotoCoreError as err:
        raise CredentialsError(f"Could not load AWS credentials: {err}") from None
    if found is None:
        raise CredentialsError(
            "No AWS credentials found: pass a configured profile, or set AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY (any values will do for the offline emulator)"
        )
    return session


def get_session(
    options: AwsOptions,
    *,
    sts_session: boto3.Session | None = None,
    token_timeout: float = 10.0,
    token_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: Callable[[], datetime.datetime] | None = None,
) -> boto3.Session:
    """Return a boto3 Session with credentials and region for the pipeline's AWS calls.

    In GitHub Actions with ``options.role_arn`` set: OIDC token -> AssumeRoleWithWebIdentity,
    raising IdTokenPermissionError when the job lacks ``permissions: id-token: write``.
    Otherwise: the default credential chain or ``options.profile``. Either way, then AssumeRole
    into ``options.chain_role_arn`` if set. Assumed-role credentials renew themselves before
    they expire (a new OIDC token and the same calls again; ``now`` is the clock that decides,
    default the real one). ``sts_session`` (default: a session in the resolved region;
    AssumeRoleWithWebIdentity needs no credentials) creates the OIDC path's STS clients; tests
    attach botocore event hooks to it. Raises UsageError for bad configuration and
    CredentialsError (exit 1) when AWS or GitHub refuse.
    """
    env = os.environ
    request_url = env.get(gha.ACTIONS_ID_TOKEN_REQUEST_URL)
    request_token = env.get(gha.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
    session_name = options.session_name or default_session_name(env)
    web_identity = options.role_arn is not None and bool(request_url or request_token or gha.in_actions(env))

    if web_identity:
        if not (request_url and request_token):
            raise IdTokenPermissionError(
                f"This GitHub Actions job cannot request an OIDC token to assume "
                f"{options.role_arn}: {gha.ACTIONS_ID_TOKEN_REQUEST_URL} and "
                f"{gha.ACTIONS_ID_TOKEN_REQUEST_TOKEN} are not both set. Give the job "
                "`permissions: id-token: write` (plus `contents: read`)."
            )
        base = sts_session or boto3.Session(region_name=options.region)
        region = _region(options, base)
    else:
        base = _default_session(options)
        if options.chain_role_arn is None:
            return base
        region = base.region_name

    def sts(credentials: Mapping[str, Any] | None = None) -> STSClient:
        # Every STS call uses the same session config (endpoint, event hooks). With a web
        # identity, the token and the credentials it buys go only to AWS STS.
        made = client(
            base,
            "sts",
            endpoint_url=options.endpoint_url,
            region_name=region,
            max_attempts=max_attempts,
            credentials=credentials,
        )
        return _checked_sts(made) if web_identity else made

    def web_identity_credentials() -> dict[str, Any]:
        # A new OIDC token each time: the job's token is short-lived, its request token is not.
        assert request_url and request_token and options.role_arn
        exchange = sts()  # checked before the token exists: a refused endpoint never sees one
        token = fetch_oidc_token(
            request_url, request_token, timeout=token_timeout, attempts=token_attempts, sleep=sleep
        )
        return assume_role_with_web_identity(
            exchange,
            role_arn=options.role_arn,
            token=token,
            session_name=session_name,
            duration_seconds=options.duration_seconds,
        )

    def fetch() -> Mapping[str, Any]:
        source_credentials = web_identity_credentials() if web_identity else None
        if options.chain_role_arn is None:
            assert source_credentials is not None
            return source_credentials
        if web_identity:
            source = str(options.role_arn)
        else:
            source = f"profile {options.profile!r}" if options.profile else "the current credentials"
        return assume_role(
            sts(source_credentials),
            role_arn=options.chain_role_arn,
            session_name=session_name,
            duration_seconds=options.duration_seconds,
            source=source,
        )

    return refreshable_session(fetch, region, duration_seconds=options.duration_seconds, now=now)
