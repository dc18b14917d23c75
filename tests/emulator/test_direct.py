"""Clients answered by an emulator server in their own process without a socket (pipeline.emulator.direct)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import urllib3.connection
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from pipeline.emulator import EmulatorServer
from pipeline.emulator.direct import connect
from pipeline.emulator.faults import CallError
from tests.conftest import REGION

BUCKET = "direct-test-bucket"
# Characters a key must survive: space, plus, percent, unicode, a query-looking part.
# What botocore raises when nothing answers: refused, or (sockets refused by _no_sockets) closed.
UNREACHABLE = (EndpointConnectionError, ConnectionClosedError)
KEY = "data/a b+c%20d/caf\u00e9?x=1&y/model.tar.gz"


def _client(service: str, url: str, *, connected: bool) -> Any:
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    if connected:
        connect(session)
    return session.client(service, endpoint_url=url, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(serve_in_process=True) as running:
        yield running


def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any) -> None:
        raise OSError("this test allows no socket")

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "connect", refuse)


def _answers(s3: Any, sagemaker: Any) -> dict[str, Any]:
    """What a client sees of a few calls, without the per-request metadata."""
    got = s3.get_object(Bucket=BUCKET, Key=KEY, ChecksumMode="ENABLED")
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    errors = {}
    for name, call in {
        "missing key": lambda: s3.get_object(Bucket=BUCKET, Key="nope"),
        "missing head": lambda: s3.head_object(Bucket=BUCKET, Key="nope"),
        "missing endpoint": lambda: sagemaker.describe_endpoint(EndpointName="nope"),
    }.items():
        with pytest.raises(ClientError) as caught:
            call()
        errors[name] = (
            caught.value.response["Error"]["Code"],
            caught.value.response["ResponseMetadata"]["HTTPStatusCode"],
        )
    return {
        "body": got["Body"].read(),
        "metadata": got["Metadata"],
        "content type": got["ContentType"],
        "checksum": got.get("ChecksumSHA256"),
        "etag": (got["ETag"], head["ETag"], head["ContentLength"]),
        "keys": [(item["Key"], item["Size"]) for item in listed],
        "tags": s3.get_object_tagging(Bucket=BUCKET, Key=KEY)["TagSet"],
        "errors": errors,
        "groups": [
            g["ModelPackageGroupName"] for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
        ],
    }


def test_a_connected_client_sees_what_an_http_client_sees_without_a_socket(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_s3 = _client("s3", server.url, connected=False)
    http_sagemaker = _client("sagemaker", server.url, connected=False)
    http_s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    over_http = {}
    for connected in (False, True):
        s3 = _client("s3", server.url, connected=connected)
        s3.put_object(
            Bucket=BUCKET,
            Key=KEY,
            Body=b"\x00binary\xffbody" * 1000,
            Metadata={"commit": f"c-{connected}"},
            ContentType="application/x-tar",
            Tagging="run=local&kind=model",
            ChecksumAlgorithm="SHA256",
        )
        sagemaker = _client("sagemaker", server.url, connected=connected)
        sagemaker.create_model_package_group(ModelPackageGroupName=f"group-{connected}")
        if not connected:
            over_http = _answers(http_s3, http_sagemaker)
    _no_sockets(monkeypatch)
    direct = _answers(_client("s3", server.url, connected=True), _client("sagemaker", server.url, connected=True))
    assert over_http["metadata"] == {"commit": "c-False"}
    assert direct["metadata"] == {"commit": "c-True"}  # the connected put replaced the object
    for name in ("body", "content type", "checksum", "etag", "keys", "tags", "errors"):
        assert direct[name] == over_http[name], name
    assert direct["groups"] == ["group-False", "group-True"]
    assert direct["errors"] == {
        "missing key": ("NoSuchKey", 404),
        "missing head": ("404", 404),
        "missing endpoint": ("ValidationException", 400),
    }
    # Without a socket an unconnected client cannot reach the server at all.
    with pytest.raises(UNREACHABLE):
        http_sagemaker.list_endpoints()


def test_faults_apply_to_connected_clients(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server.runtime.faults.add(CallError(operation="sagemaker:ListEndpoints", code="ThrottlingException", calls=[1]))
    _no_sockets(monkeypatch)
    sagemaker = _client("sagemaker", server.url, connected=True)
    with pytest.raises(ClientError) as caught:
        sagemaker.list_endpoints()
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert server.runtime.calls["sagemaker:ListEndpoints"] == 2


def test_only_a_server_that_serves_in_process_answers_and_only_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    with EmulatorServer() as plain:
        connected = _client("sagemaker", plain.url, connected=True)
        assert connected.list_endpoints()["Endpoints"] == []  # over HTTP: the server did not opt in
        _no_sockets(monkeypatch)
        with pytest.raises(UNREACHABLE):
            connected.list_endpoints()
    monkeypatch.undo()
    running = EmulatorServer(serve_in_process=True).start()
    url = running.url
    connected = _client("sagemaker", url, connected=True)
    assert connected.list_endpoints()["Endpoints"] == []
    running.stop()
    # Stopped: the request goes out over HTTP and finds nothing listening, as any client's would.
    with pytest.raises(UNREACHABLE):
        connected.list_endpoints()
