"""The state machine definition: ASL built with the stepfunctions SDK, and its Mermaid diagram.

``build_definition`` and ``definition_json`` load the SageMaker and stepfunctions SDKs (seconds)
on first use, so that importing the light parts (state names, run names, Mermaid) stays fast;
their result is kept in pipeline.cache, so a later process with the same configuration and
code does not load the SDKs at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.sdk import quiet_sagemaker_sdk

# Before any submodule imports the SDKs (the package runs first): their notices would corrupt stdout.
quiet_sagemaker_sdk()

if TYPE_CHECKING:
    from pipeline.config import PipelineConfig

from pipeline.definition.mermaid import to_mermaid  # noqa: E402 (after quieting the SDK)
from pipeline.definition.names import execution_input, run_id_for_commit, run_id_now  # noqa: E402

__all__ = ["build_definition", "definition_json", "execution_input", "run_id_for_commit", "run_id_now", "to_mermaid"]


def build_definition(config: PipelineConfig) -> dict[str, Any]:
    """The state machine definition (ASL) for a configuration, as a dict (a fresh copy each call)."""
    import json

    definition: dict[str, Any] = json.loads(definition_json(config))
    return definition


def definition_json(config: PipelineConfig) -> str:
    """The definition as stable, pretty JSON: the same configuration gives the same bytes.

    Kept in pipeline.cache under the whole configuration, this package's source and the SDKs'
    installed files, so a command that deploys an unchanged definition skips the SDK imports.
    """
    import dataclasses

    from pipeline import cache

    def build() -> str:
        from pipeline.definition import builder

        return builder.definition_json(config)

    return cache.remember(
        "definition", dataclasses.asdict(config), build, depends_on=("sagemaker", "stepfunctions", "botocore")
    )
