"""Serving contract of the local model host: content types, accept types, errors, atomic swaps."""

from __future__ import annotations

import io
import json
import tarfile
import threading
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from pipeline.local_model import LocalModelHost, ModelLoadError, train_from_channels
from pipeline.local_model.artifact import MODEL_NAME, read_model_files, write_model_tar
from tests.local_model.conftest import make_rows, write_csv

Params = Callable[..., dict[str, str]]


def _artifact(channels: dict[str, Path], params: dict[str, str], work: Path) -> bytes:
    train_from_channels(params, channels, work / "model")
    return write_model_tar(work / "model", work / "model.tar.gz").read_bytes()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """model.tar.gz bytes of a model trained once for this module (400 rows, 5 features)."""
    work = tmp_path_factory.mktemp("artifact")
    x, y = make_rows(400, seed=7)
    write_csv(work / "train" / "train.csv", x, y)
    params = {
        "objective": "reg:squarederror",
        "num_round": "30",
        "max_depth": "4",
        "eta": "0.2",
    }
    return _artifact({"train": work / "train"}, params, work)


@pytest.fixture
def host(artifact: bytes, emulator_errors: types.SimpleNamespace) -> LocalModelHost:
    """A host serving the artifact as endpoint 'ep'."""
    served = LocalModelHost()
    served.load_artifact("ep", artifact)
    return served


def _csv(x: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in x).encode()


def _booster(artifact: bytes) -> xgb.Booster:
    with tarfile.open(fileobj=io.BytesIO(artifact)) as tar:
        assert tar.getnames() == [MODEL_NAME]
        member = tar.extractfile(MODEL_NAME)
        assert member is not None
        return xgb.Booster(model_file=bytearray(member.read()))


def test_host_predictions_equal_xgboost_on_the_artifact(host: LocalModelHost, artifact: bytes) -> None:
    x, _ = make_rows(25, seed=99)
    expected = _booster(artifact).predict(xgb.DMatrix(x))
    body, content_type = host.invoke("ep", _csv(x), "text/csv", "text/csv")
    assert content_type == "text/csv; charset=utf-8"
    # One prediction per line, each ending in a newline (single-model server's CSV encoder).
    assert body.endswith(b"\n") and body.count(b"\n") == 25 and b"," not in body
    served = np.array([float(v) for v in body.decode().splitlines()], dtype=np.float32)
    np.testing.assert_array_equal(served, expected)
    for row, value in zip(x, expected, strict=True):
        single, _ = host.invoke("ep", _csv(row[None, :]), "text/csv", None)
        assert single == f"{float(value)!r}\n".encode()


def test_json_accept(host: LocalModelHost, artifact: bytes) -> None:
    x, _ = make_rows(3, seed=1)
    expected = _booster(artifact).predict(xgb.DMatrix(x))
    body, content_type = host.invoke("ep", _csv(x), "text/csv", "application/json; verbose=True")
    assert content_type == "application/json"
    assert body == json.dumps({"predictions": [{"score": float(v)} for v in expected]}).encode()
    assert body.startswith(b'{"predictions": [{"score": ')


@pytest.mark.parametrize("accept", [None, "", "*/*"])
def test_default_accept_is_csv(host: LocalModelHost, accept: str | None) -> None:
    x, _ = make_rows(2, seed=1)
    assert host.invoke("ep", _csv(x), "text/csv", accept)[1] == "text/csv; charset=utf-8"


def test_default_accept_can_be_json(artifact: bytes) -> None:
    served = LocalModelHost(default_accept="application/json")
    served.load_artifact("ep", artifact)
    x, _ = make_rows(1, seed=1)
    assert served.invoke("ep", _csv(x), "csv", None)[1] == "application/json"


def test_libsvm_request_matches_csv(host: LocalModelHost) -> None:
    x, _ = make_rows(4, seed=2)
    libsvm = "\n".join(" ".join(f"{i + 1}:{v!r}" for i, v in enumerate(row)) for row in x.tolist())
    by_libsvm, _ = host.invoke("ep", libsvm.encode(), "text/libsvm", "text/csv")
    assert by_libsvm == host.invoke("ep", _csv(x), "text/csv", "text/csv")[0]


def test_tab_delimited_and_missing_values(host: LocalModelHost, artifact: bytes) -> None:
    x, _ = make_rows(2, seed=3)
    x[0, 2] = np.nan
    payload = "\n".join("\t".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in x).encode()
    body, _ = host.invoke("ep", payload, "text/csv", "text/csv")
    expected = _booster(artifact).predict(xgb.DMatrix(x, missing=np.nan))
    np.testing.assert_array_equal(np.array(body.decode().split(), dtype=np.float32), expected)


def test_empty_body_is_no_content(host: LocalModelHost) -> None:
    assert host.invoke("ep", b"", "text/csv", "text/csv") == (
        b"",
        "text/html; charset=utf-8",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (
            b"1,2,3,4,5",
            "application/json",
            None,
            415,
            "application/json is not an accepted ContentType: csv,",
        ),
        (
            b"1,2,3,4,5",
            "application/x-parquet",
            None,
            415,
            "Content-type application/x-parquet is not supported.",
        ),
        (
            b"1,2,3,4,5",
            "text/csv;label_size=0",
            None,
            415,
            "text/csv;label_size=0 is not an accepted csv ContentType",
        ),
        (
            b"1,2,x,4,5",
            "text/csv",
            None,
            415,
            "Loading csv data failed with Exception, please ensure data is in csv",
        ),
        (
            b"1,2,3,4,5\n1,2",
            "text/csv",
            None,
            415,
            "Loading csv data failed with Exception",
        ),
        (
            b"1,2,3,4,5,6",
            "text/csv",
            None,
            400,
            "Unable to evaluate payload provided: ",
        ),
        (
            b"1,2,3,4,5",
            "text/csv",
            "text/plain",
            406,
            "Accept type text/plain is not supported. Please use",
        ),
        (
            b"1,2,3,4,5",
            "text/csv",
            "application/jsonlines",
            500,
            "Content type application/jsonlines is not",
        ),
    ],
)
def test_errors_carry_the_container_status(
    host: LocalModelHost,
    emulator_errors: types.SimpleNamespace,
    body: bytes,
    content_type: str,
    accept: str | None,
    status: int,
    message: str,
) -> None:
    with pytest.raises(emulator_errors.ModelError) as caught:
        host.invoke("ep", body, content_type, accept)
    assert caught.value.status_code == status
    assert caught.value.message.startswith(message)


def test_unknown_endpoint(host: LocalModelHost, emulator_errors: types.SimpleNamespace) -> None:
    with pytest.raises(emulator_errors.ModelError) as caught:
        host.invoke("other", b"1,2,3,4,5", "text/csv", None)
    assert caught.value.status_code == 404 and "other" in caught.value.message
    assert host.unload("ep") is True and host.unload("ep") is False
    with pytest.raises(emulator_errors.ModelError):
        host.invoke("ep", b"1,2,3,4,5", "text/csv", None)


def test_bad_artifacts_are_refused() -> None:
    served = LocalModelHost()
    with pytest.raises(ModelLoadError, match="cannot be read"):
        served.load_artifact("ep", b"not a tarball")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../xgboost-model")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ModelLoadError, match="unsafe path"):
        served.load_artifact("ep", buffer.getvalue())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(MODEL_NAME)
        info.size = 5
        tar.addfile(info, io.BytesIO(b"junk!"))
    with pytest.raises(ModelLoadError, match="cannot be loaded by xgboost"):
        served.load_artifact("ep", buffer.getvalue())
    assert served.endpoints() == {}


def test_artifact_round_trip_ignores_dot_files(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MODEL_NAME).write_bytes(b"model")
    (tmp_path / "m" / ".hidden").write_bytes(b"x")
    tar = write_model_tar(tmp_path / "m", tmp_path / "model.tar.gz")
    assert read_model_files(tar.read_bytes()) == {MODEL_NAME: b"model"}


def test_swapping_the_model_is_atomic_under_concurrent_invokes(
    channels: dict[str, Path],
    hyperparameters: Params,
    tmp_path: Path,
    artifact: bytes,
    host: LocalModelHost,
) -> None:
    other = _artifact(channels, hyperparameters(max_depth="2", num_round="5"), tmp_path / "b")
    x, _ = make_rows(8, seed=11)
    payload = _csv(x)
    answers = {
        host.invoke("ep", payload, "text/csv", None)[0],
    }
    host.load_artifact("ep", other)
    answers.add(host.invoke("ep", payload, "text/csv", None)[0])
    assert len(answers) == 2  # the two models answer differently
    seen: list[bytes] = []
    failures: list[BaseException] = []

    def client() -> None:
        try:
            for _ in range(40):
                seen.append(host.invoke("ep", payload, "text/csv", None)[0])
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for index in range(10):
        host.load_artifact("ep", artifact if index % 2 else other)
    for thread in threads:
        thread.join()
    assert failures == []
    # Every answer comes entirely from one model or the other, never a mix.
    assert len(seen) == 240 and set(seen) <= answers
