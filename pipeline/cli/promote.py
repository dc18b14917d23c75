"""``promote``: deploy to one environment the version Approved in another (no training there)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli import common


def register(commands: Any) -> None:
    """Add the ``promote`` command."""
    parser = common.add_command(
        commands,
        "promote",
        "deploy to --to exactly the model version Approved in --from (no training), then smoke-test and approve it",
        "Check the source version (Approved, artifact SHA-256 unchanged, synthetic data allowed by the target), "
        "copy it into the target's bucket, register and deploy it there, smoke-test and approve it. "
        "--env and --set apply to the target; the source is read from the configuration file alone.",
    )
    parser.add_argument("--to", dest="target", required=True, help="the environment to deploy it to")
    parser.add_argument(
        "--from",
        dest="source",
        default=None,
        help="the environment the version is Approved in (default: the target's promote_from)",
    )
    parser.add_argument(
        "--version",
        default=None,
        help="the source version: a number in its group or a model package ARN (default: the one it serves now)",
    )
    parser.add_argument(
        "--commit", default=None, help="commit SHA naming the run (default: $GITHUB_SHA, else git HEAD)"
    )
    parser.add_argument("--attempt", type=common.positive_int, default=None, help="run attempt (default: 1)")
    parser.add_argument("--timeout", type=common.positive_int, default=None, help="seconds to follow the deployment")
    parser.add_argument("--poll-seconds", type=common.positive_float, default=2.0, help="history poll interval")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Promote; 0 when the target's smoke test passed and approved the version, else 1 (2: refused)."""
    from pipeline.commit import resolve_commit
    from pipeline.config import load_config
    from pipeline.definition import run_id_for_commit
    from pipeline.promote import promote
    from pipeline.run import run_attempt

    if args.env and args.env != args.target:
        from pipeline.errors import UsageError

        raise UsageError(f"--env {args.env} differs from --to {args.target}: the target is --to")
    args.env = args.target
    target = common.config_from_args(args)
    if args.source is None:
        if not target.registry.promote_from:
            from pipeline.errors import UsageError

            raise UsageError(f"--from is needed: {target.environment} has no promote_from in the configuration")
        args.source = target.registry.promote_from
    # PIPELINE_* variables describe the target's environment (the job's); the source is the file's.
    source = load_config(args.source, path=args.config, environ={})
    run_id = run_id_for_commit(resolve_commit(args.commit) or "", run_attempt(args.attempt))
    clients = common.clients_from_args(target, args)
    result = promote(
        source,
        target,
        clients,
        version=args.version,
        run_id=f"promote-{run_id}",
        timeout_seconds=args.timeout,
        poll_seconds=args.poll_seconds,
    )
    if not result.ok:
        failure = result.smoke.failure if result.smoke is not None else "the smoke test did not run"
        print(f"promotion to {target.environment} failed its smoke test: {failure}")
        return 1
    print(
        f"promoted {result.source.group} version {result.source.version} to {target.environment}: "
        f"{result.target_version_arn} serves on {target.endpoint.name}"
    )
    return 0
