"""Hyperparameter validation of the SageMaker built-in XGBoost algorithm (image 3.0-5), done locally.

The table (names, types, ranges, aliases) is :mod:`pipeline.hyperparameters`, shared with the
configuration. This module adds the container's order of checks (aliases, required, extraneous
names, parsing, ranges, dependencies, from src/sagemaker_algorithm_toolkit/hyperparameter_validation.py
of aws/sagemaker-xgboost-container; no code copied) and its cross-parameter dependencies. Where
it is stricter than the container (an alias given together with its name) the check says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pipeline.hyperparameters import ALIASES, SPECS, HyperparameterError, _check_range, _fail, _parse
from pipeline.local_model.exceptions import AlgorithmError


def _check_dependencies(values: Mapping[str, Any]) -> None:
    """The cross-checks of hyperparameter_validation.py that apply to CPU training."""
    objective = values.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and "num_class" not in values:
        raise AlgorithmError("Require input for parameter 'num_class' for multi-classification")
    metrics = values.get("eval_metric", [])
    # xgboost's default objective is reg:squarederror, so 'auc' without an objective is rejected.
    effective_objective = objective or "reg:squarederror"
    if "auc" in metrics and not effective_objective.startswith(("binary:", "rank:")):
        raise AlgorithmError(
            "Metric 'auc' can only be applied for classification and ranking problems."
            f" Hyperparameter objective is {effective_objective!r}."
        )
    if "aft-nloglik" in metrics and effective_objective != "survival:aft":
        raise AlgorithmError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = values.get("tree_method")
    if "monotone_constraints" in values and tree_method not in ("exact", "hist"):
        raise AlgorithmError(
            "monotone_constraints can be used only when the tree_method parameter is set to "
            f"either 'exact' or 'hist' (tree_method is {tree_method!r})."
        )
    if "interaction_constraints" in values and tree_method not in (
        "exact",
        "hist",
        "approx",
    ):
        raise AlgorithmError(
            "interaction_constraints can be used only when the tree_method parameter is set to "
            f"either 'exact', 'hist' or 'approx' (tree_method is {tree_method!r})."
        )


def _unknown_name_message(name: str, raw: object) -> str:
    known = sorted(set(SPECS) | set(ALIASES))
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else f"accepted names: {', '.join(known)}"
    return f"Extraneous hyperparameter found: {name} (value {raw!r}); {hint}"


def validate(hyperparameters: Mapping[str, object]) -> dict[str, Any]:
    """Validate the string hyperparameters of a training job and return them parsed.

    Checks, in the container's order: aliases resolved, required names present, no extraneous
    name, every value parses, every value in range, then the cross-parameter dependencies.
    Raises AlgorithmError with a message naming the hyperparameter, the value and what is allowed.
    """
    try:
        return _validate(hyperparameters)
    except HyperparameterError as exc:
        raise AlgorithmError(str(exc)) from None


def _validate(hyperparameters: Mapping[str, object]) -> dict[str, Any]:
    resolved: dict[str, str] = {}
    for name, raw in hyperparameters.items():
        if not isinstance(raw, str):
            # CreateTrainingJob's HyperParameters is a map of strings; botocore would refuse others.
            raise _fail(
                name,
                f"value {raw!r} must be a string, as in CreateTrainingJob HyperParameters",
            )
        key = ALIASES.get(name, name)
        if key in resolved:
            # Stricter than the container, where whichever comes last silently wins.
            raise _fail(key, f"given twice (as {key} and its alias); keep one")
        resolved[key] = raw
    for name, spec in SPECS.items():
        if spec.required and name not in resolved:
            raise AlgorithmError(f"Missing required hyperparameter: {name}")
    parsed: dict[str, Any] = {}
    for name, raw in resolved.items():
        if name not in SPECS:
            raise AlgorithmError(_unknown_name_message(name, raw))
        parsed[name] = _parse(SPECS[name], raw)
    for name, value in parsed.items():
        _check_range(SPECS[name], value)
    _check_dependencies(parsed)
    return parsed
