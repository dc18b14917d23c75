"""The quality gate and the model registry stages, between training and deployment.

After training: find the champion (the model package version the live endpoint's model was
created from: endpoint -> config -> model -> version), read the job's ``validation:rmse`` from
FinalMetricDataList, and fail with ``Pipeline.QualityGateFailed`` when it is above the absolute
bar or worse than the champion by more than ``max_regression_pct``. Only then is anything
created: the artifact is copied under ``<prefix>/registry/`` with S3 computing its SHA-256
(CopyObject with ``ChecksumAlgorithm``, since a state machine cannot hash an object itself), the
group is created on first use, and the version is registered ``PendingManualApproval`` with its
lineage. The endpoint's model is then created from that version.

The state machine has no floating-point arithmetic (``States.MathAdd`` rounds to integers), so
the champion's bar ``metric * (1 + pct / 100)`` is computed in Python when the version is
approved (:func:`pipeline.registry.approve`) and stored with the percentage it is for. A champion
without a bar for the configured percentage (not approved yet, or approved under another
percentage) is compared with its own metric: stricter, never looser, than configured.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from stepfunctions.steps import Catch, Choice, ChoiceRule, Pass, Task, Wait
from stepfunctions.steps.states import State

from pipeline import registry as reg
from pipeline.definition.states import extend

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig
    from pipeline.definition.builder import Builder

INPUT = "$$.Execution.Input"
METRIC_FILTER = f"[?(@.MetricName == '{reg.GATE_METRIC}')].Value"
GROUP_MISSING_PATTERN = "*does not exist*"


def config_fingerprint(config: PipelineConfig) -> str:
    """SHA-256 of the configuration's values (what the registry records a model was built with)."""
    import dataclasses

    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


class GateStages:
    """Builds the champion lookup, the gate and the registration for one Builder."""

    def __init__(self, builder: Builder):
        self.b = builder
        self.c = builder.config

    # -- input check ---------------------------------------------------------------------

    def check_input(self, first: Any) -> Choice:
        """Refuse an execution whose input lacks the lineage the registry records."""
        check = Choice("Check run input", comment="Commit and Data come from `run`/`local` (pipeline.provenance).")
        present = [ChoiceRule.IsPresent(f"$.{key}", True) for key in ("Commit", "Data.train.ETag")]
        present.append(ChoiceRule.IsPresent("$.Data.validation.ETag", True))
        check.add_choice(ChoiceRule.And(present), first)
        check.default_choice(
            self.b.failure(
                "Run input is incomplete",
                "Check run input",
                "InvalidInput",
                "States.Format('The execution input needs Commit and Data (train and validation: Uri, ETag, "
                "Version; Synthetic), which python -m pipeline run writes; got {}', States.JsonToString($))",
            )
        )
        return check

    # -- champion ------------------------------------------------------------------------

    def sdk_task(self, state_id: str, action: str, parameters: dict[str, Any], result_path: str, **kw: Any) -> Task:
        """An aws-sdk:sagemaker call with the describe retry policy."""
        task = Task(
            state_id,
            resource=self.b.sdk_resource(action),
            parameters=parameters,
            result_path=result_path,
            timeout_seconds=self.c.task_timeout_seconds,
            **kw,
        )
        return task

    def no_champion(self, state_id: str, reason: str) -> Pass:
        """A 'no champion' result: only the absolute bar applies."""
        return Pass(state_id, result={"Found": False, "Reason": reason}, result_path="$.champion")

    def champion(self, gate: State) -> Task:
        """endpoint -> config -> model -> model package version -> its metric and bar; then ``gate``."""
        from pipeline.definition.builder import DESCRIBE_RETRY_ERRORS, LOOKUP_ERRORS, NOT_FOUND_PATTERN, throttled

        b, c = self.b, self.c
        pct = reg.pct_text(c.max_regression_pct)
        stage = "Find champion"
        endpoint = self.sdk_task(
            "Find serving endpoint",
            "describeEndpoint",
            {"EndpointName": c.endpoint_name},
            "$.champion_endpoint",
            comment="The champion is the registry version the live endpoint's model was created from.",
        )
        endpoint.add_retry(b.retry(DESCRIBE_RETRY_ERRORS))
        missing = Choice("Serving endpoint missing?")
        endpoint.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=missing, result_path="$.error"))
        endpoint.add_catch(b.caught(stage))
        first_deploy = self.no_champion("First deploy", "no endpoint yet: first deploy, only the absolute bar applies")
        again = Wait("Wait to look up the champion", seconds=c.endpoint_poll_seconds)
        again.next(endpoint)
        missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", NOT_FOUND_PATTERN), first_deploy)
        missing.add_choice(throttled("$.error.Cause"), again)
        missing.default_choice(b.stage_failure(stage))

        has_config = Choice("Endpoint has a config?")
        endpoint.next(has_config)
        config = b.guard(
            self.sdk_task(
                "Find serving model",
                "describeEndpointConfig",
                {"EndpointConfigName.$": "$.champion_endpoint.EndpointConfigName"},
                "$.champion_config",
            ),
            stage,
            DESCRIBE_RETRY_ERRORS,
        )
        # ArrayGetItem, not $.ProductionVariants[0].ModelName: moto's JSONPath returns a list for that.
        extend(config, ResultSelector={"Variant.$": "States.ArrayGetItem($.ProductionVariants, 0)"})
        has_config.add_choice(ChoiceRule.IsPresent("$.champion_endpoint.EndpointConfigName", True), config)
        no_config = self.no_champion("Endpoint has no config", "the endpoint has no config: no champion")
        has_config.default_choice(no_config)

        model = b.guard(
            self.sdk_task(
                "Find serving model's version",
                "describeModel",
                {"ModelName.$": "$.champion_config.Variant.ModelName"},
                "$.champion_model",
            ),
            stage,
            DESCRIBE_RETRY_ERRORS,
        )
        extend(model, ResultSelector={"PrimaryContainer.$": "$.PrimaryContainer"})
        config.next(model)
        from_registry = Choice("Serving model from the registry?")
        model.next(from_registry)
        package = b.guard(
            self.sdk_task(
                "Read champion version",
                "describeModelPackage",
                {"ModelPackageName.$": "$.champion_model.PrimaryContainer.ModelPackageName"},
                "$.champion_package",
            ),
            stage,
            DESCRIBE_RETRY_ERRORS,
        )
        from_registry.add_choice(
            ChoiceRule.IsPresent("$.champion_model.PrimaryContainer.ModelPackageName", True), package
        )
        unregistered = self.no_champion(
            "Serving model not from the registry",
            "the serving model was not created from a registry version: no champion",
        )
        from_registry.default_choice(unregistered)

        meta = "$.champion_package.CustomerMetadataProperties"
        has_meta = Choice("Champion has metadata?")
        package.next(has_meta)
        untrusted = self.no_champion(
            "Champion not trusted",
            "the serving model's version was not written by this pipeline (no metadata): not trusted as champion",
        )
        ours = Choice("Champion written by this pipeline?")
        has_meta.add_choice(
            ChoiceRule.And(
                [ChoiceRule.IsPresent(f"{meta}.{reg.WRITTEN_BY}", True), ChoiceRule.IsPresent(f"{meta}.{reg.VALIDATION_RMSE}", True)]
            ),
            ours,
        )
        has_meta.default_choice(untrusted)

        def found(state_id: str, bar: str, note: str) -> Pass:
            return Pass(
                state_id,
                parameters={
                    "Found": True,
                    "ModelPackageArn.$": "$.champion_package.ModelPackageArn",
                    "Version.$": "$.champion_package.ModelPackageVersion",
                    "ValidationRmse.$": f"States.StringToJson({meta}.{reg.VALIDATION_RMSE})",
                    "Bar.$": f"States.StringToJson({meta}.{bar})",
                    "Note": note,
                },
                result_path="$.champion",
            )

        strict = found(
            "Champion bar: its own metric",
            reg.VALIDATION_RMSE,
            f"no bar for {pct}% was recorded when the champion was approved: compared with its own validation:rmse",
        )
        barred = Choice("Champion bar for this percentage?")
        ours.add_choice(
            ChoiceRule.And(
                [
                    ChoiceRule.StringEquals(f"{meta}.{reg.WRITTEN_BY}", reg.WRITER),
                    ChoiceRule.IsPresent(f"{meta}.{reg.REGRESSION_PCT}", True),
                    ChoiceRule.IsPresent(f"{meta}.{reg.REGRESSION_BAR}", True),
                ]
            ),
            barred,
        )
        ours.add_choice(ChoiceRule.StringEquals(f"{meta}.{reg.WRITTEN_BY}", reg.WRITER), strict)
        ours.default_choice(untrusted)
        recorded = found(
            "Champion bar: recorded at approval",
            reg.REGRESSION_BAR,
            f"bar = champion validation:rmse x (1 + {pct}/100), recorded when it was approved",
        )
        barred.add_choice(ChoiceRule.StringEquals(f"{meta}.{reg.REGRESSION_PCT}", pct), recorded)
        barred.default_choice(strict)
        for done in (first_deploy, no_config, unregistered, untrusted, strict, recorded):
            done.next(gate)
        return endpoint

    # -- gate ----------------------------------------------------------------------------

    def gate(self, passed: State) -> Pass:
        """Read the metric and decide; failures end in Pipeline.QualityGateFailed."""
        c = self.c
        name = c.endpoint_name
        pct = reg.pct_text(c.max_regression_pct)
        parameters: dict[str, Any] = {
            "Metric": reg.GATE_METRIC,
            "Values.$": f"$.training.FinalMetricDataList{METRIC_FILTER}",
            "TrainValues.$": "$.training.FinalMetricDataList[?(@.MetricName == 'train:rmse')].Value",
            "MaxRegressionPct": c.max_regression_pct,
            "MaxValidationRmse": c.max_validation_rmse if c.max_validation_rmse is not None else "none",
        }
        read = Pass("Read validation metric", parameters=parameters, result_path="$.gate")
        decide = Choice("Quality gate", comment="validation:rmse against the absolute bar and the champion.")
        read.next(decide)
        unchanged = f"Nothing was registered or deployed; endpoint {name} is unchanged."
        decide.add_choice(
            ChoiceRule.Not(ChoiceRule.IsPresent("$.gate.Values[0]", True)),
            self.b.failure(
                "No validation metric",
                "Quality gate",
                "QualityGateFailed",
                f"States.Format('Training job {{}} reported no {reg.GATE_METRIC} in FinalMetricDataList {{}}. "
                f"{unchanged}', $$.Execution.Input.TrainingJobName, States.JsonToString($.training.FinalMetricDataList))",
            ),
        )
        if c.max_validation_rmse is not None:
            decide.add_choice(
                ChoiceRule.NumericGreaterThan("$.gate.Values[0]", c.max_validation_rmse),
                self.b.failure(
                    "Above the absolute bar",
                    "Quality gate",
                    "QualityGateFailed",
                    f"States.Format('{reg.GATE_METRIC} {{}} is above max_validation_rmse {c.max_validation_rmse:g}. "
                    f"{unchanged}', $.gate.Values[0])",
                ),
            )
        against = Choice("Compare with the champion")
        decide.add_choice(ChoiceRule.BooleanEquals("$.champion.Found", True), against)
        decide.default_choice(passed)
        against.add_choice(
            ChoiceRule.NumericGreaterThanPath("$.gate.Values[0]", "$.champion.Bar"),
            self.b.failure(
                "Worse than the champion",
                "Quality gate",
                "QualityGateFailed",
                f"States.Format('{reg.GATE_METRIC} {{}} is worse than the serving model (version {{}}, "
                f"{reg.GATE_METRIC} {{}}) by more than max_regression_pct {pct}%: the bar was {{}} ({{}}). "
                f"{unchanged}', $.gate.Values[0], $.champion.Version, $.champion.ValidationRmse, $.champion.Bar, "
                "$.champion.Note)",
            ),
        )
        against.default_choice(passed)
        return read

    # -- registration --------------------------------------------------------------------

    def register(self, then: State) -> Task:
        """Copy the artifact (S3 computes its SHA-256), ensure the group, register the version."""
        from pipeline.definition.builder import DESCRIBE_RETRY_ERRORS, LOOKUP_ERRORS

        b, c = self.b, self.c
        partition = b.sdk_resource("x").split(":")[1]
        job = f"{INPUT}.TrainingJobName"
        copy = Task(
            "Copy model artifact",
            resource=f"arn:{partition}:states:::aws-sdk:s3:copyObject",
            parameters={
                "Bucket": c.bucket,
                "Key.$": f"States.Format('{c.prefix}/registry/{{}}/model.tar.gz', {job})",
                "CopySource.$": f"States.Format('{c.bucket}/{c.prefix}/output/{{}}/output/model.tar.gz', {job})",
                "ChecksumAlgorithm": "SHA256",
            },
            result_path="$.artifact",
            timeout_seconds=c.task_timeout_seconds,
            comment="S3 computes the artifact's SHA-256 while copying it where the registry points.",
        )
        extend(copy, ResultSelector={"ChecksumSHA256.$": "$.CopyObjectResult.ChecksumSHA256"})
        b.guard(copy, "Register model", ["S3.SlowDownException", "S3.InternalErrorException", "S3.S3Exception"])

        group = Task(
            "Find model package group",
            resource=b.sdk_resource("describeModelPackageGroup"),
            parameters={"ModelPackageGroupName": c.registry_group},
            result_path="$.registry_group",
            timeout_seconds=c.task_timeout_seconds,
        )
        extend(group, ResultSelector={"ModelPackageGroupArn.$": "$.ModelPackageGroupArn"})
        group.add_retry(b.retry(DESCRIBE_RETRY_ERRORS))
        missing = Choice("Model package group missing?")
        group.add_catch(Catch(error_equals=LOOKUP_ERRORS, next_step=missing, result_path="$.error"))
        group.add_catch(b.caught("Register model"))
        create_parameters: dict[str, Any] = {
            "ModelPackageGroupName": c.registry_group,
            "ModelPackageGroupDescription": f"Big Mart sales models of {c.environment} (endpoint {c.endpoint_name})",
        }
        if c.tags:
            create_parameters["Tags"] = [{"Key": k, "Value": v} for k, v in c.tags.items()]
        create = b.guard(
            Task(
                "Create model package group",
                resource=b.sdk_resource("createModelPackageGroup"),
                parameters=create_parameters,
                result_path="$.registry_group",
                timeout_seconds=c.task_timeout_seconds,
            ),
            "Register model",
            ["ThrottlingException", "SageMaker.ThrottlingException"],
        )
        missing.add_choice(ChoiceRule.StringMatches("$.error.Cause", GROUP_MISSING_PATTERN), create)
        missing.default_choice(b.stage_failure("Register model"))

        data = f"{INPUT}.Data"
        metadata: dict[str, Any] = {
            reg.WRITTEN_BY: reg.WRITER,
            reg.ENVIRONMENT: c.environment,
            f"{reg.COMMIT}.$": f"{INPUT}.Commit",
            f"{reg.TRAINING_JOB}.$": job,
            f"{reg.EXECUTION}.$": "$$.Execution.Id",
            reg.METRIC: reg.GATE_METRIC,
            f"{reg.VALIDATION_RMSE}.$": "States.Format('{}', $.gate.Values[0])",
            f"{reg.TRAIN_RMSE}.$": "States.Format('{}', $.gate.TrainValues)",
            reg.CONFIG_FINGERPRINT: config_fingerprint(c),
            f"{reg.ARTIFACT_SHA256}.$": "$.artifact.ChecksumSHA256",
            f"{reg.DATA_SYNTHETIC}.$": f"{data}.Synthetic",
        }
        for channel, (uri, etag, version) in reg.DATA_KEYS.items():
            metadata[f"{uri}.$"] = f"{data}.{channel}.Uri"
            metadata[f"{etag}.$"] = f"{data}.{channel}.ETag"
            metadata[f"{version}.$"] = f"{data}.{channel}.Version"
        registered = f"s3://{c.bucket}/{c.prefix}/registry/{{}}/model.tar.gz"
        task = Task(
            "Register model",
            resource=b.sdk_resource("createModelPackage"),
            parameters={
                "ModelPackageGroupName": c.registry_group,
                "ModelPackageDescription.$": (
                    f"States.Format('{reg.GATE_METRIC} {{}}, trained by {{}} from commit {{}}', "
                    f"$.gate.Values[0], {job}, {INPUT}.Commit)"
                ),
                "ModelApprovalStatus": reg.PENDING,
                "InferenceSpecification": {
                    "Containers": [
                        {"Image": c.training_image, "ModelDataUrl.$": f"States.Format('{registered}', {job})"}
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                    "SupportedRealtimeInferenceInstanceTypes": [c.endpoint_instance_type],
                },
                "MetadataProperties": {"CommitId.$": f"{INPUT}.Commit", "GeneratedBy.$": "$$.Execution.Id"},
                "CustomerMetadataProperties": metadata,
            },
            result_path="$.registered",
            timeout_seconds=c.task_timeout_seconds,
            comment="Every model that passed the gate, PendingManualApproval until the smoke test approves it.",
        )
        extend(task, ResultSelector={"ModelPackageArn.$": "$.ModelPackageArn"})
        # A retried create could register the version twice; only throttling is retried.
        b.guard(task, "Register model", ["ThrottlingException", "SageMaker.ThrottlingException"])
        copy.next(group)
        group.next(task)
        create.next(task)
        task.next(then)
        return copy
