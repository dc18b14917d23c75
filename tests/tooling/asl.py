"""statelint, less what it cannot know: Jayway JsonPath filters in Parameters."""

from __future__ import annotations

from typing import Any

from statelint.linter import Linter

from pipeline.definition import state_names as names

# statelint knows only the reference-path subset of JSONPath; Step Functions evaluates the paths
# of Parameters and ResultSelector with Jayway JsonPath, filters included (AWS's "Using JSONPath
# paths" page). The gate uses one to pick validation:rmse out of FinalMetricDataList.
FILTER_FIELDS = {
    f'Field "{field}" of Parameters at "State Machine.States.{names.READ_METRIC}" is not a JSONPath or '
    "intrinsic function expression"
    for field in ("Values.$", "TrainValues.$")
}


def lint(definition: dict[str, Any]) -> list[str]:
    """statelint's problems with ``definition``, except the documented filter paths."""
    return [problem for problem in Linter.validate(definition) if problem not in FILTER_FIELDS]
