"""A client for a running emulator server's control API (for tests and the CLI)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from pipeline.emulator.errors import EmulatorError
from pipeline.emulator.faults import Fault, FaultFile, fault_to_dict


class EmulatorControl:
    """Change faults and endpoint states of the emulator server at ``url`` at runtime."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.base = url.rstrip("/") + "/_emulator/"
        self.timeout = timeout

    def _call(self, method: str, route: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - the emulator server's own local URL
            self.base + route, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - local URL
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise EmulatorError(f"emulator control {method} {route} failed ({exc.code}): {detail}") from exc

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "moto": ...}`` when the server answers."""
        return self._call("GET", "health")

    def add_faults(self, *faults: Fault) -> None:
        """Activate faults on the server."""
        self._call("POST", "faults", {"faults": [fault_to_dict(f) for f in faults]})

    def apply(self, document: FaultFile) -> None:
        """Send a whole fault document (timings, faults, endpoint states)."""
        self._call("POST", "faults", document.to_dict())

    def faults(self) -> dict[str, Any]:
        """The timings and faults in force on the server."""
        return self._call("GET", "faults")

    def clear_faults(self) -> None:
        """Remove every fault on the server."""
        self._call("DELETE", "faults")

    def set_endpoint_status(self, endpoint: str, status: str, reason: str = "") -> None:
        """Put an existing endpoint into ``status`` (e.g. Failed, UpdateRollbackFailed)."""
        self._call("POST", "endpoint-state", {"endpoint": endpoint, "status": status, "reason": reason})
