"""The state machine definition: ASL built with the stepfunctions SDK, and its Mermaid diagram."""

from pipeline.sdk import quiet_sagemaker_sdk

quiet_sagemaker_sdk()

from pipeline.definition.builder import build_definition, definition_json  # noqa: E402 (after quieting the SDK)
from pipeline.definition.mermaid import to_mermaid  # noqa: E402 (after quieting the SDK)
from pipeline.definition.names import execution_input, run_id_for_commit, run_id_now  # noqa: E402 (after quieting the SDK)

__all__ = ["build_definition", "definition_json", "execution_input", "run_id_for_commit", "run_id_now", "to_mermaid"]
