"""Install the emulator's extensions into moto (once per process, after the version guard).

Each wrapper defers to moto's original code whenever no emulator is active, so plain
``mock_aws`` tests in the same process keep moto's shipped behaviour.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.servicequotas.responses import ServiceQuotasResponse
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval import states
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse
from moto.sts.models import STSBackend

from pipeline import cache
from pipeline.emulator import (
    call_faults,
    cfn_templates,
    clients,
    credentials,
    endpoints,
    invoke,
    lazy_moto,
    quotas,
    registry,
    registry_deletes,
    sfn_engine,
    sfn_lists,
    training,
)
from pipeline.emulator import runtime as rt
from pipeline.emulator.compat import CLOUDFORMATION_INTERNALS, check_moto_compatibility

_lock = threading.Lock()
_installed = False
_cloudformation_patched = False


def _wrap(owner: Any, name: str, hook: Callable[..., Any]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return hook(original, *args, **kwargs)

    setattr(owner, name, wrapper)


def _static_hook(original: Callable[..., Any], hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return hook(original, *args, **kwargs)

    return wrapper


def _wrap_static(owner: Any, name: str, hook: Callable[..., Any]) -> None:
    # Like _wrap, for a staticmethod: hook(original, *args, **kwargs).
    setattr(owner, name, staticmethod(_static_hook(getattr(owner, name), hook)))


def _sagemaker_update_endpoint(self: SageMakerResponse) -> ActionResult:
    endpoint = endpoints.update_endpoint(
        self.sagemaker_backend,
        self._get_param("EndpointName"),
        self._get_param("EndpointConfigName"),
        self._get_param("DeploymentConfig"),
        bool(self._get_param("RetainAllVariantProperties")),
        self._get_param("ExcludeRetainedVariantProperties"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


def _sagemaker_stop_training_job(self: SageMakerResponse) -> EmptyResult:
    training.stop_training_job(self.sagemaker_backend, self._get_param("TrainingJobName"))
    return EmptyResult()


def execute_change_set_with_outputs(
    original: Callable[..., Any], self: Any, change_set_name: str, *args: Any, **kwargs: Any
) -> Any:
    """ExecuteChangeSet, then rebuild the stack's outputs from its new template.

    moto builds outputs only when a Stack object is created, so a stack created through a
    CREATE change set keeps its empty template's (no) outputs and an UPDATE never refreshes
    them; AWS recomputes them on every execution (the bootstrap reads them).
    """
    result = original(self, change_set_name, *args, **kwargs)
    stack = self.stacks[self.describe_change_set(change_set_name).stack_id]
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    return result


# Definitions moto's validation parsed without error (bounded: a test session creates many).
_VALIDATED_LIMIT = 256
_validated: dict[str, None] = {}


def validate_definition_once(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """moto's definition check, skipped for a definition that already passed it.

    CreateStateMachine and UpdateStateMachine parse the whole definition with moto's ANTLR
    grammar (0.3-2 s for this project's), only to validate it; the same text parses the same way,
    so a definition that passed once passes again. Passes are remembered in this process and in
    the result cache (pipeline.cache, keyed by the text, moto's files and this package's source),
    so a later process (a restored ``local`` run recreating its state machine) skips the parse
    too. Failures are never remembered.
    """
    definition = kwargs.get("definition", args[0] if args else None)
    if rt.current() is None or not isinstance(definition, str):
        return original(*args, **kwargs)
    with _lock:
        if definition in _validated:
            return None
    stored = _validation_record(definition)
    if stored is None or cache.load(stored) != VALID:
        result = original(*args, **kwargs)
        if stored is not None:
            cache.store(stored, VALID)
    else:
        result = None
    with _lock:
        if len(_validated) >= _VALIDATED_LIMIT:
            _validated.pop(next(iter(_validated)))
        _validated[definition] = None
    return result


VALID = "valid"


def _validation_record(definition: str) -> Path | None:
    """Where the result cache records that ``definition`` passed moto's check (None: cache off)."""
    folder = cache.cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(definition.encode()).hexdigest()
    return folder / "asl-valid" / f"{cache.key_of('asl-valid', digest, ('moto', 'antlr4'))}.json"


def role_without_novalue_policies(original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """AWS::IAM::Role from a template, with the ``AWS::NoValue`` items of ``Policies`` removed.

    CloudFormation drops a list item that resolves to ``AWS::NoValue`` (a conditional policy,
    ``!If [Condition, policy, !Ref AWS::NoValue]``); moto 5.2.5 keeps it as None and fails.
    """
    template = kwargs.get("cloudformation_json", args[1] if len(args) > 1 else None)
    properties = (template or {}).get("Properties") or {}
    if isinstance(properties.get("Policies"), list):
        properties["Policies"] = [p for p in properties["Policies"] if p is not None]
    return original(*args, **kwargs)


def patch_cloudformation() -> None:
    """Patch moto's CloudFormation backend once (it is loaded only when a test or the bootstrap
    calls CloudFormation: importing it costs ~1.5 s, which every other start would pay)."""
    global _cloudformation_patched
    with _lock:
        if _cloudformation_patched:
            return
        check_moto_compatibility(CLOUDFORMATION_INTERNALS)
        from moto.cloudformation.models import ChangeSet, CloudFormationBackend, Stack

        _wrap(CloudFormationBackend, "execute_change_set", execute_change_set_with_outputs)
        _wrap_static(Stack, "parse_template", cfn_templates.parse_template)
        ChangeSet._parse_template = cfn_templates.change_set_parse_template  # type: ignore[method-assign,assignment]
        from moto.iam.models import Role

        original = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

        def create_role(cls: Any, *args: Any, **kwargs: Any) -> Any:
            return role_without_novalue_policies(functools.partial(original, cls), *args, **kwargs)

        Role.create_from_cloudformation_json = classmethod(create_role)  # type: ignore[assignment,method-assign]
        _cloudformation_patched = True


def import_backend_then_patch(original: Callable[..., Any], module_name: str, backends_name: str) -> Any:
    """moto.backends._import_backend, then the CloudFormation patch when that is the backend.

    Application Auto Scaling is imported without ECS and EC2 first (lazy_moto), which it only
    needs for ECS targets."""
    if module_name == "applicationautoscaling":
        lazy_moto.import_autoscaling_models()
    backends = original(module_name, backends_name)
    if module_name == "cloudformation":
        patch_cloudformation()
    return backends


def install() -> None:
    """Check moto's internals, then patch them; safe to call many times."""
    global _installed
    with _lock:
        if _installed:
            return
        check_moto_compatibility()
        # Cheap clients: one botocore loader per process, one engine client per service.
        clients.share_botocore_loader()
        state_task_service_aws_sdk.boto_client_for = functools.partial(
            clients.engine_client, state_task_service_aws_sdk.boto_client_for
        )
        # Step Functions engine.
        _wrap(state_task_factory, "state_task_service_for", sfn_engine.state_task_service_for)
        _wrap(StateTaskServiceAwsSdk, "_from_error", sfn_engine.aws_sdk_from_error)
        _wrap(StateTaskServiceAwsSdk, "_eval_service_task", sfn_engine.aws_sdk_eval_service_task)
        _wrap(error_equals_decl.ErrorEqualsDecl, "_eval_body", sfn_engine.error_equals_eval)
        _wrap(WaitFunction, "_wait_interval", sfn_engine.wait_interval)
        retrier_decl.time = sfn_engine._ScaledTime()  # type: ignore[assignment]
        _wrap_static(IntrinsicParser, "parse", sfn_engine.intrinsic_parse)
        _wrap_static(Preprocessor, "_text_of_str", sfn_engine.intrinsic_text_of_str)
        _wrap_static(AmazonStateLanguageParser, "parse", sfn_engine.parse_definition)
        _wrap(json_path, "parse", sfn_engine.jsonpath_parse)
        _wrap(result_path, "parse", sfn_engine.jsonpath_parse)
        for module in (states, string_expression, result_path, event_manager):
            module.copy = sfn_engine._JsonCopy()  # type: ignore[attr-defined]
        _wrap(StepFunctionsParserBackend, "start_execution", sfn_engine.start_execution)
        _wrap_static(StepFunctionsParserBackend, "_validate_definition", validate_definition_once)
        _wrap(StepFunctionResponse, "describe_execution", sfn_engine.describe_execution)
        _wrap(StepFunctionResponse, "list_executions", sfn_lists.list_executions)
        _wrap(StepFunctionResponse, "get_execution_history", sfn_lists.get_execution_history)
        StepFunctionResponse.list_state_machine_versions = sfn_lists.list_state_machine_versions  # type: ignore[attr-defined]
        # SageMaker.
        _wrap(SageMakerModelBackend, "create_training_job", training.create_training_job)
        _wrap(SageMakerModelBackend, "describe_training_job", training.describe_training_job)
        _wrap(SageMakerModelBackend, "create_endpoint", endpoints.create_endpoint)
        _wrap(SageMakerModelBackend, "describe_endpoint", endpoints.describe_endpoint)
        _wrap(SageMakerModelBackend, "delete_endpoint", endpoints.delete_endpoint)
        _wrap(SageMakerModelBackend, "list_endpoints", endpoints.list_endpoints)
        _wrap(SageMakerModelBackend, "create_model", registry.create_model)
        _wrap(SageMakerModelBackend, "create_model_package_group", registry.create_model_package_group)
        _wrap(SageMakerModelBackend, "create_model_package", registry.create_model_package)
        _wrap(SageMakerModelBackend, "update_model_package", registry.update_model_package)
        SageMakerResponse.update_endpoint = _sagemaker_update_endpoint  # type: ignore[attr-defined]
        SageMakerResponse.stop_training_job = _sagemaker_stop_training_job  # type: ignore[attr-defined]
        # Model registry deletions (teardown), which moto lacks.
        SageMakerResponse.delete_model_package = registry_deletes.delete_model_package  # type: ignore[attr-defined]
        SageMakerResponse.delete_model_package_group = registry_deletes.delete_model_package_group  # type: ignore[attr-defined]
        # SageMaker Runtime and fault injection for every service.
        _wrap(SageMakerRuntimeResponse, "invoke_endpoint", invoke.invoke_endpoint)
        _wrap(BaseResponse, "call_action", call_faults.call_action)
        # STS: sessions that expire by the emulator's clock.
        _wrap(STSBackend, "assume_role", credentials.assume_role)
        # CloudFormation: outputs of stacks deployed through change sets (the bootstrap), patched
        # when moto first serves CloudFormation; at once if something imported it already.
        import moto.backends

        _wrap(moto.backends, "_import_backend", import_backend_then_patch)
        # The server's dispatcher asks, for every request, whether the Host names a moto service
        # package, listing moto's folder each time (~150 entries, a stat each: 0.5-1 ms a request).
        # The installed package does not change while the process runs: list it once.
        moto_modules = tuple(moto.backends.list_of_moto_modules())
        moto.backends.list_of_moto_modules = lambda: moto_modules
        # Service Quotas: SageMaker's per-instance-type quotas (doctor reads them), like the
        # CloudFormation outputs above also without an active emulator (moto has none to keep).
        _wrap(ServiceQuotasResponse, "list_aws_default_service_quotas", quotas.list_aws_default_service_quotas)
        ServiceQuotasResponse.list_service_quotas = quotas.list_service_quotas  # type: ignore[attr-defined]
        _installed = True
    if "moto.cloudformation.models" in sys.modules:
        patch_cloudformation()
