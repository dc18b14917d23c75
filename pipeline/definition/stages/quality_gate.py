"""The quality gate: the job's validation:rmse against an absolute bar and against the champion.

The champion is the model package version the live endpoint's model was created from
(endpoint -> config -> model -> version), read from the registry in the state machine. A
version this pipeline did not write (no ``WrittenBy``/``ValidationRmse`` metadata) is never a
champion; on a first deploy only the absolute bar applies. A failed gate ends in
``Pipeline.QualityGateFailed`` naming the metric, its value and the bar, before anything is
created: the live endpoint is untouched.

The state machine has no floating-point arithmetic (``States.MathAdd`` rounds to integers), so
the champion's bar ``metric * (1 + pct / 100)`` is computed in Python when the version is
approved (:func:`pipeline.registry.approve`) and stored with the percentage it is for. A champion
without a bar for the configured percentage (not approved yet, or approved under another
percentage) is compared with its own metric: stricter, never looser, than configured.
"""

from __future__ import annotations

from typing import Any

from stepfunctions.steps import Catch, Choice, ChoiceRule, Pass, Task, Wait

from pipeline import registry as reg
from pipeline.definition import state_names as names
from pipeline.definition.context import (
    DESCRIBE_RETRY_ERRORS,
    LOOKUP_ERRORS,
    NOT_FOUND_PATTERN,
    Stage,
    StageContext,
    throttled,
)
from pipeline.definition.states import extend

# Jayway JSONPath filters are allowed in Parameters (not in reference paths); the job's metrics
# come as a list in no documented order.
METRIC_VALUES = "$.training.FinalMetricDataList[?(@.MetricName == '{}')].Value"
META = "$.champion_package.CustomerMetadataProperties"


def build(ctx: StageContext) -> Stage:
    """Champion lookup, then the gate; its exit is the 'Quality gate passed' state."""
    passed = Pass(names.GATE_PASSED, comment="Only a model that passed the gate is registered and deployed.")
    gate = decide(ctx, passed)
    return Stage(champion(ctx, gate), [passed])


def lookup(
    ctx: StageContext, state_id: str, action: str, parameters: dict[str, Any], result_path: str, throttled_to: Choice
) -> Task:
    """A read-only aws-sdk:sagemaker call of the champion lookup: retried, throttles to ``throttled_to``.

    An aws-sdk SageMaker throttle is SageMaker.SageMakerException with the code in the Cause, so
    no Retry sees it: the Choice decides (a throttle looks up the champion again, from the start).
    """
    task = ctx.sdk_task(state_id, action, parameters, result_path)
    task.add_retry(ctx.retry(DESCRIBE_RETRY_ERRORS))
    task.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=throttled_to, result_path="$.error"))
    task.add_catch(ctx.caught(names.FIND_CHAMPION_STAGE))
    return task


def no_champion(state_id: str, reason: str) -> Pass:
    """A 'no champion' result: only the absolute bar applies."""
    return Pass(state_id, result={"Found": False, "Reason": reason}, result_path="$.champion")


def found(state_id: str, bar_key: str, note: str) -> Pass:
    """A champion result with the bar read from its metadata key ``bar_key``."""
    return Pass(
        state_id,
        parameters={
            "Found": True,
            "ModelPackageArn.$": "$.champion_package.ModelPackageArn",
            "Version.$": "$.champion_package.ModelPackageVersion",
            "ValidationRmse.$": f"States.StringToJson({META}.{reg.VALIDATION_RMSE})",
            "Bar.$": f"States.StringToJson({META}.{bar_key})",
            "Note": note,
        },
        result_path="$.champion",
    )


def champion(ctx: StageContext, gate: Any) -> Task:
    """endpoint -> config -> model -> model package version -> its metric and bar; then ``gate``."""
    c = ctx.config
    pct = reg.pct_text(c.gate.max_regression_pct)
    stage = names.FIND_CHAMPION_STAGE
    again = Wait(names.WAIT_FOR_CHAMPION, seconds=c.endpoint.poll_seconds)
    missing = Choice(names.SERVING_ENDPOINT_MISSING)
    endpoint = lookup(
        ctx,
        names.FIND_SERVING_ENDPOINT,
        "describeEndpoint",
        {"EndpointName": c.endpoint.name},
        "$.champion_endpoint",
        missing,
    )
    first_deploy = no_champion(names.FIRST_DEPLOY, "no endpoint yet: first deploy, only the absolute bar applies")
    again.next(endpoint)
    missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", NOT_FOUND_PATTERN), first_deploy)
    missing.add_choice(throttled("$.error.Cause"), again)
    missing.default_choice(ctx.stage_failure(stage))
    # The later lookups: a throttle starts the lookup again, any other error fails the stage.
    lookup_throttled = Choice(names.CHAMPION_LOOKUP_THROTTLED)
    lookup_throttled.add_choice(throttled("$.error.Cause"), again)
    lookup_throttled.default_choice(ctx.stage_failure(stage))

    # Each hop: when the path is present, the next lookup; else no champion, for that reason.
    hops = (
        (
            names.ENDPOINT_HAS_CONFIG,
            "$.champion_endpoint.EndpointConfigName",
            names.FIND_SERVING_MODEL,
            "describeEndpointConfig",
            {"EndpointConfigName.$": "$.champion_endpoint.EndpointConfigName"},
            "$.champion_config",
            # ArrayGetItem, not $.ProductionVariants[0].ModelName: moto 5.2.5's JSONPath gives a list for it.
            {"Variant.$": "States.ArrayGetItem($.ProductionVariants, 0)"},
            no_champion(names.ENDPOINT_HAS_NO_CONFIG, "the endpoint has no config: no champion"),
        ),
        (
            # A variant's ModelName is optional (botocore): a variant of inference components has none.
            names.VARIANT_HAS_MODEL,
            "$.champion_config.Variant.ModelName",
            names.FIND_SERVING_VERSION,
            "describeModel",
            {"ModelName.$": "$.champion_config.Variant.ModelName"},
            "$.champion_model",
            None,  # PrimaryContainer is optional (a model may have Containers instead)
            no_champion(names.VARIANT_HAS_NO_MODEL, "the endpoint's variant names no model: no champion"),
        ),
        (
            names.SERVING_MODEL_FROM_REGISTRY,
            "$.champion_model.PrimaryContainer.ModelPackageName",
            names.READ_CHAMPION,
            "describeModelPackage",
            {"ModelPackageName.$": "$.champion_model.PrimaryContainer.ModelPackageName"},
            "$.champion_package",
            None,
            no_champion(
                names.SERVING_MODEL_NOT_REGISTERED,
                "the serving model was not created from a registry version: no champion",
            ),
        ),
    )
    package = endpoint  # after the loop: the version's lookup
    for check, present, state_id, action, parameters, result_path, selector, absent in hops:
        choice = Choice(check)
        package.next(choice)
        hop = lookup(ctx, state_id, action, parameters, result_path, lookup_throttled)
        if selector is not None:
            extend(hop, ResultSelector=selector)
        choice.add_choice(ChoiceRule.IsPresent(present, True), hop)
        choice.default_choice(absent)
        package = hop

    has_meta = Choice(names.CHAMPION_HAS_METADATA)
    package.next(has_meta)
    untrusted = no_champion(
        names.CHAMPION_NOT_TRUSTED,
        "the serving model's version was not written by this pipeline (no metadata): not trusted as champion",
    )
    ours = Choice(names.CHAMPION_OURS)
    # Only IsPresent here: a comparison on a missing field would fail the execution.
    has_meta.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.IsPresent(f"{META}.{reg.WRITTEN_BY}", True),
                ChoiceRule.IsPresent(f"{META}.{reg.VALIDATION_RMSE}", True),
                ChoiceRule.IsPresent("$.champion_package.ModelPackageVersion", True),
            ]
        ),
        ours,
    )
    has_meta.default_choice(untrusted)
    strict = found(
        names.CHAMPION_BAR_OWN_METRIC,
        reg.VALIDATION_RMSE,
        f"no bar for {pct}% was recorded when the champion was approved: compared with its own validation:rmse",
    )
    barred = Choice(names.CHAMPION_BAR_FOR_PCT)
    ours.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.StringEquals(f"{META}.{reg.WRITTEN_BY}", reg.WRITER),
                ChoiceRule.IsPresent(f"{META}.{reg.REGRESSION_PCT}", True),
                ChoiceRule.IsPresent(f"{META}.{reg.REGRESSION_BAR}", True),
            ]
        ),
        barred,
    )
    ours.add_choice(ChoiceRule.StringEquals(f"{META}.{reg.WRITTEN_BY}", reg.WRITER), strict)
    ours.default_choice(untrusted)
    recorded = found(
        names.CHAMPION_BAR_RECORDED,
        reg.REGRESSION_BAR,
        f"bar = champion validation:rmse x (1 + {pct}/100), recorded when it was approved",
    )
    barred.add_choice(ChoiceRule.StringEquals(f"{META}.{reg.REGRESSION_PCT}", pct), recorded)
    barred.default_choice(strict)
    for done in (first_deploy, *(link[-1] for link in hops), untrusted, strict, recorded):
        done.next(gate)
    return endpoint


def decide(ctx: StageContext, passed: Pass) -> Choice:
    """Read the metric and compare it; failures end in Pipeline.QualityGateFailed."""
    c = ctx.config
    pct = reg.pct_text(c.gate.max_regression_pct)
    read = Pass(
        names.READ_METRIC,
        parameters={
            "Metric": reg.GATE_METRIC,
            "Values.$": METRIC_VALUES.format(reg.GATE_METRIC),
            "TrainValues.$": METRIC_VALUES.format("train:rmse"),
            "MaxRegressionPct": c.gate.max_regression_pct,
            "MaxValidationRmse": c.gate.max_validation_rmse if c.gate.max_validation_rmse is not None else "none",
        },
        result_path="$.gate",
    )
    gate = Choice(names.QUALITY_GATE, comment="validation:rmse against the absolute bar and the champion.")
    read.next(gate)
    unchanged = f"Nothing was registered or deployed; endpoint {c.endpoint.name} is unchanged."
    stage = names.QUALITY_GATE_STAGE
    # FinalMetricDataList is optional in DescribeTrainingJob's output (botocore): read once present.
    reported = Choice(names.METRICS_REPORTED)
    reported.add_choice(ChoiceRule.IsPresent("$.training.FinalMetricDataList", True), read)
    reported.default_choice(
        ctx.failure(
            names.NO_METRICS,
            stage,
            "QualityGateFailed",
            f"States.Format('Training job {{}} reported no final metrics (no FinalMetricDataList), so "
            f"{reg.GATE_METRIC} cannot be checked. {unchanged}', $$.Execution.Input.TrainingJobName)",
        )
    )
    gate.add_choice(
        ChoiceRule.Not(ChoiceRule.IsPresent("$.gate.Values[0]", True)),
        ctx.failure(
            names.NO_METRIC,
            stage,
            "QualityGateFailed",
            f"States.Format('Training job {{}} reported no {reg.GATE_METRIC} in FinalMetricDataList {{}}. "
            f"{unchanged}', $$.Execution.Input.TrainingJobName, States.JsonToString($.training.FinalMetricDataList))",
        ),
    )
    if c.gate.max_validation_rmse is not None:
        gate.add_choice(
            ChoiceRule.NumericGreaterThan("$.gate.Values[0]", c.gate.max_validation_rmse),
            ctx.failure(
                names.ABOVE_ABSOLUTE_BAR,
                stage,
                "QualityGateFailed",
                f"States.Format('{reg.GATE_METRIC} {{}} is above max_validation_rmse {c.gate.max_validation_rmse:g}. "
                f"{unchanged}', $.gate.Values[0])",
            ),
        )
    against = Choice(names.COMPARE_WITH_CHAMPION)
    gate.add_choice(ChoiceRule.BooleanEquals("$.champion.Found", True), against)
    gate.default_choice(passed)
    against.add_choice(
        ChoiceRule.NumericGreaterThanPath("$.gate.Values[0]", "$.champion.Bar"),
        ctx.failure(
            names.WORSE_THAN_CHAMPION,
            stage,
            "QualityGateFailed",
            f"States.Format('{reg.GATE_METRIC} {{}} is worse than the serving model (version {{}}, "
            f"{reg.GATE_METRIC} {{}}) by more than max_regression_pct {pct}%: the bar was {{}} ({{}}). "
            f"{unchanged}', $.gate.Values[0], $.champion.Version, $.champion.ValidationRmse, $.champion.Bar, "
            "$.champion.Note)",
        ),
    )
    against.default_choice(passed)
    return reported
