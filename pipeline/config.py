"""One typed, validated description of a deployment: file < environment variables < flags.

The checked-in file (``config/pipeline.toml``) has a ``[defaults]`` table and one
``[environments.<name>]`` table per environment. Environment variables are ``PIPELINE_<KEY>``
(``PIPELINE_BUCKET``, ``PIPELINE_HYPERPARAMETERS`` as JSON, ...). Flags are ``--set key=value``
(``--set hyperparameters.eta=0.1``). Every problem is collected and reported at once.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import math
import os
import sys
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, get_type_hints

from pipeline import validation
from pipeline.errors import ConfigError
from pipeline.hyperparameters import SPECS, HyperparameterError, parse_value
from pipeline.sdk import quiet_sagemaker_sdk

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

ENV_PREFIX = "PIPELINE_"
CONFIG_ENV_VAR = "PIPELINE_CONFIG"
DEFAULT_CONFIG_NAME = Path("config") / "pipeline.toml"
# Per-run names are "<endpoint_name>-<run_id>-<kind>"; run ids are at most this long.
MAX_RUN_ID_LENGTH = 24
RUN_NAME_KINDS = ("train", "model", "config")

# This pipeline serves a regression (the smoke test checks predicted sales), so of the algorithm's
# objectives (pipeline.hyperparameters) it accepts the regression ones.
REGRESSION_OBJECTIVES = (
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:tweedie",
    "count:poisson",
    "reg:gamma",
)
REQUIRED_HYPERPARAMETERS = tuple(name for name, spec in SPECS.items() if spec.required)

HyperparameterValue = int | float | str
Hyperparameters = dict[str, HyperparameterValue]
Tags = dict[str, str]


def setting(key: str, default: Any = MISSING, *, between: tuple[Any, Any] | None = None) -> Any:
    """A section field read from the file key ``key``, optionally limited to ``between`` (inclusive).

    Table and list fields use ``field(default_factory=..., metadata={"key": ..., "between": None})``.
    """
    return field(default=default, metadata={"key": key, "between": between})


@dataclass(frozen=True)
class Account:
    """Where the pipeline lives in AWS: region, bucket, roles, tags."""

    region: str = setting("region")
    bucket: str = setting("bucket")
    sagemaker_role_arn: str = setting("sagemaker_role_arn")
    workflow_role_arn: str = setting("workflow_role_arn")
    prefix: str = setting("prefix", "sagemaker/big-mart-pipeline")
    deploy_role_arn: str | None = setting("deploy_role_arn", None)
    tags: Tags = field(default_factory=dict, metadata={"key": "tags", "between": None})


@dataclass(frozen=True)
class StateMachineSettings:
    """The Step Functions state machine: name, alias, timeouts, logging and tracing."""

    name: str = setting("state_machine_name")
    alias: str = setting("alias_name", "live")
    task_timeout_seconds: int = setting("task_timeout_seconds", 300, between=(1, 3600))
    execution_timeout_seconds: int = setting("execution_timeout_seconds", 4 * 3600, between=(60, 365 * 24 * 3600))
    logging_level: str = setting("logging_level", "OFF")
    log_group_arn: str | None = setting("log_group_arn", None)
    tracing: bool = setting("tracing", False)


@dataclass(frozen=True)
class Training:
    """The training job: built-in algorithm image, instances, limits, hyperparameters."""

    image_framework: str = setting("image_framework", "xgboost")
    image_version: str = setting("image_version", "3.0-5")
    instance_type: str = setting("training_instance_type", "ml.m5.xlarge")
    instance_count: int = setting("training_instance_count", 1, between=(1, 100))
    volume_gb: int = setting("training_volume_gb", 10, between=(1, 16384))
    max_runtime_seconds: int = setting("training_max_runtime_seconds", 3600, between=(1, 28 * 24 * 3600))
    hyperparameters: Hyperparameters = field(default_factory=dict, metadata={"key": "hyperparameters", "between": None})

    def hyperparameter_strings(self) -> dict[str, str]:
        """The hyperparameters as CreateTrainingJob sends them (strings), written as configured.

        A float-typed value given as a whole number (``min_child_weight = 6``) is sent as "6",
        not Python's "6.0": the container parses either as a float, and the job then shows what
        the configuration says.
        """
        return {name: hyperparameter_string(value) for name, value in self.hyperparameters.items()}


@dataclass(frozen=True)
class Endpoint:
    """The endpoint: its stable name, instances, and how often the state machine polls it."""

    name: str = setting("endpoint_name")
    instance_type: str = setting("endpoint_instance_type", "ml.m5.large")
    instance_count: int = setting("endpoint_instance_count", 1, between=(1, 100))
    # How often the state machine polls an endpoint that is changing state.
    poll_seconds: int = setting("endpoint_poll_seconds", 30, between=(1, 3600))


@dataclass(frozen=True)
class RetryPolicy:
    """The retriers of every Task: exponential backoff with full jitter."""

    interval_seconds: int = setting("retry_interval_seconds", 10, between=(1, 3600))
    max_attempts: int = setting("retry_max_attempts", 4, between=(0, 99_999_999))
    backoff_rate: float = setting("retry_backoff_rate", 2.0, between=(1.0, 10.0))
    max_delay_seconds: int = setting("retry_max_delay_seconds", 300, between=(1, 31_622_400))


@dataclass(frozen=True)
class DataSettings:
    """How the training data is split."""

    validation_fraction: float = setting("validation_fraction", 0.2, between=(0.01, 0.9))
    seed: int = setting("data_seed", 42, between=(0, 2**31 - 1))
    # Where `run --upload-data` takes the training data from (pipeline.training_data): the real
    # Train.csv (a path), "s3" (prepared data already in the bucket) or "synthetic".
    source: str = setting("training_data", "data/Train.csv")


@dataclass(frozen=True)
class Smoke:
    """The smoke test of the live endpoint."""

    # Regression trees can undershoot a little below zero for cheap items; far below is garbage.
    min_prediction: float = setting("smoke_min_prediction", -1000.0)
    max_prediction: float = setting("smoke_max_prediction", 20000.0)
    calls: int = setting("smoke_calls", 20, between=(1, 10_000))
    p95_ms: float = setting("smoke_p95_ms", 1000.0, between=(1.0, 600_000.0))
    p50_ms: float | None = setting("smoke_p50_ms", None, between=(1.0, 600_000.0))
    wait_seconds: int = setting("smoke_wait_seconds", 1800, between=(0, 24 * 3600))


@dataclass(frozen=True)
class Guardrails:
    """Deployment guardrails for updates (off by default): SageMaker blue/green traffic shifting
    with automatic rollback on CloudWatch alarms, passed in UpdateEndpoint's DeploymentConfig."""

    strategy: str = setting("deployment_strategy", "none")
    step_percent: int = setting("deployment_step_percent", 10)
    wait_seconds: int = setting("deployment_wait_seconds", 300, between=(0, 3600))
    termination_wait_seconds: int = setting("deployment_termination_wait_seconds", 0, between=(0, 3600))
    max_seconds: int = setting("deployment_max_seconds", 3600, between=(600, 14400))
    rollback_alarms: list[str] = field(default_factory=list, metadata={"key": "rollback_alarms", "between": None})


@dataclass(frozen=True)
class Alarms:
    """The endpoint's CloudWatch alarms (pipeline.alarms), created by ``deploy``; the deployment
    guardrails roll an update back when one of them goes to ALARM."""

    enabled: bool = setting("alarms", True)
    # Invocation5XXErrors (Sum over a period) above this trips the errors alarm.
    errors_5xx: int = setting("alarm_5xx_errors", 0, between=(0, 1_000_000))
    # ModelLatency (Average over a period; CloudWatch records microseconds) above this trips it.
    latency_ms: float = setting("alarm_model_latency_ms", 1000.0, between=(1.0, 600_000.0))
    period_seconds: int = setting("alarm_period_seconds", 60, between=(60, 86_400))
    evaluation_periods: int = setting("alarm_evaluation_periods", 1, between=(1, 1440))


@dataclass(frozen=True)
class DataCapture:
    """What the endpoint is asked and answers, written by SageMaker to S3 (pipeline.capture)."""

    enabled: bool = setting("data_capture", True)
    sampling_percent: int = setting("data_capture_percent", 100, between=(0, 100))
    # Unset: s3://<bucket>/<prefix>/data-capture (the SageMaker role may write only there).
    destination: str | None = setting("data_capture_destination", None)
    csv_content_types: list[str] = field(
        default_factory=lambda: ["text/csv"], metadata={"key": "data_capture_content_types", "between": None}
    )


@dataclass(frozen=True)
class Gate:
    """The quality gate between training and deployment, on the job's validation:rmse."""

    # Absolute bar (unset: none) and the most a challenger may be worse than the champion.
    max_validation_rmse: float | None = setting("max_validation_rmse", None)
    max_regression_pct: float = setting("max_regression_pct", 5.0)


@dataclass(frozen=True)
class Registry:
    """The model registry: the environment's model package group."""

    # Unset: the endpoint's name (PipelineConfig.registry_group).
    model_package_group: str | None = setting("model_package_group", None)
    # May `promote` deploy here a version trained on synthetic (or unknown) data? Off: prod's rule.
    allow_synthetic_data: bool = setting("allow_synthetic_data", False)
    # The environment whose Approved versions this one receives (`promote`; the bootstrap grants its read).
    promote_from: str | None = setting("promote_from", None)


@dataclass(frozen=True)
class Autoscaling:
    """Application Auto Scaling of the endpoint's variant (pipeline.autoscaling): target tracking on
    SageMakerVariantInvocationsPerInstance between min and max instances, registered after a passing
    smoke test."""

    enabled: bool = setting("autoscaling", False)
    min_capacity: int = setting("autoscaling_min_capacity", 1)
    max_capacity: int = setting("autoscaling_max_capacity", 2)
    # Average InvokeEndpoint calls per instance per minute the policy keeps the variant at.
    target_invocations: float = setting("autoscaling_target_invocations", 70.0)
    scale_in_cooldown_seconds: int = setting("autoscaling_scale_in_cooldown_seconds", 300)
    scale_out_cooldown_seconds: int = setting("autoscaling_scale_out_cooldown_seconds", 60)


@dataclass(frozen=True)
class Retention:
    """What ``prune`` keeps (pipeline.prune): the newest N of each kind, besides what is live,
    what a rollback needs and every Approved version's artifact."""

    keep: int = setting("retention_keep", 5)
    # Run ``prune --yes`` in the deploy job after a passing smoke test.
    prune_after_deploy: bool = setting("retention_prune_after_deploy", False)


# The sections of PipelineConfig, by attribute name.
SECTIONS: dict[str, type] = {
    "account": Account,
    "state_machine": StateMachineSettings,
    "training": Training,
    "endpoint": Endpoint,
    "retry": RetryPolicy,
    "data": DataSettings,
    "smoke": Smoke,
    "guardrails": Guardrails,
    "alarms": Alarms,
    "capture": DataCapture,
    "gate": Gate,
    "registry": Registry,
    "autoscaling": Autoscaling,
    "retention": Retention,
}


@dataclass(frozen=True)
class Key:
    """One key of the configuration file: where it lives in PipelineConfig and its real type."""

    name: str
    section: str
    attribute: str
    type: Any
    default: Any
    between: tuple[Any, Any] | None

    @property
    def required(self) -> bool:
        """True when the key has no default."""
        return self.default is MISSING


def _keys() -> dict[str, Key]:
    keys = {}
    for section, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default_factory is MISSING else f.default_factory()
            keys[f.metadata["key"]] = Key(
                f.metadata["key"], section, f.name, hints[f.name], default, f.metadata["between"]
            )
    return keys


KEYS = _keys()
SETTABLE = sorted(KEYS)
REQUIRED = ["environment", *(key.name for key in KEYS.values() if key.required)]
TABLE_KEYS = tuple(name for name, key in KEYS.items() if typing.get_origin(key.type) is dict)


@dataclass(frozen=True)
class PipelineConfig:
    """A validated deployment of the Big Mart pipeline in one environment, in typed sections."""

    environment: str
    account: Account
    state_machine: StateMachineSettings
    training: Training
    endpoint: Endpoint
    retry: RetryPolicy
    data: DataSettings
    smoke: Smoke
    guardrails: Guardrails
    alarms: Alarms
    capture: DataCapture
    gate: Gate
    registry: Registry
    autoscaling: Autoscaling
    retention: Retention

    @property
    def registry_group(self) -> str:
        """The model package group every version of this environment is registered in."""
        return self.registry.model_package_group or self.endpoint.name

    @property
    def registry_uri(self) -> str:
        """S3 prefix of the registered artifacts (copies S3 checksums with SHA-256)."""
        return f"s3://{self.account.bucket}/{self.account.prefix}/registry"

    @property
    def capture_uri(self) -> str:
        """S3 prefix the endpoint's captured requests and responses go to."""
        return (self.capture.destination or f"{self.default_capture_uri}").rstrip("/")

    @property
    def default_capture_uri(self) -> str:
        """``s3://<bucket>/<prefix>/data-capture``: where the SageMaker role may write captures."""
        return f"s3://{self.account.bucket}/{self.account.prefix}/data-capture"

    @property
    def data_uri(self) -> str:
        """S3 prefix holding the prepared data (``train/``, ``validation/``, ``encoding.json``)."""
        return f"s3://{self.account.bucket}/{self.account.prefix}/data"

    @property
    def output_uri(self) -> str:
        """S3 prefix under which training jobs write their artifacts."""
        return f"s3://{self.account.bucket}/{self.account.prefix}/output"

    @cached_property
    def training_image(self) -> str:
        """The ECR URI of the SageMaker built-in algorithm image (the SDK resolves it, offline)."""
        return resolve_image(self.training.image_framework, self.account.region, self.training.image_version)

    def values(self) -> dict[str, Any]:
        """Every setting by its file key (``endpoint_name``, ``retry_max_attempts``, ...)."""
        flat: dict[str, Any] = {"environment": self.environment}
        for key in KEYS.values():
            flat[key.name] = getattr(getattr(self, key.section), key.attribute)
        return flat

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with some settings (by file key) changed, validated again."""
        return build_config({**self.values(), **changes})


def hyperparameter_string(value: HyperparameterValue) -> str:
    """One hyperparameter as a string: whole floats without ".0", other floats as ``repr``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def resolve_image(framework: str, region: str, version: str) -> str:
    """Resolve an algorithm image with the SageMaker SDK (no AWS call).

    Kept in pipeline.cache: importing the SDK costs seconds, and every command validates the
    image. An image that cannot be resolved raises ValueError and is never stored.
    """
    from pipeline import cache

    def retrieve() -> str:
        quiet_sagemaker_sdk()
        from sagemaker import image_uris  # imported late: the SDK is slow to import

        return str(image_uris.retrieve(framework, region, version))

    inputs = {"framework": framework, "region": region, "version": version}
    return cache.remember("image-uri", inputs, retrieve, depends_on=("sagemaker",))


def image_problem(framework: str, region: str, version: str) -> str | None:
    """Why the SDK could not resolve this image, or None: read from the SDK's data file, not the SDK.

    Validation stays fast and SDK-free; the definition (which loads the SDK anyway) resolves the URI.
    """
    spec = importlib.util.find_spec("sagemaker")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        return "the SageMaker SDK (sagemaker<3) is not installed"
    path = Path(locations[0]) / "image_uri_config" / f"{framework}.json"
    if not path.is_file():
        return f"Unsupported framework: {framework}"
    training = json.loads(path.read_text()).get("training", {})
    versions = training.get("versions", {})
    name = training.get("version_aliases", {}).get(version, version)
    if name not in versions:
        return (
            f"Unsupported {framework} version: {version}. Supported {framework} version(s): "
            f"{', '.join([*versions, *training.get('version_aliases', {})])}."
        )
    if region not in versions[name].get("registries", {}):
        return f"Unsupported region: {region} for {framework} {version}"
    return None


def env_var_name(key: str) -> str:
    """The environment variable that sets a configuration key."""
    return ENV_PREFIX + key.upper()


def find_config_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The configuration file: the flag, then ``PIPELINE_CONFIG``, then ./config, then the repo's."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV_VAR):
        return Path(environ[CONFIG_ENV_VAR])
    here = Path.cwd() / DEFAULT_CONFIG_NAME
    if here.is_file():
        return here
    return Path(__file__).resolve().parent.parent / DEFAULT_CONFIG_NAME


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML configuration file, turning I/O and syntax errors into ConfigError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            [f"config file {str(path)!r} does not exist (pass --config PATH or set {CONFIG_ENV_VAR})"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"config file {str(path)!r} cannot be read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {str(path)!r} is not valid TOML: {exc}"]) from None


def environments(data: Mapping[str, Any]) -> list[str]:
    """The environment names a parsed configuration file defines."""
    envs = data.get("environments", {})
    return sorted(envs) if isinstance(envs, dict) else []


def load_config(
    environment: str,
    *,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> PipelineConfig:
    """Load one environment's configuration: file, then ``PIPELINE_*`` variables, then overrides.

    ``overrides`` are the CLI's ``--set key=value`` pairs (strings, like environment variables);
    dotted keys reach into tables (``hyperparameters.eta``). Raises ConfigError listing every
    problem.
    """
    environ = os.environ if environ is None else environ
    config_path = find_config_file(path, environ)
    data = read_config_file(config_path)
    problems: list[str] = []
    top_unknown = sorted(set(data) - {"defaults", "environments"})
    for key in top_unknown:
        problems.append(f"{config_path}: unknown table [{key}]{did_you_mean(key, ['defaults', 'environments'])}")
    known_envs = environments(data)
    if environment not in known_envs:
        raise ConfigError(
            [
                *problems,
                f"environment {environment!r} is not defined in {config_path} (defined: {', '.join(known_envs) or 'none'})",
            ]
        )

    values: dict[str, Any] = {"environment": environment}
    for source, table in (
        (f"{config_path} [defaults]", data.get("defaults", {})),
        (f"{config_path} [environments.{environment}]", data["environments"][environment]),
    ):
        if not isinstance(table, dict):
            problems.append(f"{source} must be a table")
            continue
        merge_file_table(values, table, source, problems)

    for key in SETTABLE:
        name = env_var_name(key)
        if name in environ and environ[name] != "":
            apply_string(values, key, environ[name], f"environment variable {name}", problems)
    for raw_key, raw in (overrides or {}).items():
        apply_string(values, raw_key, raw, f"--set {raw_key}", problems)

    try:
        config = build_config(values)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return config


def merge_file_table(values: dict[str, Any], table: Mapping[str, Any], source: str, problems: list[str]) -> None:
    """Merge one TOML table into ``values``; tables merge key by key, scalars replace."""
    for key, value in table.items():
        if key not in SETTABLE:
            problems.append(f"{source}: unknown key {key!r}{did_you_mean(key, SETTABLE)}")
            continue
        if key in TABLE_KEYS and isinstance(value, dict):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value


def apply_string(values: dict[str, Any], key: str, raw: str, source: str, problems: list[str]) -> None:
    """Apply a string value from the environment or a flag, converting it to the key's type."""
    head, _, sub = key.partition(".")
    if head not in SETTABLE:
        problems.append(f"{source}: unknown key {head!r}{did_you_mean(head, SETTABLE)}")
        return
    if head in TABLE_KEYS:
        if sub:
            values[head] = {**values.get(head, {}), sub: raw}
            return
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(f'{source}: {head} = {raw!r} must be a JSON object, e.g. {{"eta": 0.1}}')
            return
        values[head] = {**values.get(head, {}), **parsed}
        return
    if sub:
        problems.append(f"{source}: {head!r} is not a table, so {key!r} cannot be set")
        return
    values[head] = raw


def build_config(values: Mapping[str, Any]) -> PipelineConfig:
    """Convert and validate raw values (by file key) into a PipelineConfig, or raise ConfigError
    with every problem."""
    problems: list[str] = []
    clean: dict[str, Any] = {}
    for name in REQUIRED:
        if values.get(name) in (None, ""):
            hint = (
                ""
                if name == "environment"
                else f" (set it in the config file, {env_var_name(name)} or --set {name}=...)"
            )
            problems.append(f"{name} is required{hint}")
    for name, raw in values.items():
        if name == "environment":
            continue
        if name not in KEYS:
            problems.append(f"unknown key {name!r}{did_you_mean(name, SETTABLE)}")
            continue
        if raw is None:
            continue
        converted = coerce(KEYS[name], raw, problems)
        if converted is not None:
            clean[name] = converted
    merged = {name: key.default for name, key in KEYS.items() if not key.required} | clean
    check_values(merged, problems)
    if problems:
        raise ConfigError(problems)
    sections = {
        section: cls(**{key.attribute: merged[key.name] for key in KEYS.values() if key.section == section})
        for section, cls in SECTIONS.items()
    }
    return PipelineConfig(environment=values["environment"], **sections)


def coerce(key: Key, raw: Any, problems: list[str]) -> Any:
    """Convert a raw value (from TOML or a string) to the key's real type, or record a problem."""
    name, kind = key.name, key.type
    args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if isinstance(kind, type(int | None)) and len(args) == 1:  # X | None: a value converts to X
        kind = args[0]
    if kind == Hyperparameters:
        return coerce_hyperparameters(raw, problems)
    if kind == Tags:
        return coerce_tags(raw, problems)
    if kind == list[str]:
        return coerce_string_list(name, raw, problems)
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
        problems.append(f"{name} = {raw!r} must be true or false")
        return None
    if kind in (int, float):
        return to_number(name, raw, kind, problems)
    if kind is str:
        if not isinstance(raw, str):
            problems.append(f"{name} = {raw!r} must be a string")
            return None
        return raw
    raise TypeError(f"configuration key {name} has a type the loader does not convert: {kind!r}")


def to_number(name: str, raw: Any, kind: type, problems: list[str]) -> Any:
    """Convert to int or float; booleans and fractional ints are errors."""
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw)
        if kind is int and isinstance(raw, float) and raw != value:
            raise ValueError
        if kind is float and not math.isfinite(value):
            raise ValueError
        return value
    except (TypeError, ValueError):
        word = "an integer" if kind is int else "a finite number"
        problems.append(f"{name} = {raw!r} must be {word}")
        return None


def coerce_hyperparameters(raw: Any, problems: list[str]) -> dict[str, HyperparameterValue] | None:
    """Check each hyperparameter against the algorithm's table (pipeline.hyperparameters)."""
    if not isinstance(raw, dict):
        problems.append(f"hyperparameters = {raw!r} must be a table of name = value")
        return None
    result: dict[str, HyperparameterValue] = {}
    for key, value in raw.items():
        label = f"hyperparameters.{key}"
        spec = SPECS.get(key)
        if spec is None:
            problems.append(f"{label} is not a supported XGBoost hyperparameter{did_you_mean(key, SPECS)}")
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            problems.append(f"{label} = {value!r} must be a number or a string")
            continue
        text = value if isinstance(value, str) else repr(value)
        try:
            parsed = parse_value(key, text)
        except HyperparameterError as exc:
            detail = str(exc).removeprefix(f"Hyperparameter {key}: ")
            problems.append(f"{label} = {value!r}: {detail}")
            continue
        if key == "objective" and parsed not in REGRESSION_OBJECTIVES:
            problems.append(
                f"{label} = {value!r} is not allowed: this pipeline is a regression "
                f"(allowed: {', '.join(REGRESSION_OBJECTIVES)})"
            )
            continue
        # Numbers keep their type (CreateTrainingJob gets str() of them); list-like values stay strings.
        result[key] = parsed if spec.kind in ("integer", "float", "categorical") else text
    for key in REQUIRED_HYPERPARAMETERS:
        if key not in raw:
            problems.append(f"hyperparameters.{key} is required by the XGBoost algorithm")
    return result


def coerce_string_list(name: str, raw: Any, problems: list[str]) -> list[str] | None:
    """A list of strings: a TOML array, a JSON array, or a comma-separated string."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError:
                problems.append(f"{name} = {raw!r} is not a valid JSON array")
                return None
        else:
            raw = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        problems.append(f"{name} = {raw!r} must be a list of non-empty strings")
        return None
    return list(raw)


def coerce_tags(raw: Any, problems: list[str]) -> dict[str, str] | None:
    """Check AWS tag keys and values."""
    if not isinstance(raw, dict):
        problems.append(f'tags = {raw!r} must be a table of key = "value"')
        return None
    result = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            problems.append(f"tags.{key} = {value!r} must be a string")
        elif not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            problems.append(f"tags.{key} is not a valid tag key (1-128 characters, not starting with 'aws:')")
        elif len(value) > 256:
            problems.append(f"tags.{key} is {len(value)} characters long; tag values allow at most 256")
        else:
            result[key] = value
    return result


def check_values(values: dict[str, Any], problems: list[str]) -> None:
    """Check every value against AWS's rules and the pipeline's limits."""

    def check(name: str, validator: Any) -> None:
        value = values.get(name)
        if value is not None:
            message = validator(value)
            if message:
                problems.append(f"{name} = {value!r} {message}")

    check("state_machine_name", validation.state_machine_name)
    check("region", validation.region)
    check("bucket", validation.bucket)
    check("prefix", validation.s3_prefix)
    for name in ("sagemaker_role_arn", "workflow_role_arn", "deploy_role_arn"):
        check(name, validation.role_arn)
    for name in ("training_instance_type", "endpoint_instance_type"):
        check(name, validation.instance_type)
    check("endpoint_name", validation.sagemaker_name)
    check("model_package_group", validation.sagemaker_name)
    check_gate(values, problems)
    check("alias_name", alias_name)
    endpoint = values.get("endpoint_name", "")
    longest = f"{endpoint}-{'x' * MAX_RUN_ID_LENGTH}-{max(RUN_NAME_KINDS, key=len)}"
    if endpoint and validation.sagemaker_name(endpoint) is None and len(longest) > 63:
        limit = 63 - len(longest) + len(endpoint)
        problems.append(
            f"endpoint_name = {endpoint!r} is {len(endpoint)} characters long; per-run names "
            f"'<endpoint_name>-<run id>-<kind>' must fit in 63, so it may have at most {limit}"
        )
    ranges = {name: key.between for name, key in KEYS.items() if key.between}
    for name, (low, high) in ranges.items():
        value = values.get(name)
        if value is not None and not low <= value <= high:
            problems.append(f"{name} = {value!r} is out of range (must be between {low} and {high})")
    if values.get("execution_timeout_seconds", math.inf) <= values.get("training_max_runtime_seconds", 0):
        problems.append(
            f"execution_timeout_seconds = {values['execution_timeout_seconds']} must exceed "
            f"training_max_runtime_seconds = {values['training_max_runtime_seconds']}"
        )
    low, high = values.get("smoke_min_prediction", 0.0), values.get("smoke_max_prediction", 1.0)
    if low >= high:
        problems.append(f"smoke_min_prediction = {low} must be below smoke_max_prediction = {high}")
    level = values.get("logging_level")
    if level is not None and level not in ("OFF", "ALL", "ERROR", "FATAL"):
        problems.append(f"logging_level = {level!r} is not allowed (allowed: OFF, ALL, ERROR, FATAL)")
    if level not in (None, "OFF") and not values.get("log_group_arn"):
        problems.append(
            f"logging_level = {level!r} needs log_group_arn (the CloudWatch log group's ARN ending in ':*')"
        )
    arn = values.get("log_group_arn")
    if arn and not (arn.startswith("arn:aws") and ":log-group:" in arn and arn.endswith(":*")):
        problems.append(
            f"log_group_arn = {arn!r} is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>:*)"
        )
    check_guardrails(values, problems)
    check_capture(values, problems)
    check_autoscaling(values, problems)
    check_retention(values, problems)
    source = values.get("training_data")
    if source is not None and source not in ("synthetic", "s3") and not str(source).lower().endswith(".csv"):
        problems.append(
            f"training_data = {source!r} is not allowed: give the path of the Big Mart Train.csv (ending in .csv), "
            '"s3" (prepared data already in the bucket) or "synthetic" (generated rows)'
        )
    if not problems:
        problem = image_problem(values["image_framework"], values["region"], values["image_version"])
        if problem:
            problems.append(f"image_version = {values['image_version']!r} cannot be resolved: {problem}")


def check_capture(values: dict[str, Any], problems: list[str]) -> None:
    """The capture destination must be the environment's data-capture prefix, or below it."""
    destination = values.get("data_capture_destination")
    allowed = f"s3://{values.get('bucket')}/{values.get('prefix')}/data-capture"
    if destination is not None and not (destination.rstrip("/") == allowed or destination.startswith(f"{allowed}/")):
        problems.append(
            f"data_capture_destination = {destination!r} is outside {allowed}/: captures must stay in the "
            "environment's bucket and prefix, where the SageMaker role may write them (or leave it unset)"
        )
    types = values.get("data_capture_content_types") or []
    if not 1 <= len(types) <= 10:
        problems.append(f"data_capture_content_types has {len(types)} entries; SageMaker takes 1 to 10")


# Application Auto Scaling takes capacities and cooldowns as 32-bit integers (botocore's
# ResourceCapacity and Cooldown shapes have no other bound) and a target value of at most 2^360.
MAX_INT32 = 2**31 - 1
MAX_TARGET_VALUE = 2.0**360


def check_autoscaling(values: dict[str, Any], problems: list[str]) -> None:
    """Capacities, target and cooldowns of the scaling policy; checked even when it is off."""
    low, high = values.get("autoscaling_min_capacity"), values.get("autoscaling_max_capacity")
    if isinstance(low, int) and low < 1:
        problems.append(
            f"autoscaling_min_capacity = {low} must be at least 1 (an instance-based SageMaker variant "
            "cannot scale to zero instances)"
        )
    if isinstance(high, int) and not 1 <= high <= MAX_INT32:
        problems.append(f"autoscaling_max_capacity = {high} must be between 1 and {MAX_INT32}")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(
            f"autoscaling_min_capacity = {low} is above autoscaling_max_capacity = {high}: min must be <= max"
        )
    target = values.get("autoscaling_target_invocations")
    if isinstance(target, (int, float)) and not 0 < target <= MAX_TARGET_VALUE:
        problems.append(
            f"autoscaling_target_invocations = {target!r} must be a positive number (invocations per "
            "instance per minute that the policy keeps the variant at)"
        )
    for name in ("autoscaling_scale_in_cooldown_seconds", "autoscaling_scale_out_cooldown_seconds"):
        value = values.get(name)
        if isinstance(value, int) and not 0 <= value <= MAX_INT32:
            problems.append(f"{name} = {value} must be between 0 and {MAX_INT32} seconds")
    count = values.get("endpoint_instance_count")
    if (
        values.get("autoscaling")
        and isinstance(count, int)
        and isinstance(low, int)
        and isinstance(high, int)
        and low <= high
        and not low <= count <= high
    ):
        problems.append(
            f"endpoint_instance_count = {count} is outside autoscaling_min_capacity..autoscaling_max_capacity "
            f"= {low}..{high}: a new endpoint starts with endpoint_instance_count instances, so it must lie "
            "within the range autoscaling keeps"
        )


def check_retention(values: dict[str, Any], problems: list[str]) -> None:
    """``prune`` keeps at least the newest one of each kind."""
    keep = values.get("retention_keep")
    if isinstance(keep, int) and keep < 1:
        problems.append(
            f"retention_keep = {keep} must be at least 1 (how many of the newest models, endpoint configs "
            "and training outputs prune keeps)"
        )


def check_gate(values: dict[str, Any], problems: list[str]) -> None:
    """The quality gate's bars, and the metric it reads."""
    bar = values.get("max_validation_rmse")
    if bar is not None and not bar > 0:
        problems.append(
            f"max_validation_rmse = {bar!r} must be a positive number (the highest validation:rmse "
            "a model may have to be deployed), or unset for no absolute bar"
        )
    pct = values.get("max_regression_pct")
    if pct is not None and not 0 <= pct <= 100:
        problems.append(
            f"max_regression_pct = {pct!r} must be a percentage between 0 and 100 (how much worse than "
            "the serving model's validation:rmse a new model may be)"
        )
    metric = (values.get("hyperparameters") or {}).get("eval_metric")
    if metric is not None and metric != "rmse":
        problems.append(
            f"hyperparameters.eval_metric = {metric!r}: the quality gate reads validation:rmse, so "
            "eval_metric must be 'rmse' (or unset: rmse is the default for regression objectives)"
        )


# The alarms pipeline.alarms creates per endpoint, by name suffix (kept here so validation
# counts them without importing that module).
ALARM_KINDS = ("invocation-5xx-errors", "model-latency")
DEPLOYMENT_STRATEGIES = ("none", "all_at_once", "canary", "linear")
# SageMaker's limits for blue/green steps, as a percentage of the fleet's capacity.
STEP_PERCENT_RANGES = {"canary": (1, 50), "linear": (10, 50)}


def check_guardrails(values: dict[str, Any], problems: list[str]) -> None:
    """Check the deployment guardrail settings together."""
    strategy = values.get("deployment_strategy")
    if strategy not in DEPLOYMENT_STRATEGIES:
        problems.append(
            f"deployment_strategy = {strategy!r} is not allowed (allowed: {', '.join(DEPLOYMENT_STRATEGIES)})"
        )
        return
    if strategy in STEP_PERCENT_RANGES:
        low, high = STEP_PERCENT_RANGES[strategy]
        step = values.get("deployment_step_percent")
        if step is not None and not low <= step <= high:
            problems.append(
                f"deployment_step_percent = {step} is out of range for {strategy} (must be between {low} and {high})"
            )
        count = values.get("endpoint_instance_count")
        if isinstance(count, int) and count < 2:
            # CanarySize may be at most 50% of the variant's instances and a linear step 10-50%:
            # a one-instance fleet cannot shift part of its traffic.
            problems.append(
                f"deployment_strategy = {strategy!r} shifts traffic in parts of the fleet, which needs "
                f"endpoint_instance_count >= 2 (it is {count}); use 'all_at_once' on one instance"
            )
        elif isinstance(count, int) and step is not None and low <= step <= high and step * count < 100:
            problems.append(
                f"deployment_step_percent = {step} of {count} instances is less than one instance; "
                f"use at least {-(-100 // count)} for {strategy} on {count} instances"
            )
        if not values.get("rollback_alarms") and not values.get("alarms"):
            problems.append(
                f"deployment_strategy = {strategy!r} needs alarms = true or rollback_alarms: the CloudWatch alarm "
                "names that roll the update back while traffic shifts"
            )
    endpoint = values.get("endpoint_name") or ""
    for alarm in values.get("rollback_alarms") or []:
        if len(alarm) > 255:
            problems.append(f"rollback_alarms entry {alarm[:20]!r}... is {len(alarm)} characters long; at most 255")
        elif endpoint and not alarm.startswith(f"{endpoint}-"):
            # The roles may read only this environment's alarms (infra/bootstrap.yaml).
            problems.append(
                f"rollback_alarms entry {alarm!r} must be named '{endpoint}-...': the workflow role may describe only "
                "the environment's own alarms"
            )
    count = len(values.get("rollback_alarms") or []) + (len(ALARM_KINDS) if values.get("alarms") else 0)
    if count > 10:
        problems.append(
            f"rollback_alarms and the pipeline's own alarms make {count} alarms; SageMaker allows at most 10"
        )
    period, periods = values.get("alarm_period_seconds"), values.get("alarm_evaluation_periods")
    if isinstance(period, int) and period % 60:
        problems.append(
            f"alarm_period_seconds = {period} must be a multiple of 60 (SageMaker publishes endpoint metrics every minute)"
        )
    if isinstance(period, int) and isinstance(periods, int) and period * periods > 86_400:
        problems.append(
            f"alarm_period_seconds x alarm_evaluation_periods = {period * periods} s; CloudWatch evaluates at most "
            "one day (86400 s)"
        )


def alias_name(value: str) -> str | None:
    """Check a Step Functions alias name."""
    if not validation.STATE_MACHINE_NAME.match(value) or value.isdigit():
        return "is not a valid alias name (1-80 letters, digits, '-' or '_', not only digits)"
    return None


def did_you_mean(word: str, choices: Any) -> str:
    """A ' (did you mean X?)' suffix when a close match exists."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
