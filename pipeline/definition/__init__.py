"""The state machine definition: ASL built with the stepfunctions SDK, and its Mermaid diagram.

``build_definition`` and ``definition_json`` load the SageMaker and stepfunctions SDKs (seconds)
on first use, so that importing the light parts (state names, run names, Mermaid) stays fast.
"""

from __future__ import annotations

from typing import Any

from pipeline.sdk import quiet_sagemaker_sdk

# Before any submodule imports the SDKs (the package runs first): their notices would corrupt stdout.
quiet_sagemaker_sdk()

from pipeline.definition.mermaid import to_mermaid  # noqa: E402 (after quieting the SDK)
from pipeline.definition.names import execution_input, run_id_for_commit, run_id_now  # noqa: E402

__all__ = ["build_definition", "definition_json", "execution_input", "run_id_for_commit", "run_id_now", "to_mermaid"]


def build_definition(config: Any) -> dict[str, Any]:
    """The state machine definition (ASL) for a configuration, as a dict."""
    from pipeline.definition import builder

    return builder.build_definition(config)


def definition_json(config: Any) -> str:
    """The definition as stable, pretty JSON: the same configuration gives the same bytes."""
    from pipeline.definition import builder

    return builder.definition_json(config)
