"""Step Functions engine extensions, fault specifications, the moto guard."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import pipeline.emulator.compat as compat
from pipeline.emulator import Emulator, FaultFile, FaultSpecError, MotoIncompatibleError, Timings
from pipeline.emulator.faults import CallError, FaultPlan
from pipeline.wait import Backoff, wait_until
from tests.conftest import REGION

ROLE = "arn:aws:iam::123456789012:role/workflow"


def _run(definition: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="t", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        time.sleep(0.01)
    return desc, sfn.get_execution_history(executionArn=execution)["events"]


def _task(resource: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **extra}


def test_optimised_and_aws_sdk_errors_carry_aws_names(emulator: Emulator) -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]
    definition = {
        "StartAt": "Sdk",
        "States": {
            "Sdk": _task(
                "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
                {"EndpointName": "nope"},
                ResultPath="$.r",
                Catch=[{**catch[0], "ResultPath": "$.sdk", "Next": "Opt"}],
                End=None,
                Next="Done",
            ),
            "Opt": _task(
                "arn:aws:states:::sagemaker:createModel",
                {"ModelName": "m", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "i"}},
                Catch=[{**catch[0], "ResultPath": "$.opt"}],
                End=None,
                Next="Done",
            ),
            "Done": {"Type": "Succeed"},
        },
    }
    del definition["States"]["Sdk"]["End"], definition["States"]["Opt"]["End"]
    emulator.fail_call("sagemaker:CreateModel", "ValidationException", "bad model")
    desc, _ = _run(definition)
    output = json.loads(desc["output"])
    assert output["sdk"]["Error"] == "SageMaker.SageMakerException"
    assert 'Could not find endpoint "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/nope".' in output["sdk"]["Cause"]
    assert output["opt"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "bad model" in output["opt"]["Cause"] and "Error Code: ValidationException" in output["opt"]["Cause"]


def test_slow_call_times_out_the_task(emulator: Emulator) -> None:
    emulator.delay_call("sagemaker:CreateModel", 1.5)
    task = _task(
        "arn:aws:states:::sagemaker:createModel",
        {"ModelName": "m", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "i"}},
        TimeoutSeconds=1,
    )
    desc, _ = _run({"StartAt": "T", "States": {"T": task}})
    assert (desc["status"], desc["error"]) == ("FAILED", "States.Timeout")


def test_states_all_does_not_catch_states_runtime(emulator: Emulator) -> None:
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$.missing.path"}, "End": True}},
    }
    desc, _ = _run(definition)
    assert desc["error"] == "States.Runtime"
    task = _task(
        "arn:aws:states:::sagemaker:createModel",
        {"ModelName.$": "$.missing"},
        Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
    )
    del task["End"]
    task["Next"] = "Caught"
    desc, _ = _run({"StartAt": "T", "States": {"T": task, "Caught": {"Type": "Succeed"}}})
    assert (desc["status"], desc["error"]) == ("FAILED", "States.Runtime")


def test_time_scale_shortens_wait_and_retry(emulator: Emulator) -> None:
    emulator.timings = Timings(time_scale=0.001)
    emulator.fail_call("sagemaker:CreateModel", "ThrottlingException", calls=[1])
    task = _task(
        "arn:aws:states:::sagemaker:createModel",
        {"ModelName": "m", "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": "i"}},
        Retry=[{"ErrorEquals": ["ThrottlingException"], "IntervalSeconds": 60, "MaxAttempts": 1}],
    )
    started = time.monotonic()
    desc, events = _run({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "Next": "T"}, "T": task}})
    # Unscaled, the Wait and the retry interval take 120 s; scaled, 0.12 s. Half the unscaled time
    # is a margin no load crosses (5 s was crossed at load 10 on 2 cores).
    assert desc["status"] == "SUCCEEDED" and time.monotonic() - started < 60
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "ThrottlingException"
    ]


def test_fault_calls_are_counted_per_fault() -> None:
    plan = FaultPlan([CallError(operation="states:StartExecution", code="X", calls=[2])])
    assert [plan.call_error("stepfunctions:StartExecution") is not None for _ in range(3)] == [False, True, False]


def test_fault_file_round_trip_and_errors_name_the_value(tmp_path: Any) -> None:
    document = {
        "timings": {"training_seconds": 1, "time_scale": 0.5},
        "faults": [
            {"kind": "error", "operation": "sagemaker:CreateEndpoint", "code": "ThrottlingException", "calls": [1]},
            {"kind": "invoke", "behaviour": "nan", "endpoint": "e*"},
        ],
    }
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(document))
    loaded = FaultFile.load(path)
    assert FaultFile.from_dict(loaded.to_dict()).to_dict() == loaded.to_dict()
    assert loaded.timings == Timings(training_seconds=1, time_scale=0.5)
    for bad, text in (
        ({"faults": [{"kind": "boom"}]}, "'boom'"),
        ({"faults": [{"kind": "invoke", "behaviour": "slow"}]}, "'slow'"),
        ({"faults": [{"kind": "error", "operation": "CreateModel", "code": "X"}]}, "'CreateModel'"),
        ({"timings": {"training_seconds": -1}}, "-1"),
        ({"faults": [{"kind": "error", "operation": "a:b", "code": "X", "calls": [0]}]}, "[0]"),
    ):
        with pytest.raises(FaultSpecError, match=text):
            FaultFile.from_dict(bad)
    path.write_text("{not json")
    with pytest.raises(FaultSpecError, match="not valid JSON"):
        FaultFile.load(path)


def test_moto_guard_names_the_version(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.check_moto_compatibility()
    import moto

    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(MotoIncompatibleError, match=r"moto 5\.3\.0 is installed; the emulator needs moto==5\.2\.5"):
        compat.check_moto_compatibility()
    monkeypatch.setattr(moto, "__version__", compat.MOTO_VERSION)
    monkeypatch.setattr(compat, "INTERNALS", (*compat.INTERNALS, ("moto.sagemaker.models", "Gone.method", None)))
    with pytest.raises(MotoIncompatibleError, match=r"moto\.sagemaker\.models\.Gone\.method is missing"):
        compat.check_moto_compatibility()


def test_stopping_the_emulator_aborts_running_executions() -> None:
    import json as _json

    import boto3

    from pipeline.emulator import Emulator, Timings
    from pipeline.emulator.runtime import stop_running_executions

    definition = {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}}}
    with Emulator(timings=Timings()):
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        arn = sfn.create_state_machine(
            name="sleepy", definition=_json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, name="long")["executionArn"]
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
        started = time.monotonic()
    from moto.stepfunctions.parser.utils import TMP_THREADS

    # stop() aborted it: its thread has ended, long before the Wait would have.
    assert time.monotonic() - started < 20
    assert not [thread for thread in TMP_THREADS if thread.is_alive()]
    assert stop_running_executions(timeout=1) == 0


def test_a_definition_that_passed_validation_is_not_parsed_again(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.parse import asl_parser

    from pipeline.emulator import patches

    # Nothing remembered yet: not by an earlier test in this process, nor in the result cache
    # (tests/emulator/test_validation_cache.py covers the cache across processes).
    monkeypatch.setattr(patches, "_validated", {})
    monkeypatch.setenv("PIPELINE_CACHE_DIR", "off")
    parses: list[str] = []
    real_parse = asl_parser.AmazonStateLanguageParser.parse
    monkeypatch.setattr(
        asl_parser.AmazonStateLanguageParser,
        "parse",
        staticmethod(lambda text: parses.append(text) or real_parse(text)),
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    valid = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "once", "End": True}}})
    sfn.create_state_machine(name="first", definition=valid, roleArn=ROLE)
    sfn.create_state_machine(name="second", definition=valid, roleArn=ROLE)
    assert parses == [valid]  # the second CreateStateMachine reused the first validation
    invalid = json.dumps({"StartAt": "Nowhere", "States": {"P": {"Type": "Bogus", "End": True}}})
    for name in ("bad1", "bad2"):  # a failure is never remembered
        with pytest.raises(ClientError) as err:
            sfn.create_state_machine(name=name, definition=invalid, roleArn=ROLE)
        assert "ASLParserException" in err.value.response["Error"]["Message"]  # moto leaves Code empty
    assert parses.count(invalid) == 2


def test_a_definition_is_parsed_once_and_every_execution_gets_its_own_program(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

    parses: list[int] = []
    original = ASLParser.state_machine
    monkeypatch.setattr(ASLParser, "state_machine", lambda self: parses.append(1) or original(self))
    # A text no other test uses, so no earlier parse is cached.
    definition = json.dumps(
        {
            "Comment": "parsed once",
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
                "Echo": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": True},
            },
        }
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="once", definition=definition, roleArn=ROLE)["stateMachineArn"]
    started = [sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": n}))["executionArn"] for n in (1, 2)]
    outputs = []
    for execution in started:
        waited = wait_until(
            lambda: sfn.describe_execution(executionArn=execution),  # noqa: B023 (used before the next pass)
            lambda desc: desc["status"] != "RUNNING",
            backoff=Backoff.every(0.01),
            timeout=60,
        )
        assert not waited.timed_out, f"{execution} still RUNNING after 60 s"
        outputs.append(json.loads(waited.value["output"]))

    # Validation at create parsed it; both executions (running at once) reused the tree.
    assert outputs == [{"got": 1}, {"got": 2}]
    assert len(parses) == 1


def test_executions_share_a_kept_program_unless_it_has_map_or_parallel(emulator: Emulator) -> None:
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from pipeline.emulator.sfn_engine import _components

    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    states = {
        "Name": {"Type": "Pass", "Parameters": {"n.$": "States.Format('run {}', $.n)"}, "Next": "Call"},
        "Call": {**_task("arn:aws:states:::aws-sdk:s3:listBuckets", {}), "Retry": retry},
    }
    plain = json.dumps({"StartAt": "Name", "States": states})
    first, tree = AmazonStateLanguageParser.parse(plain)
    second, same_tree = AmazonStateLanguageParser.parse(plain)
    assert same_tree is tree and second is first  # parsed and built once
    components = [c for c in _components(first) if isinstance(c, EvalComponent)]
    assert len(components) > 10
    # Heap keys (where an execution keeps a component's retry count) were drawn once, up front.
    assert all(vars(c).get("_EvalComponent__heap_key") for c in components)

    branch = {"StartAt": "Name", "States": states}
    parallel = json.dumps(
        {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": [branch], "End": True}}}
    )
    ours, _ = AmazonStateLanguageParser.parse(parallel)
    theirs, _ = AmazonStateLanguageParser.parse(parallel)
    mine, other = {id(c) for c in _components(ours)}, {id(c) for c in _components(theirs)}
    assert len(mine) == len(other) > 10 and mine.isdisjoint(other)  # a copy each: workers per run


def test_two_executions_of_one_program_each_count_their_own_retries(emulator: Emulator) -> None:
    emulator.fail_call("sagemaker:ListEndpoints", "ThrottlingException", "Rate exceeded")
    retry = [{"ErrorEquals": ["SageMaker.SageMakerException"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    definition = {
        "StartAt": "Call",
        "States": {"Call": {**_task("arn:aws:states:::aws-sdk:sagemaker:listEndpoints", {}), "Retry": retry}},
    }
    for _ in range(2):  # the second run shares the first's program: it must retry twice again
        desc, events = _run(definition)
        assert desc["status"] == "FAILED"
        assert [e["type"] for e in events].count("TaskFailed") == 3


def test_state_data_is_copied_as_json() -> None:
    import datetime

    from pipeline.emulator.sfn_engine import copy_json

    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    document = {"a": [1, 2.5, {"b": None, "c": True}], "s": "x", "t": when, "set": {1, 2}}
    copied = copy_json(document)
    assert copied == document
    assert copied is not document and copied["a"] is not document["a"] and copied["a"][2] is not document["a"][2]
    assert copied["set"] is not document["set"]  # not JSON: deep-copied as before
    copied["a"][2]["b"] = "changed"
    assert document["a"][2]["b"] is None


def test_execution_history_pages_as_aws_does(emulator: Emulator) -> None:
    # 60 Pass states: 2 events each, with ExecutionStarted and ExecutionSucceeded 122 in all.
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(59)}
    states["P59"] = {"Type": "Pass", "End": True}
    desc, _ = _run({"StartAt": "P0", "States": states})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = desc["executionArn"]
    everything = [event["id"] for event in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]]
    assert everything == list(range(1, 123))
    first = sfn.get_execution_history(executionArn=arn)  # AWS's default page: 100 events
    assert [event["id"] for event in first["events"]] == list(range(1, 101)) and first["nextToken"]
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, reverseOrder=True, PaginationConfig={"PageSize": 25}
    )
    sizes, newest_first = [], []
    for page in pages:
        sizes.append(len(page["events"]))
        newest_first.extend(event["id"] for event in page["events"])
    assert sizes == [25, 25, 25, 25, 22]
    assert newest_first == everything[::-1]
    with pytest.raises(ClientError) as err:
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
    assert err.value.response["Error"]["Code"] == "InvalidToken"


def test_a_definition_that_does_not_parse_is_refused_every_time(emulator: Emulator) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    broken = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": "yes please"}}})
    for _ in range(2):
        # moto's InvalidDefinition carries no error code; its message names the parse error.
        with pytest.raises(ClientError, match=r"ASLParserException .*expecting \{'true', 'false'\}"):
            sfn.create_state_machine(name="broken", definition=broken, roleArn=ROLE)
