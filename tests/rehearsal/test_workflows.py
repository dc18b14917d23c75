"""Static checks of .github/workflows: the security and structure rules of issue 7.

They read the YAML (and, for pinning comments, the raw lines) so a regression is reported with
the file, job and step at fault; zizmor and the workflow JSON schema run here too, as in
pre-commit, so `pytest` alone catches them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.bootstrap import GITHUB_VARIABLES
from tests.rehearsal.runner import load_workflow, triggers

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.y*ml"))
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
LOCAL_WORKFLOW = re.compile(r"^\./\.github/workflows/[\w.-]+\.ya?ml$")


def workflow(name: str) -> dict[str, Any]:
    return load_workflow(WORKFLOWS / name)


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in FILES:
        for job_id, job in load_workflow(path)["jobs"].items():
            yield path.name, job_id, job


def steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, job_id, job in jobs():
        for step in job.get("steps", []):
            yield name, job_id, step


def test_both_workflows_exist() -> None:
    assert [path.name for path in FILES] == ["ci.yml", "deploy.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_top_level_permissions_are_empty(path: Path) -> None:
    assert load_workflow(path).get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_uses_is_pinned_to_a_full_sha_with_a_version_comment(path: Path) -> None:
    found = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = USES_LINE.match(line)
        if not match:
            continue
        found += 1
        ref = match.group("ref")
        if LOCAL_WORKFLOW.match(ref):
            # A reusable workflow of this repository runs at the caller's own commit.
            assert (ROOT / ref).is_file(), f"{path.name}:{number}: {ref} does not exist"
            continue
        assert PINNED.match(ref), f"{path.name}:{number}: {ref} is not pinned to a 40-hex commit SHA"
        assert VERSION_COMMENT.search(match.group("rest")), f"{path.name}:{number}: no '# vX.Y.Z' comment"
    assert found, f"{path.name}: no uses: lines found; the pattern is wrong"


def test_each_action_is_pinned_to_one_sha_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for _, _, step in steps():
        if "uses" in step:
            action, _, sha = step["uses"].partition("@")
            pins.setdefault(action, set()).add(sha)
    assert pins and all(len(shas) == 1 for shas in pins.values()), pins


def test_no_expression_inside_any_run_script() -> None:
    for name, job_id, step in steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{name} {job_id} {step.get('name')}: pass values through env:"


def test_no_privileged_triggers() -> None:
    for path in FILES:
        events = triggers(load_workflow(path))
        assert not {"pull_request_target", "workflow_run"} & set(events), f"{path.name}: {sorted(events)}"


def test_id_token_only_on_the_deploy_job_under_an_environment() -> None:
    granted = []
    for name, job_id, job in jobs():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{name} {job_id}: every job states its permissions"
        if permissions.get("id-token") == "write":
            granted.append((name, job_id))
    assert granted == [("deploy.yml", "deploy")]
    deploy = workflow("deploy.yml")["jobs"]["deploy"]
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    assert deploy["environment"], "protection rules live in the GitHub environment"


def test_only_read_permissions_besides_the_oidc_token() -> None:
    for name, job_id, job in jobs():
        for scope, level in job["permissions"].items():
            assert level == "read" or (scope, name, job_id) == ("id-token", "deploy.yml", "deploy"), (
                f"{name} {job_id}: {scope}: {level}"
            )


def test_deploy_concurrency_is_per_environment_and_never_cancels() -> None:
    deploy = workflow("deploy.yml")["jobs"]["deploy"]
    concurrency = deploy["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    # The group names the environment, exactly as the job does.
    assert deploy["environment"].strip("${} ") in concurrency["group"]


def test_every_job_with_steps_has_a_timeout() -> None:
    for name, job_id, job in jobs():
        if "uses" in job:
            # GitHub rejects timeout-minutes on a job that calls a reusable workflow; the
            # called workflow's jobs carry their own (checked here as ci.yml's jobs).
            assert "timeout-minutes" not in job
            continue
        assert isinstance(job.get("timeout-minutes"), int), f"{name} {job_id}: no timeout-minutes"


def test_checkout_never_persists_credentials() -> None:
    for name, job_id, step in steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name} {job_id}"


def test_ci_triggers_jobs_and_matrix() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(triggers(ci))
    assert set(ci["jobs"]) == {"lint", "test", "plan"}
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12"]
    setup = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip" and setup["with"]["cache-dependency-path"] == "setup.cfg"
    lint_runs = " ".join(s.get("run", "") for s in ci["jobs"]["lint"]["steps"])
    assert "pre-commit run --all-files" in lint_runs


def test_deploy_triggers_inputs_and_order() -> None:
    deploy = workflow("deploy.yml")
    events = triggers(deploy)
    assert events["push"] == {"branches": ["main"]}
    inputs = events["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "prod"]
    assert inputs["run-pipeline"]["type"] == "boolean"
    assert deploy["jobs"]["tests"]["uses"] == "./.github/workflows/ci.yml"
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "tests"
    runs = [s["run"] for s in job["steps"] if "run" in s]
    order = ["pip install", "pipeline doctor", "deploy --plan", "deploy --commit", "pipeline run", "pipeline smoke"]
    positions = [next(i for i, run in enumerate(runs) if text in run) for text in order]
    assert positions == sorted(positions), runs


def test_aws_settings_come_from_environment_variables_only() -> None:
    deploy = workflow("deploy.yml")["jobs"]["deploy"]
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8") + (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    assert not re.search(r"arn:aws|\b\d{12}\b|\b(?:us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text)
    used = set(re.findall(r"\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}", text))
    # Every variable the workflows read is one that `python -m pipeline bootstrap` prints.
    assert used <= {name for name, _ in GITHUB_VARIABLES}, used - {name for name, _ in GITHUB_VARIABLES}
    assert {"PIPELINE_DEPLOY_ROLE_ARN", "PIPELINE_BUCKET", "AWS_REGION"} <= used
    assert deploy["env"]["PIPELINE_DEPLOY_ROLE_ARN"] == "${{ vars.PIPELINE_DEPLOY_ROLE_ARN }}"


def test_the_deploy_job_caches_nothing() -> None:
    """A cache written by any branch must not be restored into the job holding AWS credentials."""
    for step in workflow("deploy.yml")["jobs"]["deploy"]["steps"]:
        assert "cache" not in step.get("with", {}), step
        assert not step.get("uses", "").startswith("actions/cache@")


@pytest.mark.parametrize("tool", ["zizmor", "check-jsonschema"])
def test_offline_linters_accept_the_workflows(tool: str) -> None:
    executable = shutil.which(tool) or str(Path(sys.executable).parent / tool)
    command = {
        "zizmor": [executable, "--offline", "--quiet", str(WORKFLOWS)],
        "check-jsonschema": [executable, "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
    }[tool]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if tool == "zizmor":
        assert "No findings to report" in done.stdout + done.stderr
