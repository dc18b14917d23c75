"""``python -m pipeline models``: the registered versions of an environment, and what is live.

Without ``--live``: every version of the environment's model package group (newest first) with
its status, validation:rmse, commit, data (synthetic or real) and the environments whose
endpoint serves it now. ``--live``: each environment's endpoint followed back to its version,
training job, data and commit. Versions this pipeline did not write are listed and marked.
Exit codes: 0 listed, 1 an AWS call failed, 2 unknown environment or group.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline import registry
from pipeline.config import PipelineConfig
from pipeline.errors import PipelineError

Printer = Callable[[str], None]
HEADER = ["version", "status", "validation:rmse", "commit", "data", "deployed in", "note"]


@dataclass(frozen=True)
class Environment:
    """One environment of the configuration file and the SageMaker client that reaches it."""

    config: PipelineConfig
    sagemaker: Any


def deployed_where(environments: Iterable[Environment]) -> tuple[dict[str, list[str]], list[registry.Lineage]]:
    """Which environment serves which version (package ARN -> environment names), and each lineage."""
    where: dict[str, list[str]] = {}
    lineages = []
    for env in environments:
        lineage = registry.live_lineage(env.sagemaker, env.config.endpoint_name)
        lineages.append(lineage)
        if lineage.package is not None:
            where.setdefault(lineage.package.arn, []).append(env.config.environment)
    return where, lineages


def table(rows: list[list[str]]) -> list[str]:
    """Left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def list_lines(env: Environment, group: str, others: Iterable[Environment]) -> list[str]:
    """The listing of ``group``: one line per version, where it is deployed, and what to distrust."""
    registry.check_group(env.sagemaker, group)
    versions = registry.list_versions(env.sagemaker, group)
    where, _ = deployed_where(others)
    lines = [f"model package group {group} ({env.config.environment}, {env.config.region}): {len(versions)} version(s)"]
    if versions:
        lines += table([HEADER, *registry.version_rows(versions, where)])
    foreign = [v for v in versions if not v.ours]
    if foreign:
        lines.append(
            f"note: {len(foreign)} version(s) were not written by this pipeline (no {registry.WRITTEN_BY} / "
            f"{registry.VALIDATION_RMSE} metadata): listed, never trusted as a champion"
        )
    return lines


def live_lines(environments: Iterable[Environment]) -> list[str]:
    """Each environment's endpoint with its full lineage."""
    lines: list[str] = []
    _, lineages = deployed_where(environments)
    for env, lineage in zip(environments, lineages, strict=True):
        lines.append(f"[{env.config.environment}]")
        lines += registry.lineage_lines(lineage)
    return lines


def register_cli(subparsers: Any) -> None:
    """Add the ``models`` command."""
    from pipeline.cli import add_config_arguments
    from pipeline.clients import add_aws_arguments

    parser = subparsers.add_parser(
        "models",
        help="list the registered model versions (status, metric, commit, data, where deployed); --live: lineage",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_config_arguments(parser)
    add_aws_arguments(parser)
    parser.add_argument("--group", default=None, help="model package group (default: the environment's)")
    parser.add_argument("--live", action="store_true", help="each environment's endpoint with its full lineage")
    parser.set_defaults(handler=cmd_models)


def environments_from_args(args: argparse.Namespace) -> tuple[Environment, list[Environment]]:
    """The chosen environment and every environment of the file (same credentials and endpoint)."""
    from pipeline.cli import config_from_args
    from pipeline.clients import clients_for
    from pipeline.config import environments, find_config_file, read_config_file

    chosen = config_from_args(args)
    clients = clients_for(chosen, args)
    names = environments(read_config_file(find_config_file(args.config, {})))
    everyone = []
    for name in names:
        if name == chosen.environment:
            config = chosen
        else:
            config = config_from_args(argparse.Namespace(**{**vars(args), "env": name}))
        if config.region == chosen.region:
            everyone.append(Environment(config, clients("sagemaker")))
    return Environment(chosen, clients("sagemaker")), everyone


def cmd_models(args: argparse.Namespace, out: Printer = print) -> int:
    """Handler of ``python -m pipeline models``."""
    chosen, everyone = environments_from_args(args)
    try:
        if args.live:
            lines = live_lines(everyone)
        else:
            lines = list_lines(chosen, args.group or chosen.config.registry_group, everyone)
    except (ClientError, BotoCoreError) as exc:
        raise PipelineError(f"reading the model registry failed: {exc}") from None
    for line in lines:
        out(line)
    return 0
