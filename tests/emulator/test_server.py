"""The emulator as a server: boto3 through an endpoint URL, control API, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeline.emulator import EmulatorControl, EmulatorError, EmulatorServer
from pipeline.emulator.faults import CallError
from tests.conftest import REGION


def _port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` any more. SO_REUSEADDR, as the server binds: only a listener
    blocks, not the closed connections in TIME_WAIT, nor another process's connection that
    happens to use this port as its ephemeral port (parallel test workers make many)."""
    with socket.socket() as sock:
        # As the server binds: connections the server closed linger in TIME_WAIT for a while
        # and would fail a plain bind; a socket still listening fails even with SO_REUSEADDR.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _client(service: str, url: str) -> Any:
    # No client-side retries: boto3 would retry an injected ThrottlingException silently.
    return boto3.client(service, region_name=REGION, endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))


def test_server_runs_executions_takes_faults_and_frees_its_port() -> None:
    server = EmulatorServer().start()
    try:
        port = int(server.url.rsplit(":", 1)[1])
        control = EmulatorControl(server.url)
        assert control.health()["status"] == "ok"
        control.add_faults(CallError(operation="sagemaker:ListEndpoints", code="ThrottlingException", calls=[1]))
        sm = _client("sagemaker", server.url)
        with pytest.raises(ClientError) as err:
            sm.list_endpoints()
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        assert sm.list_endpoints()["Endpoints"] == []
        with pytest.raises(EmulatorError, match="no endpoint named 'ghost'"):
            control.set_endpoint_status("ghost", "Failed")
        control.clear_faults()
        assert control.faults()["faults"] == []
        sfn = _client("stepfunctions", server.url)
        definition = {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sagemaker:listEndpoints",
                    "Parameters": {},
                    "End": True,
                }
            },
        }
        arn = sfn.create_state_machine(
            name="t", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, name="one")["executionArn"]
        while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            pass
        assert desc["status"] == "SUCCEEDED", desc
    finally:
        server.stop()
    assert _port_is_free(port)
    assert "MOTO_PORT" not in os.environ or os.environ["MOTO_PORT"] != str(port)


def test_cli_prints_its_url_and_stops_on_sigterm(tmp_path: Any) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps({"faults": [{"kind": "error", "operation": "sagemaker:ListModels", "code": "ThrottlingException"}]})
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.emulator", "--port", "0", "--faults", str(faults)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        with pytest.raises(ClientError, match="ThrottlingException"):
            _client("sagemaker", url).list_models()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert _port_is_free(int(url.rsplit(":", 1)[1]))


def test_cli_rejects_a_bad_fault_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # In-process: the fault file is refused before any server starts, and the test above already
    # runs the command as its own process (`python -m pipeline.emulator` exits with main's code).
    from pipeline.emulator.__main__ import main

    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"faults": [{"kind": "nope"}]}))
    assert main(["--faults", str(faults)]) == 2
    captured = capsys.readouterr()
    assert "unknown fault kind 'nope'" in captured.err and captured.out == ""
