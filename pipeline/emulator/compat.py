"""Guard: the emulator extends moto internals, so it only runs on the exact moto it was built on."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from pipeline.emulator.errors import MotoIncompatibleError

MOTO_VERSION = "5.2.5"

_STATE_TASK = "moto.stepfunctions.parser.asl.component.state.exec.state_task"

# (module, attribute path, parameter names the emulator relies on; None = only presence).
INTERNALS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    (f"{_STATE_TASK}.state_task_factory", "state_task_service_for", ("service_name",)),
    (
        f"{_STATE_TASK}.service.state_task_service_callback",
        "StateTaskServiceCallback._build_sync_resolver",
        ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
    ),
    (
        f"{_STATE_TASK}.service.state_task_service_callback",
        "StateTaskServiceCallback._eval_integration_pattern",
        ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
    ),
    (
        f"{_STATE_TASK}.service.state_task_service_unsupported",
        "StateTaskServiceUnsupported._eval_service_task",
        ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
    ),
    (
        f"{_STATE_TASK}.service.state_task_service_aws_sdk",
        "StateTaskServiceAwsSdk._from_error",
        ("self", "env", "ex"),
    ),
    (f"{_STATE_TASK}.service.state_task_service", "StateTaskService._from_error", None),
    ("moto.stepfunctions.parser.asl.utils.boto_client", "boto_client_for", None),
    # The CloudFormation patch is applied when moto first loads that backend (see below).
    ("moto.backends", "_import_backend", ("module_name", "backends_name")),
    # The server's dispatcher lists moto's service packages on every request (patches.py keeps the list).
    ("moto.backends", "list_of_moto_modules", ()),
    # Alarm state of guarded updates (pipeline.emulator.alarms): the backends' ``alarms`` dict and
    # the ``state_value`` that update_state (SetAlarmState) writes.
    ("moto.cloudwatch.models", "cloudwatch_backends", None),
    ("moto.cloudwatch.models", "Alarm.update_state", ("self", "reason", "reason_data", "state_value")),
    # SageMaker quotas (pipeline.emulator.quotas).
    ("moto.servicequotas.responses", "ServiceQuotasResponse.list_aws_default_service_quotas", ("self",)),
    ("moto.servicequotas.models", "servicequotas_backends", None),
    # stop_running_executions aborts executions through these.
    ("moto.stepfunctions.parser.models", "stepfunctions_parser_backends", None),
    ("moto.stepfunctions.parser.utils", "TMP_THREADS", None),
    ("moto.stepfunctions.parser.backend.execution_worker", "ExecutionWorker.stop", None),
    (
        "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl",
        "RetrierDecl._eval_body",
        ("self", "env"),
    ),
    (
        "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function",
        "WaitFunction._wait_interval",
        ("self", "env", "wait_seconds"),
    ),
    (
        "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl",
        "ErrorEqualsDecl._eval_body",
        ("self", "env"),
    ),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend._validate_definition", ("definition",)),
    (
        "moto.stepfunctions.parser.models",
        "StepFunctionsParserBackend.start_execution",
        ("self", "state_machine_arn", "name", "execution_input", "trace_header"),
    ),
    (
        "moto.stepfunctions.parser.backend.execution",
        "Execution.__init__",
        (
            "self",
            "name",
            "sm_type",
            "role_arn",
            "exec_arn",
            "account_id",
            "region_name",
            "state_machine",
            "start_date",
            "cloud_watch_logging_session",
            "activity_store",
            "input_data",
            "trace_header",
        ),
    ),
    ("moto.stepfunctions.models", "StepFunctionBackend.describe_state_machine_alias", None),
    ("moto.stepfunctions.parser.asl.parse.asl_parser", "AmazonStateLanguageParser.parse", ("definition",)),
    # JSONPath parses, cached per path text (module globals imported from jsonpath_ng).
    ("moto.stepfunctions.parser.asl.utils.json_path", "parse", None),
    ("moto.stepfunctions.parser.asl.component.common.path.result_path", "parse", None),
    # State data copied as JSON (module globals ``copy``; sfn_engine._JsonCopy).
    ("moto.stepfunctions.parser.asl.eval.states", "copy", None),
    ("moto.stepfunctions.parser.asl.component.common.string.string_expression", "copy", None),
    ("moto.stepfunctions.parser.asl.component.common.path.result_path", "copy", None),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager", "copy", None),
    ("moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser", "IntrinsicParser.parse", ("src",)),
    ("moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor", "Preprocessor._text_of_str", ("parse_tree",)),
    ("moto.stepfunctions.responses", "StepFunctionResponse.describe_execution", None),
    ("moto.stepfunctions.responses", "StepFunctionResponse.list_executions", ("self",)),
    ("moto.stepfunctions.responses", "StepFunctionResponse.get_execution_history", ("self",)),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend.get_execution_history", ("self", "execution_arn")),
    ("moto.stepfunctions.models", "StateMachine.publish", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.create_training_job", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.describe_training_job", ("self", "training_job_name")),
    (
        "moto.sagemaker.models",
        "SageMakerModelBackend.create_endpoint",
        ("self", "endpoint_name", "endpoint_config_name", "tags"),
    ),
    ("moto.sagemaker.models", "SageMakerModelBackend.describe_endpoint", ("self", "endpoint_name")),
    ("moto.sagemaker.models", "SageMakerModelBackend.delete_endpoint", ("self", "endpoint_name")),
    ("moto.sagemaker.models", "SageMakerModelBackend.list_endpoints", None),
    ("moto.sagemaker.models", "FakeEndpoint.__init__", None),
    # The model registry (pipeline.emulator.registry).
    ("moto.sagemaker.models", "SageMakerModelBackend.create_model", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.create_model_package_group", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.create_model_package", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.update_model_package", None),
    ("moto.sagemaker.models", "SageMakerModelBackend.describe_model_package", ("self", "model_package_name")),
    ("moto.sagemaker.models", "ModelPackage.gen_response_object", None),
    ("moto.sagemaker.utils", "arn_formatter", None),
    ("moto.sagemaker.responses", "SageMakerResponse.create_training_job", None),
    ("moto.sagemakerruntime.responses", "SageMakerRuntimeResponse.invoke_endpoint", ("self",)),
    ("moto.core.responses", "BaseResponse.call_action", ("self",)),
    ("moto.core.responses", "BaseResponse.get_access_key", ("self",)),
    (
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
        "StateTaskServiceAwsSdk._eval_service_task",
        ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
    ),
    (
        "moto.sts.models",
        "STSBackend.assume_role",
        ("self", "region_name", "role_session_name", "role_arn", "policy", "duration", "external_id"),
    ),
    ("moto.core.responses", "BaseResponse.serialized", ("self", "action_result")),
    ("moto.moto_server.werkzeug_app", "DomainDispatcherApplication", None),
    ("moto.settings", "moto_server_port", None),
)


# The bootstrap stack's outputs after ExecuteChangeSet (patches.execute_change_set_with_outputs).
# moto's CloudFormation module pulls in most of moto (EC2, autoscaling, ...: ~1.5 s), and only
# the bootstrap uses it, so these are checked when that backend loads, not at every start.
CLOUDFORMATION_INTERNALS: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    ("moto.cloudformation.models", "CloudFormationBackend.execute_change_set", None),
    ("moto.cloudformation.models", "CloudFormationBackend.describe_change_set", None),
    ("moto.cloudformation.models", "Stack._parse_template", None),
    ("moto.cloudformation.models", "Stack.parse_template", ("template",)),
    ("moto.cloudformation.models", "ChangeSet._parse_template", ("self",)),
    ("moto.cloudformation.models", "Stack._create_output_map", None),
    ("moto.iam.models", "Role.create_from_cloudformation_json", None),
)


def _resolve(module_name: str, path: str) -> Any:
    obj: Any = importlib.import_module(module_name)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def check_moto_compatibility(internals: tuple[tuple[str, str, tuple[str, ...] | None], ...] | None = None) -> None:
    """Raise MotoIncompatibleError, naming the moto version, if any extended internal changed.

    ``internals`` defaults to INTERNALS (what every emulator start patches).
    """
    import moto

    problems: list[str] = []
    if moto.__version__ != MOTO_VERSION:
        problems.append(f"moto {moto.__version__} is installed; the emulator needs moto=={MOTO_VERSION}")
    for module_name, path, params in INTERNALS if internals is None else internals:
        where = f"{module_name}.{path}"
        try:
            obj = _resolve(module_name, path)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{where} is missing ({exc})")
            continue
        if params is None:
            continue
        # The emulator may have wrapped this already; check the function it wrapped.
        target = getattr(obj, "__wrapped__", obj)
        actual = tuple(inspect.signature(target).parameters)
        if actual != params:
            problems.append(f"{where} has parameters {actual}, expected {params}")
    if problems:
        raise MotoIncompatibleError(
            f"the embedded emulator extends moto {MOTO_VERSION} internals, and the installed moto "
            f"{moto.__version__} does not match:\n  - "
            + "\n  - ".join(problems)
            + f"\nInstall it with: pip install 'moto[all,server]=={MOTO_VERSION}'"
        )
