"""Status life cycles of emulated resources, declared as data (moto's ``ManagedState`` shape).

Each operation that takes time names the status it holds while it runs, the ``Timings`` field
that says how long, and the statuses it may end in; the code in ``endpoints.py`` and
``training.py`` only decides *which* of those (a fault, a model that does not load) and refuses
a move the table does not list, so a status no AWS resource reaches cannot appear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    """An operation that takes time: ``during`` while it runs, for ``timing`` seconds, then one of ``ends``.

    ``ends`` holding None means the resource is gone afterwards (a deletion). ``allowed_from``
    lists the statuses the operation may start in (empty: it starts with the resource).
    """

    during: str
    timing: str
    ends: frozenset[str | None]
    allowed_from: frozenset[str] = frozenset()

    def duration(self, timings: Any) -> float:
        """How long the operation takes under ``timings`` (a ``Timings``)."""
        return float(getattr(timings, self.timing))

    def end(self, status: str | None) -> str | None:
        """``status``, checked to be one this operation may end in."""
        if status not in self.ends:
            raise AssertionError(
                f"emulator bug: {self.during} cannot end in {status!r} (only {sorted(map(str, self.ends))})"
            )
        return status


# SageMaker endpoints (DescribeEndpoint's EndpointStatus). An update that fails its health check
# or is rolled back stays Updating while it rolls back (botocore documents RollingBack only for
# autoscaling with UpdateEndpointWeightsAndCapacities), then serves the old config again.
# Every status DescribeEndpoint can report (botocore's EndpointStatus enum).
ENDPOINT_STATUSES = (
    "OutOfService",
    "Creating",
    "Updating",
    "SystemUpdating",
    "RollingBack",
    "InService",
    "Deleting",
    "Failed",
    "UpdateRollbackFailed",
)
# Statuses in which the endpoint answers InvokeEndpoint (the old fleet serves during updates).
ENDPOINT_SERVING = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"})
# DeleteEndpoint is refused while an operation is in progress, allowed otherwise (Failed too).
ENDPOINT_IN_PROGRESS = frozenset({"Creating", "Updating", "RollingBack", "Deleting"})
ENDPOINT_OPERATIONS: Mapping[str, Operation] = {
    "create": Operation("Creating", "endpoint_create_seconds", frozenset({"InService", "Failed"})),
    "update": Operation(
        "Updating", "endpoint_update_seconds", frozenset({"InService", "Updating"}), frozenset({"InService"})
    ),
    "rollback": Operation("Updating", "endpoint_update_seconds", frozenset({"InService", "UpdateRollbackFailed"})),
    "delete": Operation(
        "Deleting", "endpoint_delete_seconds", frozenset({None}), frozenset(ENDPOINT_STATUSES) - ENDPOINT_IN_PROGRESS
    ),
}

# SageMaker training jobs (TrainingJobStatus) and the SecondaryStatus steps each end reports.
TRAINING = Operation("InProgress", "training_seconds", frozenset({"Completed", "Failed", "Stopped"}))
TRAINING_STOP = Operation("Stopping", "training_seconds", frozenset({"Stopped"}), frozenset({"InProgress"}))
TRAINING_STEPS: Mapping[str, tuple[str, ...]] = {
    "Completed": ("Starting", "Downloading", "Training", "Uploading"),
    "Failed": ("Starting", "Training"),
    "Stopped": ("Starting", "Training"),
}
