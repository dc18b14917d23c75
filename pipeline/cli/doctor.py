"""``doctor``: the preflight checks, one line each; exit 1 if any fails (pipeline.doctor)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from pipeline.cli.common import add_command, clients_from_args, config_from_args

if TYPE_CHECKING:
    from pipeline.clients import Clients


HELP = "preflight: credentials, region, roles and their trust, bucket, OIDC provider, quotas, data"
DESCRIPTION = "One line per check (ok / warn / FAIL with how to fix it); exit 1 if any check fails."


def register(commands: Any) -> None:
    """Add the ``doctor`` command."""
    parser = add_command(commands, "doctor", HELP, DESCRIPTION)
    parser.add_argument(
        "--repository",
        default=None,
        help="OWNER/REPO the deploy role must trust (default: $GITHUB_REPOSITORY inside Actions)",
    )
    parser.add_argument(
        "--skip-data", action="store_true", help="skip the training-data check (a deployment that trains nothing)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run every check; print one line each and a count; 1 if any failed."""
    from pipeline import aws, doctor, github_actions

    config = config_from_args(args)
    clients: Clients | None = None
    problem = None
    try:
        clients = clients_from_args(config, args)
    except (aws.CredentialsError, aws.IdTokenPermissionError) as exc:
        # Reported as the credentials check's failure, with the other checks' lines.
        problem = str(exc).splitlines()[0]
    repository = args.repository or os.environ.get("GITHUB_REPOSITORY") or None
    checks = doctor.run_checks(
        config, clients, repository=repository, credentials_problem=problem, check_data=not args.skip_data
    )
    for check in checks:
        print(check.line())
    github_actions.append_summary(doctor.summary_markdown(config, checks))
    failed = doctor.failed(checks)
    for check in failed:
        github_actions.error(f"{check.name}: {check.detail} -> {check.fix}", title="preflight")
    passed = f"{len(checks) - len(failed)} of {len(checks)} checks passed"
    print(passed + ("; fix the FAIL lines" if failed else ""))
    return 1 if failed else 0
