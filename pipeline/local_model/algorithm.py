"""Training contract of the SageMaker built-in XGBoost algorithm, run locally with the same xgboost.

Implemented from a reading of aws/sagemaker-xgboost-container (no code copied):
- src/sagemaker_xgboost_container/algorithm_mode/train.py: validation first (hyperparameters,
  channels), one content type (the train channel's) for all channels, ``xgb.train`` with the
  evaluation list ``[(train, "train"), (validation, "validation")]``, container-only keys taken out
  of the xgboost parameters, errors wrapped as ``XGB train call failed with exception``, the booster
  saved as ``<model_dir>/xgboost-model``;
- src/sagemaker_xgboost_container/callback.py: ``EvaluationMonitor`` logs every round
  (``[0]\\ttrain-rmse:...\\tvalidation-rmse:...``, which SageMaker's metric regexes read);
  early stopping only when a metric is named, on the last one, keeping the best model;
- src/sagemaker_xgboost_container/algorithm_mode/train_utils.py and metrics/custom_metrics.py:
  the union of ``eval_metric`` and ``_tuning_objective_metric``, and the metrics the container
  computes itself (the regression ones mse / r2 are computed here; the classification ones need
  scikit-learn and are refused).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from pipeline.hyperparameters import CONTAINER_ONLY, MAXIMIZE_METRICS
from pipeline.local_model import channels as ch
from pipeline.local_model.artifact import MODEL_NAME
from pipeline.local_model.exceptions import AlgorithmError
from pipeline.local_model.hyperparameters import validate

logger = logging.getLogger(__name__)

# Metrics the container computes in Python instead of asking xgboost (custom_metrics.CUSTOM_METRICS).
_SKLEARN_METRICS = frozenset(
    {"accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "precision", "precision_macro",
     "precision_micro", "recall", "recall_macro", "recall_micro"}
)  # fmt: skip
_NUMPY_METRICS = ("mse", "r2")


@dataclass(frozen=True)
class TrainingResult:
    """What a local training job produced.

    metrics: the last logged value of each metric, keyed like SageMaker's metric definitions
    (``validation:rmse``, ``train:rmse``). rounds: boosting rounds actually run (fewer than
    num_round after early stopping). best_iteration: set when early stopping kept the best model.
    log: the per-round evaluation lines, as the container prints them.
    """

    model_path: Path
    metrics: dict[str, float]
    num_round: int
    rounds: int
    best_iteration: int | None
    train_rows: int
    validation_rows: int
    features: int
    log: list[str] = field(default_factory=list)


def _numpy_metrics(
    names: list[str],
) -> Callable[[np.ndarray, xgb.DMatrix], list[tuple[str, float]]]:
    def evaluate(predictions: np.ndarray, data: xgb.DMatrix) -> list[tuple[str, float]]:
        labels = data.get_label().astype(np.float64)
        residual = labels - np.asarray(predictions, dtype=np.float64).reshape(labels.shape)
        results = []
        for name in names:
            mse = float(np.mean(residual**2))
            if name == "mse":
                results.append((name, mse))
            else:  # r2, as scikit-learn's r2_score: 1 - SS_res / SS_tot
                total = float(np.sum((labels - labels.mean()) ** 2))
                results.append((name, 1.0 - float(np.sum(residual**2)) / total if total else 0.0))
        return results

    return evaluate


def _metric_plan(params: dict[str, Any]) -> tuple[list[str], list[str], str | None]:
    """(metrics for xgboost, metrics computed here, early-stopping metric) from the hyperparameters."""
    tuning = params.get("_tuning_objective_metric")
    tuning_metrics = tuning.split(":", 1)[1].split(",") if tuning else None
    requested = params.get("eval_metric")
    if tuning_metrics is not None and requested is not None:
        union = sorted(set(tuning_metrics) | set(requested))
    else:
        union = tuning_metrics or requested or []
    refused = [m for m in union if m in _SKLEARN_METRICS]
    if refused:
        raise AlgorithmError(
            f"Hyperparameter eval_metric: {refused} are computed by the container with scikit-learn "
            "and are not implemented by the local algorithm; use xgboost metrics (e.g. rmse, mae, "
            "logloss, auc, error) or mse / r2"
        )
    native = [m for m in union if m not in _NUMPY_METRICS]
    computed = [m for m in union if m in _NUMPY_METRICS]
    # As callback.get_callbacks: the tuning metric wins, else the last eval_metric, else none.
    stopping = (tuning_metrics or [None])[-1] if tuning_metrics else (requested or [None])[-1]
    return native, computed, stopping


def _check_channels(channels: Mapping[str, Path], content_types: Mapping[str, str | None]) -> str:
    for name in channels:
        if name not in ch.CHANNELS:
            raise AlgorithmError(f"Extraneous channel found: {name} (accepted: train, validation)")
    if "train" not in channels:
        raise AlgorithmError("Missing required channel: train")
    if "code" in channels:
        raise AlgorithmError(
            "Channel code switches the container to script mode, which the local algorithm does not run"
        )
    formats = {name: ch.parse_content_type(content_types.get(name)) for name in channels}
    return formats["train"]  # the container reads every channel with the train channel's type


def _xgboost_params(params: dict[str, Any], native_metrics: list[str]) -> dict[str, Any]:
    for name, why in (
        ("_kfold", "cross-validation needs scikit-learn"),
        ("_num_cv_round", "cross-validation"),
    ):
        if name in params:
            raise AlgorithmError(f"Hyperparameter {name}: {why}; not implemented by the local algorithm")
    if params.get("use_dask_gpu_training") == "true":
        raise AlgorithmError("Hyperparameter use_dask_gpu_training: 'true' needs GPUs and Dask; use 'false'")
    booster_params = {k: v for k, v in params.items() if k not in CONTAINER_ONLY and k != "eval_metric"}
    if "updater" in booster_params:
        booster_params["updater"] = ",".join(booster_params["updater"])
    if native_metrics:
        booster_params["eval_metric"] = native_metrics
    return booster_params


def train_from_channels(
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, Path],
    model_dir: Path,
    *,
    content_types: Mapping[str, str | None] | None = None,
    log: Callable[[str], None] | None = None,
    threads: int = 1,
) -> TrainingResult:
    """Train like the built-in XGBoost algorithm and save ``model_dir/xgboost-model``.

    hyperparameters: the CreateTrainingJob strings (``num_round`` required). channels: channel
    name -> directory (or file) holding its data. content_types: channel name -> ContentType;
    None for the whole argument means text/csv everywhere, a missing entry means the container's
    default (libsvm). log: receives each evaluation line (default: this module's logger).
    threads: xgboost's nthread when the hyperparameters do not set it. The container lets xgboost
    use every core; here the default is 1 because the emulator runs jobs next to other work and
    OpenMP threads on a busy machine are 10x slower, while the saved model is the same bytes.
    Deterministic for given data and hyperparameters (``seed`` defaults to 0 as in xgboost).
    Raise AlgorithmError for any bad hyperparameter, channel, data or training failure.
    """
    emit = log or logger.info
    params = validate(hyperparameters)
    fmt = _check_channels(
        channels,
        content_types if content_types is not None else dict.fromkeys(channels, "text/csv"),
    )
    native_metrics, computed_metrics, stopping_metric = _metric_plan(params)
    booster_params = _xgboost_params(params, native_metrics)
    booster_params.setdefault("nthread", threads)

    csv_weights = params.get("csv_weights", 0)
    train = ch.read_channel("train", Path(channels["train"]), fmt, csv_weights)
    validation = (
        ch.read_channel("validation", Path(channels["validation"]), fmt, csv_weights)
        if "validation" in channels
        else None
    )
    if validation is not None and fmt == ch.CSV and validation.features != train.features:
        raise AlgorithmError(
            f"Channel validation has {validation.features} feature columns but channel train has "
            f"{train.features}; both need the same columns, label first"
        )

    evals = [(train.dmatrix, "train")]
    if validation is not None:
        evals.append((validation.dmatrix, "validation"))
    lines: list[str] = []

    def record(line: str) -> None:
        lines.append(line.rstrip("\n"))
        emit(line.rstrip("\n"))

    callbacks: list[xgb.callback.TrainingCallback] = [xgb.callback.EvaluationMonitor(logger=record)]
    early_stopping_rounds = params.get("early_stopping_rounds")
    if early_stopping_rounds and validation is not None and stopping_metric:
        callbacks.append(
            xgb.callback.EarlyStopping(
                rounds=early_stopping_rounds,
                data_name="validation",
                metric_name=stopping_metric,
                maximize=stopping_metric in MAXIMIZE_METRICS,
                save_best=True,
            )
        )
    elif early_stopping_rounds:
        # Same as the container: early stopping needs a validation channel and a named metric.
        emit("early_stopping_rounds ignored: it needs a validation channel and eval_metric")

    history: dict[str, dict[str, list[float]]] = {}
    try:
        booster = xgb.train(
            booster_params,
            train.dmatrix,
            num_boost_round=params["num_round"],
            evals=evals,
            custom_metric=_numpy_metrics(computed_metrics) if computed_metrics else None,
            evals_result=history,
            callbacks=callbacks,
            verbose_eval=False,
        )
    except (xgb.core.XGBoostError, ValueError, TypeError) as error:
        raise AlgorithmError(f"XGB train call failed with exception:\n {error}") from None

    model_dir.mkdir(parents=True, exist_ok=True)
    model_path = model_dir / MODEL_NAME
    # The container saves without an extension too; xgboost then logs (from C++, so only its
    # own verbosity setting silences it) that it picks UBJSON, which is what we want.
    with warnings.catch_warnings(), xgb.config_context(verbosity=0):
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(model_path))

    metrics = {
        f"{data}:{metric}": float(values[-1])
        for data, by_metric in history.items()
        for metric, values in by_metric.items()
    }
    rounds = len(next(iter(next(iter(history.values())).values()))) if history else params["num_round"]
    best = booster.attr("best_iteration")
    return TrainingResult(
        model_path=model_path,
        metrics=metrics,
        num_round=params["num_round"],
        rounds=rounds,
        best_iteration=int(best) if best is not None else None,
        train_rows=train.rows,
        validation_rows=validation.rows if validation is not None else 0,
        features=train.features,
        log=lines,
    )
