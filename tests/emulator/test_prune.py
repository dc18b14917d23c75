"""prune on the emulator after four real executions: keeps live, rollback, Approved and the newest;
a dry run writes nothing; --yes deletes the rest; bad input exits 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from pipeline import prune, registry
from pipeline.cli import main
from pipeline.clients import Clients
from pipeline.emulator import Emulator, Timings
from tests.conftest import REGION
from tests.emulator.conftest import TIME_SCALE, Pipeline

pytestmark = pytest.mark.emulator

RUNS = ("run1", "run2", "run3", "run4")


class World:
    """staging after four executions (run4 live, run3 its rollback target, run1's version Approved),
    plus an endpoint config that is not this environment's."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cfg = pipeline.cfg
        self.executions: dict[str, dict[str, Any]] = {}
        for run in RUNS:
            self.executions[run] = pipeline.run(run)
            assert self.executions[run]["status"] == "SUCCEEDED", self.executions[run]
        first = json.loads(self.executions["run1"]["output"])["ModelPackageArn"]
        registry.approve(pipeline.sagemaker, first, "smoke test passed", regression_pct=5.0)
        sm = pipeline.sagemaker
        variant = {"VariantName": "AllTraffic", "ModelName": "big-mart-staging-run1-model", "InitialInstanceCount": 1}
        sm.create_endpoint_config(
            EndpointConfigName="big-mart-staging-other-config",
            ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}],
            Tags=[{"Key": "project", "Value": "big-mart-pipeline"}, {"Key": "environment", "Value": "prod"}],
        )
        sm.create_endpoint_config(
            EndpointConfigName="big-mart-staging-by-hand",
            ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}],
        )

    def names(self) -> dict[str, set[str]]:
        sm, s3 = self.pipeline.sagemaker, self.pipeline.s3
        prefix = f"{self.cfg.account.prefix}/output/"
        keys = s3.list_objects_v2(Bucket=self.cfg.account.bucket, Prefix=prefix).get("Contents", [])
        return {
            "endpoint-config": {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]},
            "model": {m["ModelName"] for m in sm.list_models()["Models"]},
            "training-output": {k["Key"][len(prefix) :].split("/", 1)[0] for k in keys},
        }


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with Emulator(timings=Timings(time_scale=TIME_SCALE)) as emu:
        yield World(Pipeline(emu))


def name(run: str, kind: str) -> str:
    return f"big-mart-staging-{run}-{kind}"


def test_the_dry_run_keeps_live_rollback_approved_and_the_newest_and_writes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = world.names()
    plan = prune.plan_prune(world.cfg, Clients(session=boto3.Session(region_name=REGION)), keep=1)
    kept = {(i.kind, i.name): i.keep for i in plan.items if i.keep}
    assert kept[("endpoint-config", name("run4", "config"))] == "live: the endpoint serves it"
    assert kept[("endpoint-config", name("run3", "config"))].startswith(
        "rollback: the config execution run4 reports as PreviousEndpoint"
    )
    assert kept[("model", name("run4", "model"))].startswith(f"the model of {name('run4', 'config')} (live)")
    assert kept[("model", name("run3", "model"))].startswith(f"the model of {name('run3', 'config')} (rollback)")
    assert kept[("training-output", name("run1", "train"))] == "Approved version 1's training output"
    assert kept[("training-output", name("run4", "train"))].startswith("the training output of")
    assert kept[("endpoint-config", "big-mart-staging-other-config")].startswith("not ours: tag environment is 'prod'")
    assert kept[("endpoint-config", "big-mart-staging-by-hand")].startswith("not ours: the name lacks")
    assert {(i.kind, i.name) for i in plan.deletions} == {
        ("endpoint-config", name("run1", "config")),
        ("endpoint-config", name("run2", "config")),
        ("model", name("run1", "model")),
        ("model", name("run2", "model")),
        ("training-output", name("run2", "train")),
    }

    assert main(["prune", "--keep", "1"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["ACTION", "KIND", "NAME", "CREATED", "WHY"]
    rows = {tuple(line.split()[:4]) for line in out.splitlines()}
    assert ("would", "delete", "endpoint-config", name("run1", "config")) in rows
    assert ("keep", "endpoint-config", name("run3", "config")) in {row[:3] for row in rows}
    assert "dry run: 5 would be deleted, nothing was; add --yes to delete them" in out
    assert world.names() == before


def test_yes_deletes_the_rest_and_the_rollback_target_still_serves(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prune", "--keep", "1", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "pruned 5 of environment staging" in out
    after = world.names()
    assert after["endpoint-config"] == {
        name("run3", "config"),
        name("run4", "config"),
        "big-mart-staging-other-config",
        "big-mart-staging-by-hand",
    }
    assert after["model"] == {name("run3", "model"), name("run4", "model")}
    assert after["training-output"] == {name("run1", "train"), name("run3", "train"), name("run4", "train")}
    endpoint = world.pipeline.endpoint()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", name("run4", "config"))
    # The rollback the smoke step would make still works: its config and model are there.
    sm = world.pipeline.sagemaker
    sm.update_endpoint(EndpointName="big-mart-staging", EndpointConfigName=name("run3", "config"))
    assert main(["prune", "--keep", "1"]) == 0
    assert "dry run: 0 would be deleted" in capsys.readouterr().out


@pytest.mark.parametrize("keep", ["0", "-3"])
def test_keep_below_one_exits_2_and_writes_nothing(world: World, keep: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = world.names()
    assert main(["prune", "--keep", keep, "--yes"]) == 2
    assert f"--keep {int(keep)} must be a whole number of at least 1" in capsys.readouterr().err
    assert world.names() == before


def test_retention_keep_below_one_in_the_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--set", "retention_keep=0"]) == 2
    assert "retention_keep = 0 must be at least 1" in capsys.readouterr().err


def test_if_configured_does_nothing_when_the_key_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--if-configured"]) == 0
    assert "retention_prune_after_deploy = false in staging: nothing pruned" in capsys.readouterr().out
