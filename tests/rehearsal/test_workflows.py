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
import yaml

from pipeline.bootstrap import GITHUB_VARIABLES
from tests.rehearsal import expressions as ex
from tests.rehearsal.runner import load_workflow, triggers

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.y*ml"))
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
LOCAL_WORKFLOW = re.compile(r"^\./\.github/workflows/[\w.-]+\.ya?ml$")
# The jobs that can mint AWS credentials: train in staging (deploy), promote to prod (promote).
CREDENTIALED = ("deploy", "promote")


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
    assert granted == [("deploy.yml", "deploy"), ("deploy.yml", "promote")]
    for job_id in CREDENTIALED:
        job = workflow("deploy.yml")["jobs"][job_id]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert job["environment"], "protection rules live in the GitHub environment"


def test_only_read_permissions_besides_the_oidc_token() -> None:
    for name, job_id, job in jobs():
        for scope, level in job["permissions"].items():
            assert level == "read" or ((scope, name) == ("id-token", "deploy.yml") and job_id in CREDENTIALED), (
                f"{name} {job_id}: {scope}: {level}"
            )


@pytest.mark.parametrize("job_id", CREDENTIALED)
def test_deploy_concurrency_is_per_environment_and_never_cancels(job_id: str) -> None:
    deploy = workflow("deploy.yml")["jobs"][job_id]
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
    # Once per change: pull requests, and main through deploy.yml. A push trigger beside
    # pull_request would run everything twice for each push to a pull request's branch.
    assert set(triggers(ci)) == {"pull_request", "workflow_call"}
    assert set(ci["jobs"]) == {"lint", "test", "plan"}
    test = ci["jobs"]["test"]
    assert test["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12"]
    setup = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["cache"] == "pip" and setup["with"]["cache-dependency-path"] == "requirements/dev.txt"
    lint_runs = " ".join(s.get("run", "") for s in ci["jobs"]["lint"]["steps"])
    assert "pre-commit run --all-files" in lint_runs


def test_ci_installs_only_through_the_hashed_locks() -> None:
    """The README's setup command in every job: pip --require-hashes from requirements/*.txt."""
    installs = {}
    for job_id, job in workflow("ci.yml")["jobs"].items():
        runs = [s["run"] for s in job["steps"] if "run" in s]
        installs[job_id] = [run for run in runs if "setup-env.sh" in run]
        assert not [run for run in runs if "pip install" in run], f"{job_id}: installs outside the lock"
    assert installs == {
        "lint": ["scripts/setup-env.sh"],
        "test": ["scripts/setup-env.sh"],
        "plan": ["scripts/setup-env.sh --runtime"],
    }


def test_ci_fails_when_the_lock_is_stale() -> None:
    runs = [s.get("run", "") for s in workflow("ci.yml")["jobs"]["lint"]["steps"]]
    assert ".venv/bin/python -m pipeline.lockfile check --resolve" in runs


def ci_concurrency(event_name: str, pr_number: int | None, run_id: str) -> tuple[str, bool]:
    context = {
        "github.event_name": event_name,
        # Expression numbers are floats; absent outside pull requests.
        "github.event.pull_request.number": None if pr_number is None else float(pr_number),
        "github.run_id": run_id,
    }
    concurrency = workflow("ci.yml")["concurrency"]
    group = ex.render(concurrency["group"], context.__getitem__)
    cancel = ex.evaluate(concurrency["cancel-in-progress"].strip("${} "), context.__getitem__)
    return group, cancel is True


def test_ci_concurrency_cancels_superseded_pull_request_runs_only() -> None:
    first, cancel = ci_concurrency("pull_request", 12, "1001")
    second, _ = ci_concurrency("pull_request", 12, "1002")
    other, _ = ci_concurrency("pull_request", 13, "1003")
    assert cancel and first == second != other
    # On main (deploy.yml reuses ci.yml: the caller's push event) every run has its own group,
    # so none is cancelled, and none waits pending where a third run could cancel it.
    main_a, cancel_main = ci_concurrency("push", None, "2001")
    main_b, _ = ci_concurrency("push", None, "2002")
    dispatch, cancel_dispatch = ci_concurrency("workflow_dispatch", None, "2003")
    assert not cancel_main and not cancel_dispatch
    assert len({main_a, main_b, dispatch, first}) == 4


def test_deploy_triggers_inputs_and_order() -> None:
    deploy = workflow("deploy.yml")
    events = triggers(deploy)
    assert events["push"] == {"branches": ["main"]}
    inputs = events["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["staging", "prod"]
    assert inputs["action"]["options"] == ["train", "promote", "state-machine"]
    assert inputs["version"]["type"] == "string" and inputs["version"]["default"] == ""
    assert deploy["jobs"]["tests"]["uses"] == "./.github/workflows/ci.yml"
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == ["tests", "wheels"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    order = ["refs/heads/main", "wheelhouse verify", "wheelhouse install", "pipeline doctor", "deploy --plan"]
    order += ["deploy --commit", "pipeline run", "pipeline smoke"]
    positions = [next(i for i, run in enumerate(runs) if text in run) for text in order]
    assert positions == sorted(positions), runs
    # The promote job: after staging, in prod, with the version staging approved; no training.
    promote = deploy["jobs"]["promote"]
    assert promote["needs"] == ["tests", "wheels", "deploy"]
    assert promote["environment"] == "${{ inputs.environment || 'prod' }}"
    assert job["outputs"] == {"approved-version": "${{ steps.smoke.outputs.approved_model_package_arn }}"}
    assert "needs.deploy.outputs.approved-version" in promote["env"]["PROMOTE_VERSION"]
    runs = [s["run"] for s in promote["steps"] if "run" in s]
    order = ["refs/heads/main", "wheelhouse verify", "wheelhouse install", "pipeline doctor", "deploy --commit"]
    order += ["pipeline promote --to"]
    positions = [next(i for i, run in enumerate(runs) if text in run) for text in order]
    assert positions == sorted(positions), runs
    assert not [run for run in runs if "pipeline run" in run or "--upload-data" in run]


def ref_guard_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if 'if [ "$REF" != "refs/heads/main" ]' in s.get("run", "")]


@pytest.mark.parametrize("job_id", ["wheels", *CREDENTIALED])
def test_deploy_jobs_refuse_any_ref_but_main_first(job_id: str) -> None:
    job = workflow("deploy.yml")["jobs"][job_id]
    (guard,) = ref_guard_steps(job)
    assert job["steps"][0] is guard, "the ref guard runs before anything is checked out or installed"
    assert guard["env"] == {"REF": "${{ github.ref }}"}
    assert "exit 1" in guard["run"] and "::error" in guard["run"]


def test_deploy_job_runs_only_for_main() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    assert jobs["deploy"]["if"].startswith("github.ref == 'refs/heads/main' && ")
    assert "github.ref == 'refs/heads/main'" in jobs["promote"]["if"]


@pytest.mark.parametrize("job_id", CREDENTIALED)
def test_the_credentialed_job_installs_only_verified_prebuilt_wheels(job_id: str) -> None:
    jobs = workflow("deploy.yml")["jobs"]
    wheels, deploy = jobs["wheels"], jobs[job_id]
    # The wheels job builds (install-time code runs there) and can mint no token.
    assert wheels["permissions"] == {"contents": "read"} and "environment" not in wheels
    assert wheels["outputs"] == {"manifest-sha256": "${{ steps.build.outputs.manifest-sha256 }}"}
    build_runs = " ".join(s.get("run", "") for s in wheels["steps"])
    assert "pip install --require-hashes --no-deps -r requirements/build.txt" in build_runs
    assert "python -m pipeline.wheelhouse build" in build_runs
    upload = next(s for s in wheels["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    download = next(s for s in deploy["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert upload["with"]["name"] == download["with"]["name"] == "deploy-wheels"
    # The deploy job installs nothing but the wheelhouse, checked against the published digest.
    runs = [s for s in deploy["steps"] if "run" in s]
    assert not [s["name"] for s in runs if "pip install" in s["run"] or "setup-env" in s["run"]]
    for verb in ("verify", "install"):
        (step,) = [s for s in runs if f"python -m pipeline.wheelhouse {verb} " in s["run"]]
        assert '--manifest-sha256 "$MANIFEST_SHA256"' in step["run"]
        assert step["env"] == {"MANIFEST_SHA256": "${{ needs.wheels.outputs.manifest-sha256 }}"}


def test_no_workflow_allows_a_local_sts_endpoint() -> None:
    """The loopback STS allowance is the offline rehearsal's alone."""
    from pipeline.aws import ALLOW_LOCAL_STS

    for path in FILES:
        assert ALLOW_LOCAL_STS not in path.read_text(encoding="utf-8"), path.name


def test_aws_settings_come_from_environment_variables_only() -> None:
    deploy = workflow("deploy.yml")["jobs"]["deploy"]
    text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8") + (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    assert not re.search(r"arn:aws|\b\d{12}\b|\b(?:us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text)
    used = set(re.findall(r"\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}", text))
    # Every variable the workflows read is one that `python -m pipeline bootstrap` prints.
    assert used <= {name for name, _ in GITHUB_VARIABLES}, used - {name for name, _ in GITHUB_VARIABLES}
    assert {"PIPELINE_DEPLOY_ROLE_ARN", "PIPELINE_BUCKET", "AWS_REGION"} <= used
    assert deploy["env"]["PIPELINE_DEPLOY_ROLE_ARN"] == "${{ vars.PIPELINE_DEPLOY_ROLE_ARN }}"


@pytest.mark.parametrize("job_id", ["wheels", *CREDENTIALED])
def test_the_deploy_jobs_cache_nothing(job_id: str) -> None:
    """A cache written by any branch must not be restored into the wheels or the credentialed job."""
    for step in workflow("deploy.yml")["jobs"][job_id]["steps"]:
        assert "cache" not in step.get("with", {}), step
        assert not step.get("uses", "").startswith("actions/cache@")


def test_the_wheels_are_built_for_the_deploy_jobs_python() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    versions = {
        job_id: next(s for s in jobs[job_id]["steps"] if s.get("uses", "").startswith("actions/setup-python@"))["with"][
            "python-version"
        ]
        for job_id in ("wheels", *CREDENTIALED)
    }
    assert versions["wheels"] == versions["deploy"] == versions["promote"]


def test_dependabot_updates_the_actions_and_the_locks() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    assert ecosystems["github-actions"]["directory"] == "/"
    assert ecosystems["pip"]["directory"] == "/"
    ignored = {item["dependency-name"] for item in ecosystems["pip"].get("ignore", [])}
    # Pinned on purpose: moto's internals, the xgboost of the SageMaker image.
    assert {"moto", "xgboost"} <= ignored


@pytest.mark.parametrize("tool", ["zizmor", "check-jsonschema", "check-jsonschema-dependabot"])
def test_offline_linters_accept_the_workflows(tool: str) -> None:
    name = tool.removesuffix("-dependabot")
    executable = shutil.which(name) or str(Path(sys.executable).parent / name)
    command = {
        "zizmor": [executable, "--offline", "--quiet", str(WORKFLOWS)],
        "check-jsonschema": [executable, "--builtin-schema", "vendor.github-workflows", *map(str, FILES)],
        "check-jsonschema-dependabot": [
            executable,
            "--builtin-schema",
            "vendor.dependabot",
            str(ROOT / ".github" / "dependabot.yml"),
        ],
    }[tool]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    if tool == "zizmor":
        assert "No findings to report" in done.stdout + done.stderr
