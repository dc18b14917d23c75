"""Every state name of the state machine, defined once.

The definition, the follower's tests, the report and the tests all use these; a renamed state
changes here and in the golden files, nowhere else.
"""

from __future__ import annotations

TRAIN_MODEL = "Train model"
SAVE_MODEL = "Save model"
CONFIGURE_ENDPOINT = "Configure endpoint"

# Deploy: look at the endpoint, then create, update or repair it.
FIND_ENDPOINT = "Find endpoint"
ENDPOINT_MISSING = "Endpoint missing?"
NO_ENDPOINT_YET = "No endpoint yet"
ROUTE_BY_STATUS = "Route by endpoint status"
CREATE_ENDPOINT = "Create endpoint"
UPDATE_ENDPOINT = "Update endpoint"
DELETE_FAILED_ENDPOINT = "Delete failed endpoint"
WAIT_TO_SETTLE = "Wait for endpoint to settle"
NEEDS_OPERATOR = "Endpoint needs an operator"
UNEXPECTED_ENDPOINT_STATUS = "Unexpected endpoint status"

# Watch the deployment until this run's config serves.
WAIT_FOR_DEPLOYMENT = "Wait for deployment"
CHECK_DEPLOYMENT = "Check deployment"
CHECK_THROTTLED = "Check throttled?"
DEPLOYMENT_STATUS = "Deployment status"
REPORT_DEPLOYMENT = "Report deployment"
DEPLOYED = "Deployed"
UPDATE_ROLLED_BACK = "Update was rolled back"
ENDPOINT_FAILED = "Endpoint is Failed"
ENDPOINT_FAILED_NO_REASON = "Endpoint is Failed without a reason"
UNEXPECTED_DEPLOYMENT_STATUS = "Unexpected deployment status"

# Every failure ends here.
PIPELINE_FAILED = "Pipeline failed"
# The stage an operator-needed failure is reported under (a label, not a state).
DEPLOY_STAGE = "Deploy"

# The states a happy first run (no endpoint yet) works through, in order.
FIRST_RUN_STAGES = (
    TRAIN_MODEL,
    SAVE_MODEL,
    CONFIGURE_ENDPOINT,
    FIND_ENDPOINT,
    CREATE_ENDPOINT,
    WAIT_FOR_DEPLOYMENT,
    CHECK_DEPLOYMENT,
)


def stage_failed(stage: str) -> str:
    """The name of the state recording that ``stage`` failed (``'Train model failed'``)."""
    return f"{stage} failed"
