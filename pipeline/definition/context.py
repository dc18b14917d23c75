"""What every stage builder shares: the configuration, the run's input, retries and failure states."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepfunctions.inputs import ExecutionInput
from stepfunctions.steps import Catch, Choice, ChoiceRule, Fail, Pass, Task, TrainingStep, Wait
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
# Retry policy of the optimised SageMaker calls (train, model, endpoint config, create endpoint).
# AWS's documented retrier for them is SageMaker.AmazonSageMakerException, but that name covers
# every SageMaker error, validation errors included: "Cannot create already existing endpoint"
# was retried max_attempts times (~150 s) before failing. SageMaker's common errors make a
# ValidationException (HTTP 400: the request itself is wrong) not worth retrying, and throttling
# the error to retry with backoff; a Retry matches error names only, never the Cause (Step
# Functions, "Handling errors"). So the Retry keeps the names that are never a validation error,
# and AmazonSageMakerException is caught into a Choice on the Cause (StageContext.sagemaker_call):
# a ValidationException fails at once as Pipeline.<Stage>Rejected; anything else (a throttle or
# an internal error reported under that name) is retried by a counted loop with the same backoff.
# States.Timeout is left out on purpose: retrying a create after a timeout would collide with the
# resource the first attempt made.
SAGEMAKER_RETRY_ERRORS = [
    "ThrottlingException",
    "SageMaker.ThrottlingException",
    "SageMaker.ResourceLimitExceededException",
]
# The name an optimised SageMaker call reports every other SageMaker error under.
SAGEMAKER_ERROR = "SageMaker.AmazonSageMakerException"
VALIDATION_PATTERN = "*ValidationException*"
# CreateEndpoint's one documented transient validation error: the config it names may not be
# readable yet (an eventually consistent read), and SageMaker recommends retrying.
CONFIG_NOT_VISIBLE_YET = "*Could not find endpoint configuration*"
# The retry loop's delays follow the configured growth for at most this many steps.
MAX_BACKOFF_STEPS = 30
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

    def sagemaker_call(self, task: State, stage: str, transient: tuple[str, ...] = ()) -> State:
        """Retry and catches for an optimised SageMaker call; its errors are decided by their Cause.

        A ValidationException (unless its Cause matches one of ``transient``) ends the run after
        one attempt; any other SageMakerException is tried again up to ``retry.max_attempts``
        times, with exponential backoff and full jitter like the Retry (see SAGEMAKER_RETRY_ERRORS).
        """
        state = task.state_id
        loop = names.retry_loop(state)
        counter = f"$.retries.{pascal(state)}"
        decide = Choice(
            loop.decide,
            comment="A Retry cannot read the Cause: a ValidationException fails now, anything else tries again.",
        )
        task.add_retry(self.retry(SAGEMAKER_RETRY_ERRORS))
        task.add_catch(Catch(error_equals=[SAGEMAKER_ERROR], next_step=decide, result_path="$.error"))
        task.add_catch(self.caught(stage))
        validation = ChoiceRule.StringMatches("$.error.Cause", VALIDATION_PATTERN)
        if transient:
            validation = ChoiceRule.And(
                [validation, *(ChoiceRule.Not(ChoiceRule.StringMatches("$.error.Cause", p)) for p in transient)]
            )
        decide.add_choice(
            validation,
            self.failure(
                loop.rejected,
                stage,
                f"{pascal(stage)}Rejected",
                f'States.Format(\'SageMaker rejected "{state}" as invalid (ValidationException); retrying '
                f"cannot fix the request, so it was tried once: {{}}', $.error.Cause)",
            ),
        )
        ends, steps = self.backoff()
        first = Pass(
            loop.first,
            parameters={"Attempt": 1, "Step": 0, "Delay.$": f"States.MathRandom(1, {ends[0]})"},
            result_path=counter,
        )
        again = Pass(
            loop.again,
            parameters={
                "Attempt.$": f"States.MathAdd({counter}.Attempt, 1)",
                "Step.$": f"States.ArrayGetItem(States.Array({', '.join(map(str, steps))}), {counter}.Step)",
                "Delay.$": (
                    f"States.MathRandom(1, States.ArrayGetItem(States.Array({', '.join(map(str, ends))}), "
                    f"States.ArrayGetItem(States.Array({', '.join(map(str, steps))}), {counter}.Step)))"
                ),
            },
            result_path=counter,
        )
        decide.add_choice(ChoiceRule.IsPresent(counter, True), again)
        decide.default_choice(first)
        left = Choice(loop.left)
        back_off = Wait(loop.back_off, seconds_path=f"{counter}.Delay")
        first.next(left)
        again.next(left)
        left.add_choice(
            ChoiceRule.NumericGreaterThan(f"{counter}.Attempt", self.config.retry.max_attempts),
            self.stage_failure(stage),
        )
        left.default_choice(back_off)
        back_off.next(task)
        return task

    def backoff(self) -> tuple[list[int], list[int]]:
        """The retry loop's tables: MathRandom's exclusive end per step, and each step's successor.

        The state machine has no multiplication, so the delays (interval x rate^n, at most
        max_delay_seconds, full jitter) are a table; the step saturates where the delay stops
        growing (or after MAX_BACKOFF_STEPS), so the table stays small for any max_attempts.
        """
        r = self.config.retry
        caps: list[int] = []
        for n in range(min(r.max_attempts, MAX_BACKOFF_STEPS) + 1):
            cap = min(round(r.interval_seconds * r.backoff_rate**n), r.max_delay_seconds)
            if caps and cap == caps[-1]:
                break
            caps.append(cap)
            if cap >= r.max_delay_seconds:
                break
        ends = [cap + 1 for cap in caps]
        steps = [min(n + 1, len(caps) - 1) for n in range(len(caps))]
        return ends, steps

    def sdk_errors(
        self, task: State, choice_id: str, stage: str, on_throttle: State, transient: tuple[str, ...] = ()
    ) -> Choice:
        """Route an aws-sdk task's SageMaker errors by their Cause: throttled -> ``on_throttle``.

        An aws-sdk SageMaker throttle is ``SageMaker.SageMakerException`` (the model declares no
        ThrottlingException) with the code in the Cause, so no Retry can single it out. Add this
        before the catch-all; a Cause matching one of ``transient`` also goes to ``on_throttle``,
        every other error to the stage's failure (a ValidationException is never retried).
        """
        choice = Choice(
            choice_id, comment="aws-sdk errors carry their code in the Cause: a throttle tries again later."
        )
        task.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=choice, result_path="$.error"))
        choice.add_choice(throttled("$.error.Cause", transient), on_throttle)
        choice.default_choice(self.stage_failure(stage))
        return choice

    def sdk_resource(self, action: str, service: str = "sagemaker") -> str:
        """The ARN of a call through the AWS SDK integration (``service`` as in its ARN: sagemaker, s3)."""
        return f"arn:{partition(self.config.account.region)}:states:::aws-sdk:{service}:{action}"

    def sdk_task(
        self,
        state_id: str,
        action: str,
        parameters: dict[str, Any],
        result_path: str,
        service: str = "sagemaker",
        **kwargs: Any,
    ) -> Task:
        """An AWS SDK integration call (SageMaker unless ``service`` says), bounded by the task timeout."""
        return Task(
            state_id,
            resource=self.sdk_resource(action, service),
            parameters=parameters,
            result_path=result_path,
            timeout_seconds=self.config.state_machine.task_timeout_seconds,
            **kwargs,
        )

    def describe(self, state_id: str, result_path: str, selector: dict[str, str] | None) -> Task:
        """A DescribeEndpoint call through the AWS SDK integration."""
        task = self.sdk_task(state_id, "describeEndpoint", {"EndpointName": self.config.endpoint.name}, result_path)
        return extend(task, ResultSelector=selector) if selector else task


def partition(region: str) -> str:
    """The AWS partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def throttled(path: str, also: tuple[str, ...] = ()) -> Any:
    """A choice rule true when the error cause at ``path`` says the call was throttled (or matches ``also``)."""
    return ChoiceRule.Or([ChoiceRule.StringMatches(path, pattern) for pattern in (*THROTTLED_PATTERNS, *also)])


def status_in(path: str, statuses: tuple[str, ...]) -> Any:
    """A choice rule true when the status at ``path`` is one of ``statuses``."""
    return ChoiceRule.Or([ChoiceRule.StringEquals(path, s) for s in statuses])


def pascal(stage: str) -> str:
    """'Train model' -> 'TrainModel'."""
    return "".join(word[:1].upper() + word[1:] for word in stage.split())
