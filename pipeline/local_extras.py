"""What ``python -m pipeline local`` shows of running the endpoint in production: autoscaling
registered (with its values) and what ``prune`` would delete (a dry run; nothing is deleted).

Local mode runs staging, which has autoscaling off; so that a local run exercises the same
registration prod makes, it turns autoscaling on for its own run (1-2 instances around staging's
one) unless the environment already has it on, and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.config import PipelineConfig
from pipeline.printer import Printer

if TYPE_CHECKING:
    from pipeline.clients import Clients


def local_autoscaling(config: PipelineConfig) -> PipelineConfig:
    """``config`` with autoscaling on (min = the endpoint's instance count, max one more) when it is off."""
    if config.autoscaling.enabled:
        return config
    count = config.endpoint.instance_count
    return config.replace(autoscaling=True, autoscaling_min_capacity=count, autoscaling_max_capacity=count + 1)


def report(config: PipelineConfig, clients: Clients, outcome: Any, out: Printer, *, turned_on: bool) -> None:
    """Print the autoscaling registration the smoke step made, then the prune dry run's table."""
    from pipeline import prune

    scaling = getattr(outcome, "scaling", None)
    if turned_on:
        out(f"autoscaling: {config.environment} has autoscaling = false; local mode turned it on for this run")
    if scaling is not None and scaling.result is not None:
        out(scaling.result.line())  # "autoscaling registered: endpoint/... 1-2 instances, ..."
    elif scaling is not None:
        out(f"autoscaling: FAILED: {scaling.error}")
    plan = prune.plan_prune(config, clients)
    for line in plan.table(executing=False):
        out(f"prune: {line}")
    out(
        f"prune: dry run: {len(plan.deletions)} would be deleted with `prune --yes` (keeping {plan.keep_newest} newest)"
    )
