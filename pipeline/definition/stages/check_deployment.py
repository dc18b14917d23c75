"""Wait until the endpoint is InService on *this run's* config, then report the deployment.

An update that SageMaker rolled back to the old config is a failure, as is a Failed endpoint;
throttled looks and changing statuses wait and look again.
"""

from __future__ import annotations

from stepfunctions.steps import Catch, Choice, ChoiceRule, Pass, Succeed, Wait

from pipeline import endpoint_status as status
from pipeline.definition import state_names as names
from pipeline.definition.context import DESCRIBE_RETRY_ERRORS, LOOKUP_ERRORS, Stage, StageContext, status_in, throttled
from pipeline.definition.names import Output
from pipeline.definition.stages.deploy_endpoint import needs_operator

STATUS = "$.deployed.EndpointStatus"
CONFIG = "$.deployed.EndpointConfigName"


def build(ctx: StageContext) -> Stage:
    """Poll DescribeEndpoint until the deployment settles; ends in Deployed or a failure."""
    c = ctx.config
    wait_deploy = Wait(names.WAIT_FOR_DEPLOYMENT, seconds=c.endpoint.poll_seconds)
    check = ctx.describe(names.CHECK_DEPLOYMENT, "$.deployed", None)
    check.add_retry(ctx.retry(DESCRIBE_RETRY_ERRORS))
    check_error = Choice(names.CHECK_THROTTLED, comment="Throttling while watching the deployment: look again later.")
    check.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=check_error, result_path="$.error"))
    check.add_catch(ctx.caught(names.CHECK_DEPLOYMENT))
    check_error.add_choice(throttled("$.error.Cause"), wait_deploy)
    check_error.default_choice(ctx.stage_failure(names.CHECK_DEPLOYMENT))
    live = Choice(names.DEPLOYMENT_STATUS)
    report = Pass(
        names.REPORT_DEPLOYMENT,
        parameters={
            Output.ENDPOINT: c.endpoint.name,
            f"{Output.ENDPOINT_CONFIG}.$": "$.EndpointConfigName",
            f"{Output.MODEL}.$": "$.ModelName",
            f"{Output.TRAINING_JOB}.$": "$.release.TrainingJob",
            f"{Output.MODEL_ARTIFACTS}.$": "$.release.ModelArtifacts",
            f"{Output.MODEL_PACKAGE}.$": "$.release.ModelPackageArn",
            f"{Output.QUALITY_GATE}.$": "$.release.QualityGate",
            f"{Output.RELEASE}.$": "$.release",
            f"{Output.PREVIOUS_ENDPOINT}.$": "$.endpoint",
        },
    )
    report.next(Succeed(names.DEPLOYED))
    # EndpointConfigName is optional in DescribeEndpoint's output (botocore): it is compared
    # only once present, in a Choice of its own, since a rule reading a missing path fails.
    which_config = Choice(names.SERVING_WHICH_CONFIG)
    live.add_choice(
        ChoiceRule.And([ChoiceRule.StringEquals(STATUS, status.IN_SERVICE), ChoiceRule.IsPresent(CONFIG, True)]),
        which_config,
    )
    which_config.add_choice(ChoiceRule.StringEqualsPath(CONFIG, "$.EndpointConfigName"), report)
    which_config.default_choice(
        ctx.failure(
            names.UPDATE_ROLLED_BACK,
            names.CHECK_DEPLOYMENT,
            "UpdateRolledBack",
            "States.Format('Endpoint {} is InService on config {} instead of the new config {}: the update "
            "failed and SageMaker rolled back to the previous config, which still serves. See the "
            "FailureReason of the endpoint in DescribeEndpoint.', $.deployed.EndpointName, "
            "$.deployed.EndpointConfigName, $.EndpointConfigName)",
        ),
    )
    live.add_choice(
        ChoiceRule.And(
            [ChoiceRule.StringEquals(STATUS, status.FAILED), ChoiceRule.IsPresent("$.deployed.FailureReason", True)]
        ),
        ctx.failure(
            names.ENDPOINT_FAILED,
            names.CHECK_DEPLOYMENT,
            "EndpointFailed",
            "States.Format('Endpoint {} is Failed: {}', $.deployed.EndpointName, $.deployed.FailureReason)",
        ),
    )
    live.add_choice(
        ChoiceRule.StringEquals(STATUS, status.FAILED),
        ctx.failure(
            names.ENDPOINT_FAILED_NO_REASON,
            names.CHECK_DEPLOYMENT,
            "EndpointFailed",
            "States.Format('Endpoint {} is Failed and SageMaker gave no reason.', $.deployed.EndpointName)",
        ),
    )
    live.add_choice(ChoiceRule.StringEquals(STATUS, status.UPDATE_ROLLBACK_FAILED), needs_operator(ctx))
    live.add_choice(status_in(STATUS, status.CHANGING_STATUSES), wait_deploy)
    live.default_choice(
        ctx.failure(
            names.UNEXPECTED_DEPLOYMENT_STATUS,
            names.CHECK_DEPLOYMENT,
            "UnexpectedEndpointStatus",
            "States.Format('Endpoint {} has status {}, which the pipeline does not handle.', $.deployed.EndpointName, $.deployed.EndpointStatus)",
        )
    )
    wait_deploy.next(check)
    check.next(live)
    return Stage(wait_deploy, [])
