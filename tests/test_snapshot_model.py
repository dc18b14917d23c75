"""The snapshot's calls against botocore's service models (what AWS documents, not only what moto answers)."""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

SOURCES = [Path(__file__).parents[1] / "pipeline" / "emulator" / name for name in ("snapshot.py", "restore.py")]
SERVICES = {
    "s3": "s3",
    "sagemaker": "sagemaker",
    "client": "sagemaker",
    "sfn": "stepfunctions",
    "cloudwatch": "cloudwatch",
    "aas": "application-autoscaling",
}
MODELS = botocore.session.get_session()


def operation(service: str, method: str):
    model = MODELS.get_service_model(service)
    names = {xform_name(name): name for name in model.operation_names}
    assert method in names, f"{service} has no operation {method}"
    return model.operation_model(names[method])


def calls(kind: str) -> list[tuple[str, ...]]:
    """``pages(client, "op", "Key")`` calls, or ``request(client, "Op", ...)`` calls, found in the sources."""
    found = []
    for source in SOURCES:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == kind:
                args = node.args
                found.append((args[0].id, *(a.value for a in args[1 : 3 if kind == "pages" else 2])))  # type: ignore[attr-defined]
    return found


def test_the_calls_are_found():
    assert len(calls("pages")) >= 12 and len(calls("request")) >= 8


@pytest.mark.parametrize(("client", "method", "key"), calls("pages"))
def test_every_listed_key_is_in_the_operation_s_output(client, method, key):
    output = operation(SERVICES[client], method).output_shape
    assert key in output.members, f"{method} answers {sorted(output.members)}, not {key}"
    assert output.members[key].type_name == "list"


@pytest.mark.parametrize(("client", "name"), calls("request"))
def test_every_replayed_operation_exists(client, name):
    assert operation(SERVICES[client], xform_name(name)).input_shape is not None
