"""Configuration: precedence, validation, and one clear line per mistake."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.config import environments, find_config_file, load_config, read_config_file
from pipeline.errors import ConfigError

CONFIG = """
[defaults]
region = "eu-west-1"
image_version = "3.0-5"

[defaults.hyperparameters]
objective = "reg:squarederror"
num_round = 50
eta = 0.3

[environments.staging]
state_machine_name = "sm-staging"
endpoint_name = "ep-staging"
bucket = "file-bucket"
sagemaker_role_arn = "arn:aws:iam::111122223333:role/sm"
workflow_role_arn = "arn:aws:iam::111122223333:role/wf"

[environments.staging.hyperparameters]
eta = 0.1
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(CONFIG)
    return path


def load(path: Path, environ=None, overrides=None, environment="staging"):
    return load_config(environment, path=path, environ=environ or {}, overrides=overrides)


def problems_of(path: Path, environ=None, overrides=None, text=None) -> list[str]:
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path, environ, overrides)
    return caught.value.problems


def test_file_values_and_defaults(config_file):
    config = load(config_file)
    assert config.account.bucket == "file-bucket"
    assert config.account.prefix == "sagemaker/big-mart-pipeline"
    assert config.training.hyperparameters == {"objective": "reg:squarederror", "num_round": 50, "eta": 0.1}
    assert config.training_image.endswith("/sagemaker-xgboost:3.0-5")


def test_precedence_flag_over_environment_over_file(config_file):
    environ = {"PIPELINE_BUCKET": "env-bucket", "PIPELINE_TRAINING_INSTANCE_COUNT": "2"}
    assert load(config_file, environ).account.bucket == "env-bucket"
    assert load(config_file, environ).training.instance_count == 2
    config = load(config_file, environ, {"bucket": "flag-bucket", "hyperparameters.eta": "0.05"})
    assert config.account.bucket == "flag-bucket"
    assert config.training.hyperparameters["eta"] == 0.05
    assert config.training.hyperparameters["num_round"] == 50


def test_environment_json_for_tables(config_file):
    config = load(config_file, {"PIPELINE_TAGS": '{"team": "ml"}', "PIPELINE_HYPERPARAMETERS": '{"max_depth": 3}'})
    assert config.account.tags == {"team": "ml"}
    assert config.training.hyperparameters["max_depth"] == 3


@pytest.mark.parametrize("environment", environments(read_config_file(find_config_file(None, {}))))
def test_every_environment_has_a_valid_quality_gate_and_its_own_registry_group(environment):
    config = load_config(environment, environ={})
    assert config.gate.max_validation_rmse is not None and config.gate.max_validation_rmse > 0
    assert 0 <= config.gate.max_regression_pct <= 100
    assert config.registry_group == config.endpoint.name  # one group per environment


def test_a_gate_without_an_absolute_bar_and_a_zero_tolerance_are_allowed(config_file):
    config = load_config("staging", path=config_file, environ={}, overrides={"max_regression_pct": "0"})
    assert config.gate.max_validation_rmse is None and config.gate.max_regression_pct == 0.0


def test_checked_in_file_has_staging_and_prod():
    staging = load_config("staging", environ={})
    prod = load_config("prod", environ={})
    assert staging.endpoint.name != prod.endpoint.name
    assert staging.training.hyperparameters["objective"] == "reg:squarederror"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"bukcet": "x"}, "--set bukcet: unknown key 'bukcet' (did you mean 'bucket'?)"),
        ({"region": "mars-1"}, "region = 'mars-1' is not an AWS region (expected a name like eu-west-1 or us-east-1)"),
        ({"bucket": "Bad_Bucket"}, "bucket = 'Bad_Bucket' is not a valid S3 bucket name"),
        (
            {"sagemaker_role_arn": "arn:aws:iam::123:role/x"},
            "sagemaker_role_arn = 'arn:aws:iam::123:role/x' is not an IAM role ARN",
        ),
        (
            {"training_instance_type": "m5.large"},
            "training_instance_type = 'm5.large' is not a SageMaker instance type",
        ),
        ({"endpoint_name": "ep_staging"}, "endpoint_name = 'ep_staging' is not a valid SageMaker name"),
        ({"endpoint_name": "e" * 40}, "endpoint_name = '" + "e" * 40 + "' is 40 characters long; per-run names"),
        ({"training_instance_count": "two"}, "training_instance_count = 'two' must be an integer"),
        ({"training_instance_count": "0"}, "training_instance_count = 0 is out of range (must be between 1 and 100)"),
        ({"hyperparameters.eta": "1.5"}, "hyperparameters.eta = '1.5': 1.5 is not in [0, 1]"),
        (
            {"hyperparameters.max_dept": "3"},
            "hyperparameters.max_dept is not a supported XGBoost hyperparameter (did you mean 'max_depth'?)",
        ),
        (
            {"hyperparameters.objective": "reg:linear"},
            "hyperparameters.objective = 'reg:linear' is not allowed: this pipeline is a regression (allowed: reg:squarederror",
        ),
        (
            {"hyperparameters.num_round": "1.5"},
            "hyperparameters.num_round = '1.5': could not parse value '1.5' (expected an integer",
        ),
        ({"prefix": "/abs/"}, "prefix = '/abs/' is not a valid S3 prefix"),
        ({"image_version": "9.9-9"}, "image_version = '9.9-9' cannot be resolved: Unsupported xgboost version"),
        ({"tracing": "maybe"}, "tracing = 'maybe' must be true or false"),
        ({"logging_level": "ALL"}, "logging_level = 'ALL' needs log_group_arn"),
        ({"tags.aws:x": "y"}, "tags.aws:x is not a valid tag key"),
        ({"state_machine_name": "has space"}, "state_machine_name = 'has space' is not a valid state machine name"),
        ({"region.sub": "x"}, "--set region.sub: 'region' is not a table"),
        (
            {"deployment_strategy": "blue"},
            "deployment_strategy = 'blue' is not allowed (allowed: none, all_at_once, canary, linear)",
        ),
        (
            {"deployment_strategy": "canary", "alarms": "false"},
            "deployment_strategy = 'canary' needs alarms = true or rollback_alarms",
        ),
        ({"rollback_alarms": "other-5xx"}, "rollback_alarms entry 'other-5xx' must be named 'ep-staging-...'"),
        ({"alarm_period_seconds": "90"}, "alarm_period_seconds = 90 must be a multiple of 60"),
        ({"alarm_period_seconds": "30"}, "alarm_period_seconds = 30 is out of range (must be between 60 and 86400)"),
        (
            {"alarm_period_seconds": "3600", "alarm_evaluation_periods": "25"},
            "alarm_period_seconds x alarm_evaluation_periods = 90000 s; CloudWatch evaluates at most one day",
        ),
        ({"alarm_5xx_errors": "-1"}, "alarm_5xx_errors = -1 is out of range (must be between 0 and 1000000)"),
        (
            {"rollback_alarms": ",".join(f"ep-staging-{i}" for i in range(9))},
            "rollback_alarms and the pipeline's own alarms make 11 alarms; SageMaker allows at most 10",
        ),
        (
            {"deployment_strategy": "linear", "rollback_alarms": "a", "deployment_step_percent": "5"},
            "deployment_step_percent = 5 is out of range for linear (must be between 10 and 50)",
        ),
        (
            {"deployment_strategy": "canary", "rollback_alarms": "a", "endpoint_instance_count": "1"},
            "deployment_strategy = 'canary' shifts traffic in parts of the fleet, which needs endpoint_instance_count >= 2",
        ),
        (
            {"deployment_strategy": "linear", "rollback_alarms": "a", "endpoint_instance_count": "1"},
            "deployment_strategy = 'linear' shifts traffic in parts of the fleet, which needs endpoint_instance_count >= 2",
        ),
        (
            {
                "deployment_strategy": "canary",
                "rollback_alarms": "a",
                "endpoint_instance_count": "4",
                "deployment_step_percent": "10",
            },
            "deployment_step_percent = 10 of 4 instances is less than one instance; use at least 25",
        ),
        ({"smoke_p50_ms": "0"}, "smoke_p50_ms = 0.0 is out of range (must be between 1.0 and 600000.0)"),
        (
            {"deployment_max_seconds": "60"},
            "deployment_max_seconds = 60 is out of range (must be between 600 and 14400)",
        ),
        ({"max_validation_rmse": "0"}, "max_validation_rmse = 0.0 must be a positive number"),
        ({"max_validation_rmse": "-5"}, "max_validation_rmse = -5.0 must be a positive number"),
        ({"max_validation_rmse": "low"}, "max_validation_rmse = 'low' must be a finite number"),
        ({"max_validation_rmse": "inf"}, "max_validation_rmse = 'inf' must be a finite number"),
        ({"max_regression_pct": "101"}, "max_regression_pct = 101.0 must be a percentage between 0 and 100"),
        ({"max_regression_pct": "-1"}, "max_regression_pct = -1.0 must be a percentage between 0 and 100"),
        ({"max_regression_pct": "ten"}, "max_regression_pct = 'ten' must be a finite number"),
        ({"model_package_group": "models_of_staging"}, "model_package_group = 'models_of_staging' is not a valid"),
        ({"model_package_group": "m" * 64}, "model_package_group = '" + "m" * 64 + "' is 64 characters long"),
        (
            {"hyperparameters.eval_metric": "mae"},
            "hyperparameters.eval_metric = 'mae': the quality gate reads validation:rmse",
        ),
    ],
)
def test_bad_value_is_named_with_what_is_allowed(config_file, overrides, expected):
    problems = problems_of(config_file, overrides=overrides)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once(config_file):
    problems = problems_of(
        config_file,
        environ={"PIPELINE_REGION": "nowhere"},
        overrides={"bucket": "A", "hyperparameters.eta": "2", "bukcet": "x"},
    )
    assert len(problems) == 4
    assert any("environment variable" in p or "region = 'nowhere'" in p for p in problems)


def test_unknown_key_in_file_suggests_the_right_one(config_file):
    text = CONFIG.replace('bucket = "file-bucket"', 'bucket = "file-bucket"\nendpoint_nmae = "x"')
    problems = problems_of(config_file, text=text)
    assert problems == [
        f"{config_file} [environments.staging]: unknown key 'endpoint_nmae' (did you mean 'endpoint_name'?)"
    ]


def test_missing_required_key_says_how_to_set_it(config_file):
    problems = problems_of(config_file, text=CONFIG.replace('bucket = "file-bucket"\n', ""))
    assert problems == ["bucket is required (set it in the config file, PIPELINE_BUCKET or --set bucket=...)"]


def test_unknown_environment_lists_the_defined_ones(config_file):
    with pytest.raises(ConfigError, match=r"environment 'qa' is not defined in .* \(defined: staging\)"):
        load(config_file, environment="qa")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[defaults\nregion=")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load(broken)


def test_config_file_from_environment_variable(config_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config("staging", environ={"PIPELINE_CONFIG": str(config_file)})
    assert config.state_machine.name == "sm-staging"


def test_rollback_alarms_from_environment_list(config_file):
    config = load(
        config_file,
        {
            "PIPELINE_ROLLBACK_ALARMS": "ep-staging-errors, ep-staging-latency",
            "PIPELINE_DEPLOYMENT_STRATEGY": "canary",
            "PIPELINE_ENDPOINT_INSTANCE_COUNT": "2",
            "PIPELINE_DEPLOYMENT_STEP_PERCENT": "50",
        },
    )
    assert config.guardrails.rollback_alarms == ["ep-staging-errors", "ep-staging-latency"]
    from_json = load(config_file, {"PIPELINE_ROLLBACK_ALARMS": '["ep-staging-x"]'})
    assert from_json.guardrails.rollback_alarms == ["ep-staging-x"]


def test_sections_hold_each_key_once_with_its_real_type():
    from pipeline.config import KEYS, SECTIONS

    assert len(KEYS) == sum(len(dataclasses.fields(cls)) for cls in SECTIONS.values())
    config = load_config("staging", environ={"PIPELINE_TRACING": "true", "PIPELINE_SMOKE_P50_MS": "250"})
    assert config.state_machine.tracing is True
    assert config.smoke.p50_ms == 250.0 and isinstance(config.smoke.p50_ms, float)
    assert config.values()["smoke_p50_ms"] == 250.0
    assert config.replace(endpoint_poll_seconds=5).endpoint.poll_seconds == 5


def test_hyperparameters_use_the_algorithm_table():
    from pipeline.config import REGRESSION_OBJECTIVES
    from pipeline.hyperparameters import SPECS

    assert set(REGRESSION_OBJECTIVES) <= set(SPECS["objective"].allowed)
    # A name the algorithm knows is accepted by the configuration too, typed as the algorithm parses it.
    config = load_config("staging", environ={}, overrides={"hyperparameters.max_bin": "64"})
    assert config.training.hyperparameters["max_bin"] == 64


def test_validation_needs_no_sagemaker_sdk():
    import subprocess
    import sys

    code = (
        "import sys; from pipeline.config import load_config; load_config('staging', environ={}); "
        "print('sagemaker' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
