"""Tests for pipeline.github_actions: workflow commands, outputs and summary, in and out of Actions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import github_actions as gha
from pipeline.errors import UsageError


def parse_github_output(text: str) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file the way the runner does (both ``k=v`` and heredoc forms)."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1  # the closing delimiter
            outputs[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def test_in_actions_reads_github_actions_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gha.in_actions() is False
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert gha.in_actions() is True
    assert gha.in_actions({"GITHUB_ACTIONS": "false"}) is False


def test_set_output_heredoc_round_trips_multiline_and_tricky_values(
    actions_env: dict[str, Path],
) -> None:
    values = {
        "endpoint_name": "big-mart-staging",
        "report": "line one\nname=injected\nEOF\nline four",
        "arn": "arn:aws:states:eu-west-1:123456789012:execution:sm:run-1",
        "empty": "",
    }
    for name, value in values.items():
        assert gha.set_output(name, value) is True

    text = actions_env["output"].read_text(encoding="utf-8")
    assert parse_github_output(text) == values
    delimiters = re.findall(r"^[\w-]+<<(.+)$", text, flags=re.MULTILINE)
    assert len(delimiters) == 4
    assert len(set(delimiters)) == 4, "each output needs its own random delimiter"


def test_set_output_appends_to_existing_file(actions_env: dict[str, Path]) -> None:
    actions_env["output"].write_text("earlier=1\n", encoding="utf-8")
    gha.set_output("later", "2")
    assert parse_github_output(actions_env["output"].read_text()) == {"earlier": "1", "later": "2"}


@pytest.mark.parametrize("name", ["", "1st", "has space", "a=b", "x<<y", "new\nline", "é"])
def test_set_output_rejects_bad_names_everywhere(name: str, tmp_path: Path) -> None:
    target = tmp_path / "output"
    with pytest.raises(UsageError) as raised:
        gha.set_output(name, "v", environ={"GITHUB_OUTPUT": str(target)})
    assert repr(name) in str(raised.value)
    assert not target.exists()
    # Outside Actions too: a bad name is a programming error that must fail in local runs.
    with pytest.raises(UsageError):
        gha.set_output(name, "v", environ={})


def test_outputs_and_summary_are_no_ops_outside_actions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gha.set_output("endpoint_name", "x") is False
    assert gha.append_summary("# Deployed") is False
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_append_summary_appends_markdown_with_newline(actions_env: dict[str, Path]) -> None:
    assert gha.append_summary("## Deploy\n") is True
    assert gha.append_summary("| a | b |\n|---|---|\n| 1 | 2 |") is True
    assert actions_env["summary"].read_text(encoding="utf-8") == ("## Deploy\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_mask_prints_add_mask_per_line_only_in_actions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gha.mask("s3cr3t")
    assert capsys.readouterr().out == ""

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    gha.mask("first\n\nsecond%")
    assert capsys.readouterr().out == "::add-mask::first\n::add-mask::second%25\n"


def test_error_and_notice_annotations_escape_data_and_properties(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    gha.error("100% failed\r\nsee: logs", title="Deploy: staging, eu", file="a.py", line=3)
    gha.notice("endpoint ready")
    gha.warning("slow")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "::error title=Deploy%3A staging%2C eu,file=a.py,line=3::100%25 failed%0D%0Asee: logs",
        "::notice::endpoint ready",
        "::warning::slow",
    ]


def test_annotations_outside_actions_go_to_stderr_as_plain_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gha.error("it broke", title="Deploy")
    gha.notice("done", file="config.toml", line=7)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "Error: Deploy: it broke\nNotice: config.toml:7: done\n"


def test_group_folds_output_and_closes_on_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(RuntimeError), gha.group("Deploy, step 1"):
        print("inside")
        raise RuntimeError("boom")
    assert capsys.readouterr().out == "::group::Deploy, step 1\ninside\n::endgroup::\n"


def test_group_is_silent_outside_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with gha.group("Deploy"):
        print("inside")
    assert capsys.readouterr().out == "inside\n"
