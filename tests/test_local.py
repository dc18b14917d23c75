"""Local mode: the whole pipeline on the embedded emulator, with a real model."""

from __future__ import annotations

import signal
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from pipeline import data
from pipeline.config import load_config
from pipeline.local import LOCAL_OVERRIDES, emulator, emulator_session, predict, run_local, summary
from tests.conftest import refused_port
from tests.local_cli import SMALL_DATA_GATE, kept_until_stopped, local_in_process, local_process

pytestmark = pytest.mark.local

ROWS = 2000


@pytest.fixture(scope="module")
def raw():
    return data.generate_raw(ROWS, seed=3)


def served_and_file_predictions(url: str, config, run, validation) -> tuple[np.ndarray, np.ndarray]:
    session = emulator_session(config.account.region)
    runtime = session.client("sagemaker-runtime", endpoint_url=url)
    served = np.array(predict(runtime, config.endpoint.name, validation.iloc[:, 1:]))
    with tarfile.open(run.artifacts["model"]) as tar:
        model_bytes = tar.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(model_bytes))
    own = booster.predict(xgb.DMatrix(validation.iloc[:, 1:].to_numpy()))
    return served, own


def test_two_runs_create_then_update_and_serve_the_trained_model(raw, tmp_path):
    config = load_config("staging", environ={}).replace(**LOCAL_OVERRIDES)
    lines: list[str] = []
    with emulator(0, None, lines.append) as url:
        first = run_local(config, endpoint_url=url, work_dir=tmp_path / "one", raw=raw, out=lines.append)
        assert (first.deploy_action, first.endpoint_action, first.status) == ("created", "create", "SUCCEEDED")
        assert first.output["PreviousEndpoint"] == {"EndpointStatus": "Absent"}
        assert first.smoke_passed
        # Data capture: every call of the smoke test was recorded (staging samples 100%).
        captured = [line for line in lines if line.startswith("capture: ") and "record(s)" in line]
        assert len(captured) == 1 and int(captured[0].split()[1]) >= config.smoke.calls, captured
        # Autoscaling (off in staging, turned on by local mode) registered after the smoke test,
        # and the prune dry run's table (one run: everything is one of the newest).
        assert "autoscaling: staging has autoscaling = false; local mode turned it on for this run" in lines
        assert any(
            line.startswith("autoscaling registered: endpoint/big-mart-staging/variant/AllTraffic 1-2 instances")
            for line in lines
        ), lines
        assert "prune: dry run: 0 would be deleted with `prune --yes` (keeping 5 newest)" in lines

        # Unchanged inputs would reuse version 1 (pipeline.reuse): --retrain takes the training path.
        second = run_local(config, endpoint_url=url, work_dir=tmp_path / "two", raw=raw, out=lines.append, retrain=True)
        assert (second.deploy_action, second.endpoint_action, second.status) == ("unchanged", "update", "SUCCEEDED")
        assert second.output["PreviousEndpoint"]["EndpointConfigName"] == first.output["EndpointConfigName"]
        assert second.output["EndpointConfigName"] != first.output["EndpointConfigName"]
        assert any("takes the update path" in line for line in lines)
        assert any(line.startswith("autoscaling unchanged: ") for line in lines)
        assert any(line.startswith("prune: keep") and "live: the endpoint serves it" in line for line in lines)
        assert any(line.startswith("prune: keep") and "rollback: the config execution" in line for line in lines)

        validation = data.prepare(raw, config.data.validation_fraction, config.data.seed).validation
        served, own = served_and_file_predictions(url, config, second, validation)
        np.testing.assert_allclose(served, own, rtol=1e-6)
        labels = validation.iloc[:, 0].to_numpy()
        assert second.holdout_rmse == pytest.approx(float(np.sqrt(np.mean((own - labels) ** 2))), rel=1e-5)
        # The model learnt something: better than always predicting the mean.
        assert second.holdout_rmse < labels.std()
        assert {"calls", "p50", "p95"} <= set(second.latency_ms)
        assert Path(second.artifacts["model"]).is_file()

        # The gate: the first run had no champion; the second ran against the first, approved.
        assert first.gate["Champion"]["Found"] is False and first.approval == "Approved"
        assert second.gate["Champion"]["ModelPackageArn"] == first.model_package
        assert second.gate["Value"] <= second.gate["Champion"]["Bar"] == pytest.approx(first.gate["Value"] * 1.05)
        assert (first.model_package[-2:], second.model_package[-2:], second.approval) == ("/1", "/2", "Approved")
        text = summary(second)
        assert (
            f"quality gate: validation:rmse {second.gate['Value']} passed; absolute bar 900.0; champion version 1"
            in text
        )
        assert f"model package: {second.model_package} -> Approved" in text


def test_a_weak_model_fails_the_gate_and_exits_1_with_the_metric_and_the_bar(tmp_path, capsys, monkeypatch):
    result = local_in_process(
        "--rows",
        str(ROWS),
        "--seed",
        "3",
        "--set",
        "hyperparameters.num_round=1",
        "--work-dir",
        str(tmp_path / "w"),
        cwd=tmp_path,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert result.returncode == 1, result.stderr
    assert "failed with Pipeline.QualityGateFailed: validation:rmse 1302." in result.stderr
    assert "is above max_validation_rmse 900. Nothing was registered or deployed" in result.stderr


def test_missing_data_file_exits_2(tmp_path):
    # A real process: `python -m pipeline local` itself exits 2 with the one error line on stderr.
    # The other bad-input tests check the command's message and exit code through main().
    result = local_process("--data", str(tmp_path / "Train.csv"), "--work-dir", str(tmp_path / "w"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"data file '{tmp_path / 'Train.csv'}' does not exist" in result.stderr


def test_invalid_data_file_exits_2(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "Train.csv"
    bad.write_text("a,b\n1,2\n")
    result = local_in_process(
        "--data", str(bad), "--work-dir", str(tmp_path / "w"), cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch
    )
    assert result.returncode == 2
    assert "missing column(s) Item_Identifier" in result.stderr


def test_port_in_use_exits_2(tmp_path, capsys, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = local_in_process(
            "--port", str(port), "--rows", "100", "--work-dir", str(tmp_path / "w"),
            cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch,
        )  # fmt: skip
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_unwritable_work_folder_exits_2(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = local_in_process("--work-dir", str(blocker / "work"), cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert result.returncode == 2
    assert "is not writable" in result.stderr


def test_attach_to_nothing_exits_2(tmp_path, capsys, monkeypatch):
    with refused_port() as port:
        result = local_in_process(
            "--attach", f"http://127.0.0.1:{port}", "--work-dir", str(tmp_path / "w"),
            cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch,
        )  # fmt: skip
    assert result.returncode == 2
    assert "no emulator answers at" in result.stderr


def test_second_run_reuses_the_kept_emulator_and_ctrl_c_stops_everything(tmp_path, capsys, monkeypatch):
    work = tmp_path / "w"
    # Started in the background by a script, with SIGINT ignored: Ctrl-C (SIGINT) stops it all the same.
    with kept_until_stopped(signal.SIGINT, "--rows", "500", work=work, cwd=tmp_path) as port:
        # Running the command again (same work folder) reuses that emulator: the update path.
        second = local_in_process(
            "--rows", "500", "--retrain", "--work-dir", str(work),
            cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch, extra_env=SMALL_DATA_GATE,
        )  # fmt: skip
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"reusing the one an earlier --keep run left at http://127.0.0.1:{port}" in second.stdout
        assert "exists, so this run takes the update path" in second.stdout
        assert "endpoint big-mart-staging: updated" in second.stdout


def test_kept_emulator_started_in_the_background_stops_on_sigterm(tmp_path):
    # CI cancelling a job, or `kill`: SIGTERM stops it as Ctrl-C does (the checks after the block).
    with kept_until_stopped(signal.SIGTERM, "--rows", "100", work=tmp_path / "w", cwd=tmp_path):
        pass
