"""The builder chains the stages: every exit of a stage goes on to the next stage's entry."""

from __future__ import annotations

import itertools

import pytest

from pipeline.config import load_config
from pipeline.definition import build_definition
from pipeline.definition import state_names as names
from pipeline.definition.builder import STAGES, sdk_partition
from pipeline.definition.context import StageContext, partition
from pipeline.definition.stages import save_model


@pytest.fixture(scope="module")
def staging():
    return load_config("staging", environ={})


def test_each_stage_exit_goes_to_the_next_stage_entry(staging) -> None:
    with sdk_partition(partition(staging.account.region)):
        ctx = StageContext(staging)
        stages = [build(ctx) for build in STAGES]
    definition = build_definition(staging)
    assert definition["StartAt"] == stages[0].entry.state_id
    for before, after in itertools.pairwise(stages):
        assert before.exits or before.defaults, f"{before.entry.state_id} has no exit to {after.entry.state_id}"
        for state in before.exits:
            assert definition["States"][state.state_id]["Next"] == after.entry.state_id
        for choice in before.defaults:
            assert definition["States"][choice.state_id]["Default"] == after.entry.state_id
    assert stages[-1].exits == []


def test_a_skip_goes_to_the_entry_of_the_stage_it_names(staging) -> None:
    with sdk_partition(partition(staging.account.region)):
        ctx = StageContext(staging)
        stages = dict(zip(STAGES, (build(ctx) for build in STAGES), strict=True))
    definition = build_definition(staging)
    skips = [(target, state) for stage in stages.values() for target, states in stage.skips.items() for state in states]
    # Deploying a registered version skips training, the gate and registration, to the model stage.
    assert [(target, state.state_id) for target, state in skips] == [
        (save_model.build, names.DEPLOY_REGISTERED_VERSION)
    ]
    for target, state in skips:
        assert definition["States"][state.state_id]["Next"] == stages[target].entry.state_id == names.SAVE_MODEL


def test_every_state_name_is_a_state_of_the_definition(staging) -> None:
    defined = set(build_definition(staging)["States"])
    named = {value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)}
    # Stage names label catches and failures; only the deploy and find-champion stages have no state of their own.
    assert named - {names.DEPLOY_STAGE, names.FIND_CHAMPION_STAGE} <= defined
    assert set(names.FIRST_RUN_STAGES) <= defined
