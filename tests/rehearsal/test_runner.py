"""The job runner itself, on small workflows in a scratch git repository."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.runner import JobSpec, RunnerError, Substitute, run_job
from tests.rehearsal.token_server import FakeTokenServer, decode_claims

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"


def make_repo(root: Path, workflow: str, files: dict[str, str] | None = None) -> tuple[Path, str]:
    """A git repository holding ``.github/workflows/w.yml``; returns it and its HEAD SHA."""
    repo = root / "source"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "w.yml").write_text(textwrap.dedent(workflow), encoding="utf-8")
    for name, text in (files or {}).items():
        (repo / name).write_text(text, encoding="utf-8")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "workflow"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return repo, sha


def job(tmp_path: Path, workflow: str, **kwargs: Any) -> JobSpec:
    files = kwargs.pop("files", None)
    repo, sha = make_repo(tmp_path, workflow, files)
    return JobSpec(
        workflow=".github/workflows/w.yml", job="j", source_repo=repo, sha=sha, workdir=tmp_path / "run", **kwargs
    )


def steps(*lines: str) -> str:
    """A push workflow with one job ``j`` whose steps are ``lines`` (YAML, 6-space indented)."""
    body = "\n".join(lines)
    return f"on: push\npermissions: {{}}\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n{body}\n"


def test_run_steps_get_githubs_environment_and_workspace(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps(
            f"      - uses: {CHECKOUT}",
            "        with: {persist-credentials: false}",
            "      - id: show",
            "        run: |",
            '          echo "sha=$GITHUB_SHA" >> "$GITHUB_OUTPUT"',
            '          echo "where=$(pwd)" >> "$GITHUB_OUTPUT"',
            '          echo "actions=$GITHUB_ACTIONS ci=$CI attempt=$GITHUB_RUN_ATTEMPT ref=$GITHUB_REF" >> "$GITHUB_OUTPUT"',
            "          test -f .github/workflows/w.yml",
            '          echo "# hello" >> "$GITHUB_STEP_SUMMARY"',
        ),
        run_attempt="3",
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    outputs = result.step("show").outputs
    assert outputs["sha"] == spec.sha
    assert Path(outputs["where"]) == result.workspace
    assert outputs["actions"] == "true ci=true attempt=3 ref=refs/heads/main"
    assert result.summary == "# hello\n"


def test_unknown_uses_fails(tmp_path: Path) -> None:
    spec = job(tmp_path, steps("      - uses: aws-actions/configure-aws-credentials@" + "a" * 40))
    with pytest.raises(RunnerError, match="no stand-in for aws-actions/configure-aws-credentials"):
        run_job(spec)


@pytest.mark.parametrize("ref", ["v4", "v4.2.2", "11bd71901bbe5b1630ceea73d27597364c9af68", "main"])
def test_uses_not_pinned_to_a_full_sha_fails(tmp_path: Path, ref: str) -> None:
    with pytest.raises(RunnerError, match="not pinned"):
        run_job(job(tmp_path, steps(f"      - uses: actions/checkout@{ref}")))


def test_unknown_action_input_fails(tmp_path: Path) -> None:
    spec = job(tmp_path, steps(f"      - uses: {CHECKOUT}", "        with: {token: abc}"))
    with pytest.raises(RunnerError, match=r"does not implement input\(s\) \['token'\]"):
        run_job(spec)


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ('        env: {X: "${{ toJSON(github) }}"}', "unsupported function toJSON"),
        ('        env: {X: "${{ secrets.TOKEN }}"}', "context 'secrets'"),
        ('        env: {X: "${{ vars.TYPO }}"}', r"vars\.TYPO is not set"),
        ('        env: {X: "${{ github.event.head_commit.message }}"}', "unsupported property path"),
        ("        if: contains(github.ref, 'main')", "unsupported function contains"),
        ('        env: {X: "${{ steps.nope.outputs.y }}"}', "no step with that id"),
    ],
)
def test_unknown_expression_fails(tmp_path: Path, where: str, message: str) -> None:
    spec = job(tmp_path, steps("      - run: echo hi", where), repository_vars={"AWS_REGION": "eu-west-1"})
    with pytest.raises(RunnerError, match=message):
        run_job(spec)


def test_context_availability_is_githubs(tmp_path: Path) -> None:
    """steps and env are not available in a job's env: (GitHub rejects the workflow)."""
    workflow = (
        "on: push\njobs:\n  j:\n    runs-on: x\n    env:\n      A: ${{ env.B }}\n    steps:\n      - run: 'true'\n"
    )
    with pytest.raises(RunnerError, match="context 'env'"):
        run_job(job(tmp_path, workflow))


def test_expressions_in_run_are_refused(tmp_path: Path) -> None:
    spec = job(tmp_path, steps("      - run: echo ${{ github.sha }}"))
    with pytest.raises(RunnerError, match="pass values through env"):
        run_job(spec)


def test_outputs_reach_later_steps_through_env_including_heredoc_values(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps(
            "      - id: a",
            "        run: |",
            '          { echo "multi<<END_OF_VALUE"; echo "line 1"; echo "x=y"; echo END_OF_VALUE; } >> "$GITHUB_OUTPUT"',
            '          echo "plain=p" >> "$GITHUB_OUTPUT"',
            "      - id: b",
            "        env:",
            "          MULTI: ${{ steps.a.outputs.multi }}",
            "          MISSING: ${{ steps.a.outputs.never_written }}",
            "        run: |",
            '          printf "got<<E\\n%s\\nE\\n" "$MULTI" >> "$GITHUB_OUTPUT"',
            '          echo "missing=[$MISSING]" >> "$GITHUB_OUTPUT"',
        ),
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    assert result.step("a").outputs == {"multi": "line 1\nx=y", "plain": "p"}
    assert result.step("b").outputs == {"got": "line 1\nx=y", "missing": "[]"}


@pytest.mark.parametrize(
    ("workflow", "step", "reason"),
    [
        (steps("      - id: a", "        run: echo 'x<<EOF' >> \"$GITHUB_OUTPUT\""), "a", "never comes"),
        (
            "on: push\njobs:\n  j:\n    runs-on: x\n    timeout-minutes: 0.02\n    steps:\n      - id: s\n        run: sleep 5\n",
            "s",
            "timed out",
        ),
    ],
    ids=["malformed output file", "job timeout"],
)
def test_a_step_that_breaks_the_runner_s_rules_fails_and_says_why(
    tmp_path: Path, workflow: str, step: str, reason: str
) -> None:
    result = run_job(job(tmp_path, workflow))
    assert result.conclusion == "failure"
    assert reason in result.step(step).log


def test_github_env_and_github_path_apply_to_later_steps_only(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps(
            "      - run: |",
            '          echo "LATER=set" >> "$GITHUB_ENV"',
            '          echo "FROM_JOB=overridden" >> "$GITHUB_ENV"',
            '          mkdir -p "$RUNNER_TEMP/bin" && printf "#!/bin/sh\\necho tool-ran\\n" > "$RUNNER_TEMP/bin/mytool"',
            '          chmod +x "$RUNNER_TEMP/bin/mytool" && echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"',
            '          test -z "${LATER:-}"',
            "      - id: after",
            "        env:",
            "          SEEN: ${{ env.LATER }}",
            "        run: |",
            '          echo "later=$LATER seen=$SEEN job=$FROM_JOB tool=$(mytool)" >> "$GITHUB_OUTPUT"',
        ).replace("    steps:", "    env:\n      FROM_JOB: job\n    steps:"),
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    assert result.step("after").outputs == {"later": "set seen=set job=overridden tool=tool-ran"}


def test_step_if_and_failure_handling(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps(
            "      - id: first",
            "        if: env.MODE == 'on'",
            "        run: 'true'",
            "      - id: second",
            "        if: ${{ env.MODE == 'off' }}",
            "        run: 'true'",
            "      - id: fails",
            "        run: |",
            "          false | true",  # pipefail: the pipeline fails although its last command succeeds
            "          echo not reached",
            "      - id: after_failure",
            "        run: 'true'",
            "      - id: on_failure",
            "        if: failure()",
            "        env:",
            "          OUTCOME: ${{ steps.fails.outcome }}",
            '        run: echo "outcome=$OUTCOME" >> "$GITHUB_OUTPUT"',
            "      - id: always",
            "        if: always() && env.MODE == 'on'",
            "        run: 'true'",
        ).replace("    steps:", "    env:\n      MODE: 'on'\n    steps:"),
    )
    result = run_job(spec)
    outcomes = {step.id: step.outcome for step in result.steps}
    assert outcomes == {
        "first": "success",
        "second": "skipped",
        "fails": "failure",
        "after_failure": "skipped",
        "on_failure": "success",
        "always": "success",
    }
    assert result.conclusion == "failure"
    assert "not reached" not in result.step("fails").log
    assert result.step("on_failure").outputs == {"outcome": "failure"}


def test_dispatch_inputs_are_typed_defaulted_and_checked(tmp_path: Path) -> None:
    workflow = """\
        on:
          workflow_dispatch:
            inputs:
              environment: {type: choice, options: [staging, prod], default: staging}
              go: {type: boolean, default: true}
        jobs:
          j:
            runs-on: x
            env:
              ENV_NAME: ${{ inputs.environment }}
              GO: ${{ inputs.go }}
            steps:
              - id: s
                run: echo "v=$ENV_NAME/$GO" >> "$GITHUB_OUTPUT"
        """
    spec = job(tmp_path, workflow, event_name="workflow_dispatch", inputs={"go": False})
    assert run_job(spec).step("s").outputs == {"v": "staging/false"}
    with pytest.raises(RunnerError, match="must be one of"):
        run_job(job(tmp_path / "b", workflow, event_name="workflow_dispatch", inputs={"environment": "dev"}))
    with pytest.raises(RunnerError, match="does not run on push"):
        run_job(job(tmp_path / "c", workflow))


def test_id_token_only_with_the_permission_and_claims_follow_the_environment(tmp_path: Path) -> None:
    fetch = textwrap.dedent(
        """\
        import json, os, urllib.request
        url = os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=sts.amazonaws.com"
        auth = {"Authorization": "bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}
        print("jwt=" + json.load(urllib.request.urlopen(urllib.request.Request(url, headers=auth)))["value"])
        """
    )
    workflow = f"""\
        on: push
        permissions: {{}}
        jobs:
          j:
            runs-on: x
            environment: ${{{{ 'stag' || 'x' }}}}ing
            permissions: {{contents: read, id-token: write}}
            steps:
              - uses: {CHECKOUT}
              - id: token
                run: python3 fetch.py >> "$GITHUB_OUTPUT"
          other:
            runs-on: x
            steps:
              - id: token
                run: echo "url=${{ACTIONS_ID_TOKEN_REQUEST_URL:-none}}" >> "$GITHUB_OUTPUT"
        """
    with FakeTokenServer() as server:
        spec = job(tmp_path, workflow, files={"fetch.py": fetch}, token_server=server, environment_vars={"staging": {}})
        result = run_job(spec)
        assert result.conclusion == "success", result.log
        assert result.environment == "staging"
        claims = decode_claims(result.step("token").outputs["jwt"])
        assert claims["sub"] == "repo:acme/big-mart:environment:staging"
        assert claims["aud"] == "sts.amazonaws.com"
        assert claims["sha"] == spec.sha
        spec.job, spec.workdir = "other", tmp_path / "run-other"
        assert run_job(spec).step("token").outputs == {"url": "none"}


def test_an_unconfigured_environment_fails(tmp_path: Path) -> None:
    workflow = "on: push\njobs:\n  j:\n    runs-on: x\n    environment: prod\n    steps:\n      - run: 'true'\n"
    with pytest.raises(RunnerError, match="'prod' is not configured"):
        run_job(job(tmp_path, workflow, environment_vars={"staging": {}}))


def test_unimplemented_workflow_keys_are_refused(tmp_path: Path) -> None:
    workflow = (
        "on: push\njobs:\n  j:\n    runs-on: x\n    strategy: {matrix: {a: [1]}}\n    steps:\n      - run: 'true'\n"
    )
    with pytest.raises(RunnerError, match=r"does not implement \['strategy'\]"):
        run_job(job(tmp_path, workflow))
    with pytest.raises(RunnerError, match="shell 'pwsh'"):
        run_job(job(tmp_path / "b", steps("      - run: 'true'", "        shell: pwsh")))


def test_setup_python_puts_this_interpreter_first_and_checks_the_cache_key(tmp_path: Path) -> None:
    import sys

    spec = job(
        tmp_path,
        steps(
            f"      - uses: {CHECKOUT}",
            f"      - uses: {SETUP_PYTHON}",
            "        with: {python-version: '3.11', cache: pip, cache-dependency-path: setup.cfg}",
            "      - id: py",
            '        run: echo "exe=$(python -c \'import sys; print(sys.executable)\')" >> "$GITHUB_OUTPUT"',
        ),
        files={"setup.cfg": "[metadata]\nname = x\n"},
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    # pytest may run as bin/python3 while `python` on PATH is bin/python: the same interpreter.
    assert Path(result.step("py").outputs["exe"]).resolve() == Path(sys.executable).resolve()
    spec = job(
        tmp_path / "b",
        steps(
            f"      - uses: {CHECKOUT}",
            f"      - uses: {SETUP_PYTHON}",
            "        with: {cache: pip, cache-dependency-path: setup.cfg}",
        ),
    )
    with pytest.raises(RunnerError, match=r"no file .* matched 'setup.cfg'"):
        run_job(spec)


def test_a_substitute_replaces_exactly_one_script(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps("      - id: a", "        run: exit 7", "      - id: b", '        run: echo b=ran >> "$GITHUB_OUTPUT"'),
        substitutes={"exit 7": Substitute('echo "a=substituted" >> "$GITHUB_OUTPUT"', "offline")},
    )
    result = run_job(spec)
    assert result.conclusion == "success", result.log
    assert result.step("a").outputs == {"a": "substituted"}
    assert result.step("b").outputs == {"b": "ran"}


def test_add_mask_hides_values_from_the_log_from_then_on(tmp_path: Path) -> None:
    spec = job(
        tmp_path,
        steps(
            "      - name: one",
            "        run: |",
            "          echo 'before s3cr3t-value'",
            "          echo '::add-mask::s3cr3t-value'",
            "          echo 'after s3cr3t-value'",
            "      - name: two",
            "        run: echo 'later s3cr3t-value'",
        ),
    )
    log = run_job(spec).log
    assert "before s3cr3t-value" in log
    assert "s3cr3t-value" not in log.split("before s3cr3t-value", 1)[1]
    assert "after ***" in log and "later ***" in log and "::add-mask::" not in log


DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"


def needs_workflow(output: str = "digest") -> str:
    return (
        "on: push\npermissions: {}\njobs:\n"
        "  build:\n    runs-on: ubuntu-latest\n    outputs:\n      digest: ${{ steps.b.outputs.digest }}\n"
        "    steps:\n      - id: b\n        run: echo build\n"
        "  j:\n    needs: build\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: {DOWNLOAD}\n        with: {{name: wheels, path: '${{{{ runner.temp }}}}/got'}}\n"
        f"      - env: {{D: '${{{{ needs.build.outputs.{output} }}}}'}}\n"
        '        run: test "$D" = abc && test -f "$RUNNER_TEMP/got/file.txt"\n'
    )


def test_needs_outputs_and_a_downloaded_artifact_reach_the_steps(tmp_path: Path) -> None:
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "file.txt").write_text("x")
    spec = job(tmp_path, needs_workflow(), needs_outputs={"build": {"digest": "abc"}}, artifacts={"wheels": artifact})
    result = run_job(spec)
    assert result.conclusion == "success", result.log


def test_an_undeclared_needs_output_is_an_error(tmp_path: Path) -> None:
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    spec = job(
        tmp_path, needs_workflow("other"), needs_outputs={"build": {"digest": "abc"}}, artifacts={"wheels": artifact}
    )
    with pytest.raises(RunnerError, match="declares no output 'other'"):
        run_job(spec)


def test_a_missing_artifact_is_an_error(tmp_path: Path) -> None:
    spec = job(tmp_path, needs_workflow(), needs_outputs={"build": {"digest": "abc"}})
    with pytest.raises(RunnerError, match="no artifact 'wheels' was uploaded"):
        run_job(spec)
