"""The ``local`` command: its exit codes and errors, and the emulator it keeps running.

The runs themselves (first from nothing, then the update path, the model served and the gate
against the champion) are tests/test_local_state.py's, on its one trained run per module.
"""

from __future__ import annotations

import signal
import socket

import pytest

from tests.conftest import refused_port
from tests.local_cli import SMALL_DATA_GATE, kept_until_stopped, local_in_process, local_process

pytestmark = pytest.mark.local

ROWS = 2000


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
