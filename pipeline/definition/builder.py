"""Build the Step Functions state machine from its stages: [registered version?] -> train -> gate
-> register -> save -> deploy.

Each stage is one module in ``pipeline.definition.stages`` with ``build(ctx) -> Stage``; this
module chains them in order (every exit of a stage, and the default of each of its ``defaults``
Choices, goes on to the next stage's entry; a ``skips`` exit goes to the entry of the stage it
names) and wraps the chain in a graph with the execution timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

from stepfunctions.steps import Chain, integration_resources
from stepfunctions.steps.states import Graph

from pipeline.config import PipelineConfig
from pipeline.definition.context import Stage, StageContext, partition
from pipeline.definition.names import DEPLOY_KEY, INPUT_KEYS, LINEAGE_KEYS
from pipeline.definition.stages import (
    check_deployment,
    configure_endpoint,
    deploy_endpoint,
    quality_gate,
    register_model,
    registered_version,
    save_model,
    train,
)

# The stages in order. A new stage: one module in stages/ and one entry here.
STAGES: tuple[Callable[[StageContext], Stage], ...] = (
    registered_version.build,
    train.build,
    quality_gate.build,
    register_model.build,
    save_model.build,
    configure_endpoint.build,
    deploy_endpoint.build,
    check_deployment.build,
)


def build_definition(config: PipelineConfig) -> dict[str, Any]:
    """The state machine definition (ASL) for a configuration, as a dict."""
    with sdk_partition(partition(config.account.region)):
        return graph(config).to_dict()


def definition_json(config: PipelineConfig) -> str:
    """The definition as stable, pretty JSON: the same configuration gives the same bytes."""
    return json.dumps(build_definition(config), indent=2, ensure_ascii=False) + "\n"


def graph(config: PipelineConfig) -> Graph:
    """Build every stage and chain them (call inside ``sdk_partition``)."""
    ctx = StageContext(config)
    stages = [build(ctx) for build in STAGES]
    entries = {build: stage.entry for build, stage in zip(STAGES, stages, strict=True)}
    for before, after in itertools.pairwise(stages):
        for state in before.exits:
            state.next(after.entry)
        for choice in before.defaults:
            choice.default_choice(after.entry)
    for stage in stages:
        for target, states in stage.skips.items():
            for state in states:
                state.next(entries[target])
    return Graph(
        Chain([stages[0].entry]),
        timeout_seconds=config.state_machine.execution_timeout_seconds,
        comment=(
            f"Big Mart sales model ({config.environment}): train XGBoost, gate it on validation:rmse, "
            f"register it in {config.registry_group}, save the model, configure and deploy endpoint "
            f"{config.endpoint.name}; given {DEPLOY_KEY}, deploy that registered version instead "
            f"(no training, gate or registration). Input: {', '.join(INPUT_KEYS + LINEAGE_KEYS)}."
        ),
    )


@contextlib.contextmanager
def sdk_partition(name: str) -> Iterator[None]:
    """Make the SDK put ``name`` in integration ARNs.

    The SDK otherwise derives the partition from whatever region the ambient boto3 session
    has, so the same configuration would give different definitions on different machines
    (and each lookup builds several boto3 sessions, which costs seconds).
    """
    original = integration_resources.get_aws_partition
    integration_resources.get_aws_partition = lambda: name
    try:
        yield
    finally:
        integration_resources.get_aws_partition = original
