"""A Mermaid flowchart of an ASL definition: every state, every transition, catches dashed."""

from __future__ import annotations

import re
from typing import Any

SHAPES = {
    "Task": ('["', '"]'),
    "Choice": ('{"', '"}'),
    "Wait": ('(["', '"])'),
    "Pass": ('["', '"]'),
    "Succeed": ('(("', '"))'),
    "Fail": ('(("', '"))'),
}


def to_mermaid(definition: dict[str, Any]) -> str:
    """Render the definition as a ``flowchart TD`` with one node per state."""
    ids = {name: f"s{index}" for index, name in enumerate(definition["States"])}
    lines = ["flowchart TD", '    start(("Start")) --> ' + ids[definition["StartAt"]]]
    for name, state in definition["States"].items():
        left, right = SHAPES.get(state["Type"], ('["', '"]'))
        lines.append(f"    {ids[name]}{left}{label(name)}{right}")
    for name, state in definition["States"].items():
        node = ids[name]
        if "Next" in state:
            lines.append(f"    {node} --> {ids[state['Next']]}")
        for choice in state.get("Choices", []):
            lines.append(f'    {node} -->|"{label(describe_rule(choice))}"| {ids[choice["Next"]]}')
        if "Default" in state:
            lines.append(f'    {node} -->|"otherwise"| {ids[state["Default"]]}')
        for catch in state.get("Catch", []):
            errors = ", ".join(catch["ErrorEquals"])
            lines.append(f'    {node} -.->|"{label(errors)}"| {ids[catch["Next"]]}')
        if state.get("End") or state["Type"] == "Succeed":
            lines.append(f'    {node} --> finish(("End"))')
    lines.append("    classDef failure fill:#fde2e1,stroke:#c0392b")
    failures = [ids[name] for name, state in definition["States"].items() if state["Type"] == "Fail"]
    if failures:
        lines.append(f"    class {','.join(failures)} failure")
    return "\n".join(lines) + "\n"


def describe_rule(rule: dict[str, Any]) -> str:
    """A short human description of a Choice rule."""
    alternatives = rule.get("Or", [])
    same_variable = len({r.get("Variable") for r in alternatives}) == 1
    if alternatives and same_variable and all(set(r) == {"Variable", "StringEquals"} for r in alternatives):
        variable = alternatives[0]["Variable"].split(".")[-1]
        return f"{variable} in " + ", ".join(r["StringEquals"] for r in alternatives)
    for combinator, joiner in (("And", " and "), ("Or", " or ")):
        if combinator in rule:
            return joiner.join(describe_rule(r) for r in rule[combinator])
    if "Not" in rule:
        return "not " + describe_rule(rule["Not"])
    variable = rule.get("Variable", "").split(".")[-1]
    for key, value in rule.items():
        if key in ("Variable", "Next"):
            continue
        if key.endswith("Path"):
            return f"{variable} = {str(value).split('.')[-1]}"
        if key == "IsPresent":
            return f"{variable} present" if value else f"{variable} absent"
        if key == "StringMatches":
            return f"{variable} ~ {value}"
        return f"{variable} = {value}"
    return variable


def label(text: str) -> str:
    """Escape text for a quoted Mermaid label."""
    return re.sub(r'["<>]', lambda m: {'"': "#quot;", "<": "#lt;", ">": "#gt;"}[m.group()], text)
