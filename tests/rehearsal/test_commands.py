"""GITHUB_OUTPUT / GITHUB_ENV / GITHUB_PATH files, parsed as the runner parses them."""

from __future__ import annotations

import pytest

from pipeline import github_actions as gha
from tests.rehearsal.commands import CommandFileError, parse_command_file, parse_path_file


def test_name_value_lines() -> None:
    text = "execution_arn=arn:aws:states:eu-west-1:123456789012:execution:sm:run-1\nempty=\nx=a=b\n"
    assert parse_command_file(text) == {
        "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:sm:run-1",
        "empty": "",
        "x": "a=b",
    }


def test_heredoc_values_keep_newlines_equals_and_blank_lines() -> None:
    text = "summary<<EOF_1\nline one\n\nkey=value\nEOF_1\nafter=1\n"
    assert parse_command_file(text) == {"summary": "line one\n\nkey=value", "after": "1"}


def test_heredoc_with_crlf_and_empty_body() -> None:
    assert parse_command_file("a<<D\r\nD\r\nb<<D\r\nx\r\nD\r\n") == {"a": "", "b": "x"}


def test_later_entries_win() -> None:
    assert parse_command_file("a=1\na=2\n") == {"a": "2"}


def test_what_pipeline_github_actions_writes_reads_back(tmp_path, monkeypatch) -> None:
    """The project's writer (random heredoc delimiters) and this parser agree."""
    output = tmp_path / "out"
    output.write_text("", encoding="utf-8")
    environ = {"GITHUB_OUTPUT": str(output)}
    assert gha.set_output("endpoint_name", "big-mart-staging", environ)
    assert gha.set_output("notes", "two\nlines = yes", environ)
    assert parse_command_file(output.read_text(encoding="utf-8")) == {
        "endpoint_name": "big-mart-staging",
        "notes": "two\nlines = yes",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a<<EOF\nno end\n", "never comes"),
        ("just text\n", "invalid line"),
        ("=value\n", "invalid line"),
        ("<<EOF\nx\nEOF\n", "invalid heredoc"),
        ("a<<\nx\n", "invalid heredoc"),
    ],
)
def test_malformed_files_fail(text: str, message: str) -> None:
    with pytest.raises(CommandFileError, match=message):
        parse_command_file(text)


def test_path_file() -> None:
    assert parse_path_file("/opt/a\n\n /opt/b \n") == ["/opt/a", "/opt/b"]
