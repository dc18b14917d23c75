"""Calls from this process to an emulator server in this process, answered without a socket.

A ``local`` run starts the emulator's HTTP server in its own process, then makes a few hundred
AWS calls to it (the pipeline's, the state's restore and save, the hooks' S3 reads, the Step
Functions engine's calls back). Over loopback each call pays a TCP connection (werkzeug's server
closes every connection), a thread, and HTTP writing and parsing on both sides: 2-5 ms on top
of the 1.5-2 ms the call itself costs. A client connected here (:func:`connect`) hands its
request to the server's WSGI application directly when the request is for a server registered
here (:func:`serve`); the environ is built as werkzeug's request handler builds it, so moto,
the emulator's control routes, faults and call counts see the same request. Requests for any
other URL, or made after the server stopped, go out over HTTP as before.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_lock = threading.Lock()
_apps: dict[str, WsgiApp] = {}  # "host:port" -> the server's WSGI application
_log = logging.getLogger("werkzeug")
HANDLER_ID = "pipeline-emulator-direct"


def serve(netlocs: Iterable[str], app: WsgiApp) -> None:
    """Answer connected clients' requests to each ``host:port`` of ``netlocs`` with ``app``."""
    with _lock:
        for netloc in netlocs:
            _apps[netloc] = app


def forget(netlocs: Iterable[str]) -> None:
    """Stop answering for ``netlocs``: later requests go over HTTP (and find no server)."""
    with _lock:
        for netloc in netlocs:
            _apps.pop(netloc, None)


def connect(owner: Any) -> Any:
    """Let ``owner`` (a boto3 Session before it makes clients, or a client) reach servers in this
    process without a socket; returns ``owner``. Registering twice is harmless."""
    events = owner.meta.events if hasattr(owner, "meta") else owner.events
    events.register_first("before-send", answer, unique_id=HANDLER_ID)
    return owner


def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
    """botocore ``before-send`` handler: the response of a registered server, or None (send it)."""
    parts = urlsplit(request.url)
    with _lock:
        app = _apps.get(parts.netloc)
    if app is None:
        return None
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:  # a file-like body (PutObject of a file): what http.client would send
        read = body.read()
        data = read.encode("utf-8") if isinstance(read, str) else bytes(read)
    status, headers, content = call(app, environ_of(request, parts, data))
    return AWSResponse(request.url, status, headers, _Raw(content))


def environ_of(request: AWSPreparedRequest, parts: Any, data: bytes) -> dict[str, Any]:
    """The WSGI environ werkzeug's WSGIRequestHandler.make_environ builds for this request."""
    host, _, port = parts.netloc.partition(":")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "pipeline.emulator.direct",
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1(unquote(parts.path)),
        "QUERY_STRING": _latin1(parts.query),
        "REQUEST_URI": _latin1(target),
        "RAW_URI": _latin1(target),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": host,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    sent = [
        (key, value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for key, value in request.headers.items()
        # The body read above is whole: its length stands for a chunked stream's framing.
        if key.lower() != "transfer-encoding"
    ]
    given = {key.lower() for key, _ in sent}
    # What http.client adds to a request that lacks them.
    sent = [
        (k, v) for k, v in (("Host", parts.netloc), ("Accept-Encoding", "identity")) if k.lower() not in given
    ] + sent
    if data and "content-length" not in {key.lower() for key, _ in sent}:
        sent.append(("Content-Length", str(len(data))))
    for key, value in sent:
        if "_" in key:
            continue  # as werkzeug: such headers could be confused with others
        name = key.upper().replace("-", "_")
        value = value.replace("\r\n", "")
        if name not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = f"HTTP_{name}"
            if name in environ:
                value = f"{environ[name]},{value}"
        environ[name] = value
    return environ


def call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, HTTPHeaders, bytes]:
    """Run the WSGI application: status, headers, the whole body (a 500 on an exception, as werkzeug)."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started[:] = [status, headers]
        return chunks.append

    chunks: list[bytes] = []
    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception:
        from werkzeug.exceptions import InternalServerError

        _log.error("Error on request %s %s", environ["REQUEST_METHOD"], environ["RAW_URI"], exc_info=True)
        chunks.clear()
        chunks.extend(InternalServerError()(environ, start_response))
    status, header_list = started
    # As urllib3 hands them to botocore: case-insensitive, repeated names joined.
    joined: dict[str, tuple[str, str]] = {}
    for key, value in header_list:
        seen = joined.get(key.lower())
        joined[key.lower()] = (key, f"{seen[1]}, {value}" if seen else value)
    headers = HTTPHeaders()
    for key, value in joined.values():
        headers[key] = value
    return int(status.split(None, 1)[0]), headers, b"".join(chunks)


def _latin1(text: str) -> str:
    """PEP 3333's native string for a URL part: UTF-8 bytes seen as latin-1, as werkzeug does."""
    return text.encode("utf-8").decode("latin-1")


class _Raw(io.BytesIO):
    """The response body as botocore reads a urllib3 response: ``read``, ``stream``."""

    def stream(self, amt: int = 2**16, decode_content: bool | None = None) -> Iterator[bytes]:
        """The body in chunks, as urllib3's ``HTTPResponse.stream``."""
        while chunk := self.read(amt):
            yield chunk
