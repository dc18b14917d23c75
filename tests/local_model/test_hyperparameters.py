"""Hyperparameter validation: names, types, ranges and dependencies as the built-in container checks them."""

from __future__ import annotations

import pytest

from pipeline.local_model.exceptions import AlgorithmError
from pipeline.local_model.hyperparameters import validate


def test_parses_strings_to_typed_values_and_resolves_aliases() -> None:
    parsed = validate(
        {
            "num_round": "100",
            "max_depth": "6",
            "learning_rate": "0.2",
            "objective": "reg:squarederror",
            "eval_metric": "rmse,mae",
            "monotone_constraints": "(1,0,-1)",
            "tree_method": "hist",
        }
    )
    assert parsed == {
        "num_round": 100,
        "max_depth": 6,
        "eta": 0.2,
        "objective": "reg:squarederror",
        "eval_metric": ["rmse", "mae"],
        "monotone_constraints": (1, 0, -1),
        "tree_method": "hist",
    }


def test_num_round_is_required() -> None:
    with pytest.raises(AlgorithmError, match=r"^Missing required hyperparameter: num_round$"):
        validate({"max_depth": "6"})


def test_unknown_name_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(AlgorithmError) as caught:
        validate({"num_round": "10", "max_dept": "6"})
    assert (
        str(caught.value)
        == "Extraneous hyperparameter found: max_dept (value '6'); did you mean max_depth or max_delta_step?"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "max_depth",
            "6.5",
            "Hyperparameter max_depth: could not parse value '6.5' (expected an integer",
        ),
        (
            "num_round",
            "ten",
            "Hyperparameter num_round: could not parse value 'ten' (expected an integer",
        ),
        (
            "eta",
            "fast",
            "Hyperparameter eta: could not parse value 'fast' (expected a finite number",
        ),
        (
            "eta",
            "nan",
            "Hyperparameter eta: could not parse value 'nan' (expected a finite number",
        ),
    ],
)
def test_wrong_type_names_hyperparameter_and_value(name: str, value: str, message: str) -> None:
    params = {"num_round": "10", name: value}
    with pytest.raises(AlgorithmError) as caught:
        validate(params)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("eta", "1.5", "Hyperparameter eta: 1.5 is not in [0, 1]"),
        ("num_round", "0", "Hyperparameter num_round: 0 is not in [1, +inf)"),
        ("subsample", "0", "Hyperparameter subsample: 0.0 is not in (0, 1]"),
        ("max_depth", "-1", "Hyperparameter max_depth: -1 is not in [0, +inf)"),
        (
            "tweedie_variance_power",
            "2",
            "Hyperparameter tweedie_variance_power: 2.0 is not in (1, 2)",
        ),
        (
            "booster",
            "gbtreee",
            "Hyperparameter booster: gbtreee is not in ['gbtree', 'gblinear', 'dart']",
        ),
    ],
)
def test_out_of_range_uses_the_container_wording(name: str, value: str, message: str) -> None:
    with pytest.raises(AlgorithmError) as caught:
        validate({"num_round": "10", name: value})
    assert str(caught.value) == message


def test_objective_outside_the_list_names_the_allowed_values() -> None:
    with pytest.raises(AlgorithmError) as caught:
        validate({"num_round": "10", "objective": "reg:squared_error"})
    message = str(caught.value)
    assert message.startswith("Hyperparameter objective: reg:squared_error is not in [")
    assert "'reg:squarederror'" in message and "'binary:logistic'" in message


def test_unknown_eval_metric_is_rejected() -> None:
    with pytest.raises(
        AlgorithmError,
        match=r"^Hyperparameter eval_metric: value \['rmse', 'rsme'\] not in range",
    ):
        validate({"num_round": "10", "eval_metric": "rmse,rsme"})


def test_eval_metric_threshold_form_is_accepted_for_error_only() -> None:
    assert validate({"num_round": "1", "objective": "binary:logistic", "eval_metric": "error@0.3"})["eval_metric"] == [
        "error@0.3"
    ]
    with pytest.raises(AlgorithmError, match="eval_metric"):
        validate({"num_round": "1", "eval_metric": "rmse@0.3"})


def test_dependencies() -> None:
    with pytest.raises(
        AlgorithmError,
        match=r"^Require input for parameter 'num_class' for multi-classification$",
    ):
        validate({"num_round": "1", "objective": "multi:softmax"})
    with pytest.raises(AlgorithmError, match=r"^Metric 'auc' can only be applied for classification"):
        validate({"num_round": "1", "eval_metric": "auc"})
    with pytest.raises(
        AlgorithmError,
        match=r"^monotone_constraints can be used only when the tree_method",
    ):
        validate({"num_round": "1", "monotone_constraints": "(1,0)"})
    assert validate({"num_round": "1", "objective": "multi:softmax", "num_class": "3"})["num_class"] == 3


def test_non_string_value_is_rejected() -> None:
    with pytest.raises(AlgorithmError, match=r"^Hyperparameter num_round: value 10 must be a string"):
        validate({"num_round": 10})  # type: ignore[dict-item]


def test_alias_given_with_its_name_is_rejected() -> None:
    with pytest.raises(AlgorithmError, match=r"^Hyperparameter eta: given twice"):
        validate({"num_round": "1", "eta": "0.1", "learning_rate": "0.2"})


def test_tuple_values_are_never_evaluated_as_code() -> None:
    with pytest.raises(AlgorithmError, match="could not parse value"):
        validate(
            {
                "num_round": "1",
                "tree_method": "hist",
                "monotone_constraints": "__import__('os')",
            }
        )
