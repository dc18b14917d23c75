"""A passing smoke test registers the endpoint's autoscaling (prod); a rollback keeps its capacity."""

from __future__ import annotations

import boto3
import pytest

from pipeline import data
from pipeline.autoscaling import NAMESPACE, current
from pipeline.cli import main
from pipeline.config import load_config
from pipeline.emulator import Emulator
from tests.conftest import REGION
from tests.smoke.conftest import Live

pytestmark = pytest.mark.smoke

FAST = ["--wait-seconds", "5", "--poll-seconds", "0.01", "--calls", "4"]


@pytest.fixture
def prod(
    emulator: Emulator, boto_session: boto3.Session, prepared: data.PreparedData, trained: dict[int, bytes]
) -> Live:
    """prod's endpoint on the "old" model, "new" configured (models shared with the other smoke tests)."""
    live = Live(emulator, load_config("prod"), boto_session, prepared, {"old": 5, "new": 40}, trained)
    live.create("old")
    return live


def smoke(live: Live, env: str, expected: str = "new", previous: str = "old") -> int:
    return main(
        [
            "smoke",
            "--env",
            env,
            "--expected-config",
            live.configs[expected],
            "--previous-config",
            live.configs[previous],
        ]
        + FAST
    )


def test_a_passing_smoke_test_registers_prods_autoscaling_once(prod: Live, capsys: pytest.CaptureFixture[str]) -> None:
    prod.deploy("new")
    assert smoke(prod, "prod") == 0
    out = capsys.readouterr().out
    assert (
        "autoscaling registered: endpoint/big-mart-prod/variant/AllTraffic 2-4 instances, target 70 "
        "SageMakerVariantInvocationsPerInstance (per instance per minute), cooldowns scale-in 300 s / scale-out 60 s"
    ) in out
    aas = boto3.client("application-autoscaling", region_name=REGION)
    registration = current(prod.cfg, aas)
    assert (registration.min_capacity, registration.max_capacity) == (2, 4)
    assert smoke(prod, "prod") == 0
    assert "autoscaling unchanged:" in capsys.readouterr().out


def test_a_failed_smoke_test_registers_nothing_and_its_rollback_keeps_the_reached_capacity(
    prod: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    sagemaker = prod.sagemaker
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=prod.name, DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}]
    )
    sagemaker.update_endpoint(
        EndpointName=prod.name, EndpointConfigName=prod.configs["new"], RetainAllVariantProperties=True
    )
    prod.wait_settled()
    assert prod.endpoint()["ProductionVariants"][0]["DesiredInstanceCount"] == 3
    prod.emu.misbehave_on_invoke("garbage", endpoint=prod.name, calls=[1])
    assert smoke(prod, "prod") == 1
    out = capsys.readouterr().out
    assert f"rollback: updated back to {prod.configs['old']}" in out
    assert "autoscaling" not in out
    endpoint = prod.endpoint()
    assert endpoint["EndpointConfigName"] == prod.configs["old"]
    # The old config says 1 instance; the rollback kept the 3 autoscaling had reached.
    assert endpoint["ProductionVariants"][0]["DesiredInstanceCount"] == 3
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []


def test_staging_has_no_autoscaling(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    live.create("old")
    live.deploy("new")
    assert smoke(live, "staging") == 0
    assert "autoscaling" not in capsys.readouterr().out
    aas = boto3.client("application-autoscaling", region_name=REGION)
    assert aas.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []
