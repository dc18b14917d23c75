"""Step Functions' optimised SageMaker integration (moto forwards it without ``.sync``).

Request-response calls go to SageMaker; ``createTrainingJob.sync`` then polls
DescribeTrainingJob until the job ends. Errors get AWS's names so Retry/Catch match them.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Callable
from functools import cache
from typing import Any, Final

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from pipeline.emulator.clients import engine_client

# The optimised SageMaker API actions AWS documents (connect-sagemaker), and which have .sync.
OPTIMISED_ACTIONS: Final[dict[str, str]] = {
    "createendpoint": "CreateEndpoint",
    "createendpointconfig": "CreateEndpointConfig",
    "createhyperparametertuningjob": "CreateHyperParameterTuningJob",
    "createlabelingjob": "CreateLabelingJob",
    "createmodel": "CreateModel",
    "createprocessingjob": "CreateProcessingJob",
    "createtrainingjob": "CreateTrainingJob",
    "createtransformjob": "CreateTransformJob",
    "updateendpoint": "UpdateEndpoint",
}
SYNC_ACTIONS: Final[set[str]] = {"createtrainingjob"}

# Seconds between DescribeTrainingJob polls (moto's own loop uses 0.5 s): the first after
# FIRST_POLL_SECONDS, doubling up to POLL_SECONDS. A job of the placeholder trainer (or an
# injected failure) ends within milliseconds, and a fixed 50 ms was a quarter of a whole
# execution; a real training job of a second still costs only about a dozen polls.
FIRST_POLL_SECONDS: Final[float] = 0.005
POLL_SECONDS: Final[float] = 0.05

# Error names AWS gives failures of optimised SageMaker calls (connect-sagemaker retriers).
_ERROR_NAMES: Final[dict[str, str]] = {
    "ResourceLimitExceeded": "SageMaker.ResourceLimitExceededException",
    "ThrottlingException": "ThrottlingException",
}
DEFAULT_ERROR_NAME: Final[str] = "SageMaker.AmazonSageMakerException"


def optimised_error_name(code: str) -> str:
    """The Step Functions error name of a SageMaker error code in an optimised integration."""
    return _ERROR_NAMES.get(code, DEFAULT_ERROR_NAME)


@cache
def _sagemaker_model() -> Any:
    # Loaded once: each botocore session would read SageMaker's large JSON model again.
    return botocore.session.get_session().get_service_model("sagemaker")


@cache
def _input_members(action: str) -> frozenset[str]:
    shape = _sagemaker_model().operation_model(action).input_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _epoch_millis(value: Any) -> Any:
    # Step Functions renders SageMaker timestamps as epoch milliseconds.
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _epoch_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(v) for v in value]
    return value


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync]``."""

    def __init__(self) -> None:
        # WaitForTaskToken is listed only because moto's callback plumbing needs a token
        # endpoint for every integration pattern; a .waitForTaskToken resource is refused below.
        super().__init__(
            # moto wants set[ResourceCondition], but its ResourceCondition constants are plain str.
            supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken},  # type: ignore[arg-type]
        )

    def _get_supported_parameters(self) -> set[str] | None:
        action = OPTIMISED_ACTIONS.get(self.resource.api_action.lower())
        if action is None:
            return None
        if self.resource.condition == ResourceCondition.WaitForTaskToken or (
            self.resource.condition is not None and self.resource.api_action.lower() not in SYNC_ACTIONS
        ):
            return None
        return set(_input_members(action))

    def _client(self, resource_runtime_part: Any, state_credentials: Any) -> Any:
        return engine_client(
            boto_client_for,
            service="sagemaker",
            region=resource_runtime_part.region,
            state_credentials=state_credentials,
        )

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(_epoch_millis(response))

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            code = ex.response["Error"]["Code"]
            meta = ex.response.get("ResponseMetadata", {})
            error = optimised_error_name(code)
            cause = (
                f"{ex.response['Error'].get('Message', '')} (Service: AmazonSageMaker; "
                f"Status Code: {meta.get('HTTPStatusCode', 400)}; Error Code: {code}; "
                f"Request ID: {meta.get('RequestId', '')}; Proxy: null)"
            )
            return self._failure(env, CustomErrorName(error), error, cause)
        return super()._from_error(env=env, ex=ex)

    def _failure(self, env: Any, error_name: Any, error: str, cause: str) -> FailureEvent:
        return FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.TaskFailed,
            # moto declares EventDetails total, though each event sets only its own key (as moto does).
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    def _build_sync_resolver(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> Callable[[], Any]:
        env.stack.pop()  # the CreateTrainingJob response; the name is in the request
        job_name = normalised_parameters["TrainingJobName"]
        client = self._client(resource_runtime_part, state_credentials)

        def resolve() -> dict | None:
            job = client.describe_training_job(TrainingJobName=job_name)
            job.pop("ResponseMetadata", None)
            status = job["TrainingJobStatus"]
            if status in ("InProgress", "Stopping"):
                return None
            job = _epoch_millis(job)
            if status == "Completed":
                return job
            failed = StatesErrorNameType.StatesTaskFailed
            raise FailureEventException(
                self._failure(env, StatesErrorName(typ=failed), failed.to_name(), to_json_str(job))
            )

        def stop() -> None:
            # ClientError: the job ended between the last poll and now
            with contextlib.suppress(ClientError):
                client.stop_training_job(TrainingJobName=job_name)

        resolve.stop = stop  # type: ignore[attr-defined]
        return resolve

    def _eval_sync(
        self, env: Any, sync_resolver: Any, timeout_seconds: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        # Poll faster than moto's 0.5 s, and stop the job if the task times out or the
        # execution is stopped (AWS calls StopTrainingJob then).
        delay = FIRST_POLL_SECONDS
        while env.is_running():
            result = sync_resolver()
            if result:
                return result
            time.sleep(delay)
            delay = min(delay * 2, POLL_SECONDS)
        sync_resolver.stop()
        return None
