"""SageMaker endpoint statuses (DescribeEndpoint ``EndpointStatus``), named once for every module."""

from __future__ import annotations

IN_SERVICE = "InService"
FAILED = "Failed"
UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"
OUT_OF_SERVICE = "OutOfService"
# Statuses an endpoint leaves by itself: wait and look again.
CHANGING_STATUSES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
