"""The CLI through its entry point: output, exit codes and error lines."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import main
from pipeline.definition import state_names as names
from tests.tooling.asl import lint


def test_definition_prints_valid_asl(capsys):
    assert main(["definition", "--env", "staging"]) == 0
    out = capsys.readouterr().out
    assert lint(json.loads(out)) == []


def test_definition_mermaid(capsys):
    assert main(["definition", "--format", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("flowchart TD")


def test_definition_stdout_is_only_json_in_a_fresh_process_with_a_cold_and_a_warm_cache(tmp_path, monkeypatch):
    # The SageMaker SDK prints INFO lines to stdout on import unless silenced: the cold run
    # imports it; the warm run reads the cached definition and must print the same bytes.
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path / "cache"))
    command = [sys.executable, "-m", "pipeline", "definition"]
    cold = subprocess.run(command, capture_output=True, text=True, check=True)
    assert json.loads(cold.stdout)["StartAt"] == names.REGISTERED_VERSION_GIVEN  # the first state since issue 15
    assert sorted(path.parent.name for path in (tmp_path / "cache").rglob("*.json")) == ["definition", "image-uri"]
    warm = subprocess.run(command, capture_output=True, text=True, check=True)
    assert warm.stdout == cold.stdout


def test_several_mistakes_print_one_line_each_and_exit_2(capsys):
    code = main(["definition", "--set", "region=x", "--set", "bucket=A", "--set", "hyperparameters.eta=7"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert len(err) == 3
    assert all(line.startswith("error: ") for line in err)


def test_malformed_set_flag(capsys):
    assert main(["definition", "--set", "novalue"]) == 2
    assert "--set 'novalue' must look like KEY=VALUE" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys):
    assert main(["bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["data", "--help"])
    assert exited.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_data_writes_folder(tmp_path, capsys):
    assert main(["data", "--out", str(tmp_path), "--rows", "200"]) == 0
    assert (tmp_path / "train" / "train.csv").is_file()
    assert "prepared 160 training and 40 validation rows" in capsys.readouterr().out


def test_data_with_missing_file_exits_2(tmp_path, capsys):
    assert main(["data", "--out", str(tmp_path), "--data", str(tmp_path / "Train.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
