"""Tests for pipeline.aws: GitHub OIDC -> STS, the default chain, clients and every STS failure.

The OIDC token comes from a real HTTP server on 127.0.0.1; STS is moto's (``mock_aws``) or a
moto server; STS errors are injected as raw HTTP responses on ``before-send`` so that botocore
parses them and applies its real retry policy.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from pipeline import aws
from pipeline.errors import UsageError
from tests.conftest import refused_port

REGION = "eu-west-1"
DEPLOY_ROLE = "arn:aws:iam::123456789012:role/github-deploy"
STAGING_ROLE = "arn:aws:iam::123456789012:role/big-mart-staging"
REQUEST_TOKEN = "request-token-6f1d2c"  # the runner's ACTIONS_ID_TOKEN_REQUEST_TOKEN
SUB = "repo:example-org/big-mart:environment:staging"


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT with ``claims``: enough for code that only decodes the payload."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


JWT = make_jwt({"sub": SUB, "aud": "sts.amazonaws.com", "iss": "https://token.actions.x"})


# --- a fake GitHub Actions token endpoint ---------------------------------------------------


@dataclass
class TokenServer:
    """What the fake runner endpoint saw, and what it answers next (status, body, delay)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, bytes, float]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> tuple[int, bytes, float]:
        if self.answers:
            return self.answers.pop(0)
        return 200, json.dumps({"count": 1, "value": JWT}).encode(), 0.0


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    """An HTTP server on an ephemeral 127.0.0.1 port, shut down at the end of the test."""
    state = TokenServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            state.requests.append(
                {
                    "path": parts.path,
                    "query": urllib.parse.parse_qs(parts.query),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            status, body, delay = state.answer()
            state.stopping.wait(delay)  # a slow answer, cut short when the test ends
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests): expected

        def log_message(self, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Handler threads are joined by server_close(), so none outlives its test and writes
    # into the next test's captured output.
    server.daemon_threads = False
    # A short poll interval keeps shutdown() (which waits for one poll) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/idtoken?api-version=2.0"
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def in_actions(monkeypatch: pytest.MonkeyPatch, token_server: TokenServer) -> TokenServer:
    """The environment of a GitHub Actions job with `permissions: id-token: write`."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "9876543210")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", token_server.url)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
    return token_server


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto's in-process AWS for the duration of the test."""
    with mock_aws():
        yield


@pytest.fixture
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard-mode backoff (up to seconds per retry) is not what is under test."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *a: 0)


# --- STS error injection --------------------------------------------------------------------


class _Raw:
    """The minimal raw-body object AWSResponse reads from."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self._body


def sts_error_response(url: str, code: str, message: str) -> AWSResponse:
    """An STS (query protocol) error response, as the service sends it."""
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(url, 400, {"Content-Type": "text/xml"}, _Raw(body))


def inject_sts_errors(session: boto3.Session, operation: str, errors: list[tuple[str, str]]) -> list[Any]:
    """Answer the next ``operation`` calls with ``errors`` (code, message), then let moto answer.

    Registered first so it runs before moto's own ``before-send`` handler. Returns the list of
    requests sent, one per attempt (retries included).
    """
    sent: list[Any] = []

    def handler(request: Any, **_: object) -> AWSResponse | None:
        sent.append(request)
        if errors:
            code, message = errors.pop(0)
            return sts_error_response(request.url, code, message)
        return None

    session.events.register_first(f"before-send.sts.{operation}", handler)
    return sent


def capture_params(session: boto3.Session, operation: str) -> list[dict[str, Any]]:
    """Record the API parameters of every ``operation`` call made by clients of ``session``."""
    calls: list[dict[str, Any]] = []
    session.events.register(
        f"before-parameter-build.sts.{operation}",
        lambda params, **_: calls.append(dict(params)),
    )
    return calls


def sts_session() -> boto3.Session:
    return boto3.Session(region_name=REGION)


def credentials_of(session: boto3.Session) -> tuple[str, str, str]:
    frozen = session.get_credentials().get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def assert_only_in_mask_lines(output: str, secrets: list[str]) -> None:
    """Each secret appears in the log only as ``::add-mask::<secret>``, never elsewhere."""
    for line in output.splitlines():
        for secret in secrets:
            if secret in line:
                assert line == f"::add-mask::{secret}", f"secret leaked in: {line!r}"


# --- the OIDC path --------------------------------------------------------------------------


def test_oidc_path_assumes_the_deploy_role_with_the_job_token(
    in_actions: TokenServer, moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    base = sts_session()
    calls = capture_params(base, "AssumeRoleWithWebIdentity")

    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=base)

    # The runner endpoint got the audience and the bearer request token.
    assert len(in_actions.requests) == 1
    seen = in_actions.requests[0]
    assert seen["path"] == "/idtoken"
    assert seen["query"] == {"api-version": ["2.0"], "audience": ["sts.amazonaws.com"]}
    assert seen["authorization"] == f"bearer {REQUEST_TOKEN}"
    # STS got the role, the token and a session name naming the run and attempt.
    assert calls == [
        {
            "RoleArn": DEPLOY_ROLE,
            "RoleSessionName": "gha-9876543210-2",
            "WebIdentityToken": JWT,
            "DurationSeconds": 3600,
        }
    ]
    assert session.region_name == REGION
    identity = aws.client(session, "sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/github-deploy/gha-9876543210-2"

    # Every secret is masked, the job token before anything else is printed.
    out, err = capsys.readouterr()
    access_key, secret_key, session_token = credentials_of(session)
    secrets = [REQUEST_TOKEN, JWT, access_key, secret_key, session_token]
    lines = out.splitlines()
    assert lines == [f"::add-mask::{secret}" for secret in secrets]
    assert_only_in_mask_lines(out + err, secrets)


def test_oidc_path_uses_configured_duration_and_session_name(in_actions: TokenServer, moto_aws: None) -> None:
    base = sts_session()
    calls = capture_params(base, "AssumeRoleWithWebIdentity")
    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, duration_seconds=900, session_name="release-7")
    aws.get_session(options, sts_session=base)
    assert calls[0]["DurationSeconds"] == 900
    assert calls[0]["RoleSessionName"] == "release-7"


def test_oidc_path_region_comes_from_the_environment_when_not_configured(
    in_actions: TokenServer, moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE))
    assert session.region_name == "eu-central-1"


def test_no_region_anywhere_is_a_usage_error(in_actions: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(UsageError, match="No AWS region"):
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE))
    assert in_actions.requests == [], "nothing is fetched before the configuration is complete"


def test_chained_assume_role_uses_the_web_identity_credentials(
    in_actions: TokenServer, moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    base = sts_session()
    first: list[dict[str, Any]] = []
    base.events.register(
        "after-call.sts.AssumeRoleWithWebIdentity",
        lambda parsed, **_: first.append(parsed["Credentials"]),
    )
    chain_calls = capture_params(base, "AssumeRole")
    chain_requests = inject_sts_errors(base, "AssumeRole", [])

    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, chain_role_arn=STAGING_ROLE, region=REGION)
    session = aws.get_session(options, sts_session=base)

    assert chain_calls == [{"RoleArn": STAGING_ROLE, "RoleSessionName": "gha-9876543210-2", "DurationSeconds": 3600}]
    # The chained call is signed with the deploy role's temporary key, not the ambient one.
    authorization = chain_requests[0].headers["Authorization"].decode()
    assert f"Credential={first[0]['AccessKeyId']}/" in authorization
    identity = aws.client(session, "sts").get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/big-mart-staging/gha-9876543210-2")
    out, err = capsys.readouterr()
    secrets = [*first[0].values(), *credentials_of(session)]
    secrets = [s for s in secrets if isinstance(s, str)]
    assert_only_in_mask_lines(out + err, secrets)
    for secret in credentials_of(session):
        assert f"::add-mask::{secret}" in out.splitlines()


def test_sts_calls_reach_an_explicit_endpoint_url(in_actions: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both STS calls go to a real moto server on an ephemeral port (the offline emulator)."""
    from moto.server import ThreadedMotoServer

    monkeypatch.setenv(aws.ALLOW_LOCAL_STS, "1")  # as the offline rehearsal declares

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        options = aws.AwsOptions(
            role_arn=DEPLOY_ROLE, chain_role_arn=STAGING_ROLE, region=REGION, endpoint_url=endpoint
        )
        base = sts_session()
        urls: list[str] = []
        base.events.register("before-send.sts", lambda request, **_: urls.append(request.url))
        session = aws.get_session(options, sts_session=base)
        identity = aws.client(session, "sts", endpoint_url=endpoint).get_caller_identity()
    finally:
        server.stop()
    assert [url.startswith(endpoint) for url in urls] == [True, True]
    assert identity["Arn"].endswith(":assumed-role/big-mart-staging/gha-9876543210-2")


# --- in Actions the token goes only to AWS STS over HTTPS -----------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_ENDPOINT_URL", "https://sts.example.com"),
        ("AWS_ENDPOINT_URL_STS", "http://sts.us-east-1.amazonaws.com"),  # AWS's host, but not HTTPS
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566"),  # loopback, but not declared
    ],
)
def test_an_sts_redirect_in_actions_is_refused_before_the_token_is_requested(
    in_actions: TokenServer, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(UsageError) as raised:
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=sts_session())
    message = str(raised.value)
    assert f"the STS endpoint is {value}" in message
    assert "only with AWS STS over HTTPS" in message and aws.ALLOW_LOCAL_STS in message
    assert in_actions.requests == []  # no token was ever fetched


def test_an_explicit_endpoint_url_in_actions_is_refused(in_actions: TokenServer) -> None:
    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION, endpoint_url="http://127.0.0.1:4566")
    with pytest.raises(UsageError, match=re.escape("the STS endpoint is http://127.0.0.1:4566")):
        aws.get_session(options, sts_session=sts_session())
    assert in_actions.requests == []


def test_the_rehearsal_allowance_covers_loopback_only(in_actions: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aws.ALLOW_LOCAL_STS, "1")
    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION, endpoint_url="https://10.0.0.8:4566")
    with pytest.raises(UsageError, match=re.escape("the STS endpoint is https://10.0.0.8:4566")):
        aws.get_session(options, sts_session=sts_session())
    assert in_actions.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://sts.amazonaws.com",
        "https://sts.eu-west-1.amazonaws.com",
        "https://sts-fips.us-east-1.amazonaws.com",
        "https://sts.cn-north-1.amazonaws.com.cn",
        "https://sts.us-east-1.api.aws",
    ],
)
def test_aws_sts_endpoints_are_accepted(url: str) -> None:
    assert aws.sts_endpoint_problem(url, {}) is None


@pytest.mark.parametrize(
    ("url", "environ"),
    [
        ("https://sts.amazonaws.com.evil.example", {}),
        ("https://evil.example/sts.amazonaws.com", {}),
        ("https://user@sts.amazonaws.com", {}),
        ("http://localhost:4566", {}),
        ("http://localhost:4566", {aws.ALLOW_LOCAL_STS: "true"}),  # exactly "1"
        ("file:///tmp/sts", {aws.ALLOW_LOCAL_STS: "1"}),
        ("http://192.168.1.5:4566", {aws.ALLOW_LOCAL_STS: "1"}),
    ],
)
def test_other_sts_endpoints_are_refused(url: str, environ: dict[str, str]) -> None:
    assert aws.sts_endpoint_problem(url, environ) is not None


@pytest.mark.parametrize("url", ["http://127.0.0.1:4566", "http://localhost:5000", "http://[::1]:4566"])
def test_loopback_sts_is_accepted_only_when_declared(url: str) -> None:
    assert aws.sts_endpoint_problem(url, {aws.ALLOW_LOCAL_STS: "1"}) is None


def test_an_endpoint_override_outside_actions_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Locally (no Actions, no OIDC) the emulator is reached through AWS_ENDPOINT_URL as before."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION))
    assert aws.client(session, "sts").meta.endpoint_url == "http://127.0.0.1:4566"


# --- token endpoint failures ----------------------------------------------------------------


def test_token_request_is_retried_after_a_server_error(in_actions: TokenServer, moto_aws: None) -> None:
    in_actions.answers.append((500, b'{"message": "boom"}', 0.0))
    sleeps: list[float] = []
    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sleep=sleeps.append)
    assert len(in_actions.requests) == 2
    assert sleeps == [1.0]
    assert session.get_credentials() is not None


def test_token_server_errors_until_attempts_are_exhausted(in_actions: TokenServer) -> None:
    in_actions.answers.extend([(503, b"", 0.0)] * 3)
    sleeps: list[float] = []
    with pytest.raises(aws.OidcTokenError) as raised:
        aws.fetch_oidc_token(in_actions.url, REQUEST_TOKEN, attempts=3, sleep=sleeps.append)
    assert len(in_actions.requests) == 3
    assert sleeps == [1.0, 2.0]
    assert "after 3 attempts" in str(raised.value)
    assert "HTTP 503" in str(raised.value)


def test_token_server_down_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sleeps: list[float] = []
    with refused_port() as port, pytest.raises(aws.OidcTokenError) as raised:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"http://127.0.0.1:{port}/t?api-version=2.0")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE), sleep=sleeps.append)

    message = str(raised.value)
    assert f"from http://127.0.0.1:{port} after 3 attempts" in message
    assert "Connection refused" in message or "URLError" in message
    assert len(sleeps) == 2
    assert raised.value.exit_code == 1
    assert REQUEST_TOKEN not in message + repr(raised.value)
    assert_only_in_mask_lines("".join(capsys.readouterr()), [REQUEST_TOKEN])


def test_token_request_times_out_within_the_bound(in_actions: TokenServer) -> None:
    # Each answer would take 60 s (cut short when the test ends): two attempts bounded by 0.2 s
    # take well under a second, two unbounded ones 120 s. 30 s apart is a margin no load crosses.
    in_actions.answers.extend([(200, b"{}", 60.0)] * 2)
    started = time.monotonic()
    with pytest.raises(aws.OidcTokenError, match=r"after 2 attempts.*TimeoutError"):
        aws.fetch_oidc_token(in_actions.url, REQUEST_TOKEN, timeout=0.2, attempts=2, sleep=lambda _: None)
    assert time.monotonic() - started < 30


def test_token_request_refused_is_not_retried(in_actions: TokenServer) -> None:
    in_actions.answers.append((403, b'{"message": "Bad credentials"}', 0.0))
    with pytest.raises(aws.OidcTokenError, match=r"HTTP 403.*valid only inside the job"):
        aws.fetch_oidc_token(in_actions.url, REQUEST_TOKEN, sleep=lambda _: None)
    assert len(in_actions.requests) == 1


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"value": ""}', b'{"token": "x"}'])
def test_token_response_without_value_is_rejected(in_actions: TokenServer, body: bytes) -> None:
    in_actions.answers.append((200, body, 0.0))
    with pytest.raises(aws.OidcTokenError, match="no JSON string field 'value'"):
        aws.fetch_oidc_token(in_actions.url, REQUEST_TOKEN)


def test_token_url_must_be_http() -> None:
    with pytest.raises(aws.OidcTokenError, match="not an http"):
        aws.fetch_oidc_token("file:///etc/passwd", REQUEST_TOKEN)


@pytest.mark.parametrize(
    ("request_url", "expected"),
    [
        (
            "https://run.actions.example/idtoken?api-version=2.0",
            "https://run.actions.example/idtoken?api-version=2.0&audience=sts.amazonaws.com",
        ),
        ("https://h.example/idtoken", "https://h.example/idtoken?audience=sts.amazonaws.com"),
        ("https://h.example/t?a=1#frag", "https://h.example/t?a=1&audience=sts.amazonaws.com#frag"),
    ],
)
def test_oidc_token_url_appends_the_audience(request_url: str, expected: str) -> None:
    assert aws.oidc_token_url(request_url) == expected


def test_oidc_token_url_encodes_the_audience() -> None:
    url = aws.oidc_token_url("https://h.example/t?x=1", "api://Aud ience&x")
    assert url == "https://h.example/t?x=1&audience=api%3A%2F%2FAud+ience%26x"


# --- STS failures ---------------------------------------------------------------------------


def _fail_web_identity(code: str, message: str, capsys: pytest.CaptureFixture[str] | None = None) -> aws.StsError:
    base = sts_session()
    inject_sts_errors(base, "AssumeRoleWithWebIdentity", [(code, message)])
    with pytest.raises(aws.StsError) as raised:
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=base)
    error = raised.value
    assert error.code == code
    assert error.role_arn == DEPLOY_ROLE
    assert error.exit_code == 1
    assert DEPLOY_ROLE in str(error)
    assert JWT not in str(error) and JWT not in repr(error)
    if capsys is not None:
        # The token was masked before STS was called, and nothing else printed it.
        out, err = capsys.readouterr()
        assert out.splitlines() == [f"::add-mask::{REQUEST_TOKEN}", f"::add-mask::{JWT}"]
        assert err == ""
    return error


@pytest.mark.parametrize(
    ("code", "aws_message", "expected"),
    [
        ("ExpiredTokenException", "Token expired: current date/time ...", "has expired.*re-run"),
        (
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://token.actions...",
            ("No OpenIDConnect provider.*IAM OIDC identity provider for https://token.actions.githubusercontent.com"),
        ),
        (
            "IDPRejectedClaim",
            "Incorrect token audience",
            f'trust policy must allow sub "{SUB}".*aud "sts.amazonaws.com"',
        ),
        (
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            f'Not authorized.*trust policy must allow sub "{SUB}"',
        ),
        ("MalformedPolicyDocument", "Syntax errors in policy.", "session policy.*Syntax errors"),
        (
            "RegionDisabledException",
            "STS is not activated in this region for account:123456789012.",
            "activate it under IAM > Account settings",
        ),
        (
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            "Lower duration_seconds",
        ),
    ],
)
def test_web_identity_failures_say_how_to_fix_them(
    in_actions: TokenServer,
    moto_aws: None,
    capsys: pytest.CaptureFixture[str],
    code: str,
    aws_message: str,
    expected: str,
) -> None:
    error = _fail_web_identity(code, aws_message, capsys)
    assert f"({code})" in str(error)
    assert re.search(expected, str(error), flags=re.DOTALL), str(error)


def test_aws_message_echoing_the_token_is_redacted(in_actions: TokenServer, moto_aws: None) -> None:
    error = _fail_web_identity("InvalidIdentityToken", f"Cannot parse {JWT}")
    assert "Cannot parse ***" in str(error)


def test_rejected_claim_without_a_readable_sub_still_explains(
    monkeypatch: pytest.MonkeyPatch, in_actions: TokenServer, moto_aws: None
) -> None:
    in_actions.answers.append((200, b'{"value": "opaque-token"}', 0.0))
    base = sts_session()
    inject_sts_errors(base, "AssumeRoleWithWebIdentity", [("IDPRejectedClaim", "rejected")])
    with pytest.raises(aws.StsError, match="must allow this repository's sub claim"):
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=base)


def test_idp_communication_error_is_retried_then_succeeds(
    in_actions: TokenServer, moto_aws: None, no_retry_delay: None
) -> None:
    base = sts_session()
    outage = [("IDPCommunicationError", "could not reach token.actions")] * 2
    sent = inject_sts_errors(base, "AssumeRoleWithWebIdentity", outage)
    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=base)
    assert len(sent) == 3
    assert aws.client(session, "sts").get_caller_identity()["Arn"].endswith("/gha-9876543210-2")


def test_idp_communication_error_is_retried_a_bounded_number_of_times(
    in_actions: TokenServer, moto_aws: None, no_retry_delay: None
) -> None:
    base = sts_session()
    outage = [("IDPCommunicationError", "could not reach token.actions")] * 10
    sent = inject_sts_errors(base, "AssumeRoleWithWebIdentity", outage)
    with pytest.raises(aws.StsError) as raised:
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION), sts_session=base, max_attempts=4)
    assert len(sent) == 4
    assert raised.value.code == "IDPCommunicationError"
    assert "could not reach GitHub's OIDC provider" in str(raised.value)
    assert "(4 attempts)" in str(raised.value)


def test_chained_role_access_denied_names_both_roles(in_actions: TokenServer, moto_aws: None) -> None:
    base = sts_session()
    inject_sts_errors(base, "AssumeRole", [("AccessDenied", "User is not authorized to perform sts:AssumeRole")])
    options = aws.AwsOptions(role_arn=DEPLOY_ROLE, chain_role_arn=STAGING_ROLE, region=REGION)
    with pytest.raises(aws.StsError) as raised:
        aws.get_session(options, sts_session=base)
    message = str(raised.value)
    assert raised.value.code == "AccessDenied"
    assert raised.value.role_arn == STAGING_ROLE
    assert f"sts:AssumeRole into {STAGING_ROLE} failed (AccessDenied)" in message
    assert f"trust policy must allow the principal {DEPLOY_ROLE}" in message


def test_unreachable_sts_endpoint_is_a_credentials_error(
    in_actions: TokenServer, no_retry_delay: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(aws.ALLOW_LOCAL_STS, "1")
    with refused_port() as port:
        options = aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION, endpoint_url=f"http://127.0.0.1:{port}")
        with pytest.raises(aws.CredentialsError, match=f"Could not call STS at http://127.0.0.1:{port}"):
            aws.get_session(options, max_attempts=1)


# --- outside the OIDC path ------------------------------------------------------------------


def test_missing_id_token_permission_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(aws.IdTokenPermissionError) as raised:
        aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE, region=REGION))
    assert isinstance(raised.value, UsageError)
    assert raised.value.exit_code == 2
    assert "permissions: id-token: write" in str(raised.value)
    assert DEPLOY_ROLE in str(raised.value)


def test_actions_job_without_a_deploy_role_uses_the_default_chain(
    in_actions: TokenServer,
) -> None:
    """A CI job that only talks to the emulator needs no OIDC token and no id-token permission."""
    session = aws.get_session(aws.AwsOptions(region=REGION))
    assert credentials_of(session)[:2] == ("testing", "testing")
    assert in_actions.requests == []


def test_default_chain_outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCALDEVELOPER")
    # role_arn is the OIDC role: outside Actions it is not used, the developer's own are.
    session = aws.get_session(aws.AwsOptions(role_arn=DEPLOY_ROLE))
    assert session.region_name == REGION
    assert credentials_of(session)[0] == "AKIDLOCALDEVELOPER"


def test_default_chain_with_chained_role(moto_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    session = aws.get_session(aws.AwsOptions(chain_role_arn=STAGING_ROLE))
    identity = aws.client(session, "sts").get_caller_identity()
    assert identity["Arn"].endswith(":assumed-role/big-mart-staging/big-mart-pipeline")
    assert capsys.readouterr().out == "", "nothing to mask outside Actions"


@pytest.fixture
def profile_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile deployer]\nregion = eu-central-1\n", encoding="utf-8")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[deployer]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # it would beat the profile's region
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


def test_profile_path_uses_the_profile_credentials_and_region(profile_files: None) -> None:
    session = aws.get_session(aws.AwsOptions(profile="deployer"))
    assert session.profile_name == "deployer"
    assert session.region_name == "eu-central-1"
    assert credentials_of(session)[:2] == ("AKIDPROFILE", "profile-secret")
    # An explicit region beats the profile's.
    assert aws.get_session(aws.AwsOptions(profile="deployer", region="us-east-1")).region_name == ("us-east-1")


def test_unknown_profile_is_a_usage_error(profile_files: None) -> None:
    with pytest.raises(UsageError, match="AWS profile not found: 'nobody'"):
        aws.get_session(aws.AwsOptions(profile="nobody"))


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata probe
    with pytest.raises(aws.CredentialsError, match="No AWS credentials found"):
        aws.get_session(aws.AwsOptions())


# --- options and helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (
            {"role_arn": "arn:aws:iam::12345:role/deploy"},
            "role_arn = 'arn:aws:iam::12345:role/deploy'",
        ),
        ({"chain_role_arn": "staging"}, "chain_role_arn = 'staging'"),
        ({"duration_seconds": 899}, "duration_seconds = 899"),
        ({"duration_seconds": 3601}, "duration_seconds = 3601"),
        ({"duration_seconds": "3600"}, "duration_seconds = '3600'"),
        ({"duration_seconds": True}, "duration_seconds = True"),
        ({"session_name": "has space"}, "session_name = 'has space'"),
        ({"session_name": "x" * 65}, "session_name = 'xxxx"),
        ({"region": "mars-1"}, "region = 'mars-1'"),
        ({"endpoint_url": "localhost:4566"}, "endpoint_url = 'localhost:4566'"),
        ({"profile": ""}, "profile = ''"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_value(options: dict[str, Any], named: str) -> None:
    with pytest.raises(UsageError) as raised:
        aws.AwsOptions(**options)
    assert named in str(raised.value)
    assert raised.value.exit_code == 2


def test_valid_options_are_accepted() -> None:
    options = aws.AwsOptions(
        role_arn="arn:aws:iam::123456789012:role/path/to/deploy",
        chain_role_arn="arn:aws-us-gov:iam::123456789012:role/x",
        duration_seconds=900,
        session_name="a=b,c.d@e-f+g_h",
        region="us-gov-west-1",
        profile="dev",
        endpoint_url="http://localhost:4566",
    )
    assert options.duration_seconds == 900


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "4"}, "gha-123-4"),
        ({"GITHUB_RUN_ID": "123"}, "gha-123-1"),
        ({"GITHUB_RUN_ID": "1 2/3", "GITHUB_RUN_ATTEMPT": "1"}, "gha-1-2-3-1"),
        ({"GITHUB_RUN_ID": "9" * 80}, "gha-" + "9" * 60),
        ({}, "big-mart-pipeline"),
    ],
)
def test_default_session_name(environ: dict[str, str], expected: str) -> None:
    assert aws.default_session_name(environ) == expected


@pytest.mark.parametrize("raw", ["x", "é", "a b", "long" * 30, "ok-name"])
def test_sanitized_session_names_satisfy_sts(raw: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_+=,.@-]{2,64}", aws.sanitize_session_name(raw))


def test_token_claims_decodes_without_verifying() -> None:
    assert aws.token_claims(JWT)["sub"] == SUB
    assert aws.token_claims("not-a-jwt") == {}
    assert aws.token_claims("a.!!!.c") == {}


def test_client_has_standard_retries_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    session = boto3.Session(region_name=REGION)
    explicit = aws.client(session, "stepfunctions", endpoint_url="http://127.0.0.1:4566")
    assert explicit.meta.endpoint_url == "http://127.0.0.1:4566"
    assert explicit.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert explicit.meta.region_name == REGION

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    assert aws.client(session, "sagemaker").meta.endpoint_url == "http://127.0.0.1:5000"
    # An explicit argument beats the environment.
    assert aws.client(session, "s3", endpoint_url="http://127.0.0.1:4566").meta.endpoint_url == (
        "http://127.0.0.1:4566"
    )


@pytest.mark.parametrize(
    ("duration", "windows"),
    [(900, (300, 150)), (1800, (600, 300)), (3600, (900, 600))],
)
def test_sessions_renew_early_enough_but_not_on_every_call(duration: int, windows: tuple[int, int]) -> None:
    # botocore's defaults (renew 15 min before the end) would renew a 15-minute session on every call.
    assert aws.refresh_windows(duration) == windows
