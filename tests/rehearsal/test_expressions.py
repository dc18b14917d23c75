"""The expression evaluator: GitHub's semantics for what the workflows use, failure for the rest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rehearsal import expressions as ex

CONTEXT: dict[str, Any] = {
    "github.event_name": "push",
    "inputs.environment": None,
    "inputs.run-pipeline": False,
    "vars.AWS_REGION": "eu-west-1",
    "env.RUN_PIPELINE": "true",
}


def resolve(path: str) -> Any:
    if path not in CONTEXT:
        raise ex.ExpressionError(f"unknown {path}")
    return CONTEXT[path]


def status_of(failed: bool) -> ex.StatusCheck:
    return lambda name: {"success": not failed, "failure": failed, "always": True, "cancelled": False}[name]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("inputs.environment || 'staging'", "staging"),
        ("'prod' || 'staging'", "prod"),
        ("github.event_name == 'push' || inputs.run-pipeline", True),
        ("github.event_name == 'PUSH'", True),  # strings compare ignoring case
        ("inputs.run-pipeline && 'x'", False),  # && returns the falsy operand
        ("vars.AWS_REGION && 'yes'", "yes"),
        ("!inputs.environment", True),
        ("null == false", True),  # both coerce to 0, as on GitHub
        ("null != 'deploy-only'", True),
        ("'' == 0", True),
        ("'1' == 1", True),
        ("true == 1", True),
        ("'It''s'", "It's"),
        ("(github.event_name == 'pull_request') || (env.RUN_PIPELINE == 'true')", True),
        ("0x10 == 16", True),
    ],
)
def test_supported_expressions(expression: str, expected: Any) -> None:
    assert ex.evaluate(expression, resolve) == expected


def test_or_short_circuits_so_the_right_side_is_never_resolved() -> None:
    assert ex.evaluate("'x' || vars.NOT_SET", resolve) == "x"
    assert ex.evaluate("false && vars.NOT_SET", resolve) is False
    with pytest.raises(ex.ExpressionError, match="NOT_SET"):
        ex.evaluate("'' || vars.NOT_SET", resolve)


@pytest.mark.parametrize(
    "expression",
    [
        "toJSON(github)",
        "contains(github.event_name, 'p')",
        "github['event_name']",
        "1 < 2",
        "format('{0}', 'a')",
        "github.event_name ==",
        "(github.event_name",
        "'unterminated",
        "a ? b : c",
        "",
        "success()",  # status functions belong in if: only
    ],
)
def test_anything_else_fails(expression: str) -> None:
    with pytest.raises(ex.ExpressionError):
        ex.evaluate(expression, resolve)


def test_unknown_context_propagates_from_the_resolver() -> None:
    with pytest.raises(ex.ExpressionError, match=r"secrets\.TOKEN"):
        ex.evaluate("secrets.TOKEN", resolve)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("deploy-${{ inputs.environment || 'staging' }}", "deploy-staging"),
        ("${{ inputs.environment }}", ""),  # null becomes ''
        ("${{ github.event_name == 'push' }}", "true"),
        ("${{ inputs.run-pipeline }}", "false"),
        ("a ${{ vars.AWS_REGION }} b ${{ env.RUN_PIPELINE }}", "a eu-west-1 b true"),
        ("no expression", "no expression"),
        (3.11, "3.11"),
        (10, "10"),
        (False, "false"),
    ],
)
def test_render(template: Any, expected: str) -> None:
    assert ex.render(template, resolve) == expected


def test_render_refuses_an_unterminated_template() -> None:
    with pytest.raises(ex.ExpressionError, match="unterminated"):
        ex.render("${{ vars.AWS_REGION", resolve)


@pytest.mark.parametrize(
    ("text", "failed", "expected"),
    [
        ("env.RUN_PIPELINE == 'true'", False, True),
        ("${{ env.RUN_PIPELINE == 'true' }}", False, True),
        ("env.RUN_PIPELINE == 'true'", True, False),  # implicit success() &&
        ("failure()", True, True),
        ("failure()", False, False),
        ("always()", True, True),
        ("always() && env.RUN_PIPELINE == 'false'", True, False),
        ("success() || failure()", True, True),
        ("cancelled()", True, False),
        (True, True, False),
    ],
)
def test_condition(text: Any, failed: bool, expected: bool) -> None:
    assert ex.condition(text, resolve, status_of(failed)) is expected


def test_condition_refuses_text_around_an_expression() -> None:
    with pytest.raises(ex.ExpressionError, match="mixes"):
        ex.condition("x ${{ always() }}", resolve, status_of(False))
