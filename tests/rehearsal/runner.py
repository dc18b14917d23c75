"""Run one job of a GitHub Actions workflow on this machine, the way a GitHub runner would.

``run_job(JobSpec(...))`` reads the workflow YAML and executes the job's steps in order:

* ``run:`` steps with GitHub's default shell, ``bash --noprofile --norc -eo pipefail {0}``, in
  the job's workspace, with the environment GitHub gives them (``GITHUB_*``, ``RUNNER_*``,
  ``CI``, the workflow/job/step ``env:`` blocks evaluated, lines written to ``GITHUB_ENV`` and
  ``GITHUB_PATH`` applied to later steps, a fresh ``GITHUB_OUTPUT``/``GITHUB_STEP_SUMMARY`` per
  step) and, when the job's permissions grant ``id-token: write``, an OIDC token endpoint
  (``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN``) served by tests.rehearsal.token_server;
* ``uses:`` steps by a stand-in for each action it knows (``actions/checkout`` clones the
  source repository at the job's SHA, ``actions/setup-python`` puts this interpreter first
  on PATH); any other action, or an action not pinned to a full commit SHA, fails the job;
* ``${{ }}`` expressions in ``env:``, ``with:``, ``if:``, ``name:``, ``environment:`` and
  ``concurrency:`` through tests.rehearsal.expressions, which fails on anything it does not
  understand; each place may only use the contexts GitHub makes available there.

Workflow keys the runner does not implement (``strategy``, ``container``, ``services``,
``defaults``, a ``shell`` other than bash ...) make it refuse the job rather than run it
differently from GitHub. A step whose ``run:`` contains ``${{`` is refused too: expressions
must reach scripts through ``env:`` (script injection).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.rehearsal import expressions as ex
from tests.rehearsal.commands import CommandFileError, parse_command_file, parse_path_file
from tests.rehearsal.token_server import FakeTokenServer, job_claims

DEFAULT_SHELL = ("bash", "--noprofile", "--norc", "-eo", "pipefail")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
STEP_KEYS = frozenset(
    {"name", "id", "if", "uses", "with", "run", "env", "shell", "working-directory", "timeout-minutes"}
)
JOB_KEYS = frozenset(
    {
        "name",
        "needs",
        "runs-on",
        "timeout-minutes",
        "environment",
        "concurrency",
        "permissions",
        "env",
        "steps",
        "if",
        "outputs",
    }
)
WORKFLOW_KEYS = frozenset({"name", "on", "permissions", "env", "jobs", "concurrency", "run-name"})
# GitHub's default job timeout is 360 minutes.
DEFAULT_TIMEOUT_MINUTES = 360

# Where GitHub makes each context available (docs: "Context availability"), restricted to the
# contexts this runner provides.
WORKFLOW_ENV_CONTEXTS = frozenset({"github", "inputs", "vars"})
JOB_CONTEXTS = frozenset({"github", "inputs", "vars", "needs"})
STEP_CONTEXTS = frozenset({"github", "inputs", "vars", "env", "steps", "needs", "runner"})


class RunnerError(Exception):
    """The workflow uses something the runner does not implement, or is invalid for GitHub."""


@dataclass(frozen=True)
class Substitute:
    """A command run instead of one exact ``run:`` script, with the reason it must be replaced."""

    script: str
    reason: str


@dataclass
class JobSpec:
    """Everything about one run of one job: the workflow, the event, the machine."""

    workflow: str  # path inside the repository, e.g. ".github/workflows/deploy.yml"
    job: str
    source_repo: Path  # the git repository actions/checkout clones
    sha: str
    workdir: Path  # an empty scratch directory: workspace, temp, home
    event_name: str = "push"
    ref: str = "refs/heads/main"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    repository: str = "acme/big-mart"
    run_id: str = "1000001"
    run_number: str = "1"
    run_attempt: str = "1"
    actor: str = "rehearsal"
    repository_vars: Mapping[str, str] = field(default_factory=dict)
    environment_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    machine_env: Mapping[str, str] = field(default_factory=dict)  # e.g. AWS_ENDPOINT_URL
    path: str = "/usr/local/bin:/usr/bin:/bin"
    token_server: FakeTokenServer | None = None
    substitutes: Mapping[str, Substitute] = field(default_factory=dict)
    # What the jobs this one needs produced: their outputs, and the artifacts they uploaded
    # (name -> a directory actions/download-artifact copies from).
    needs_outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # needs.<job>.result of the jobs this one needs (default: success).
    needs_results: Mapping[str, str] = field(default_factory=dict)
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    stream: Callable[[str], None] | None = None  # live log lines, e.g. print
    # Caps the job's timeout-minutes: a hung step fails the rehearsal in minutes, not hours.
    max_minutes: float | None = None


@dataclass
class StepResult:
    """What one step did; ``outcome`` is success, failure or skipped."""

    name: str
    id: str | None
    outcome: str
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    log: str = ""
    seconds: float = 0.0


@dataclass
class JobResult:
    """The job's steps, its conclusion, the evaluated environment and concurrency group."""

    conclusion: str
    steps: list[StepResult]
    environment: str | None
    concurrency_group: str | None
    workspace: Path
    # The job's outputs: its outputs: block evaluated after the steps (empty when skipped).
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The job summary: every step's GITHUB_STEP_SUMMARY, in order."""
        return "".join(step.summary for step in self.steps)

    @property
    def log(self) -> str:
        """Every step's output, each under a ``##[group]`` header like GitHub's log."""
        return "".join(f"##[group]{step.name} ({step.outcome})\n{step.log}\n" for step in self.steps)

    def step(self, key: str) -> StepResult:
        """The step with this id (or, failing that, this name)."""
        for step in self.steps:
            if step.id == key:
                return step
        for step in self.steps:
            if step.name == key:
                return step
        raise KeyError(f"no step {key!r}; steps: {[s.id or s.name for s in self.steps]}")


# --- the workflow file -------------------------------------------------------------------


def load_workflow(path: Path) -> dict[str, Any]:
    """Parse a workflow; ``on`` stays ``on`` (PyYAML's YAML 1.1 reads a bare ``on`` as True)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RunnerError(f"{path}: not a workflow (top level is not a mapping)")
    if True in data:
        data["on"] = data.pop(True)
    return data


def triggers(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The ``on:`` block as ``{event: config or None}``."""
    on = workflow.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    if isinstance(on, dict):
        return dict(on)
    raise RunnerError(f"unsupported on: {on!r}")


def dispatch_inputs(workflow: Mapping[str, Any], event_name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The ``inputs`` context: workflow_dispatch inputs typed and defaulted, empty for other events."""
    declared = (triggers(workflow).get("workflow_dispatch") or {}).get("inputs") or {}
    if event_name != "workflow_dispatch":
        if given:
            raise RunnerError(f"inputs were given but the event is {event_name}")
        return {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise RunnerError(f"workflow_dispatch has no input(s) {unknown}; declared: {sorted(declared)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        kind = spec.get("type", "string")
        value = given.get(name, spec.get("default"))
        if value is None and spec.get("required"):
            raise RunnerError(f"input {name!r} is required")
        if kind == "boolean":
            if not isinstance(value, bool):
                raise RunnerError(f"input {name!r} is a boolean, got {value!r}")
        elif kind == "choice":
            if value not in spec.get("options", []):
                raise RunnerError(f"input {name!r} must be one of {spec.get('options')}, got {value!r}")
        elif kind in ("string", "environment"):
            value = "" if value is None else str(value)
        else:
            raise RunnerError(f"input {name!r} has a type the runner does not implement: {kind!r}")
        values[name] = value
    return values


def step_ids(steps: list[Mapping[str, Any]]) -> list[str]:
    """The ids of a job's steps, checked the way GitHub checks them (unique, well-formed)."""
    ids: list[str] = []
    for step in steps:
        step_id = step.get("id")
        if step_id is None:
            continue
        if not isinstance(step_id, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", step_id):
            raise RunnerError(f"invalid step id {step_id!r}")
        if step_id in ids:
            raise RunnerError(f"duplicate step id {step_id!r}")
        ids.append(step_id)
    return ids


def id_token_granted(workflow: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Whether the job may request an OIDC token (job permissions replace the workflow's)."""
    permissions = job.get("permissions", workflow.get("permissions"))
    if permissions == "write-all":
        return True
    return isinstance(permissions, Mapping) and permissions.get("id-token") == "write"


# --- uses: stand-ins ---------------------------------------------------------------------


@dataclass
class StepContext:
    """What a stand-in may touch: the workspace, the job spec, and the job's PATH/env updates."""

    spec: JobSpec
    workspace: Path
    log: list[str]
    path_prepend: list[str]
    env_updates: dict[str, str]


StandIn = Callable[[StepContext, Mapping[str, str]], None]


def _checkout(ctx: StepContext, inputs: Mapping[str, str]) -> None:
    """actions/checkout: a clone of the source repository at the job's SHA, no credentials kept."""
    if ctx.workspace.exists() and any(ctx.workspace.iterdir()):
        raise RunnerError(f"the workspace {ctx.workspace} is not empty before checkout")
    fetch_depth = inputs.get("fetch-depth", "1")
    if not fetch_depth.isdigit():
        raise RunnerError(f"actions/checkout: fetch-depth must be a number, got {fetch_depth!r}")
    for command in (
        ["git", "clone", "--quiet", "--no-checkout", str(ctx.spec.source_repo), str(ctx.workspace)],
        ["git", "-C", str(ctx.workspace), "checkout", "--quiet", "--detach", ctx.spec.sha],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RunnerError(f"actions/checkout stand-in: {' '.join(command)} failed: {done.stderr.strip()}")
    ctx.log.append(f"checked out {ctx.spec.sha} of {ctx.spec.source_repo} into {ctx.workspace}")


def _setup_python(ctx: StepContext, inputs: Mapping[str, str]) -> None:
    """actions/setup-python: this interpreter's bin directory first on PATH.

    Like the action, ``cache: pip`` fails when ``cache-dependency-path`` matches no file.
    """
    wanted = inputs.get("python-version", "")
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted and wanted != have:
        # One interpreter stands in for every version; say so instead of pretending.
        ctx.log.append(f"note: python-version {wanted} requested, rehearsing with {have}")
    cache = inputs.get("cache", "")
    if cache not in ("", "pip"):
        raise RunnerError(f"actions/setup-python stand-in: cache {cache!r} is not implemented")
    if cache:
        pattern = inputs.get("cache-dependency-path", "requirements.txt")
        if not list(ctx.workspace.glob(pattern)):
            raise RunnerError(f"actions/setup-python: no file in {ctx.workspace} matched {pattern!r}")
    bin_dir = str(Path(sys.executable).parent)
    ctx.path_prepend.append(bin_dir)
    ctx.env_updates["pythonLocation"] = sys.prefix
    ctx.log.append(f"using {sys.executable} ({sys.version.split()[0]})")


def _download_artifact(ctx: StepContext, inputs: Mapping[str, str]) -> None:
    """actions/download-artifact: one named artifact of this run, copied into ``path``."""
    name = inputs.get("name", "")
    if not name:
        raise RunnerError("actions/download-artifact stand-in: only a named artifact is implemented")
    if name not in ctx.spec.artifacts:
        raise RunnerError(f"actions/download-artifact: no artifact {name!r} was uploaded in this run")
    target = Path(inputs.get("path") or ".")
    target = target if target.is_absolute() else ctx.workspace / target
    shutil.copytree(ctx.spec.artifacts[name], target, dirs_exist_ok=True)
    ctx.log.append(f"downloaded artifact {name!r} into {target}")


STAND_INS: dict[str, tuple[frozenset[str], StandIn]] = {
    "actions/download-artifact": (frozenset({"name", "path"}), _download_artifact),
    "actions/checkout": (frozenset({"persist-credentials", "fetch-depth"}), _checkout),
    "actions/setup-python": (frozenset({"python-version", "cache", "cache-dependency-path"}), _setup_python),
}


def parse_uses(uses: str) -> tuple[str, str]:
    """``owner/repo@sha`` -> (``owner/repo``, sha); anything not pinned to a full SHA fails."""
    if uses.startswith(("./", "$/", "docker://")):
        raise RunnerError(f"uses: {uses!r}: local and docker actions are not implemented")
    action, _, ref = uses.partition("@")
    if not FULL_SHA.fullmatch(ref):
        raise RunnerError(f"uses: {uses!r} is not pinned to a full 40-character commit SHA")
    return action, ref


# --- running a job -----------------------------------------------------------------------


class _Job:
    def __init__(self, spec: JobSpec):
        self.spec = spec
        self.workflow = load_workflow(spec.source_repo / spec.workflow)
        self.unknown(self.workflow, WORKFLOW_KEYS, "workflow")
        if spec.event_name not in triggers(self.workflow):
            raise RunnerError(f"{spec.workflow} does not run on {spec.event_name}")
        jobs = self.workflow.get("jobs") or {}
        if spec.job not in jobs:
            raise RunnerError(f"{spec.workflow} has no job {spec.job!r}; jobs: {sorted(jobs)}")
        self.job = jobs[spec.job]
        self.unknown(self.job, JOB_KEYS, f"job {spec.job}")
        needs = self.job.get("needs", [])
        for need in [needs] if isinstance(needs, str) else needs:
            if need not in jobs:
                raise RunnerError(f"job {spec.job} needs {need!r}, which does not exist")
        self.steps: list[dict[str, Any]] = list(self.job.get("steps") or [])
        self.ids = step_ids(self.steps)
        self.inputs = dispatch_inputs(self.workflow, spec.event_name, spec.inputs)
        self.workdir = spec.workdir
        self.workspace = spec.workdir / "workspace"
        self.temp = spec.workdir / "runner-temp"
        self.home = spec.workdir / "home"
        for directory in (self.workspace, self.temp, self.home):
            directory.mkdir(parents=True, exist_ok=True)
        self.github = {
            "sha": spec.sha,
            "ref": spec.ref,
            "ref_name": spec.ref.rpartition("/")[2],
            "event_name": spec.event_name,
            "repository": spec.repository,
            "repository_owner": spec.repository.split("/")[0],
            "run_id": spec.run_id,
            "run_number": spec.run_number,
            "run_attempt": spec.run_attempt,
            "workflow": str(self.workflow.get("name") or spec.workflow),
            "job": spec.job,
            "actor": spec.actor,
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "workspace": str(self.workspace),
        }
        self.vars: dict[str, str] = dict(spec.repository_vars)
        # job_env: workflow + job env:, then GITHUB_ENV lines, for the rest of the job.
        # env_ctx: what ${{ env.X }} sees right now (job_env plus the current step's env:).
        self.job_env: dict[str, str] = {}
        self.env_ctx: dict[str, str] = {}
        self.step_results: dict[str, StepResult] = {}
        self.results: list[StepResult] = []
        self.path_prepend: list[str] = []
        self.masks: set[str] = set()

    @staticmethod
    def unknown(block: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        extra = sorted(set(block) - known)
        if extra:
            raise RunnerError(f"{where}: the runner does not implement {extra}")

    # expressions ---------------------------------------------------------------------

    def resolver(self, allowed: frozenset[str]) -> ex.Resolver:
        def resolve(path: str) -> Any:
            root, *rest = path.split(".")
            if root not in allowed:
                raise ex.ExpressionError(
                    f"context {root!r} ({path}) is not available here (available: {sorted(allowed)})"
                )
            if root == "steps":
                return self.steps_value(path, rest)
            if root == "needs":
                return self.needs_value(path, rest)
            if len(rest) != 1:
                raise ex.ExpressionError(f"unsupported property path {path!r}")
            name = rest[0]
            if root == "github":
                if name not in self.github:
                    raise ex.ExpressionError(f"github.{name} is not provided by the runner")
                return self.github[name]
            if root == "inputs":
                declared = (triggers(self.workflow).get("workflow_dispatch") or {}).get("inputs") or {}
                if name not in declared:
                    raise ex.ExpressionError(f"inputs.{name} is not a declared input")
                return self.inputs.get(name)  # null on other events, as on GitHub
            if root == "vars":
                # Strict: an unset variable is '' on GitHub, which would hide a typo here.
                if name not in self.vars:
                    raise ex.ExpressionError(f"vars.{name} is not set (set: {sorted(self.vars)})")
                return self.vars[name]
            if root == "runner":
                runner = {"temp": str(self.temp), "os": "Linux", "arch": "X64", "name": "rehearsal"}
                if name not in runner:
                    raise ex.ExpressionError(f"runner.{name} is not provided by the runner")
                return runner[name]
            if root == "env":
                if name not in self.env_ctx:
                    raise ex.ExpressionError(f"env.{name} is not defined by the workflow")
                return self.env_ctx[name]
            raise ex.ExpressionError(f"unknown context {root!r}")

        return resolve

    def needs_value(self, path: str, rest: list[str]) -> Any:
        """``needs.<job>.outputs.<name>``: strict about the job being needed and the output declared."""
        needs = self.job.get("needs", [])
        needed = [needs] if isinstance(needs, str) else list(needs)
        if len(rest) == 2 and rest[1] == "result":
            if rest[0] not in needed:
                raise ex.ExpressionError(f"{path!r}: job {self.spec.job} does not need {rest[0]!r}")
            return self.spec.needs_results.get(rest[0], "success")
        if len(rest) != 3 or rest[1] != "outputs":
            raise ex.ExpressionError(f"unsupported property path {path!r}")
        job, _, name = rest
        if job not in needed:
            raise ex.ExpressionError(f"{path!r}: job {self.spec.job} does not need {job!r}")
        declared = (self.workflow["jobs"][job].get("outputs") or {}).keys()
        if name not in declared:
            raise ex.ExpressionError(f"{path!r}: job {job} declares no output {name!r}")
        produced = self.spec.needs_outputs.get(job, {})
        if name not in produced:
            raise ex.ExpressionError(f"{path!r}: the rehearsal was given no value for it")
        return produced[name]

    def steps_value(self, path: str, rest: list[str]) -> Any:
        if not rest or rest[0] not in self.ids:
            raise ex.ExpressionError(f"{path!r}: no step with that id in job {self.spec.job}")
        result = self.step_results.get(rest[0])
        if len(rest) == 3 and rest[1] == "outputs":
            return None if result is None else result.outputs.get(rest[2])
        if len(rest) == 2 and rest[1] in ("outcome", "conclusion"):
            return None if result is None else result.outcome
        raise ex.ExpressionError(f"unsupported property path {path!r}")

    def render_env(self, block: Any, allowed: frozenset[str], where: str) -> dict[str, str]:
        if block is None:
            return {}
        if not isinstance(block, Mapping):
            raise RunnerError(f"{where}: env must be a mapping")
        resolve = self.resolver(allowed)
        try:
            return {str(key): ex.render(value, resolve) for key, value in block.items()}
        except ex.ExpressionError as err:
            raise RunnerError(f"{where}: {err}") from err

    def status(self, name: str) -> bool:
        failed = any(result.outcome == "failure" for result in self.results)
        return {"success": not failed, "failure": failed, "always": True, "cancelled": False}[name]

    # the job -------------------------------------------------------------------------

    def run(self) -> JobResult:
        spec = self.spec
        job_resolve = self.resolver(JOB_CONTEXTS)
        environment = self.job.get("environment")
        if isinstance(environment, Mapping):
            environment = environment.get("name")
        environment_name = None if environment is None else ex.render(environment, job_resolve)
        if environment_name is not None:
            if environment_name not in spec.environment_vars:
                raise RunnerError(f"GitHub environment {environment_name!r} is not configured for the rehearsal")
            self.vars.update(spec.environment_vars[environment_name])
        concurrency = self.job.get("concurrency")
        group = None
        if isinstance(concurrency, Mapping):
            group = ex.render(concurrency.get("group", ""), job_resolve)
        elif concurrency is not None:
            group = ex.render(concurrency, job_resolve)
        if "if" in self.job and not ex.condition(self.job["if"], job_resolve, self.status):
            return JobResult("skipped", [], environment_name, group, self.workspace)

        self.job_env = self.render_env(self.workflow.get("env"), WORKFLOW_ENV_CONTEXTS, "workflow env")
        self.job_env.update(self.render_env(self.job.get("env"), JOB_CONTEXTS, f"job {spec.job} env"))

        machine = {
            "PATH": spec.path,
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.temp),
            **spec.machine_env,
        }
        event_path = self.temp / "event.json"
        event_path.write_text(json.dumps(self.event_payload()), encoding="utf-8")
        defaults = {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": spec.sha,
            "GITHUB_REF": spec.ref,
            "GITHUB_REF_NAME": self.github["ref_name"],
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_EVENT_NAME": spec.event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": spec.repository,
            "GITHUB_REPOSITORY_OWNER": self.github["repository_owner"],
            "GITHUB_RUN_ID": spec.run_id,
            "GITHUB_RUN_NUMBER": spec.run_number,
            "GITHUB_RUN_ATTEMPT": spec.run_attempt,
            "GITHUB_WORKFLOW": self.github["workflow"],
            "GITHUB_JOB": spec.job,
            "GITHUB_ACTOR": spec.actor,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_SERVER_URL": self.github["server_url"],
            "GITHUB_API_URL": self.github["api_url"],
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(self.temp),
        }
        if id_token_granted(self.workflow, self.job):
            if spec.token_server is None:
                raise RunnerError(f"job {spec.job} grants id-token: write but no token server was given")
            spec.token_server.claims = job_claims(
                repository=spec.repository,
                environment=environment_name,
                ref=spec.ref,
                sha=spec.sha,
                event_name=spec.event_name,
                run_id=spec.run_id,
                run_attempt=spec.run_attempt,
                workflow_ref=f"{spec.repository}/{spec.workflow}@{spec.ref}",
            )
            defaults["ACTIONS_ID_TOKEN_REQUEST_URL"] = spec.token_server.url
            defaults["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = spec.token_server.request_token

        minutes = float(self.job.get("timeout-minutes", DEFAULT_TIMEOUT_MINUTES))
        if spec.max_minutes is not None:
            minutes = min(minutes, spec.max_minutes)
        timeout = minutes * 60
        deadline = time.monotonic() + timeout
        for index, step in enumerate(self.steps):
            self.unknown(step, STEP_KEYS, f"step {index + 1} of job {spec.job}")
            result = self.run_step(index, step, {**machine, **defaults}, deadline)
            self.results.append(result)
            if result.id:
                self.step_results[result.id] = result
        conclusion = "failure" if any(r.outcome == "failure" for r in self.results) else "success"
        outputs = self.render_env(self.job.get("outputs"), STEP_CONTEXTS, f"job {spec.job} outputs")
        return JobResult(conclusion, self.results, environment_name, group, self.workspace, outputs)

    def event_payload(self) -> dict[str, Any]:
        repository = {"full_name": self.spec.repository, "name": self.spec.repository.split("/")[1]}
        if self.spec.event_name == "workflow_dispatch":
            return {"ref": self.spec.ref, "inputs": self.inputs, "repository": repository}
        return {"ref": self.spec.ref, "after": self.spec.sha, "repository": repository}

    def run_step(self, index: int, step: Mapping[str, Any], base: Mapping[str, str], deadline: float) -> StepResult:
        step_id = step.get("id")
        if ("run" in step) == ("uses" in step):
            raise RunnerError(f"step {index + 1}: exactly one of run: and uses: is required")
        # The step's own env: evaluated first (it sees the job's env), since with:/name:/if:
        # may read it.
        self.env_ctx = dict(self.job_env)
        step_env = self.render_env(step.get("env"), STEP_CONTEXTS, f"step {index + 1} env")
        self.env_ctx.update(step_env)
        try:
            resolve = self.resolver(STEP_CONTEXTS)
            try:
                default_name = f"Run {step['run'].splitlines()[0]}" if "run" in step else step["uses"]
                name = ex.render(step.get("name", default_name), resolve)
                runs = ex.condition(step["if"], resolve, self.status) if "if" in step else self.status("success")
            except ex.ExpressionError as err:
                raise RunnerError(f"step {index + 1}: {err}") from err
            if not runs:
                self.emit(f"[skipped] {name}")
                return StepResult(name, step_id, "skipped")
            self.emit(f"[run] {name}")
            started = time.monotonic()
            if "uses" in step:
                result = self.run_uses(name, step_id, step, resolve)
            else:
                env = {**base, **self.env_ctx}
                env["PATH"] = os.pathsep.join([*reversed(self.path_prepend), base["PATH"]])
                result = self.run_script(name, step_id, step, env, deadline)
            result.seconds = time.monotonic() - started
            return result
        finally:
            self.env_ctx = dict(self.job_env)

    def run_uses(self, name: str, step_id: str | None, step: Mapping[str, Any], resolve: ex.Resolver) -> StepResult:
        action, _ = parse_uses(str(step["uses"]))
        if action not in STAND_INS:
            raise RunnerError(f"uses: {step['uses']!r}: no stand-in for {action}; the rehearsal cannot run it")
        known, stand_in = STAND_INS[action]
        with_block = step.get("with") or {}
        unknown = sorted(set(with_block) - known)
        if unknown:
            raise RunnerError(f"{action}: the stand-in does not implement input(s) {unknown}")
        try:
            inputs = {str(key): ex.render(value, resolve) for key, value in with_block.items()}
        except ex.ExpressionError as err:
            raise RunnerError(f"{name}: {err}") from err
        log: list[str] = []
        updates: dict[str, str] = {}
        stand_in(StepContext(self.spec, self.workspace, log, self.path_prepend, updates), inputs)
        self.job_env.update(updates)
        for line in log:
            self.emit(f"  {line}")
        return StepResult(name, step_id, "success", log="\n".join(log))

    def run_script(
        self, name: str, step_id: str | None, step: Mapping[str, Any], env: dict[str, str], deadline: float
    ) -> StepResult:
        script = step["run"]
        if not isinstance(script, str):
            raise RunnerError(f"{name}: run: must be a string")
        if "${{" in script:
            raise RunnerError(f"{name}: run: contains ${{{{ }}}}; pass values through env: instead")
        shell = step.get("shell", "bash")
        if shell != "bash":
            raise RunnerError(f"{name}: shell {shell!r} is not implemented")
        substitute = self.spec.substitutes.get(script.strip())
        if substitute is not None:
            self.emit(f"  substituted: {substitute.reason}")
            script = substitute.script
        index = len(self.results)
        files = {
            key: self.temp / f"{key.lower()}_{index}"
            for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        for key, path in files.items():
            path.write_text("", encoding="utf-8")
            env[key] = str(path)
        script_path = self.temp / f"step_{index}.sh"
        script_path.write_text(script, encoding="utf-8")
        cwd = self.workspace / step.get("working-directory", ".")
        limit = deadline - time.monotonic()
        if "timeout-minutes" in step:
            limit = min(limit, float(step["timeout-minutes"]) * 60)
        try:
            done = subprocess.run(
                [*DEFAULT_SHELL, str(script_path)],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=max(limit, 1),
                check=False,
            )
            log, returncode = done.stdout, done.returncode
        except subprocess.TimeoutExpired as err:
            output = err.stdout or ""
            log = (
                output.decode() if isinstance(output, bytes) else output
            ) + f"\n##[error]timed out after {limit:.0f} s"
            returncode = -1
        log = self.masked(log)
        for line in log.splitlines():
            self.emit(f"  {line}")
        try:
            outputs = parse_command_file(files["GITHUB_OUTPUT"].read_text(encoding="utf-8"))
            env_updates = parse_command_file(files["GITHUB_ENV"].read_text(encoding="utf-8"), what="GITHUB_ENV")
        except CommandFileError as err:
            log += f"\n##[error]{err}"
            returncode = returncode or 1
            outputs, env_updates = {}, {}
        self.path_prepend.extend(parse_path_file(files["GITHUB_PATH"].read_text(encoding="utf-8")))
        # As on GitHub, GITHUB_ENV lines override workflow/job env: for the later steps.
        self.job_env.update(env_updates)
        summary = files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        outcome = "success" if returncode == 0 else "failure"
        if outcome == "failure":
            log += f"\n##[error]Process completed with exit code {returncode}."
        return StepResult(name, step_id, outcome, outputs, summary, log)

    def masked(self, log: str) -> str:
        """Apply ``::add-mask::`` as the runner does: the command line is not shown, and the
        value is replaced by ``***`` in this and every later line of the job's log."""
        lines = []
        for line in log.splitlines(keepends=True):
            if line.startswith("::add-mask::"):
                value = line[len("::add-mask::") :].strip()
                if value:
                    self.masks.add(value)
                continue
            for value in sorted(self.masks, key=len, reverse=True):
                line = line.replace(value, "***")
            lines.append(line)
        return "".join(lines)

    def emit(self, line: str) -> None:
        if self.spec.stream is not None:
            self.spec.stream(line)


def run_job(spec: JobSpec) -> JobResult:
    """Run ``spec.job`` of ``spec.workflow`` (see the module docstring); raise RunnerError on
    anything the runner does not implement. A failing step does not raise: it makes later
    steps skip (unless their ``if:`` says otherwise) and the job's conclusion ``failure``."""
    return _Job(spec).run()


def clean(workdir: Path) -> None:
    """Remove a job's scratch directory."""
    shutil.rmtree(workdir, ignore_errors=True)
