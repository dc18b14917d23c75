"""What every stage builder shares: the configuration, the run's input, retries and failure states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepfunctions.inputs import ExecutionInput
from stepfunctions.steps import Catch, Choice, ChoiceRule, Fail, Pass, Task, TrainingStep
from stepfunctions.steps.states import State

from pipeline.config import PipelineConfig
from pipeline.definition import state_names as names
from pipeline.definition.names import INPUT_KEYS
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
THROTTLING_ERRORS = ["ThrottlingException", "SageMaker.ThrottlingException"]


@dataclass
class Stage:
    """A built stage: the state the previous stage goes to, and the states that go on to the next.

    ``defaults`` are Choices whose default is the next stage's entry (a Choice has no Next);
    ``skips`` are exits that go past the stages in between, to the entry of the stage built by
    the given builder (``{save_model.build: [state]}``).
    """

    entry: State
    exits: list[State] = field(default_factory=list)
    defaults: list[Choice] = field(default_factory=list)
    skips: dict[Callable[[StageContext], Stage], list[State]] = field(default_factory=dict)


class StageContext:
    """The shared pieces stage builders use; one per definition being built."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        self.run = ExecutionInput(schema={key: str for key in INPUT_KEYS})
        self.failures: dict[str, Pass] = {}
        self.failed = extend(
            Fail(names.PIPELINE_FAILED, comment="Every failure ends here, with the failing stage in Error and Cause."),
            ErrorPath="$.failure.Error",
            CausePath="$.failure.Cause",
        )
        # Set by the training stage: the model stage saves what it trains.
        self.training: TrainingStep | None = None
        # States more than one stage goes to, built once (see ``shared``).
        self.states: dict[str, State] = {}

    def shared(self, state_id: str, make: Callable[[], State]) -> State:
        """The state ``state_id``, made by ``make`` the first time a stage asks for it."""
        if state_id not in self.states:
            self.states[state_id] = make()
        return self.states[state_id]

    def tags(self) -> dict[str, str] | None:
        """The configured resource tags, or None for none (the SDK then writes no Tags)."""
        return dict(self.config.account.tags) or None

    def retry(self, errors: list[str]) -> JitteredRetry:
        """The retry policy from the configuration, with exponential backoff and full jitter."""
        c = self.config
        return JitteredRetry(
            error_equals=errors,
            interval_seconds=c.retry.interval_seconds,
            max_attempts=c.retry.max_attempts,
            backoff_rate=c.retry.backoff_rate,
            max_delay_seconds=c.retry.max_delay_seconds,
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
            self.failures[stage] = self.failure(names.stage_failed(stage), stage, f"{pascal(stage)}Failed", cause)
        return self.failures[stage]

    def caught(self, stage: str) -> Catch:
        """A catcher sending any error of a stage to that stage's failure state."""
        return Catch(error_equals=["States.ALL"], next_step=self.stage_failure(stage), result_path="$.error")

    def guard(self, task: State, stage: str, retry_errors: list[str]) -> State:
        """Add the retry policy and the catch-all to a task."""
        task.add_retry(self.retry(retry_errors))
        task.add_catch(self.caught(stage))
        return task

    def sdk_errors(self, task: State, choice_id: str, stage: str, on_throttle: State) -> Choice:
        """Route an aws-sdk task's SageMaker errors by their Cause: throttled -> ``on_throttle``.

        An aws-sdk SageMaker throttle is ``SageMaker.SageMakerException`` (the model declares no
        ThrottlingException) with the code in the Cause, so no Retry can single it out. Add this
        before the catch-all; every other error goes to the stage's failure.
        """
        choice = Choice(
            choice_id, comment="aws-sdk errors carry their code in the Cause: a throttle tries again later."
        )
        task.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=choice, result_path="$.error"))
        choice.add_choice(throttled("$.error.Cause"), on_throttle)
        choice.default_choice(self.stage_failure(stage))
        return choice

    def sdk_resource(self, action: str) -> str:
        """The ARN of a SageMaker call through the AWS SDK integration."""
        return f"arn:{partition(self.config.account.region)}:states:::aws-sdk:sagemaker:{action}"

    def describe(self, state_id: str, result_path: str, selector: dict[str, str] | None) -> Task:
        """A DescribeEndpoint call through the AWS SDK integration."""
        task = Task(
            state_id,
            resource=self.sdk_resource("describeEndpoint"),
            parameters={"EndpointName": self.config.endpoint.name},
            result_path=result_path,
            timeout_seconds=self.config.state_machine.task_timeout_seconds,
        )
        return extend(task, ResultSelector=selector) if selector else task


def partition(region: str) -> str:
    """The AWS partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def throttled(path: str) -> Any:
    """A choice rule true when the error cause at ``path`` says the call was throttled."""
    return ChoiceRule.Or([ChoiceRule.StringMatches(path, pattern) for pattern in THROTTLED_PATTERNS])


def status_in(path: str, statuses: tuple[str, ...]) -> Any:
    """A choice rule true when the status at ``path`` is one of ``statuses``."""
    return ChoiceRule.Or([ChoiceRule.StringEquals(path, s) for s in statuses])


def pascal(stage: str) -> str:
    """'Train model' -> 'TrainModel'."""
    return "".join(word[:1].upper() + word[1:] for word in stage.split())
