"""moto's heavy backends stay unimported until something uses them (pipeline.emulator.lazy_moto)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: in a test process another test may have imported ECS already.
SCRIPT = """
import json, sys
import boto3
from pipeline.emulator import EmulatorServer

seen = {}
with EmulatorServer() as server:
    kw = dict(region_name="eu-west-1", endpoint_url=server.url, aws_access_key_id="t", aws_secret_access_key="t")
    aas = boto3.client("application-autoscaling", **kw)
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId="endpoint/e/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1, MaxCapacity=2,
    )
    seen["sagemaker targets"] = len(aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"])
    seen["loaded after sagemaker"] = sorted(m for m in ("moto.ecs", "moto.ec2") if m in sys.modules)
    # An ECS target: the real ECS backend checks the service exists.
    ecs = boto3.client("ecs", **kw)
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="f", containerDefinitions=[{"name": "n", "image": "i", "memory": 128}])
    ecs.create_service(cluster="c", serviceName="svc", taskDefinition="f", desiredCount=1)
    ecs_target = dict(ServiceNamespace="ecs", ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=2)
    aas.register_scalable_target(ResourceId="service/c/svc", **ecs_target)
    try:
        aas.register_scalable_target(ResourceId="service/c/ghost", **ecs_target)
        seen["missing service"] = "accepted"
    except aas.exceptions.ValidationException as exc:
        seen["missing service"] = exc.response["Error"]["Message"]
    seen["ecs targets"] = len(aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"])
print(json.dumps(seen))
"""


def test_autoscaling_loads_without_ecs_and_ec2_and_ecs_targets_still_work() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {
        "sagemaker targets": 1,
        "loaded after sagemaker": [],
        "missing service": "ECS service doesn't exist: service/c/ghost",
        "ecs targets": 1,
    }
