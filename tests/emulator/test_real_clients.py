"""The emulator as real clients read it: the SageMaker SDK and the AWS CLI's shapes.

Each test is a call a user made against ``local --keep`` that broke on the emulator though it
works on AWS.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.emulator.conftest import Pipeline

pytestmark = pytest.mark.emulator


def test_sagemaker_sdk_attaches_to_the_pipelines_training_job(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sagemaker
    import sagemaker.session
    from sagemaker.estimator import Estimator

    # attach() waits for the job, sleeping its 5 s poll interval before the first look even when
    # the job has ended (as here): look at once instead. The SDK's own calls are unchanged.
    wait = sagemaker.session._wait_until_training_done
    monkeypatch.setattr(sagemaker.session, "_wait_until_training_done", lambda fn, desc, poll=5: wait(fn, desc, 0))

    assert pipeline.run("attach-1")["status"] == "SUCCEEDED"
    name = pipeline.input("attach-1")["TrainingJobName"]
    session = sagemaker.Session(boto_session=boto3.Session(region_name=REGION), sagemaker_client=pipeline.sagemaker)

    # AWS answers KmsKeyId "" when no key was named; the SDK reads it without a default.
    estimator = Estimator.attach(name, sagemaker_session=session)

    assert estimator.output_kms_key == ""
    assert estimator.model_data.endswith(f"/{name}/output/model.tar.gz")
    assert estimator.hyperparameters()["num_round"] == "100"


def test_a_job_receives_the_hyperparameters_as_configured(pipeline: Pipeline) -> None:
    assert pipeline.run("hp-1")["status"] == "SUCCEEDED"
    job: dict[str, Any] = pipeline.sagemaker.describe_training_job(
        TrainingJobName=pipeline.input("hp-1")["TrainingJobName"]
    )

    # config/pipeline.toml says min_child_weight = 6 and eta = 0.2: not "6.0".
    assert job["HyperParameters"]["min_child_weight"] == "6"
    assert job["HyperParameters"]["eta"] == "0.2"
    assert job["HyperParameters"] == pipeline.cfg.training.hyperparameter_strings()
    assert job["OutputDataConfig"]["KmsKeyId"] == ""


def _published_twice(pipeline: Pipeline) -> tuple[str, str, str]:
    """Versions 1 and 2 of the pipeline's state machine and an alias on version 2."""
    sfn = pipeline.sfn
    first, second = (
        sfn.update_state_machine(
            stateMachineArn=pipeline.arn,
            roleArn=pipeline.cfg.account.workflow_role_arn,
            publish=True,
            versionDescription=str(n),
        )["stateMachineVersionArn"]
        for n in (1, 2)
    )
    alias = sfn.create_state_machine_alias(
        name="live", routingConfiguration=[{"stateMachineVersionArn": second, "weight": 100}]
    )["stateMachineAliasArn"]
    return first, second, alias


def test_list_executions_takes_alias_and_version_arns_as_aws_documents(pipeline: Pipeline) -> None:
    first, second, alias = _published_twice(pipeline)
    through_alias = pipeline.wait(pipeline.start("via-alias", alias))["executionArn"]
    through_version = pipeline.wait(pipeline.start("via-v1", first))["executionArn"]
    direct = pipeline.wait(pipeline.start("direct"))["executionArn"]

    def listed(arn: str) -> list[dict[str, Any]]:
        return pipeline.sfn.list_executions(stateMachineArn=arn)["executions"]

    assert [e["executionArn"] for e in listed(alias)] == [through_alias]
    assert [e["executionArn"] for e in listed(first)] == [through_version]
    assert listed(second) == [item for item in listed(second) if item["executionArn"] == through_alias]
    assert {e["executionArn"] for e in listed(pipeline.arn)} == {through_alias, through_version, direct}
    items = {e["name"]: e for e in listed(pipeline.arn)}
    assert items["via-alias"]["stateMachineAliasArn"] == alias
    assert items["via-alias"]["stateMachineVersionArn"] == second
    assert items["via-v1"]["stateMachineVersionArn"] == first and "stateMachineAliasArn" not in items["via-v1"]
    assert "stateMachineVersionArn" not in items["direct"]
    assert all(item["stateMachineArn"] == pipeline.arn for item in items.values())


def test_list_executions_pages_and_refuses_unknown_aliases(pipeline: Pipeline) -> None:
    from botocore.exceptions import ClientError

    *_, alias = _published_twice(pipeline)
    for n in range(3):
        pipeline.wait(pipeline.start(f"paged-{n}", alias))
    pages = list(pipeline.sfn.get_paginator("list_executions").paginate(stateMachineArn=alias, maxResults=2))

    assert [len(page["executions"]) for page in pages] == [2, 1]
    with pytest.raises(ClientError) as raised:
        pipeline.sfn.list_executions(stateMachineArn=pipeline.arn + ":nope")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_list_state_machine_versions_newest_first(pipeline: Pipeline) -> None:
    first, second, _ = _published_twice(pipeline)

    versions = pipeline.sfn.list_state_machine_versions(stateMachineArn=pipeline.arn)["stateMachineVersions"]

    assert [v["stateMachineVersionArn"] for v in versions] == [second, first]
    assert all("creationDate" in v for v in versions)
