"""Build the Step Functions state machine: train -> save model -> configure -> deploy.

Deploy decides from the endpoint's status (DescribeEndpoint), never from a failed create:
absent -> create; InService -> update; Failed -> delete, wait until gone, create; changing ->
wait and look again; UpdateRollbackFailed -> stop for an operator. It then waits until the
endpoint is InService on *this run's* config: an update that SageMaker rolled back to the old
config is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from typing import Any

from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from stepfunctions.inputs import ExecutionInput
from stepfunctions.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    EndpointConfigStep,
    EndpointStep,
    Fail,
    ModelStep,
    Pass,
    Succeed,
    Task,
    TrainingStep,
    Wait,
    integration_resources,
)
from stepfunctions.steps.states import Graph, State

from pipeline.config import PipelineConfig
from pipeline.definition.gate import GateStages
from pipeline.definition.names import INPUT_KEYS, LINEAGE_KEYS
from pipeline.definition.states import JitteredRetry, extend

# Error names a missing endpoint can surface under from the AWS SDK integration: SageMaker
# returns an unmodelled ValidationException ("Could not find endpoint ..."); Step Functions
# names AWS SDK errors "SageMaker.<Exception>", and unmodelled ones "SageMaker.SageMakerException".
LOOKUP_ERRORS = ["SageMaker.ValidationException", "SageMaker.SageMakerException", "SageMaker.AmazonSageMakerException"]
NOT_FOUND_PATTERN = "*Could not find endpoint*"
# A throttled DescribeEndpoint may surface under the same generic names (its ThrottlingException
# is unmodelled too), so the Cause decides: throttled -> wait and look again, never "absent".
THROTTLED_PATTERNS = ("*Throttl*", "*Rate exceeded*")
# AWS's documented retriable errors for SageMaker tasks. States.Timeout is left out on purpose:
# retrying a create after a timeout would collide with the resource the first attempt made.
SAGEMAKER_RETRY_ERRORS = [
    "ThrottlingException",
    "SageMaker.ThrottlingException",
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceLimitExceededException",
]
# Describe calls are read-only, so a timeout is safe to retry.
DESCRIBE_RETRY_ERRORS = ["ThrottlingException", "SageMaker.ThrottlingException", "States.Timeout"]
CHANGING_STATUSES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
FAILURE_STATE = "Pipeline failed"
# Extra time the training task may take beyond the job's own MaxRuntime (queueing, provisioning).
TRAINING_TIMEOUT_MARGIN_SECONDS = 3600


def build_definition(config: PipelineConfig) -> dict[str, Any]:
    """The state machine definition (ASL) for a configuration, as a dict."""
    with sdk_partition(partition(config.region)):
        return Builder(config).graph().to_dict()


def partition(region: str) -> str:
    """The AWS partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


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


def definition_json(config: PipelineConfig) -> str:
    """The definition as stable, pretty JSON: the same configuration gives the same bytes."""
    return json.dumps(build_definition(config), indent=2, ensure_ascii=False) + "\n"


class Builder:
    """Assembles the states of one configuration's state machine."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        self.run = ExecutionInput(schema={key: str for key in INPUT_KEYS})
        self.failures: dict[str, Pass] = {}
        self.failed = extend(
            Fail(FAILURE_STATE, comment="Every failure ends here, with the failing stage in Error and Cause."),
            ErrorPath="$.failure.Error",
            CausePath="$.failure.Cause",
        )

    # -- shared pieces -------------------------------------------------------------------

    def retry(self, errors: list[str]) -> JitteredRetry:
        """The retry policy from the configuration, with exponential backoff and full jitter."""
        c = self.config
        return JitteredRetry(
            error_equals=errors,
            interval_seconds=c.retry_interval_seconds,
            max_attempts=c.retry_max_attempts,
            backoff_rate=c.retry_backoff_rate,
            max_delay_seconds=c.retry_max_delay_seconds,
        )

    def failure(self, state_id: str, stage: str, error: str, cause: str) -> Pass:
        """A state that records which stage failed and why, then ends in the shared Fail state."""
        step = Pass(
            state_id,
            parameters={"Error": f"Pipeline.{error}", "Stage": stage, "Cause.$": cause},
            result_path="$.failure",
        )
        step.next(self.failed)
        return step

    def stage_failure(self, stage: str) -> Pass:
        """The failure state of a stage whose error was caught into ``$.error`` (one per stage)."""
        if stage not in self.failures:
            cause = f"States.Format('Stage \"{stage}\" failed with {{}}: {{}}', $.error.Error, $.error.Cause)"
            self.failures[stage] = self.failure(f"{stage} failed", stage, f"{pascal(stage)}Failed", cause)
        return self.failures[stage]

    def caught(self, stage: str) -> Catch:
        """A catcher sending any error of a stage to that stage's failure state."""
        return Catch(error_equals=["States.ALL"], next_step=self.stage_failure(stage), result_path="$.error")

    def guard(self, task: State, stage: str, retry_errors: list[str]) -> State:
        """Add the retry policy and the catch-all to a task."""
        task.add_retry(self.retry(retry_errors))
        task.add_catch(self.caught(stage))
        return task

    def sdk_resource(self, action: str) -> str:
        """The ARN of a SageMaker call through the AWS SDK integration."""
        return f"arn:{partition(self.config.region)}:states:::aws-sdk:sagemaker:{action}"

    def describe(self, state_id: str, result_path: str, selector: dict[str, str] | None) -> Task:
        """A DescribeEndpoint call through the AWS SDK integration."""
        task = Task(
            state_id,
            resource=self.sdk_resource("describeEndpoint"),
            parameters={"EndpointName": self.config.endpoint_name},
            result_path=result_path,
            timeout_seconds=self.config.task_timeout_seconds,
        )
        return extend(task, ResultSelector=selector) if selector else task

    # -- stages --------------------------------------------------------------------------

    def train(self) -> TrainingStep:
        """Train the built-in XGBoost algorithm on the prepared CSV channels."""
        c = self.config
        estimator = Estimator(
            image_uri=c.training_image,
            role=c.sagemaker_role_arn,
            instance_count=c.training_instance_count,
            instance_type=c.training_instance_type,
            volume_size=c.training_volume_gb,
            max_run=c.training_max_runtime_seconds,
            output_path=c.output_uri,
            # CreateTrainingJob takes strings; the SDK would str() each value anyway.
            hyperparameters={name: str(value) for name, value in c.hyperparameters.items()},
            debugger_hook_config=False,
            disable_profiler=True,
            sagemaker_session=offline_session(c.region),
        )
        channels = {
            name: TrainingInput(f"{c.data_uri}/{name}/", content_type="text/csv") for name in ("train", "validation")
        }
        step = TrainingStep(
            "Train model",
            estimator=estimator,
            job_name=self.run["TrainingJobName"],
            data=channels,
            tags=dict(c.tags) or None,
            result_path="$.training",
            timeout_seconds=c.training_max_runtime_seconds + TRAINING_TIMEOUT_MARGIN_SECONDS,
        )
        step.parameters.pop("ProfilerConfig", None)
        step.parameters.pop("ProfilerRuleConfigurations", None)
        extend(
            step,
            ResultSelector={
                "TrainingJobName.$": "$.TrainingJobName",
                "ModelArtifacts.$": "$.ModelArtifacts",
                "FinalMetricDataList.$": "$.FinalMetricDataList",
            },
        )
        return self.guard(step, "Train model", SAGEMAKER_RETRY_ERRORS)

    def save_model(self, training: TrainingStep) -> ModelStep:
        """Create this run's SageMaker model from the model package version just registered."""
        step = ModelStep(
            "Save model",
            model=training.get_expected_model(),
            model_name=self.run["ModelName"],
            tags=dict(self.config.tags) or None,
            result_path="$.model",
            timeout_seconds=self.config.task_timeout_seconds,
        )
        # From the registry version, so endpoint -> config -> model -> version can be followed.
        step.parameters["PrimaryContainer"] = {"ModelPackageName.$": "$.registered.ModelPackageArn"}
        extend(step, ResultSelector={"ModelArn.$": "$.ModelArn"})
        return self.guard(step, "Save model", SAGEMAKER_RETRY_ERRORS)

    def configure_endpoint(self) -> EndpointConfigStep:
        """Create this run's endpoint config, pointing at this run's model."""
        c = self.config
        step = EndpointConfigStep(
            "Configure endpoint",
            endpoint_config_name=self.run["EndpointConfigName"],
            model_name=self.run["ModelName"],
            initial_instance_count=c.endpoint_instance_count,
            instance_type=c.endpoint_instance_type,
            tags=dict(c.tags) or None,
            result_path="$.endpoint_config",
            timeout_seconds=c.task_timeout_seconds,
        )
        return self.guard(step, "Configure endpoint", SAGEMAKER_RETRY_ERRORS)

    def graph(self) -> Graph:
        """Wire every state together."""
        c = self.config
        name = c.endpoint_name
        training = self.train()
        model = self.save_model(training)
        endpoint_config = self.configure_endpoint()
        stages = GateStages(self)
        registration = stages.register(model)
        gate = stages.gate(registration)
        champion = stages.champion(gate)
        start = stages.check_input(training)

        find = self.describe(
            "Find endpoint",
            "$.endpoint",
            {"EndpointStatus.$": "$.EndpointStatus", "EndpointConfigName.$": "$.EndpointConfigName"},
        )
        find.add_retry(self.retry(DESCRIBE_RETRY_ERRORS))
        missing = Choice("Endpoint missing?", comment="Only 'not found' means absent; any other error fails.")
        find.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=missing, result_path="$.error"))
        find.add_catch(self.caught("Find endpoint"))

        absent = Pass("No endpoint yet", result={"EndpointStatus": "Absent"}, result_path="$.endpoint")
        create = self.guard(
            EndpointStep(
                "Create endpoint",
                endpoint_name=name,
                endpoint_config_name=self.run["EndpointConfigName"],
                tags=dict(c.tags) or None,
                result_path="$.deploy_call",
                timeout_seconds=c.task_timeout_seconds,
            ),
            "Create endpoint",
            SAGEMAKER_RETRY_ERRORS,
        )
        update_step = EndpointStep(
            "Update endpoint",
            endpoint_name=name,
            endpoint_config_name=self.run["EndpointConfigName"],
            update=True,
            result_path="$.deploy_call",
            timeout_seconds=c.task_timeout_seconds,
        )
        guardrails = deployment_config(c)
        if guardrails:
            update_step.parameters["DeploymentConfig"] = guardrails
        update = self.guard(update_step, "Update endpoint", SAGEMAKER_RETRY_ERRORS)
        delete = self.guard(
            Task(
                "Delete failed endpoint",
                resource=self.sdk_resource("deleteEndpoint"),
                parameters={"EndpointName": name},
                result_path="$.delete_call",
                timeout_seconds=c.task_timeout_seconds,
                comment="A Failed endpoint serves nothing and AWS allows only DeleteEndpoint on it.",
            ),
            "Delete failed endpoint",
            ["ThrottlingException", "SageMaker.ThrottlingException"],
        )
        settle = Wait("Wait for endpoint to settle", seconds=c.endpoint_poll_seconds)
        operator = self.failure(
            "Endpoint needs an operator",
            "Deploy",
            "EndpointUpdateRollbackFailed",
            f"States.Format('Endpoint {{}} is UpdateRollbackFailed: part of its fleet runs the old config "
            f"and part the new one. Nothing was changed or deleted. Finish by hand: aws sagemaker "
            f"update-endpoint --endpoint-name {{}} --endpoint-config-name <the config to keep>, wait until it "
            f"is InService, then run the pipeline again.', '{name}', '{name}')",
        )
        unexpected = self.failure(
            "Unexpected endpoint status",
            "Find endpoint",
            "UnexpectedEndpointStatus",
            f"States.Format('Endpoint {{}} has status {{}}, which the pipeline does not handle.', '{name}', $.endpoint.EndpointStatus)",
        )

        route = Choice("Route by endpoint status")
        route.add_choice(ChoiceRule.StringEquals("$.endpoint.EndpointStatus", "InService"), update)
        route.add_choice(ChoiceRule.StringEquals("$.endpoint.EndpointStatus", "Failed"), delete)
        route.add_choice(ChoiceRule.StringEquals("$.endpoint.EndpointStatus", "UpdateRollbackFailed"), operator)
        route.add_choice(status_in("$.endpoint.EndpointStatus", CHANGING_STATUSES), settle)
        route.default_choice(unexpected)

        missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", NOT_FOUND_PATTERN), absent)
        missing.add_choice(throttled("$.error.Cause"), settle)
        missing.default_choice(self.stage_failure("Find endpoint"))

        wait_deploy = Wait("Wait for deployment", seconds=c.endpoint_poll_seconds)
        check = self.describe("Check deployment", "$.deployed", None)
        check.add_retry(self.retry(DESCRIBE_RETRY_ERRORS))
        check_error = Choice("Check throttled?", comment="Throttling while watching the deployment: look again later.")
        check.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=check_error, result_path="$.error"))
        check.add_catch(self.caught("Check deployment"))
        check_error.add_choice(throttled("$.error.Cause"), wait_deploy)
        check_error.default_choice(self.stage_failure("Check deployment"))
        live = Choice("Deployment status")
        report = Pass(
            "Report deployment",
            parameters={
                "EndpointName": name,
                "EndpointConfigName.$": "$.EndpointConfigName",
                "ModelName.$": "$.ModelName",
                "TrainingJobName.$": "$.TrainingJobName",
                "ModelArtifacts.$": f"States.Format('{c.registry_uri}/{{}}/model.tar.gz', $.TrainingJobName)",
                "ModelPackageArn.$": "$.registered.ModelPackageArn",
                "QualityGate": {
                    "Metric.$": "$.gate.Metric",
                    "Value.$": "$.gate.Values[0]",
                    "MaxValidationRmse.$": "$.gate.MaxValidationRmse",
                    "MaxRegressionPct.$": "$.gate.MaxRegressionPct",
                    "Champion.$": "$.champion",
                },
                "PreviousEndpoint.$": "$.endpoint",
            },
        )
        report.next(Succeed("Deployed"))
        status = "$.deployed.EndpointStatus"
        live.add_choice(
            ChoiceRule.And(
                [
                    ChoiceRule.StringEquals(status, "InService"),
                    ChoiceRule.StringEqualsPath("$.deployed.EndpointConfigName", "$.EndpointConfigName"),
                ]
            ),
            report,
        )
        live.add_choice(
            ChoiceRule.StringEquals(status, "InService"),
            self.failure(
                "Update was rolled back",
                "Check deployment",
                "UpdateRolledBack",
                "States.Format('Endpoint {} is InService on config {} instead of the new config {}: the update "
                "failed and SageMaker rolled back to the previous config, which still serves. See the "
                "FailureReason of the endpoint in DescribeEndpoint.', $.deployed.EndpointName, "
                "$.deployed.EndpointConfigName, $.EndpointConfigName)",
            ),
        )
        live.add_choice(
            ChoiceRule.And(
                [ChoiceRule.StringEquals(status, "Failed"), ChoiceRule.IsPresent("$.deployed.FailureReason", True)]
            ),
            self.failure(
                "Endpoint is Failed",
                "Check deployment",
                "EndpointFailed",
                "States.Format('Endpoint {} is Failed: {}', $.deployed.EndpointName, $.deployed.FailureReason)",
            ),
        )
        live.add_choice(
            ChoiceRule.StringEquals(status, "Failed"),
            self.failure(
                "Endpoint is Failed without a reason",
                "Check deployment",
                "EndpointFailed",
                "States.Format('Endpoint {} is Failed and SageMaker gave no reason.', $.deployed.EndpointName)",
            ),
        )
        live.add_choice(ChoiceRule.StringEquals(status, "UpdateRollbackFailed"), operator)
        live.add_choice(status_in(status, CHANGING_STATUSES), wait_deploy)
        live.default_choice(
            self.failure(
                "Unexpected deployment status",
                "Check deployment",
                "UnexpectedEndpointStatus",
                "States.Format('Endpoint {} has status {}, which the pipeline does not handle.', $.deployed.EndpointName, $.deployed.EndpointStatus)",
            )
        )

        training.next(champion)
        model.next(endpoint_config)
        endpoint_config.next(find)
        find.next(route)
        absent.next(create)
        settle.next(find)
        delete.next(settle)
        create.next(wait_deploy)
        update.next(wait_deploy)
        wait_deploy.next(check)
        check.next(live)
        return Graph(
            Chain([start]),
            timeout_seconds=c.execution_timeout_seconds,
            comment=(
                f"Big Mart sales model ({c.environment}): train XGBoost, gate it on validation:rmse, register "
                f"it in {c.registry_group}, save the model, configure and deploy endpoint {name}. "
                f"Input: {', '.join(INPUT_KEYS + LINEAGE_KEYS)}."
            ),
        )


def deployment_config(config: PipelineConfig) -> dict[str, Any] | None:
    """UpdateEndpoint's DeploymentConfig for the configured guardrails, or None when off."""
    if config.deployment_strategy == "none":
        return None
    routing: dict[str, Any] = {
        "Type": config.deployment_strategy.upper(),
        "WaitIntervalInSeconds": config.deployment_wait_seconds,
    }
    step = {"Type": "CAPACITY_PERCENT", "Value": config.deployment_step_percent}
    if config.deployment_strategy == "canary":
        routing["CanarySize"] = step
    elif config.deployment_strategy == "linear":
        routing["LinearStepSize"] = step
    result: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": config.deployment_termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": config.deployment_max_seconds,
        }
    }
    if config.rollback_alarms:
        result["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in config.rollback_alarms]}
    return result


def throttled(path: str) -> Any:
    """A choice rule true when the error cause at ``path`` says the call was throttled."""
    return ChoiceRule.Or([ChoiceRule.StringMatches(path, pattern) for pattern in THROTTLED_PATTERNS])


def status_in(path: str, statuses: tuple[str, ...]) -> Any:
    """A choice rule true when the status at ``path`` is one of ``statuses``."""
    return ChoiceRule.Or([ChoiceRule.StringEquals(path, s) for s in statuses])


def pascal(stage: str) -> str:
    """'Train model' -> 'TrainModel'."""
    return "".join(word[:1].upper() + word[1:] for word in stage.split())


@functools.lru_cache(maxsize=8)
def offline_session(region: str) -> Any:
    """A SageMaker session that can describe jobs but never reaches AWS while building."""
    import boto3
    import sagemaker

    # Static placeholder credentials: building a definition must work on machines with none,
    # and this session is only handed to the SDK's request builders, which make no calls.
    boto_session = boto3.Session(
        region_name=region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",  # noqa: S106
    )
    return sagemaker.Session(boto_session=boto_session, default_bucket="offline-unused")
