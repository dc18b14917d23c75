"""The package's layers point one way: the command line on top, nothing imports it, no cycles."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipeline"
# Command-line layers: the only modules allowed to import pipeline.cli.
CLI_LAYER = ("pipeline.cli", "pipeline.__main__")
# Imports by a name only known at run time, each a user-facing feature rather than wiring:
# the emulator server's --trainer/--model-host mod:attr hooks, and the moto-compatibility check,
# which resolves the moto internals it lists to say which ones changed.
IMPORT_BY_STRING_ALLOWED = {"pipeline.emulator.__main__", "pipeline.emulator.compat"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, ast.Module]:
    """Every module of ``pipeline`` by name, parsed once, when a test first asks (not at collection,
    which every test worker pays)."""
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def imports(tree: ast.Module, *, top_level_only: bool) -> set[str]:
    """Modules of ``pipeline`` that ``tree`` imports (``from pipeline import x`` counts as pipeline.x)."""
    found: set[str] = set()
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in modules()}


def in_cli_layer(name: str) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in CLI_LAYER)


def test_the_module_list_is_real() -> None:
    assert {"pipeline.cli", "pipeline.deploy", "pipeline.definition.builder"} <= set(modules())


def test_no_module_outside_the_command_line_imports_it() -> None:
    offenders = {
        name: sorted(target for target in imports(tree, top_level_only=False) if in_cli_layer(target))
        for name, tree in modules().items()
        if not in_cli_layer(name)
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_register_cli_lives_only_in_the_command_line() -> None:
    defined = {
        name
        for name, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name in ("register_cli", "register") and not in_cli_layer(name)
    }
    assert defined == set()


def test_no_import_by_string() -> None:
    users = {
        name
        for name, tree in modules().items()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "import_module")
        or (isinstance(node, ast.Name) and node.id == "__import__")
    }
    assert users <= IMPORT_BY_STRING_ALLOWED


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def package_parents(name: str) -> set[str]:
    """Importing a.b.c runs a and a.b first; those are not edges of the import graph we check."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


@pytest.mark.parametrize("top_level_only", [True, False], ids=["import-time", "including-function-level"])
def test_the_import_graph_has_no_cycle(top_level_only: bool) -> None:
    graph = {
        name: {target for target in imports(tree, top_level_only=top_level_only) if target != name}
        - package_parents(name)
        for name, tree in modules().items()
    }
    assert cycle(graph) is None


def test_cycle_finder_finds_one() -> None:
    assert cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
