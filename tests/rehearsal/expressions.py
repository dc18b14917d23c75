"""A tiny, strict evaluator of the GitHub Actions expressions the workflows use.

Supported: literals (``'text'`` with ``''`` escapes, numbers, ``true``, ``false``, ``null``),
context paths (``github.sha``, ``inputs.run-pipeline``, ``steps.run.outputs.execution_arn``),
``!``, ``==``, ``!=``, ``&&``, ``||``, parentheses and the status functions ``success()``,
``failure()``, ``always()``, ``cancelled()``. Values follow GitHub's rules: ``&&``/``||``
return an operand, ``==`` compares strings case-insensitively and coerces mixed types to
numbers, and a value placed in a string becomes ``''`` (null), ``'true'``/``'false'`` or text.

Anything else - another function, an index ``[...]``, ``<``, an unknown context or property -
raises ExpressionError: the rehearsal must fail on what it does not understand rather than
guess, since a wrong guess would prove nothing about the real workflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))
    | (?P<op>==|!=|&&|\|\||!|\(|\))
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)
    | (?P<other><=|>=|<|>|,|\[|\]|\*)
    """,
    re.VERBOSE,
)
_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(Exception):
    """An expression the evaluator does not understand, or a context it was not given."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def tokenize(expression: str) -> list[_Token]:
    """Split ``expression`` into tokens; raise ExpressionError at the first unknown character."""
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ExpressionError(f"unsupported syntax at {expression[position:]!r} in expression {expression!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
    return tokens


Resolver = Callable[[str], Any]
StatusCheck = Callable[[str], bool]
_Node = Callable[[], Any]


class _Parser:
    """Recursive descent into closures, evaluated afterwards so ``&&``/``||`` short-circuit.

    Grammar: or := and ('||' and)*; and := cmp ('&&' cmp)*; cmp := unary (('=='|'!=') unary)?;
    unary := '!' unary | atom; atom := literal | path | status '(' ')' | '(' or ')'.
    """

    def __init__(self, expression: str, resolve: Resolver, status: StatusCheck | None):
        self.expression = expression
        self.tokens = tokenize(expression)
        self.index = 0
        self.resolve = resolve
        self.status = status
        self.used_status = False

    def parse(self) -> _Node:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self._or()
        if self.index != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.index].text!r} in expression {self.expression!r}")
        return node

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, text: str | None = None) -> _Token:
        token = self._peek()
        if token is None or (text is not None and token.text != text):
            wanted = repr(text) if text else "more"
            raise ExpressionError(f"expected {wanted} in expression {self.expression!r}")
        self.index += 1
        return token

    def _or(self) -> _Node:
        node = self._and()
        while (token := self._peek()) is not None and token.text == "||":
            self._take()
            node = _either(node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._compare()
        while (token := self._peek()) is not None and token.text == "&&":
            self._take()
            node = _both(node, self._compare())
        return node

    def _compare(self) -> _Node:
        left = self._unary()
        token = self._peek()
        if token is not None and token.text in ("==", "!="):
            self._take()
            right = self._unary()
            negate = token.text == "!="
            return lambda: loose_equals(left(), right()) != negate
        return left

    def _unary(self) -> _Node:
        token = self._peek()
        if token is not None and token.text == "!":
            self._take()
            operand = self._unary()
            return lambda: not truthy(operand())
        return self._atom()

    def _atom(self) -> _Node:
        token = self._take()
        if token.text == "(":
            node = self._or()
            self._take(")")
            return node
        if token.kind == "string":
            text = token.text[1:-1].replace("''", "'")
            return lambda: text
        if token.kind == "number":
            number = to_number(token.text)
            return lambda: number
        if token.kind != "name":
            raise ExpressionError(f"unexpected {token.text!r} in expression {self.expression!r}")
        following = self._peek()
        if following is not None and following.text == "(":
            return self._call(token.text)
        if token.text in ("true", "false"):
            flag = token.text == "true"
            return lambda: flag
        if token.text == "null":
            return lambda: None
        path = token.text
        return lambda: self.resolve(path)

    def _call(self, name: str) -> _Node:
        if name not in STATUS_FUNCTIONS:
            raise ExpressionError(f"unsupported function {name}() in expression {self.expression!r}")
        self._take("(")
        self._take(")")
        status = self.status
        if status is None:
            raise ExpressionError(f"{name}() is only allowed in an if: condition")
        self.used_status = True
        return lambda: status(name)


def _either(left: _Node, right: _Node) -> _Node:
    def node() -> Any:
        value = left()
        return value if truthy(value) else right()

    return node


def _both(left: _Node, right: _Node) -> _Node:
    def node() -> Any:
        value = left()
        return right() if truthy(value) else value

    return node


def truthy(value: Any) -> bool:
    """GitHub's truthiness: null, false, 0, NaN and '' are false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    """GitHub's number coercion: null -> 0, booleans -> 1/0, strings parsed (blank -> 0)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan  # objects and arrays are never equal to a primitive


def loose_equals(left: Any, right: Any) -> bool:
    """GitHub's ``==``: same types compare directly (strings ignoring case), others as numbers."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right) and not isinstance(left, (dict, list)):
        return bool(left == right)
    return to_number(left) == to_number(right)


def to_text(value: Any) -> str:
    """The string a value becomes inside ``${{ }}`` in a YAML string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise ExpressionError(f"cannot put {type(value).__name__} {value!r} in a string")


def evaluate(expression: str, resolve: Resolver, status: StatusCheck | None = None) -> Any:
    """Evaluate one expression (the text between ``${{`` and ``}}``)."""
    return _Parser(expression, resolve, status).parse()()


def render(template: Any, resolve: Resolver) -> str:
    """Substitute every ``${{ expr }}`` in a YAML scalar and return the text.

    A scalar that is only one expression keeps its value's text form (``true``, ``''`` ...);
    other scalars (numbers, booleans) become the strings the runner would pass on.
    """
    if isinstance(template, bool):
        return "true" if template else "false"
    if isinstance(template, (int, float)):
        return to_text(float(template))
    if not isinstance(template, str):
        raise ExpressionError(f"expected a string, got {type(template).__name__} {template!r}")
    if "${{" in _TEMPLATE.sub("", template):
        raise ExpressionError(f"unterminated ${{{{ in {template!r}")
    return _TEMPLATE.sub(lambda match: to_text(evaluate(match.group(1), resolve)), template)


def condition(text: Any, resolve: Resolver, status: StatusCheck) -> bool:
    """Evaluate a step or job ``if:``, with GitHub's implicit ``success() &&``.

    ``if:`` may be written with or without ``${{ }}``; when it calls no status function,
    it applies only if every earlier step succeeded.
    """
    if isinstance(text, bool):
        return text and status("success")
    if not isinstance(text, str):
        raise ExpressionError(f"if: must be a string, got {text!r}")
    stripped = text.strip()
    whole = _TEMPLATE.fullmatch(stripped)
    if whole is not None:
        stripped = whole.group(1)
    elif "${{" in stripped:
        raise ExpressionError(f"if: mixes text and ${{{{ }}}} in {text!r}")
    parser = _Parser(stripped, resolve, status)
    value = truthy(parser.parse()())
    if not parser.used_status:
        return value and status("success")
    return value
