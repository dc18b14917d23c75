"""A definition moto's check passed once is not parsed again to validate it, in a later process either."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from pipeline.emulator import Emulator, patches
from tests.conftest import REGION

ROLE = "arn:aws:iam::123456789012:role/sfn"


def _definition(comment: str) -> str:
    return json.dumps({"Comment": comment, "StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def _refuse_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(definition: str) -> None:
        raise RuntimeError("parsed")

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(refuse))


def test_a_passed_definition_is_recorded_and_a_later_process_skips_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(patches, "_validated", {})
    passed, other = _definition("passed"), _definition("never seen")
    with Emulator():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        sfn.create_state_machine(name="first", definition=passed, roleArn=ROLE)
        assert len(list((tmp_path / "asl-valid").glob("*.json"))) == 1
        # As a new process: nothing in memory, the parser would fail if it ran.
        monkeypatch.setattr(patches, "_validated", {})
        _refuse_parsing(monkeypatch)
        sfn.create_state_machine(name="second", definition=passed, roleArn=ROLE)
        with pytest.raises(ClientError, match="parsed"):
            sfn.create_state_machine(name="third", definition=other, roleArn=ROLE)


def test_a_refused_definition_is_never_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(patches, "_validated", {})
    broken = json.dumps({"StartAt": "Missing", "States": {"Done": {"Type": "Bogus"}}})
    with Emulator():
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for name in ("first", "second"):
            # moto answers InvalidDefinition with an empty code; the message is the parser's.
            with pytest.raises(ClientError, match="ASLParserException"):
                sfn.create_state_machine(name=name, definition=broken, roleArn=ROLE)
    assert not (tmp_path / "asl-valid").exists()
