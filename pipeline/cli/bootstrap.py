"""``bootstrap``: create or update the one-time AWS stack (roles, OIDC provider, bucket) by change set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pipeline.bootstrap import DEFAULT_POLL_SECONDS, TEMPLATE_PATH
from pipeline.cli.common import add_config_arguments, config_from_args

if TYPE_CHECKING:
    import boto3

    from pipeline.bootstrap import BootstrapResult


def register(commands: Any) -> None:
    """Add the ``bootstrap`` command."""
    parser = commands.add_parser(
        "bootstrap", help="create or update the one-time AWS bootstrap stack (roles, OIDC provider, bucket)"
    )
    add_config_arguments(parser)
    group = parser.add_argument_group("bootstrap")
    group.add_argument("--github-owner", required=True, help="GitHub user or organisation owning the repository")
    group.add_argument("--github-repo", required=True, help="GitHub repository name, without the owner")
    group.add_argument(
        "--existing-oidc-provider-arn",
        default="",
        help="ARN of the account's GitHub OIDC provider when it already exists (default: the stack creates it)",
    )
    group.add_argument(
        "--oidc-subject",
        choices=("name", "id"),
        default="name",
        help="the OIDC subject the deploy role trusts: 'name' (repo:OWNER/REPO:environment:ENV, GitHub's "
        "default) or 'id' (owner and repository IDs, environment and ref; set GitHub's subject "
        "customisation to match, docs/github-setup.md)",
    )
    group.add_argument("--github-owner-id", default="", help="numeric ID of the owner (with --oidc-subject id)")
    group.add_argument(
        "--github-repository-id", default="", help="numeric ID of the repository (with --oidc-subject id)"
    )
    group.add_argument("--stack-name", default=None, help="stack name (default: <endpoint_name>-bootstrap)")
    group.add_argument(
        "--template", default=str(TEMPLATE_PATH), help="CloudFormation template (default: infra/bootstrap.yaml)"
    )
    group.add_argument("--dry-run", action="store_true", help="print the change set, then delete it unexecuted")
    group.add_argument("--poll-seconds", type=float, default=DEFAULT_POLL_SECONDS, help=argparse.SUPPRESS)
    aws_group = parser.add_argument_group("AWS (your own administrator credentials, never the deploy role)")
    aws_group.add_argument("--profile", default=None, help="named AWS profile (default: the default credential chain)")
    aws_group.add_argument(
        "--endpoint-url", default=None, help="send the CloudFormation calls here (default: $AWS_ENDPOINT_URL, else AWS)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the bootstrap; errors raise PipelineError."""
    run(args)
    return 0


def run(
    args: argparse.Namespace, *, session: boto3.Session | None = None, out: TextIO | None = None
) -> BootstrapResult:
    """Bootstrap for parsed ``args`` with the caller's own credentials (``session``, else a new one)."""
    from pipeline.bootstrap import Repository, bootstrap_from_config

    return bootstrap_from_config(
        config_from_args(args),
        session,
        profile=args.profile,
        repository=Repository(
            args.github_owner, args.github_repo, args.oidc_subject, args.github_owner_id, args.github_repository_id
        ),
        existing_oidc_provider_arn=args.existing_oidc_provider_arn,
        config_path=args.config,
        template=Path(args.template),
        stack_name=args.stack_name,
        endpoint_url=args.endpoint_url,
        dry_run=args.dry_run,
        out=out,
        poll_seconds=args.poll_seconds,
    )
