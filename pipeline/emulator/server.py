"""The emulator as an HTTP server on 127.0.0.1, plus a small control API under ``/_emulator/``.

Control API (JSON):
  GET    /_emulator/health          -> {"status": "ok", "moto": "5.2.5"}
  GET    /_emulator/faults          -> the fault document in force (timings + faults)
  POST   /_emulator/faults          <- a fault document: timings replace, faults add, endpoint states apply
  DELETE /_emulator/faults          -> removes every fault
  POST   /_emulator/endpoint-state  <- {"endpoint": NAME, "status": STATUS, "reason": TEXT}
"""

from __future__ import annotations

import errno
import json
import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from pipeline.emulator import direct, patches
from pipeline.emulator import runtime as rt
from pipeline.emulator.compat import MOTO_VERSION
from pipeline.emulator.emulator import Host, HostOptions, apply_fault_file, fake_s3_client, set_endpoint_state
from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.faults import EndpointState, FaultFile, fault_to_dict

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from typing_extensions import Unpack

CONTROL_PREFIX = "/_emulator/"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class _ControlApp:
    """WSGI app: the control API, and everything else to moto."""

    def __init__(self, runtime: rt.Runtime, moto_app: Callable[..., Iterable[bytes]]):
        self.runtime = runtime
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            return self.moto_app(environ, start_response)
        try:
            status, payload = self._handle(environ["REQUEST_METHOD"], path[len(CONTROL_PREFIX) :], environ)
        except (EmulatorError, ValueError) as exc:
            # FaultSpecError is a UsageError; both carry a message that names the bad value.
            status, payload = 400, {"error": str(exc)}
        except Exception as exc:
            status, payload = 400 if exc.__class__.__name__ == "FaultSpecError" else 500, {"error": str(exc)}
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _handle(self, method: str, route: str, environ: dict[str, Any]) -> tuple[int, Any]:
        if route == "health" and method == "GET":
            return 200, {"status": "ok", "moto": MOTO_VERSION}
        if route == "faults" and method == "GET":
            return 200, {
                "timings": self.runtime.timings.to_dict(),
                "faults": [fault_to_dict(f) for f in self.runtime.faults.list()],
            }
        if route == "faults" and method == "POST":
            apply_fault_file(self.runtime, FaultFile.from_dict(_read_json(environ)))
            return 200, {"faults": len(self.runtime.faults.list())}
        if route == "faults" and method == "DELETE":
            self.runtime.faults.clear()
            return 200, {"faults": 0}
        if route == "endpoint-state" and method == "POST":
            data = _read_json(environ)
            try:
                state = EndpointState(**data)
            except TypeError as exc:
                raise ValueError(f"endpoint-state: {exc}") from exc
            set_endpoint_state(state)
            return 200, {"endpoint": state.endpoint, "status": state.status}
        return 404, {"error": f"no control route {method} {CONTROL_PREFIX}{route}"}


def _read_json(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from exc


def check_port_free(host: str, port: int) -> None:
    """Raise OSError(EADDRINUSE) when ``port`` is taken (port 0 always gets a free one)."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


class EmulatorServer(Host):
    """The emulator behind ``http://127.0.0.1:<port>`` (port 0 = a free one)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, serve_in_process: bool = False, **options: Unpack[HostOptions]
    ):
        """``serve_in_process``: clients in this process connected with :func:`direct.connect`
        (and the emulator's own: the hooks', the Step Functions engine's) reach this server
        without a socket (pipeline.emulator.direct); every other client uses HTTP."""
        super().__init__(**options)
        self.host = host
        self.port = port
        self.serve_in_process = serve_in_process
        self._netlocs: list[str] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._saved: dict[str, Any] = {}

    @property
    def url(self) -> str:
        """The endpoint URL boto3 clients use (``endpoint_url=server.url``)."""
        if self._server is None:
            raise EmulatorError("the emulator server is not running")
        return f"http://{self.host}:{self._server.server_port}"

    def _s3_client(self, region: str) -> S3Client:
        client = fake_s3_client(region, self.url)
        return direct.connect(client) if self.serve_in_process else client

    def start(self) -> EmulatorServer:
        """Bind, start serving in a thread, and turn on Step Functions executions."""
        patches.install()
        rt.activate(self.runtime)
        try:
            moto_api_backend.reset()
            app = _ControlApp(self.runtime, DomainDispatcherApplication(create_backend_app))
            check_port_free(self.host, self.port)
            try:
                self._server = make_server(self.host, self.port, app, threaded=True, request_handler=_QuietHandler)
            except SystemExit:
                # werkzeug prints a notice and exits when the port is taken between our check and
                # its bind; report it as the OSError callers handle instead of ending the process.
                raise OSError(errno.EADDRINUSE, f"port {self.port} on {self.host} is already in use") from None
        except BaseException:
            rt.deactivate(self.runtime)
            raise
        # moto's engine calls services back at localhost:$MOTO_PORT in server mode.
        self._saved = {
            "MOTO_PORT": os.environ.get("MOTO_PORT"),
            "sfn": dict(default_user_config.get("stepfunctions", {})),
        }
        os.environ["MOTO_PORT"] = str(self._server.server_port)
        if self.serve_in_process:
            # The engine calls back at localhost:$MOTO_PORT, everything else at 127.0.0.1.
            port = self._server.server_port
            self._netlocs = [f"{self.host}:{port}", f"localhost:{port}"]
            direct.serve(self._netlocs, app)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        # stop() waits for the serving loop to notice shutdown; a short poll makes that ~0.05 s
        # instead of socketserver's 0.5 s (select() wakes at once for requests either way).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="emulator-server", daemon=True
        )
        self._thread.start()
        if self._initial is not None:
            apply_fault_file(self.runtime, self._initial)
        return self

    def stop(self) -> None:
        """Stop serving, close the socket (the port is free again), restore moto's settings."""
        if self._server is None:
            return
        rt.stop_running_executions()
        direct.forget(self._netlocs)
        self._netlocs = []
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self.runtime.join_threads()
        self._server = None
        default_user_config["stepfunctions"] = self._saved.get("sfn", {"execute_state_machine": False})
        if self._saved.get("MOTO_PORT") is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved["MOTO_PORT"]
        moto_api_backend.reset()
        self._release()
