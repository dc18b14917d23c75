"""A fake GitHub Actions OIDC token endpoint on 127.0.0.1, for the offline rehearsal.

It answers what the runner's ``ACTIONS_ID_TOKEN_REQUEST_URL`` answers: ``GET <url>&audience=A``
with ``Authorization: bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`` returns ``{"value": "<JWT>"}``.
The JWT is syntactically valid, with the claims GitHub issues for a job that runs in an
environment (``sub = repo:OWNER/REPO:environment:NAME``, ``aud`` = the requested audience), but
its signature is random bytes: moto's STS does not verify it, and nothing here must ever be
mistaken for a real token. Wrong bearer tokens get 401 and a missing audience 400, as a
misconfigured client would on GitHub.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_PATH = "/_apis/pipelines/workflows/oidc/token"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode_claims(jwt: str) -> dict[str, Any]:
    """The claims (payload) of a JWT, without any signature check."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def make_jwt(claims: Mapping[str, Any]) -> str:
    """A header.payload.signature JWT with RS256 in its header and a random signature."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "rehearsal-" + secrets.token_hex(8)}
    parts = [json.dumps(header, separators=(",", ":")), json.dumps(dict(claims), separators=(",", ":"))]
    signature = secrets.token_bytes(256)  # an RSA-2048 signature's size; never verifiable
    return ".".join([*(_b64url(part.encode()) for part in parts), _b64url(signature)])


@dataclass
class TokenRequest:
    """One request the endpoint served (or refused), for the tests to inspect."""

    status: int
    audience: str | None
    claims: dict[str, Any] | None


@dataclass
class FakeTokenServer:
    """The endpoint; ``claims`` are the job's (set by the runner before each job)."""

    request_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    claims: dict[str, Any] = field(default_factory=dict)
    requests: list[TokenRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The ACTIONS_ID_TOKEN_REQUEST_URL; like the runner's it already has a query string."""
        if self._server is None:
            raise RuntimeError("the token server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{TOKEN_PATH}?api-version=2.0"

    def start(self) -> FakeTokenServer:
        """Listen on a free port of 127.0.0.1 in a daemon thread."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the rehearsal's output is the job log, not the endpoint's

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-oidc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(parts.query)
        audience = query.get("audience", [None])[0]
        expected = f"bearer {self.request_token}"
        if parts.path != TOKEN_PATH:
            self._reply(handler, 404, {"message": "not found"}, audience, None)
        elif handler.headers.get("Authorization", "").lower() != expected.lower():
            self._reply(handler, 401, {"message": "bad request token"}, audience, None)
        elif not audience:
            self._reply(handler, 400, {"message": "audience is required"}, audience, None)
        else:
            now = int(time.time())
            claims = {**self.claims, "aud": audience, "iss": ISSUER, "iat": now, "nbf": now - 5, "exp": now + 300}
            claims["jti"] = secrets.token_hex(16)
            self._reply(handler, 200, {"value": make_jwt(claims)}, audience, claims)

    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: Mapping[str, Any],
        audience: str | None,
        claims: dict[str, Any] | None,
    ) -> None:
        self.requests.append(TokenRequest(status, audience, claims))
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def job_claims(
    *,
    repository: str,
    environment: str | None,
    ref: str,
    sha: str,
    event_name: str,
    run_id: str,
    run_attempt: str,
    workflow_ref: str,
    actor: str = "rehearsal",
) -> dict[str, Any]:
    """The claims GitHub puts in a job's OIDC token (``aud``/``iat``/``exp`` are added per request)."""
    owner = repository.split("/")[0]
    sub = f"repo:{repository}:environment:{environment}" if environment else f"repo:{repository}:ref:{ref}"
    claims: dict[str, Any] = {
        "sub": sub,
        "repository": repository,
        "repository_owner": owner,
        "ref": ref,
        "ref_type": "branch",
        "sha": sha,
        "event_name": event_name,
        "run_id": run_id,
        "run_attempt": run_attempt,
        "actor": actor,
        "workflow_ref": workflow_ref,
        "job_workflow_ref": workflow_ref,
        "runner_environment": "github-hosted",
    }
    if environment:
        claims["environment"] = environment
    return claims
