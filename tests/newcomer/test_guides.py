"""The guides' commands: each parses with today's command line, and the AWS-side ones run in the
guide's order against a moto account, with the exit codes the guide says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main
from tests.newcomer.conftest import OWNER, REPO, Clients, create_oidc_provider, write_train_csv

pytestmark = pytest.mark.newcomer

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [ROOT / "docs" / "github-setup.md", ROOT / "infra" / "README.md", ROOT / "README.md"]
PLACEHOLDERS = {
    "<owner id>": "11",
    "<repository id>": "22",
    "<owner>": OWNER,
    "<repo>": REPO,
    "OWNER": OWNER,
    "REPO": REPO,
    "<account>": "123456789012",
    "<bucket>": "b",
}
FENCE = re.compile(r"```sh\n(.*?)```", re.DOTALL)


def guide_commands(path: Path) -> list[str]:
    """The ``python -m pipeline ...`` commands of a guide's ```sh blocks, in order."""
    commands = []
    for block in FENCE.findall(path.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith("python -m pipeline "):
                for placeholder, value in PLACEHOLDERS.items():
                    line = line.replace(placeholder, value)
                commands.append(line)
    return commands


def test_the_guides_have_the_commands_a_newcomer_needs() -> None:
    names = {shlex.split(c)[3] for c in guide_commands(GUIDES[0])}
    assert {"--help", "cost", "doctor", "bootstrap", "data", "teardown"} <= names


@pytest.mark.parametrize("command", [c for path in GUIDES for c in guide_commands(path)])
def test_every_command_of_the_guides_parses(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = shlex.split(command)[3:]
    if argv == ["--help"]:
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args(argv)
        assert done.value.code == 0
        # Step 1's "success looks like": the guide names every command, in --help's order.
        listed = re.findall(r"^    (\w+)\s", capsys.readouterr().out, re.MULTILINE)
        promised = re.search(r"Success: `--help` lists `([^`]+)`", GUIDES[0].read_text(encoding="utf-8"))
        assert promised is not None, f"{GUIDES[0]} no longer says what --help lists"
        assert listed == [name.strip() for name in promised.group(1).split(",")]
        return
    args = build_parser().parse_args(argv)
    assert callable(args.handler)


# What each step of docs/github-setup.md should exit with on a new account.
EXPECTED = {
    # Step 4 runs before the bootstrap: the role, bucket and provider checks fail (the guide says so).
    f"python -m pipeline doctor --env staging --repository {OWNER}/{REPO} --skip-data": 1,
}
NEEDS_A_DEPLOYED_STATE_MACHINE = ("deploy --rollback",)


def test_the_guide_s_aws_steps_run_in_order_on_a_new_account(
    moto_account: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The account already has GitHub's OIDC provider: moto's CloudFormation cannot create one.
    create_oidc_provider(Clients())
    monkeypatch.chdir(tmp_path)
    write_train_csv(tmp_path / "Train.csv")  # the file the user downloaded (step 8)
    write_train_csv(tmp_path / "data" / "Train.csv")  # ... and committed at data/Train.csv
    ran = []
    for command in guide_commands(GUIDES[0]):
        if command.endswith("--help") or any(part in command for part in NEEDS_A_DEPLOYED_STATE_MACHINE):
            continue
        argv = shlex.split(command)[3:]
        if argv[0] == "bootstrap":
            argv += ["--poll-seconds", "0"]
        code = main(argv)
        output = capsys.readouterr()
        assert code == EXPECTED.get(command, 0), f"{command}\n{output.out}\n{output.err}"
        ran.append(argv[0])
    assert ran == [
        "cost",
        "doctor",
        "bootstrap",
        "bootstrap",
        "bootstrap",  # 5a: the staging stack again, trusting the repository's IDs
        "data",
        "doctor",
        "prune",  # retention: the dry run, then --yes (nothing of this environment yet)
        "prune",
        "teardown",
        "teardown",
        "teardown",
        "teardown",
    ]
    assert (tmp_path / "prepared" / "encoding.json").is_file()
