"""pipeline.cache: results kept across processes, keyed by everything they depend on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import cache
from pipeline.config import load_config, resolve_image
from pipeline.definition import build_definition, builder, definition_json


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(cache.CACHE_DIR_ENV_VAR, str(tmp_path / "cache"))
    return tmp_path / "cache"


def counting(value: str) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return value

    return calls, compute


def test_second_call_with_the_same_inputs_reads_the_stored_text(folder: Path) -> None:
    calls, compute = counting("result")
    assert cache.remember("kind", {"a": 1}, compute) == "result"
    assert cache.remember("kind", {"a": 1}, compute) == "result"
    assert len(calls) == 1
    assert [path.parent.name for path in folder.rglob("*.json")] == ["kind"]


def test_other_inputs_or_another_kind_compute_again(folder: Path) -> None:
    calls, compute = counting("result")
    cache.remember("kind", {"a": 1}, compute)
    cache.remember("kind", {"a": 2}, compute)
    cache.remember("other", {"a": 1}, compute)
    assert len(calls) == 3


def test_a_reinstalled_dependency_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "fake_sdk_for_cache_test.py"
    module.write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = cache.key_of("kind", {}, ["fake_sdk_for_cache_test"])
    assert before == cache.key_of("kind", {}, ["fake_sdk_for_cache_test"])
    module.write_text("VERSION = 22\n")  # an upgrade rewrites the module's files
    assert cache.key_of("kind", {}, ["fake_sdk_for_cache_test"]) != before
    assert cache.installed(["no_such_module_here"]) == {"no_such_module_here": "missing"}


def test_a_changed_source_file_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = cache.key_of("kind", {}, [])
    cache.source_fingerprint.cache_clear()
    real = Path.read_bytes

    def edited(path: Path) -> bytes:
        return real(path) + (b"# edited\n" if path.name == "cache.py" else b"")

    monkeypatch.setattr(Path, "read_bytes", edited)
    try:
        assert cache.key_of("kind", {}, []) != before
    finally:
        cache.source_fingerprint.cache_clear()


def test_a_damaged_entry_is_computed_again_and_replaced(folder: Path) -> None:
    calls, compute = counting("fresh")
    cache.remember("kind", {}, compute)
    (entry,) = folder.rglob("*.json")
    entry.write_text('{"value": "trunc')
    assert cache.remember("kind", {}, compute) == "fresh"
    assert json.loads(entry.read_text()) == {"value": "fresh"}
    assert len(calls) == 2


def test_an_unwritable_folder_only_costs_the_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.CACHE_DIR_ENV_VAR, str(blocker / "cache"))
    calls, compute = counting("value")
    assert cache.remember("kind", {}, compute) == "value"
    assert cache.remember("kind", {}, compute) == "value"
    assert len(calls) == 2


def test_off_disables_the_cache_and_a_failure_is_never_stored(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing() -> str:
        raise ValueError("no such image")

    with pytest.raises(ValueError, match="no such image"):
        cache.remember("kind", {}, failing)
    assert not folder.exists() or not list(folder.rglob("*.json"))
    monkeypatch.setenv(cache.CACHE_DIR_ENV_VAR, "off")
    assert cache.cache_dir() is None
    calls, compute = counting("value")
    cache.remember("kind", {}, compute)
    cache.remember("kind", {}, compute)
    assert len(calls) == 2


def test_default_location_follows_xdg_then_home() -> None:
    assert cache.cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/big-mart-pipeline")
    assert cache.cache_dir({}) == Path.home() / ".cache" / "big-mart-pipeline"
    assert cache.cache_dir({cache.CACHE_DIR_ENV_VAR: "/y", "XDG_CACHE_HOME": "/x"}) == Path("/y")


def test_cached_definition_is_the_builders_and_follows_the_configuration(folder: Path) -> None:
    staging = load_config("staging", environ={})
    cold = definition_json(staging)
    assert cold == builder.definition_json(staging)
    assert definition_json(staging) == cold  # warm: read back
    assert build_definition(staging) == json.loads(cold)
    changed = staging.replace(hyperparameters={**staging.training.hyperparameters, "num_round": 7})
    assert definition_json(changed) == builder.definition_json(changed) != cold
    assert len(list((folder / "definition").glob("*.json"))) == 2


def test_cached_image_uri_is_the_sdks(folder: Path) -> None:
    from sagemaker import image_uris

    expected = image_uris.retrieve("xgboost", "eu-west-1", "3.0-5")
    assert resolve_image("xgboost", "eu-west-1", "3.0-5") == expected
    assert resolve_image("xgboost", "eu-west-1", "3.0-5") == expected
    assert resolve_image("xgboost", "us-east-1", "3.0-5") == image_uris.retrieve("xgboost", "us-east-1", "3.0-5")
    with pytest.raises(ValueError):
        resolve_image("xgboost", "eu-west-1", "0.0-0")
    assert len(list((folder / "image-uri").glob("*.json"))) == 2
