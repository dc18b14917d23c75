"""Reports of a followed run: step outputs and the job summary for GitHub Actions, failure lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline import github_actions
from pipeline.definition.names import Output
from pipeline.follow import STILL_RUNNING, RunResult

# A failed SageMaker task's cause is its whole job description; enough to read, not a wall of JSON.
MAX_CAUSE = 4000


def run_outputs(result: RunResult) -> dict[str, str]:
    """The step outputs of ``run``: what deploy-verification and rollback steps read."""
    output = result.output or {}
    previous = output.get(Output.PREVIOUS_ENDPOINT) or {}
    return {
        "execution_arn": result.execution_arn,
        "status": result.status,
        "endpoint_name": str(output.get(Output.ENDPOINT, "")),
        "state_machine_version": result.version_arn or "",
        "previous_endpoint_config": str(previous.get(Output.ENDPOINT_CONFIG) or ""),
    }


def release_line(output: Mapping[str, Any]) -> str:
    """What the run deployed, in one line: version, where it came from, training job, commit, metric."""
    release = output.get(Output.RELEASE) or {}
    if not release:
        return ""
    how = "trained and registered by this run" if release.get("Source") == "trained" else "deployed from the registry"
    return (
        f"model package version {release.get('Version', '?')} ({how}; {release.get('ApprovalStatus', '?')}): "
        f"training job {release.get('TrainingJob', '?')}, commit {str(release.get('Commit', '?'))[:12]}, "
        f"validation:rmse {release.get('ValidationRmse', '?')}"
    )


def write_outputs(result: RunResult, environ: Mapping[str, str] | None = None) -> None:
    """Write ``run_outputs`` to ``$GITHUB_OUTPUT`` (does nothing outside Actions)."""
    for name, value in run_outputs(result).items():
        github_actions.set_output(name, value, environ=environ)


def shorten(text: str, limit: int = MAX_CAUSE) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def failure_lines(result: RunResult, timeout_seconds: float) -> list[str]:
    """What went wrong, one fact per line; empty when the execution succeeded."""
    if result.succeeded:
        return []
    if result.status == STILL_RUNNING:
        return [
            f"execution {result.execution_arn} still RUNNING after the {timeout_seconds:g}s timeout; "
            "it was not stopped: rerun this job to attach to it again"
        ]
    stage = f"stage {result.failed_stage!r}" if result.failed_stage else "no stage (before the first one)"
    return [
        f"execution {result.status}: {stage}",
        f"error: {result.error or 'none given'}",
        f"cause: {shorten(result.cause or 'none given')}",
    ]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_markdown(result: RunResult, definition: dict[str, Any], title: str, timeout_seconds: float = 0) -> str:
    """A job summary: status, a table of stages with durations, failure details, the diagram."""
    from pipeline.definition import to_mermaid

    icon = {"SUCCEEDED": "✅", STILL_RUNNING: "⏳"}.get(result.status, "❌")
    lines = [f"### {icon} {title}: {result.status}", "", f"Execution: `{result.execution_arn}`"]
    if result.version_arn:
        lines.append(f"State machine version: `{result.version_arn}`")
    lines += ["", "| Stage | Status | Entries | Started | Duration |", "|---|---|---:|---|---:|"]
    for stage in result.stages:
        began = stage.started.strftime("%H:%M:%S")
        took = "running" if stage.seconds is None else f"{stage.seconds:.1f} s"
        lines.append(f"| {_cell(stage.name)} | {stage.status} | {stage.entries} | {began} | {took} |")
    problems = failure_lines(result, timeout_seconds)
    if problems:
        lines += ["", *(f"- {_cell(line)}" for line in problems)]
    lines += ["", "<details><summary>State machine</summary>", "", "```mermaid", to_mermaid(definition).rstrip()]
    lines += ["```", "", "</details>", ""]
    return "\n".join(lines)
