"""Reports of a followed run: step outputs and the job summary for GitHub Actions, failure lines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline import github_actions
from pipeline.config import PipelineConfig
from pipeline.definition.names import Output
from pipeline.follow import STILL_RUNNING, RunResult
from pipeline.registry import SYNTHETIC_WARNING, TRAINING_JOB, ModelVersion, metric_label

# A failed SageMaker task's cause is its whole job description; enough to read, not a wall of JSON.
MAX_CAUSE = 4000


def run_outputs(result: RunResult, *, reused: bool = False) -> dict[str, str]:
    """The step outputs of ``run``: what deploy-verification, rollback and promotion steps read."""
    output = result.output or {}
    previous = output.get(Output.PREVIOUS_ENDPOINT) or {}
    release = output.get(Output.RELEASE) or {}
    return {
        "execution_arn": result.execution_arn,
        "status": result.status,
        "endpoint_name": str(output.get(Output.ENDPOINT, "")),
        "state_machine_version": result.version_arn or "",
        "previous_endpoint_config": str(previous.get(Output.ENDPOINT_CONFIG) or ""),
        "model_package_arn": str(output.get(Output.MODEL_PACKAGE) or release.get("ModelPackageArn") or ""),
        # trained, reused (a version trained on the same inputs) or registry (--model-package).
        "training": "reused" if reused else ("trained" if release.get("Source") == "trained" else "skipped"),
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


def write_outputs(result: RunResult, environ: Mapping[str, str] | None = None, *, reused: bool = False) -> None:
    """Write ``run_outputs`` to ``$GITHUB_OUTPUT`` (does nothing outside Actions)."""
    for name, value in run_outputs(result, reused=reused).items():
        github_actions.set_output(name, value, environ=environ)


def synthetic_notice(environment: str, data: str, what: str) -> str:
    """The job summary's first line when ``what`` (a model) was trained on synthetic or unknown data."""
    if data == "synthetic":
        return (
            f"> **Synthetic data**: {what} in {environment} was trained on generated Big Mart rows, not real sales. "
            "Set `training_data` to your `Train.csv` for a real model."
        )
    if data == "unknown":
        return f"> **Unknown data**: whether {what} in {environment} was trained on real data is not recorded."
    return ""


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


def report_run(
    config: PipelineConfig,
    result: RunResult,
    definition: dict[str, Any],
    title: str,
    timeout_seconds: float,
    data: str,
    why: str = "",
) -> int:
    """Print and publish a followed run (job summary, annotations); 0 when it succeeded, else 1.

    ``data`` is what the deployed model was trained on (synthetic, real, unknown), said first;
    ``why`` the training decision (trained, or skipped because the inputs were unchanged).
    """
    notice = synthetic_notice(config.environment, data, "the deployed model")
    summary = summary_markdown(result, definition, title, timeout_seconds)
    head = "\n\n".join(part for part in (notice, f"Training: {why}" if why else "") if part)
    github_actions.append_summary(f"{head}\n\n{summary}" if head else summary)
    if data == "synthetic":
        github_actions.warning("the deployed model was trained on synthetic data", title="synthetic data")
    if not result.succeeded:
        github_actions.error("\n".join(failure_lines(result, timeout_seconds)), title=f"pipeline run {result.status}")
        return 1
    output = result.output or {}
    endpoint = output.get(Output.ENDPOINT, config.endpoint.name)
    print(f"succeeded: endpoint {endpoint} serves {output.get(Output.ENDPOINT_CONFIG, '?')}")
    released = release_line(output)
    if released:
        print(released)
        github_actions.append_summary(f"Deployed: {released}\n")
    if data == "synthetic":
        print(f"data: the deployed model was {SYNTHETIC_WARNING}")
    return 0


def nothing_to_deploy(config: PipelineConfig, version: ModelVersion, why: str, run_id: str) -> int:
    """Report a run that started nothing: the endpoint already serves the version of these inputs."""
    line = (
        f"endpoint {config.endpoint.name} already serves model package version {version.version} "
        f"({version.status}; {metric_label(version)}, training job {version.metadata.get(TRAINING_JOB, '?')}, "
        f"commit {version.commit[:12] or '?'}): nothing deployed"
    )
    print(line)
    if version.data == "synthetic":
        print(f"data: the served model was {SYNTHETIC_WARNING}")
    outputs = {
        "execution_arn": "",
        "status": "UNCHANGED",
        "endpoint_name": config.endpoint.name,
        "state_machine_version": "",
        "previous_endpoint_config": "",
        "model_package_arn": version.arn,
        "training": "reused",
    }
    for name, value in outputs.items():
        github_actions.set_output(name, value)
    notice = synthetic_notice(config.environment, version.data, "the served model")
    body = f"### ✅ Pipeline run {run_id} ({config.environment}): nothing to do\n\nTraining: {why}\n\n{line}\n"
    github_actions.append_summary(f"{notice}\n\n{body}" if notice else body)
    if version.data == "synthetic":
        github_actions.warning("the served model was trained on synthetic data", title="synthetic data")
    return 0
