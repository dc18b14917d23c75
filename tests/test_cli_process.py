"""What ``pipeline.cli.main`` does to its process beyond the command: the collector's thresholds."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import pipeline.cli
from pipeline.cli import GC_THRESHOLDS, main


@pytest.fixture
def known_thresholds() -> Iterator[tuple[int, int, int]]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*saved)


def test_a_command_runs_with_the_raised_thresholds_and_they_are_restored_after_it(
    known_thresholds: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[int, int, int]] = []
    real_build = pipeline.cli.build_parser

    def build() -> pipeline.cli.ArgumentParser:
        seen.append(gc.get_threshold())
        return real_build()

    monkeypatch.setattr(pipeline.cli, "build_parser", build)
    assert main(["definition", "--env", "nope"]) == 2  # bad input: the error path restores them too
    assert "nope" in capsys.readouterr().err
    assert seen == [GC_THRESHOLDS]
    assert gc.get_threshold() == known_thresholds
