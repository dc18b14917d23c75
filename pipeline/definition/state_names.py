"""Every state name of the state machine, defined once.

The definition, the follower's tests, the report and the tests all use these; a renamed state
changes here and in the golden files, nowhere else.
"""

from __future__ import annotations

from typing import NamedTuple

# Deploy a registered version (promotion, reuse): no training, gate or registration.
DEPLOY_REGISTERED_STAGE = "Deploy registered version"
REGISTERED_VERSION_GIVEN = "Registered version given?"
READ_REGISTERED_VERSION = "Read registered version"
READ_REGISTERED_THROTTLED = "Read registered version throttled?"
WAIT_TO_READ_REGISTERED = "Wait to read the registered version"
REGISTERED_VERSION_COMPLETE = "Registered version has this pipeline's metadata?"
REGISTERED_VERSION_FOREIGN = "Registered version not from this pipeline"
REGISTERED_VERSION_USABLE = "Registered version deployable?"
REGISTERED_VERSION_REJECTED = "Registered version is Rejected"
READ_REGISTERED_CONTAINER = "Read registered container"
DEPLOY_REGISTERED_VERSION = "Deploy registered version"

CHECK_RUN_INPUT = "Check run input"
RUN_INPUT_INCOMPLETE = "Run input is incomplete"
TRAIN_MODEL = "Train model"

# Quality gate: the champion (what the endpoint serves now), then the metric against the bars.
QUALITY_GATE_STAGE = "Quality gate"
FIND_CHAMPION_STAGE = "Find champion"
FIND_SERVING_ENDPOINT = "Find serving endpoint"
SERVING_ENDPOINT_MISSING = "Serving endpoint missing?"
WAIT_FOR_CHAMPION = "Wait to look up the champion"
FIRST_DEPLOY = "First deploy"
ENDPOINT_HAS_CONFIG = "Endpoint has a config?"
ENDPOINT_HAS_NO_CONFIG = "Endpoint has no config"
FIND_SERVING_MODEL = "Find serving model"
FIND_SERVING_VERSION = "Find serving model's version"
CHAMPION_LOOKUP_THROTTLED = "Champion lookup throttled?"
VARIANT_HAS_MODEL = "Serving variant has a model?"
VARIANT_HAS_NO_MODEL = "Serving variant has no model"
SERVING_MODEL_FROM_REGISTRY = "Serving model from the registry?"
SERVING_MODEL_NOT_REGISTERED = "Serving model not from the registry"
READ_CHAMPION = "Read champion version"
CHAMPION_HAS_METADATA = "Champion has metadata?"
CHAMPION_OURS = "Champion written by this pipeline?"
CHAMPION_NOT_TRUSTED = "Champion not trusted"
CHAMPION_BAR_FOR_PCT = "Champion bar for this percentage?"
CHAMPION_BAR_RECORDED = "Champion bar: recorded at approval"
CHAMPION_BAR_OWN_METRIC = "Champion bar: its own metric"
METRICS_REPORTED = "Training reported metrics?"
NO_METRICS = "No final metrics"
READ_METRIC = "Read validation metric"
QUALITY_GATE = "Quality gate"
COMPARE_WITH_CHAMPION = "Compare with the champion"
NO_METRIC = "No validation metric"
ABOVE_ABSOLUTE_BAR = "Above the absolute bar"
WORSE_THAN_CHAMPION = "Worse than the champion"
GATE_PASSED = "Quality gate passed"

# Registry: the artifact copied with its SHA-256, the group, the version.
REGISTER_STAGE = "Register model"
COPY_ARTIFACT = "Copy model artifact"
ARTIFACT_HASHED = "Copy has its SHA-256?"
ARTIFACT_NOT_HASHED = "Copy has no SHA-256"
WAIT_FOR_REGISTRY = "Wait to retry the registry"
REGISTRY_THROTTLED = "Registry throttled?"
FIND_GROUP = "Find model package group"
GROUP_MISSING = "Model package group missing?"
CREATE_GROUP = "Create model package group"
REGISTER_MODEL = "Register model"
TRAINED_VERSION = "Trained version"

# The states the gate and the registry add (benchmarks/bench_gate.py measures them).
GATE_AND_REGISTRY_STATES = (
    CHECK_RUN_INPUT,
    FIND_SERVING_ENDPOINT,
    SERVING_ENDPOINT_MISSING,
    WAIT_FOR_CHAMPION,
    FIRST_DEPLOY,
    ENDPOINT_HAS_CONFIG,
    ENDPOINT_HAS_NO_CONFIG,
    FIND_SERVING_MODEL,
    CHAMPION_LOOKUP_THROTTLED,
    VARIANT_HAS_MODEL,
    VARIANT_HAS_NO_MODEL,
    FIND_SERVING_VERSION,
    SERVING_MODEL_FROM_REGISTRY,
    SERVING_MODEL_NOT_REGISTERED,
    READ_CHAMPION,
    CHAMPION_HAS_METADATA,
    CHAMPION_OURS,
    CHAMPION_NOT_TRUSTED,
    CHAMPION_BAR_FOR_PCT,
    CHAMPION_BAR_RECORDED,
    CHAMPION_BAR_OWN_METRIC,
    METRICS_REPORTED,
    NO_METRICS,
    READ_METRIC,
    QUALITY_GATE,
    COMPARE_WITH_CHAMPION,
    GATE_PASSED,
    COPY_ARTIFACT,
    ARTIFACT_HASHED,
    ARTIFACT_NOT_HASHED,
    FIND_GROUP,
    GROUP_MISSING,
    WAIT_FOR_REGISTRY,
    REGISTRY_THROTTLED,
    CREATE_GROUP,
    REGISTER_MODEL,
    TRAINED_VERSION,
)

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
DELETE_THROTTLED = "Delete throttled?"
UPDATE_THROTTLED = "Update throttled?"
WAIT_TO_SETTLE = "Wait for endpoint to settle"
NEEDS_OPERATOR = "Endpoint needs an operator"
UNEXPECTED_ENDPOINT_STATUS = "Unexpected endpoint status"

# Watch the deployment until this run's config serves.
WAIT_FOR_DEPLOYMENT = "Wait for deployment"
CHECK_DEPLOYMENT = "Check deployment"
CHECK_THROTTLED = "Check throttled?"
DEPLOYMENT_STATUS = "Deployment status"
SERVING_WHICH_CONFIG = "Serving which config?"
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
    FIND_SERVING_ENDPOINT,
    COPY_ARTIFACT,
    FIND_GROUP,
    CREATE_GROUP,
    REGISTER_MODEL,
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


class RetryLoop(NamedTuple):
    """The states of an optimised SageMaker call's retry loop (StageContext.sagemaker_call)."""

    decide: str  # the Choice on the Cause: rejected, or count an attempt
    rejected: str  # the failure of a call SageMaker rejected as invalid
    first: str  # the first retry: the counter starts
    again: str  # a later retry: the counter goes up
    left: str  # the Choice ending the retries after retry.max_attempts
    back_off: str  # the Wait before the call is tried again


def retry_loop(state: str) -> RetryLoop:
    """The names of the retry loop of the Task ``state``."""
    return RetryLoop(
        f"{state}: retry?",
        f"{state} rejected",
        f"{state}: first retry",
        f"{state}: next retry",
        f"{state}: attempts left?",
        f"{state}: back off",
    )
