"""``local --promote``: after the run, promote what staging approved to prod, as deploy.yml's prod job does.

The target is the environment whose ``promote_from`` is the run's environment (prod for
staging). Its state machine, alarms and bucket are deployed into the same emulator first (the
prod job's deploy), then :func:`pipeline.promote.promote` runs unchanged: the checks, the
verified copy into prod's bucket, registration in prod's group, the registered-version
deployment (no training), prod's smoke test and approval there. Then both environments' lineage
is printed, as ``models --live`` prints it.

One local difference, said on the output: prod refuses models trained on synthetic data
(``allow_synthetic_data = false``); local runs train on synthetic data unless ``--data`` names
the real Train.csv, so a local promotion of a synthetic model allows it for prod in this
emulator only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import PipelineConfig, environments, find_config_file, load_config, read_config_file
from pipeline.errors import PipelineError, UsageError
from pipeline.printer import Printer

if TYPE_CHECKING:
    from pipeline.clients import Clients
    from pipeline.promote import Promotion


@dataclass
class LocalPromotion:
    """What ``local --promote`` did: the promotion and both environments' lineage lines."""

    target: str
    promotion: Promotion
    lineage: list[str] = field(default_factory=list)


def promotion_target(
    config: PipelineConfig, *, path: str | None = None, environ: Mapping[str, str] | None = None
) -> PipelineConfig:
    """The environment promoted from ``config``'s (its ``promote_from``), from the configuration file alone.

    ``PIPELINE_*`` variables and ``--set`` describe the run's environment, not the target (as in
    ``promote``, where they describe the target and the source is the file's).
    """
    found = find_config_file(path, os.environ if environ is None else environ)
    names = [
        name
        for name in environments(read_config_file(found))
        if name != config.environment
        and load_config(name, path=found, environ={}).registry.promote_from == config.environment
    ]
    if not names:
        raise UsageError(
            f"--promote: no environment of the configuration has promote_from = {config.environment!r}; "
            f"set it on the environment that receives {config.environment}'s versions (as prod has)"
        )
    if len(names) > 1:
        raise UsageError(
            f"--promote: {', '.join(names)} all promote from {config.environment}; promote one with `promote --to`"
        )
    return load_config(names[0], path=found, environ={})


def promote_local(
    source: PipelineConfig,
    target: PipelineConfig,
    clients: Clients,
    *,
    synthetic: bool,
    out: Printer = print,
) -> LocalPromotion:
    """Deploy ``target``'s state machine in the emulator, promote ``source``'s serving version to it, print lineage."""
    from pipeline.alarms import ensure_alarms
    from pipeline.definition import run_id_now
    from pipeline.deploy import deploy_state_machine
    from pipeline.local import ensure_bucket
    from pipeline.promote import promote

    def say(line: str) -> None:
        out(f"promote: {line}")

    if synthetic and not target.registry.allow_synthetic_data:
        say(
            f"{target.environment} refuses models trained on synthetic data (allow_synthetic_data = false); "
            f"this local promotion allows it in the emulator only (pass --data Train.csv to promote a real model)"
        )
        target = target.replace(allow_synthetic_data=True)
    ensure_bucket(clients("s3"), target)
    ensure_alarms(target, clients("cloudwatch"), out=say)
    deploy_state_machine(target, clients("stepfunctions"), commit_sha=None, out=say)
    promotion = promote(
        source,
        target,
        clients,
        version=None,
        run_id=run_id_now(),  # also the execution name: at most 24 characters
        out=say,
        poll_seconds=0.1,
    )
    if not promotion.ok:
        failure = promotion.smoke.failure if promotion.smoke is not None else "the smoke test did not run"
        raise PipelineError(f"the promotion to {target.environment} failed its smoke test: {failure}")
    return LocalPromotion(target.environment, promotion, lineage_lines([source, target], clients))


def lineage_lines(configs: list[PipelineConfig], clients: Clients) -> list[str]:
    """Each environment's endpoint -> config -> model -> version -> job, commit, metric, sha256, data."""
    from pipeline.models import Environment, live_lines

    sagemaker = clients("sagemaker")
    return live_lines([Environment(config, sagemaker) for config in configs])
