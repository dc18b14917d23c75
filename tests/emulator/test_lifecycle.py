"""The emulator's status life cycles (data) hold only statuses botocore's SageMaker model knows."""

from __future__ import annotations

import pytest

from pipeline.emulator import lifecycle
from pipeline.emulator.timings import Timings
from tests.tooling.service_model import service_model


def _enum(shape: str) -> set[str]:
    model = service_model("sagemaker")
    return set(model.shape_for(shape).enum)


def test_every_endpoint_status_of_the_table_is_one_sagemaker_reports() -> None:
    known = _enum("EndpointStatus")
    assert set(lifecycle.ENDPOINT_STATUSES) == known
    for operation in lifecycle.ENDPOINT_OPERATIONS.values():
        assert {operation.during, *operation.allowed_from} <= known
        assert {status for status in operation.ends if status is not None} <= known
    assert known >= lifecycle.ENDPOINT_SERVING | lifecycle.ENDPOINT_IN_PROGRESS


def test_every_training_status_of_the_table_is_one_sagemaker_reports() -> None:
    known = _enum("TrainingJobStatus")
    for operation in (lifecycle.TRAINING, lifecycle.TRAINING_STOP):
        assert {operation.during, *operation.allowed_from, *operation.ends} <= known
    assert set(lifecycle.TRAINING_STEPS) == set(lifecycle.TRAINING.ends)
    assert {step for steps in lifecycle.TRAINING_STEPS.values() for step in steps} <= _enum("SecondaryStatus")


def test_each_operation_lasts_its_timing_and_refuses_an_end_it_does_not_list() -> None:
    timings = Timings(endpoint_create_seconds=3, endpoint_update_seconds=7, endpoint_delete_seconds=2)
    durations = {kind: op.duration(timings) for kind, op in lifecycle.ENDPOINT_OPERATIONS.items()}
    assert durations == {"create": 3, "update": 7, "rollback": 7, "delete": 2}
    create = lifecycle.ENDPOINT_OPERATIONS["create"]
    assert create.end("Failed") == "Failed"
    with pytest.raises(AssertionError, match="Creating cannot end in 'UpdateRollbackFailed'"):
        create.end("UpdateRollbackFailed")
    # An update is refused on a Failed endpoint; a delete is what Failed allows.
    assert "Failed" not in lifecycle.ENDPOINT_OPERATIONS["update"].allowed_from
    assert "Failed" in lifecycle.ENDPOINT_OPERATIONS["delete"].allowed_from
