"""Skip unchanged training: the training fingerprint, and `run` reusing a registered version.

The SageMaker writes are counted where the emulator answers them (its runtime's ``calls``), so
the state machine's own calls are counted too, not only the CLI's.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import boto3
import pytest

from pipeline import data, fingerprint, storage
from pipeline.cli import main
from pipeline.config import PipelineConfig, load_config
from pipeline.emulator import Emulator
from pipeline.registry import Lineage, ModelVersion
from pipeline.reuse import gate_problem
from tests.deploy.conftest import COMMIT, FAST, read_outputs

pytestmark = pytest.mark.deploy

QUICK = ["--poll-seconds", "0.02"]
SYNTHETIC = ["--set", "training_data=synthetic"]
WRITES = ("CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint")
DATA = {"train": {"ETag": "a" * 32}, "validation": {"ETag": "b" * 32}}


def sagemaker_writes(emulator: Emulator, before: Counter[str]) -> dict[str, int]:
    """The SageMaker writes answered since ``before`` (a copy of the emulator's call counter)."""
    now = emulator.runtime.calls
    return {name: now[f"sagemaker:{name}"] - before[f"sagemaker:{name}"] for name in WRITES}


def run(*args: str) -> int:
    return main(["run", "--commit", COMMIT, *args, *QUICK, *FAST])


def upload(config: PipelineConfig, seed: int) -> None:
    prepared = data.prepare(data.generate_raw(300, seed=seed), config.data.validation_fraction, config.data.seed)
    storage.upload_prepared(prepared, boto3.client("s3", region_name=config.account.region), config, synthetic=True)


def test_unchanged_inputs_train_nothing_and_leave_the_endpoint_alone(
    emulator: Emulator, config: PipelineConfig, cli_deployed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    upload(config, seed=1)
    assert run("--attempt", "1") == 0
    assert "training: no registered version was trained on these inputs" in capsys.readouterr().out
    endpoint = boto3.client("sagemaker", region_name=config.account.region).describe_endpoint
    served = endpoint(EndpointName=config.endpoint.name)["EndpointConfigName"]

    # The same bytes uploaded again (a new push): the same ETags, so the same fingerprint.
    upload(config, seed=1)
    before = Counter(emulator.runtime.calls)
    assert run("--attempt", "2") == 0
    out = capsys.readouterr().out
    assert "training skipped: same inputs as version 1" in out
    assert "already serves model package version 1" in out and "nothing deployed" in out
    assert sagemaker_writes(emulator, before) == dict.fromkeys(WRITES, 0)
    assert emulator.runtime.calls["stepfunctions:StartExecution"] == before["stepfunctions:StartExecution"]
    assert endpoint(EndpointName=config.endpoint.name)["EndpointConfigName"] == served
    outputs = read_outputs(cli_deployed["output"])
    assert outputs["execution_arn"] == "" and outputs["training"] == "reused"
    assert outputs["model_package_arn"].endswith("model-package/big-mart-staging/1")
    assert "Training: training skipped: same inputs as version 1" in cli_deployed["summary"].read_text()
    # The smoke step of such a run checks the version the endpoint serves (the rehearsal runs
    # it against a real model); a version the endpoint does not serve is refused before any call.
    other = outputs["model_package_arn"].replace("/1", "/7")
    assert main(["smoke", "--model-package", other, "--poll-seconds", "0.01"]) == 2
    assert f"does not serve {other} (it serves {outputs['model_package_arn']})" in capsys.readouterr().err

    # --retrain trains although nothing changed.
    before = Counter(emulator.runtime.calls)
    assert run("--attempt", "3", "--retrain") == 0
    assert "--retrain: training" in capsys.readouterr().out
    assert sagemaker_writes(emulator, before)["CreateTrainingJob"] == 1

    # A changed data file trains.
    upload(config, seed=2)
    before = Counter(emulator.runtime.calls)
    assert run("--attempt", "4") == 0
    assert "training: no registered version" in capsys.readouterr().out
    assert sagemaker_writes(emulator, before)["CreateTrainingJob"] == 1

    # The first data again: version 2 (--retrain, same inputs as 1, newer) is reused, and as the
    # endpoint serves version 3 it is deployed: no training, one endpoint update.
    upload(config, seed=1)
    before = Counter(emulator.runtime.calls)
    assert run("--attempt", "5") == 0
    out = capsys.readouterr().out
    assert "training skipped: same inputs as version 2" in out
    assert "model package version 2 (deployed from the registry" in out
    writes = sagemaker_writes(emulator, before)
    assert writes["CreateTrainingJob"] == 0 and writes["UpdateEndpoint"] == 1
    assert read_outputs(cli_deployed["output"])["training"] == "reused"


def test_a_changed_hyperparameter_trains(
    emulator: Emulator, config: PipelineConfig, cli_deployed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    upload(config, seed=1)
    assert run("--attempt", "1") == 0
    changed = ["--set", "hyperparameters.max_depth=3"]
    assert main(["deploy", "--commit", COMMIT, *FAST, *changed]) == 0
    before = Counter(emulator.runtime.calls)
    assert run("--attempt", "2", *changed) == 0
    assert "training: no registered version was trained on these inputs" in capsys.readouterr().out
    assert sagemaker_writes(emulator, before)["CreateTrainingJob"] == 1


def test_retrain_with_a_model_package_exits_2(emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", *FAST]) == 0
    assert run("--model-package", "1", "--retrain") == 2
    assert "--retrain trains a new model: it does not apply with --model-package" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change",
    [
        {"hyperparameters.eta": "0.5"},
        {"image_version": "1.7-1"},
        {"training_instance_type": "ml.m5.2xlarge"},
        {"training_instance_count": "2"},
        {"training_volume_gb": "20"},
        {"training_max_runtime_seconds": "1800"},
    ],
)
def test_every_training_input_changes_the_fingerprint(change: dict[str, str]) -> None:
    base = load_config("staging", environ={})
    changed = load_config("staging", environ={}, overrides=change)
    assert fingerprint.training_fingerprint(base, DATA) != fingerprint.training_fingerprint(changed, DATA)


def test_the_data_changes_the_fingerprint_and_the_rest_of_the_config_does_not() -> None:
    base = load_config("staging", environ={})
    same = fingerprint.training_fingerprint(base, DATA)
    # Where the endpoint polls or which commit is deployed does not change what is trained.
    assert fingerprint.training_fingerprint(base.replace(endpoint_poll_seconds=5), DATA) == same
    other = {**DATA, "validation": {"ETag": "c" * 32}}
    assert fingerprint.training_fingerprint(base, other) != same
    # The intrinsic the definition records it with is built from the same digest and format.
    expression = fingerprint.asl_expression(base, "$$.Execution.Input.Data")
    assert fingerprint.settings_digest(base) in expression and "'SHA-256'" in expression


def version(number: int, rmse: str, **metadata: str) -> ModelVersion:
    meta = {"WrittenBy": "big-mart-pipeline", "ValidationRmse": rmse, **metadata}
    return ModelVersion(f"arn:aws:sagemaker:eu-west-1:1:model-package/g/{number}", "g", number, "Approved", None, meta)


def test_a_version_that_fails_todays_gate_is_not_reused() -> None:
    config = load_config("staging", environ={}, overrides={"max_validation_rmse": "1000", "max_regression_pct": "5"})
    nothing = Lineage("e", "absent")
    assert "above max_validation_rmse 1000" in gate_problem(config, version(1, "1200"), nothing)
    assert gate_problem(config, version(1, "900"), nothing) == ""
    champion = version(2, "800", RegressionBar="840", RegressionPct="5")
    serving = Lineage("e", "InService", "c", "m", champion)
    assert "above the bar 840 of champion version 2" in gate_problem(config, version(1, "900"), serving)
    assert gate_problem(config, version(1, "830"), serving) == ""
    # The champion itself is always reusable.
    assert gate_problem(config, champion, serving) == ""
