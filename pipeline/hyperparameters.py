"""The hyperparameter table of SageMaker's built-in XGBoost algorithm (image 3.0-5), defined once.

The configuration checks ``hyperparameters.*`` keys with it before anything runs, and the local
algorithm (:mod:`pipeline.local_model.hyperparameters`) validates a training job's strings with it.

Implemented from a reading of aws/sagemaker-xgboost-container (no code copied):
- src/sagemaker_xgboost_container/algorithm_mode/hyperparameter_validation.py: the table of names,
  types, ranges and aliases;
- src/sagemaker_algorithm_toolkit/hyperparameter_validation.py: the message wording;
- src/sagemaker_xgboost_container/constants/xgb_constants.py: the metric names.

SageMaker passes every hyperparameter as a string; the container parses integers with ``int()``
(``"6.0"`` is rejected), floats with ``float()``. Where this module is stricter than the container
(non-finite floats, no ``eval`` of tuples) the docstring of the check says so.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import PipelineError

MAXIMIZE_METRICS = (
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro",
)  # fmt: skip
MINIMIZE_METRICS = (
    "aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
    "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
    "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
)  # fmt: skip
OBJECTIVES = (
    "aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
    "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear",
    "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror",
    "reg:absoluteerror", "reg:tweedie", "survival:aft", "survival:cox",
)  # fmt: skip
UPDATERS = (
    "grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune",
    "shotgun", "coord_descent",
)  # fmt: skip
ALIASES = {
    "learning_rate": "eta",
    "min_split_loss": "gamma",
    "reg_lambda": "lambda",
    "reg_alpha": "alpha",
}

# Read by the container itself, never handed to xgboost.train (train.py pops them).
CONTAINER_ONLY = (
    "num_round",
    "early_stopping_rounds",
    "csv_weights",
    "save_model_on_termination",
    "use_dask_gpu_training",
    "_tuning_objective_metric",
    "_kfold",
    "_num_cv_round",
)


@dataclass(frozen=True)
class Interval:
    """A numeric range; None bounds are unbounded. Printed like the container: ``[0, 1]``, ``(0, +inf)``."""

    min_closed: float | None = None
    min_open: float | None = None
    max_closed: float | None = None
    max_open: float | None = None

    def __contains__(self, value: float) -> bool:
        if self.min_closed is not None and value < self.min_closed:
            return False
        if self.min_open is not None and value <= self.min_open:
            return False
        if self.max_closed is not None and value > self.max_closed:
            return False
        return not (self.max_open is not None and value >= self.max_open)

    def __str__(self) -> str:
        low = _bound(self.min_closed, self.min_open, "-inf")
        high = _bound(self.max_closed, self.max_open, "+inf")
        return (
            f"{'[' if self.min_closed is not None else '('}{low}, {high}{']' if self.max_closed is not None else ')'}"
        )


def _bound(closed: float | None, open_: float | None, infinite: str) -> str:
    """One end of an interval as printed: the closed bound, else the open one, else infinity."""
    if closed is not None:
        return str(closed)
    return str(open_) if open_ is not None else infinite


@dataclass(frozen=True)
class Spec:
    """One hyperparameter: its parser, its allowed values and a description of them for messages."""

    name: str
    kind: str  # "integer", "float", "categorical", "list", "tuple", "nested-list"
    allowed: Any = None  # Interval, a tuple of strings, or a predicate for list items
    required: bool = False


def _int(name: str, interval: Interval, required: bool = False) -> Spec:
    return Spec(name, "integer", interval, required)


def _float(name: str, interval: Interval) -> Spec:
    return Spec(name, "float", interval)


def _cat(name: str, values: tuple[str, ...]) -> Spec:
    return Spec(name, "categorical", values)


_UNIT = Interval(min_closed=0, max_closed=1)
_NON_NEGATIVE = Interval(min_closed=0)
_FRACTION = Interval(min_open=0, max_closed=1)
_BOOL01 = Interval(min_closed=0, max_closed=1)
_METRIC_NAMES = MAXIMIZE_METRICS + MINIMIZE_METRICS

SPECS: dict[str, Spec] = {
    spec.name: spec
    for spec in (
        _int("num_round", Interval(min_closed=1), required=True),
        _int("csv_weights", _BOOL01),
        _int("early_stopping_rounds", Interval(min_closed=1)),
        _cat("booster", ("gbtree", "gblinear", "dart")),
        _int("verbosity", Interval(min_closed=0, max_closed=3)),
        _int("nthread", Interval(min_closed=1)),
        _float("eta", _UNIT),
        _float("gamma", _NON_NEGATIVE),
        _int("max_depth", _NON_NEGATIVE),
        _float("min_child_weight", _NON_NEGATIVE),
        _float("max_delta_step", _NON_NEGATIVE),
        _float("subsample", _FRACTION),
        _float("colsample_bytree", _FRACTION),
        _float("colsample_bylevel", _FRACTION),
        _float("colsample_bynode", _FRACTION),
        _float("lambda", _NON_NEGATIVE),
        _float("alpha", _NON_NEGATIVE),
        _cat("tree_method", ("auto", "exact", "approx", "hist", "gpu_hist")),
        _float("sketch_eps", Interval(min_open=0, max_open=1)),
        _float("scale_pos_weight", Interval(min_open=0)),
        Spec("updater", "list", UPDATERS),
        _cat("dsplit", ("row", "col")),
        _int("refresh_leaf", _BOOL01),
        _cat("process_type", ("default", "update")),
        _cat("grow_policy", ("depthwise", "lossguide")),
        _int("max_leaves", _NON_NEGATIVE),
        _int("max_bin", _NON_NEGATIVE),
        _cat("predictor", ("auto", "cpu_predictor", "gpu_predictor")),
        Spec("monotone_constraints", "tuple", (-1, 0, 1)),
        Spec("interaction_constraints", "nested-list", Interval(min_closed=1)),
        _cat("sample_type", ("uniform", "weighted")),
        _cat("normalize_type", ("tree", "forest")),
        _float("rate_drop", _UNIT),
        _int("one_drop", _BOOL01),
        _float("skip_drop", _UNIT),
        _float("lambda_bias", _UNIT),
        _float("tweedie_variance_power", Interval(min_open=1, max_open=2)),
        _cat("objective", OBJECTIVES),
        _int("num_class", Interval(min_closed=2)),
        _float("base_score", _NON_NEGATIVE),
        _int("_kfold", Interval(min_closed=2)),
        _int("_num_cv_round", Interval(min_closed=1)),
        _cat("_tuning_objective_metric", tuple(f"validation:{m}" for m in _METRIC_NAMES)),
        Spec("eval_metric", "list", _METRIC_NAMES),
        _int("seed", Interval(min_open=-(2**31), max_open=2**31 - 1)),
        _int("num_parallel_tree", Interval(min_closed=1)),
        _cat("save_model_on_termination", ("true", "false")),
        _cat("aft_loss_distribution", ("normal", "logistic", "extreme")),
        _float("aft_loss_distribution_scale", _NON_NEGATIVE),
        _cat("deterministic_histogram", ("true", "false")),
        _cat("sampling_method", ("uniform", "gradient_based")),
        _int("prob_buffer_row", Interval(min_open=1.0)),
        _cat("use_dask_gpu_training", ("true", "false")),
    )
}


class HyperparameterError(PipelineError):
    """A hyperparameter value the algorithm would refuse; the message names it and what is allowed."""


def _fail(name: str, message: str) -> HyperparameterError:
    return HyperparameterError(f"Hyperparameter {name}: {message}")


def _parse(spec: Spec, raw: str) -> Any:
    """Parse one string value like the container does; raise AlgorithmError naming name and value."""
    kind = spec.kind
    try:
        if kind == "integer":
            return int(raw)
        if kind == "float":
            value = float(raw)
            # Stricter than the container, which lets 'nan' through every range check.
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return value
        if kind == "categorical":
            return raw
        if kind == "list":
            return raw.split(",")
        # The container eval()s tuples; literal_eval accepts the same literals and runs no code.
        value = ast.literal_eval(raw)
        if kind == "tuple" and isinstance(value, (tuple, list)):
            return tuple(value)
        if kind == "nested-list" and isinstance(value, list) and all(isinstance(x, list) for x in value):
            return value
        raise ValueError(f"not a {kind}")
    except (ValueError, SyntaxError, TypeError) as error:
        expected = {
            "integer": "an integer",
            "float": "a finite number",
            "tuple": "a tuple such as (1,0,-1)",
            "nested-list": "a list of lists of feature indices such as [[0,1],[2]]",
        }.get(kind, kind)
        raise _fail(spec.name, f"could not parse value {raw!r} (expected {expected}; {error})") from None


def _metric_allowed(metric: str) -> bool:
    """An eval_metric item: a known metric, or error@t / ndcg@t / map@t with a float t."""
    if "@" not in metric:
        return metric in _METRIC_NAMES
    name, _, threshold = (part.strip() for part in metric.partition("@"))
    if name not in ("error", "ndcg", "map"):
        return False
    try:
        float(threshold)
    except ValueError:
        return False
    return True


def _check_range(spec: Spec, value: Any) -> None:
    """Raise with the container's wording: ``Hyperparameter <name>: <value> is not in <allowed>``."""
    if spec.kind in ("integer", "float"):
        if value not in spec.allowed:
            raise _fail(spec.name, f"{value} is not in {spec.allowed}")
    elif spec.kind == "categorical":
        if value not in spec.allowed:
            raise _fail(spec.name, f"{value} is not in {list(spec.allowed)}")
    elif spec.kind == "list":
        allowed: Callable[[str], bool] = _metric_allowed if spec.name == "eval_metric" else spec.allowed.__contains__
        bad = [item for item in value if not allowed(item)]
        if bad:
            raise _fail(
                spec.name,
                f"value {value} not in range {list(spec.allowed)} (bad: {bad})",
            )
    elif spec.kind == "tuple":
        if any(item not in spec.allowed for item in value):
            raise _fail(spec.name, f"value {value} not in range {list(spec.allowed)}")
    elif spec.kind == "nested-list" and any(
        not isinstance(i, int) or i not in spec.allowed for row in value for i in row
    ):
        raise _fail(spec.name, f"value {value} not in range {spec.allowed}")


def parse_value(name: str, raw: str) -> Any:
    """One hyperparameter's string parsed and range-checked as the container does.

    Raises HyperparameterError (``Hyperparameter <name>: ...``) for an unknown name, a value that
    does not parse, or one out of range.
    """
    spec = SPECS.get(name)
    if spec is None:
        raise _fail(name, "is not a hyperparameter of the algorithm")
    value = _parse(spec, raw)
    _check_range(spec, value)
    return value
