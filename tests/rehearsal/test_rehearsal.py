"""The deploy workflow rehearsed end to end: deploy.yml's deploy job run against the emulator.

The bootstrap stack (infra/bootstrap.yaml) is deployed on the emulator server first, and its
outputs become the `staging` GitHub environment's variables, exactly as docs/github-setup.md
tells a team to set them. The job then runs in a clone of this repository's working tree
(committed on top of HEAD in a scratch repository, tests/rehearsal/snapshot.py: uncommitted
changes are rehearsed too) with a fake OIDC token endpoint: every command assumes the
bootstrap's deploy role through AssumeRoleWithWebIdentity - no AWS keys are in the job's
environment - and talks to the emulator through AWS_ENDPOINT_URL.

Rehearsal 1 is a push to main of a commit that sets `training_data = "synthetic"` (creates
everything; the job summary says synthetic first); rehearsal 2 a manual dispatch of a newer
commit that adds data/Train.csv, as docs/github-setup.md tells a team to (updates the endpoint in
place, trained on that file); rehearsal 3 a dispatch that only deploys the state machine. The CI plan job is rehearsed as a fork pull request would run it: no credentials.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline import wheelhouse
from pipeline.bootstrap import TEMPLATE_PATH, Repository, bootstrap, default_stack_name, parameters_from_config
from pipeline.config import load_config
from pipeline.emulator import EmulatorServer, Timings
from pipeline.emulator.emulator import FAKE_KEYS
from pipeline.local_model import LocalModelHost, S3Trainer
from tests.rehearsal import offline_install
from tests.rehearsal.runner import JobResult, JobSpec, Substitute, run_job
from tests.rehearsal.snapshot import working_tree_files, working_tree_origin
from tests.rehearsal.token_server import FakeTokenServer
from tests.tooling.permissions import web_identity_allowed

pytestmark = [
    pytest.mark.rehearsal,
    # moto's CloudFormation skips AWS::S3::BucketPolicy (the bootstrap tests check it statically).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS..S3..BucketPolicy:UserWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
OWNER, REPO = "acme", "big-mart"
ACCOUNT = "123456789012"  # the emulator's account
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
INSTALL = Substitute(
    script=f'python "{Path(offline_install.__file__).resolve()}"',
    reason="no full wheelhouse offline: check the requirements are installed and put the clone on PYTHONPATH",
)
SETUP_ENV = Substitute(
    script=f'python "{Path(offline_install.__file__).resolve()}" --venv',
    reason="no package index offline: check the requirements are installed, .venv/bin/python is this interpreter",
)
SUBSTITUTES = {
    'python -m pipeline.wheelhouse install "$RUNNER_TEMP/wheelhouse" --manifest-sha256 "$MANIFEST_SHA256"': INSTALL,
    "scripts/setup-env.sh --runtime": SETUP_ENV,
}


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Stage:
    """The emulator with the bootstrap stack deployed, and the `staging` environment's variables."""

    server: EmulatorServer
    tokens: FakeTokenServer
    origin: Path  # the working tree, committed (tests/rehearsal/snapshot.py)
    variables: dict[str, str]
    trust_policy: dict[str, Any]
    workdir: Path
    head: str
    wheelhouse: Path
    manifest_sha256: str
    cache_dir: Path
    # Other GitHub environments' variables (prod, once the prod fixture bootstrapped it).
    more_environments: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return boto3.client(
            service, region_name=self.variables["AWS_REGION"], endpoint_url=self.server.url, **FAKE_KEYS
        )

    def rehearse(self, name: str, *, source: Path, sha: str, job: str = "deploy", **kwargs: Any) -> JobResult:
        """Run one of deploy.yml's jobs (default: deploy); print its log so a failure shows every step."""
        needs = {"wheels": {"manifest-sha256": self.manifest_sha256}, **kwargs.pop("needs_outputs", {})}
        spec = JobSpec(
            workflow=".github/workflows/deploy.yml",
            job=job,
            source_repo=source,
            sha=sha,
            workdir=self.workdir / name,
            repository=f"{OWNER}/{REPO}",
            environment_vars={"staging": self.variables, **self.more_environments},
            machine_env={
                "AWS_ENDPOINT_URL": self.server.url,
                # The emulator's STS is on loopback: the one override the token exchange allows,
                # and only when declared (no workflow declares it).
                "PIPELINE_ALLOW_LOCAL_STS": "1",
                # Nothing from this machine's AWS setup, and no instance metadata to fall back on.
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true",
                "PIP_NO_INDEX": "1",  # anything that still tries to install fails fast
                "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
                # The suite's result cache: each step's command skips the SDK imports (a fresh
                # GitHub runner starts cold; tests/test_cli.py checks that cold and warm agree).
                "PIPELINE_CACHE_DIR": str(self.cache_dir),
            },
            token_server=self.tokens,
            max_minutes=10,
            substitutes=SUBSTITUTES,
            # What the wheels job hands over: its artifact, and its manifest digest as an output.
            needs_outputs=needs,
            artifacts={"deploy-wheels": self.wheelhouse},
            stream=print,
            **kwargs,
        )
        result = run_job(spec)
        assert result.conclusion == "success", result.log
        return result


def project_wheelhouse(scratch: Path, origin: Path, head: str) -> tuple[Path, str]:
    """A wheelhouse the verify step accepts: the project's wheel (built offline) and its manifest.

    The wheels job downloads everything else; offline, the install step is substituted.
    """
    source, out = scratch / "source", scratch / "wheelhouse"
    subprocess.run(["git", "clone", "--quiet", str(origin), str(source)], check=True)
    git(source, "checkout", "--quiet", "--detach", head)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = out.glob("*.whl")
    entry = wheelhouse.Entry(wheel.name, wheelhouse.sha256_file(wheel))
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (out / wheelhouse.MANIFEST).write_text(wheelhouse.render_manifest([entry], python), encoding="utf-8")
    return out, wheelhouse.sha256_file(out / wheelhouse.MANIFEST)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This repository's working tree as a commit: what the rehearsals check out."""
    return working_tree_origin(ROOT, tmp_path_factory.mktemp("origin") / "repo")


@pytest.fixture(scope="module")
def stage(
    tmp_path_factory: pytest.TempPathFactory, pipeline_cache_dir: Path, origin: tuple[Path, str]
) -> Iterator[Stage]:
    """The emulator server, the bootstrap stack on it, and a fake OIDC token endpoint."""
    source, head = origin
    # The project's wheel (pip in a subprocess, 1-2 s) builds while the stack deploys.
    with FakeTokenServer() as tokens, ThreadPoolExecutor(max_workers=1) as builder:
        building = builder.submit(project_wheelhouse, tmp_path_factory.mktemp("wheelhouse"), source, head)
        # Wait states and retry intervals of the definition (30 s polls) run 100x faster.
        timings = Timings(time_scale=0.01)
        server = EmulatorServer(trainer=S3Trainer(), model_host=LocalModelHost(), timings=timings).start()
        try:
            config = load_config("staging", environ={})
            # The account already has GitHub's OIDC provider (moto's CloudFormation cannot create
            # one); the bootstrap finds and reuses it, as it would on AWS.
            iam = boto3.client("iam", region_name=config.account.region, endpoint_url=server.url, **FAKE_KEYS)
            iam.create_open_id_connect_provider(
                Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"]
            )
            parameters = parameters_from_config(config, Repository(OWNER, REPO))
            cfn = boto3.client(
                "cloudformation", region_name=config.account.region, endpoint_url=server.url, **FAKE_KEYS
            )
            printed = io.StringIO()
            result = bootstrap(
                cfn,
                stack_name=default_stack_name(parameters.project_name),
                parameters=parameters,
                template_body=TEMPLATE_PATH.read_text(encoding="utf-8"),
                out=printed,
                poll_seconds=0,
                iam=iam,
                s3=boto3.client("s3", region_name=config.account.region, endpoint_url=server.url, **FAKE_KEYS),
            )
            assert result.status == "created"
            assert f"Reusing the account's GitHub OIDC provider {PROVIDER_ARN}" in printed.getvalue()
            variables = dict(result.github_variables)
            role_name = variables["PIPELINE_DEPLOY_ROLE_ARN"].rpartition("/")[2]
            trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
            trust = trust if isinstance(trust, dict) else json.loads(trust)
            wheelhouse, digest = building.result()
            workdir = tmp_path_factory.mktemp("rehearsal")
            yield Stage(server, tokens, source, variables, trust, workdir, head, wheelhouse, digest, pipeline_cache_dir)
        finally:
            server.stop()


def clone_at_head(stage: Stage, name: str) -> Path:
    source = stage.workdir / name
    subprocess.run(["git", "clone", "--quiet", str(stage.origin), str(source)], check=True)
    git(source, "checkout", "--quiet", "-B", "main", stage.head)
    return source


@pytest.fixture(scope="module")
def first(stage: Stage) -> JobResult:
    """Rehearsal 1: a push to main of HEAD plus a commit choosing synthetic data (no Train.csv yet)."""
    source = clone_at_head(stage, "synthetic-origin")
    config = source / "config" / "pipeline.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('training_data = "data/Train.csv"', 'training_data = "synthetic"'), encoding="utf-8")
    git(source, "commit", "--quiet", "-am", "rehearse with synthetic data")
    return stage.rehearse("push", source=source, sha=git(source, "rev-parse", "HEAD"), run_id="7001")


@pytest.fixture(scope="module")
def second(stage: Stage, first: JobResult) -> JobResult:
    """Rehearsal 2: a manual dispatch to staging of a newer commit that adds data/Train.csv."""
    from pipeline.data import generate_raw

    source = clone_at_head(stage, "newer-origin")
    (source / "data").mkdir(exist_ok=True)
    generate_raw(2000, seed=5).to_csv(source / "data" / "Train.csv", index=False)
    git(source, "add", "data/Train.csv")
    git(source, "commit", "--quiet", "-m", "add the Big Mart Train.csv")
    return stage.rehearse(
        "dispatch",
        source=source,
        sha=git(source, "rev-parse", "HEAD"),
        run_id="7002",
        event_name="workflow_dispatch",
        inputs={"environment": "staging", "action": "train"},
    )


def endpoint(stage: Stage) -> dict[str, Any]:
    return stage.client("sagemaker").describe_endpoint(EndpointName=stage.variables["PIPELINE_ENDPOINT_NAME"])


def test_first_rehearsal_deploys_runs_and_smoke_tests(stage: Stage, first: JobResult) -> None:
    assert [step.outcome for step in first.steps] == ["success"] * len(first.steps)
    assert first.environment == "staging" and first.concurrency_group == "deploy-staging"
    outputs = first.step("run").outputs
    assert set(outputs) >= {"execution_arn", "endpoint_name", "state_machine_version", "previous_endpoint_config"}
    assert outputs["endpoint_name"] == stage.variables["PIPELINE_ENDPOINT_NAME"]
    assert outputs["previous_endpoint_config"] == ""  # nothing was live before
    execution = stage.client("stepfunctions").describe_execution(executionArn=outputs["execution_arn"])
    assert execution["status"] == "SUCCEEDED"
    live = endpoint(stage)
    assert live["EndpointStatus"] == "InService"
    assert first.step("smoke").outputs.get("smoke_result") == "passed"
    assert (
        first.step("deploy")
        .outputs["state_machine_arn"]
        .endswith(f":stateMachine:{stage.variables['PIPELINE_STATE_MACHINE_NAME']}")
    )
    # The summary has the preflight, the plan, the run and the smoke test; synthetic data first.
    for part in ("doctor", "plan", "run", "smoke"):
        assert first.step(part).summary.strip(), f"step {part} wrote no job summary"
    assert first.summary.startswith("> **Synthetic data**"), first.summary[:200]
    assert "uploaded synthetic data" in first.step("run").log
    doctor_lines = [line for line in first.step("doctor").log.splitlines() if line[:5] in ("ok   ", "warn ", "FAIL ")]
    assert doctor_lines and not [line for line in doctor_lines if line.startswith("FAIL")], doctor_lines
    assert any(f"trusts repo:{OWNER}/{REPO}:environment:staging" in line for line in doctor_lines)


def test_every_aws_call_used_the_oidc_token_the_deploy_role_trusts(stage: Stage, first: JobResult) -> None:
    served = [request for request in stage.tokens.requests if request.status == 200]
    # Plan, deploy, run and smoke each assume the role once.
    assert len(served) >= 4
    for request in served:
        assert request.audience == "sts.amazonaws.com"
        assert request.claims is not None
        assert request.claims["sub"] == f"repo:{OWNER}/{REPO}:environment:staging"
        claims = {"aud": request.claims["aud"], "sub": request.claims["sub"]}
        # moto does not evaluate trust policies; the project's evaluator does it here.
        assert web_identity_allowed(stage.trust_policy, provider_arn=PROVIDER_ARN, claims=claims)
    wrong = {"aud": "sts.amazonaws.com", "sub": f"repo:{OWNER}/{REPO}:environment:prod"}
    assert not web_identity_allowed(stage.trust_policy, provider_arn=PROVIDER_ARN, claims=wrong)


def test_second_rehearsal_updates_instead_of_recreating(stage: Stage, first: JobResult, second: JobResult) -> None:
    before = first.step("run").outputs
    after = second.step("run").outputs
    assert after["execution_arn"] != before["execution_arn"]
    sagemaker = stage.client("sagemaker")
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    assert [item["EndpointName"] for item in endpoints] == [stage.variables["PIPELINE_ENDPOINT_NAME"]]
    live = endpoint(stage)
    assert live["EndpointStatus"] == "InService"
    # Updated in place: a new config on the same endpoint, the old one recorded for rollback.
    first_config = stage.client("stepfunctions").describe_execution(executionArn=before["execution_arn"])
    assert after["previous_endpoint_config"]
    assert after["previous_endpoint_config"] != live["EndpointConfigName"]
    assert after["previous_endpoint_config"] in first_config.get("output", "")
    assert second.step("smoke").outputs.get("smoke_result") == "passed"
    # Trained on the committed Train.csv, and the summary says nothing about synthetic data.
    assert "uploaded data/Train.csv (2000 rows)" in second.step("run").log
    assert "Synthetic data" not in second.summary
    # One state machine, now with both executions.
    machine = second.step("deploy").outputs["state_machine_arn"]
    assert machine == first.step("deploy").outputs["state_machine_arn"]
    executions = stage.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert {before["execution_arn"], after["execution_arn"]} <= {item["executionArn"] for item in executions}


def test_dispatch_without_the_pipeline_only_deploys_the_state_machine(stage: Stage, second: JobResult) -> None:
    config_before = endpoint(stage)["EndpointConfigName"]
    result = stage.rehearse(
        "deploy-only",
        source=stage.origin,
        sha=stage.head,
        run_id="7003",
        event_name="workflow_dispatch",
        inputs={"environment": "staging", "action": "state-machine"},
    )
    outcomes = {step.id or step.name: step.outcome for step in result.steps}
    # The job ran this working tree, uncommitted changes included, not the last commit.
    files = working_tree_files(ROOT)
    assert [f for f in files if (result.workspace / f).read_bytes() != (ROOT / f).read_bytes()] == []
    assert sorted(git(result.workspace, "ls-files").splitlines()) == files
    assert outcomes["deploy"] == "success"
    assert outcomes["run"] == outcomes["smoke"] == "skipped"
    assert endpoint(stage)["EndpointConfigName"] == config_before


@dataclass
class Release:
    """Rehearsal 4: a push of unchanged training inputs to staging, then the promote job in prod."""

    staging: JobResult
    prod: JobResult
    trainings: int  # CreateTrainingJob calls the promote job caused


def bootstrap_prod(stage: Stage) -> dict[str, str]:
    """prod's stack on the same emulator (its roles trust environment:prod; it reads staging's)."""
    config = load_config("prod", environ={})
    parameters = parameters_from_config(config, Repository(OWNER, REPO))
    result = bootstrap(
        stage.client("cloudformation"),
        stack_name=default_stack_name(parameters.project_name),
        parameters=parameters,
        template_body=TEMPLATE_PATH.read_text(encoding="utf-8"),
        out=io.StringIO(),
        poll_seconds=0,
        iam=stage.client("iam"),
        s3=stage.client("s3"),
    )
    assert result.status == "created"
    return dict(result.github_variables)


@pytest.fixture(scope="module")
def release(stage: Stage, second: JobResult) -> Release:
    """A new commit on top of rehearsal 2 (Train.csv unchanged) pushed to main: staging reuses the
    version rehearsal 2 trained, then the promote job deploys exactly that version to prod."""
    stage.more_environments["prod"] = bootstrap_prod(stage)
    source = stage.workdir / "newer-origin"
    (source / "NOTES.md").write_text("a change that does not touch the training inputs\n", encoding="utf-8")
    git(source, "add", "NOTES.md")
    git(source, "commit", "--quiet", "-m", "docs only")
    sha = git(source, "rev-parse", "HEAD")
    staging = stage.rehearse("push-unchanged", source=source, sha=sha, run_id="7004")
    calls = stage.server.runtime.calls
    before = calls["sagemaker:CreateTrainingJob"]
    prod = stage.rehearse(
        "push-prod", source=source, sha=sha, run_id="7004", job="promote", needs_outputs={"deploy": staging.outputs}
    )
    return Release(staging, prod, calls["sagemaker:CreateTrainingJob"] - before)


def artifact(stage: Stage, uri: str) -> tuple[bytes, str]:
    """An S3 artifact's bytes and the SHA-256 S3 reports for it (HeadObject ChecksumMode=ENABLED)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = stage.client("s3")
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read(), head["ChecksumSHA256"]


def test_push_reuses_in_staging_and_prod_serves_the_byte_identical_artifact(stage: Stage, release: Release) -> None:
    import hashlib

    from pipeline import registry

    run = release.staging.step("run")
    # Staging: the inputs are unchanged, so nothing is trained or deployed; smoke approves it.
    assert "training skipped: same inputs as version" in run.log and "nothing deployed" in run.log
    assert run.outputs["execution_arn"] == "" and run.outputs["training"] == "reused"
    approved = release.staging.outputs["approved-version"]
    assert approved == run.outputs["model_package_arn"] and approved.endswith("/big-mart-staging/2")
    smoke = release.staging.step("smoke").log
    assert f"(from the version it already serves ({approved}))" in smoke and "smoke test PASSED" in smoke
    assert f"model package {approved} (version 2): Approved" in smoke
    # Prod: the promote job, in the prod environment, trained nothing.
    assert release.prod.conclusion == "success" and release.prod.environment == "prod"
    assert release.prod.concurrency_group == "deploy-prod"
    assert release.trainings == 0
    assert "promoting big-mart-staging version 2" in release.prod.step("promote").log
    sagemaker = stage.client("sagemaker")
    prod_name = stage.more_environments["prod"]["PIPELINE_ENDPOINT_NAME"]
    served = registry.live_lineage(sagemaker, prod_name)
    assert served.status == "InService" and served.package is not None
    assert served.package.status == "Approved"
    assert served.package.metadata["PromotedFrom"] == approved
    source = registry.describe(sagemaker, approved)
    # The byte-identical artifact staging tested: same bytes, same SHA-256 (S3's and recorded).
    staging_bytes, staging_sum = artifact(stage, source.model_data_url)
    prod_bytes, prod_sum = artifact(stage, served.package.model_data_url)
    assert prod_bytes == staging_bytes and prod_sum == staging_sum
    assert served.package.artifact_sha256 == source.artifact_sha256 == hashlib.sha256(prod_bytes).hexdigest()
    assert not [
        job["TrainingJobName"]
        for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]
        if job["TrainingJobName"].startswith(prod_name)
    ]


def at_origin(origin: tuple[Path, str], workdir: Path, **job: Any) -> JobSpec:
    """A job of the origin repository at its commit, run in ``workdir``."""
    return JobSpec(source_repo=origin[0], sha=origin[1], workdir=workdir, **job)


def test_ci_plan_job_without_credentials_skips_the_aws_plan_cleanly(
    tmp_path: Path, pipeline_cache_dir: Path, origin: tuple[Path, str]
) -> None:
    """As in a fork pull request: no variables, no OIDC token; the job still succeeds."""
    spec = at_origin(
        origin,
        tmp_path,
        workflow=".github/workflows/ci.yml",
        job="plan",
        event_name="pull_request",
        ref="refs/pull/1/merge",
        repository_vars={"AWS_REGION": "", "PIPELINE_DEPLOY_ROLE_ARN": ""},
        machine_env={
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "PIP_NO_INDEX": "1",
            "PIPELINE_CACHE_DIR": str(pipeline_cache_dir),
        },
        substitutes=SUBSTITUTES,
        stream=print,
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    assert "```mermaid" in result.summary and "flowchart" in result.summary
    assert '"StartAt"' in result.summary
    assert "deploy --plan skipped" in result.summary


@pytest.mark.parametrize("job", ["wheels", "deploy"])
def test_a_dispatch_from_a_branch_is_refused(tmp_path: Path, job: str, origin: tuple[Path, str]) -> None:
    """Defence in depth beside the environments' branch policy: nothing but main deploys."""
    spec = at_origin(
        origin,
        tmp_path,
        workflow=".github/workflows/deploy.yml",
        job=job,
        event_name="workflow_dispatch",
        ref="refs/heads/feature",
        inputs={"environment": "prod", "action": "train"},
        environment_vars={"prod": {}},
        stream=print,
    )
    result = run_job(spec)
    if job == "deploy":
        # The job-level guard: the credentialed job never starts, so no token is requested.
        assert result.conclusion == "skipped" and result.steps == []
        return
    assert result.conclusion == "failure"
    first, *rest = result.steps
    assert first.outcome == "failure"
    assert "deploy.yml deploys only refs/heads/main, and this run is for refs/heads/feature" in first.log
    assert all(step.outcome == "skipped" for step in rest)
