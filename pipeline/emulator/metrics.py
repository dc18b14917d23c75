"""Final metrics of a training job, read from its log as SageMaker reads a built-in algorithm's.

SageMaker does not ask a built-in algorithm for its metrics: it applies the image's metric
definitions (a name and a regex each) to the job's log as CloudWatch stores it, where a tab is
written ``#011``, and reports the last value of each in DescribeTrainingJob's
``FinalMetricDataList``. The definitions below are the built-in XGBoost image's, as
DescribeTrainingJob returns them in ``AlgorithmSpecification.MetricDefinitions``
(``train:<metric>`` and ``validation:<metric>``; aws/sagemaker-xgboost-container's
``algorithm_mode/metrics.py`` declares the ``validation:`` ones for tuning).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

# xgboost's EvaluationMonitor prints ``[<round>]\t<data>-<metric>:<value>`` per channel.
XGBOOST_METRICS = (
    "rmse", "rmsle", "mae", "mape", "mphe", "mse", "r2", "logloss", "error", "merror",
    "mlogloss", "auc", "aucpr", "ndcg", "map", "poisson-nloglik", "gamma-nloglik",
    "gamma-deviance", "tweedie-nloglik", "cox-nloglik", "accuracy", "f1", "precision", "recall",
)  # fmt: skip
CHANNELS = ("train", "validation")
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
XGBOOST_IMAGE = re.compile(r"/sagemaker-xgboost:")


def metric_definitions(training_image: str) -> list[dict[str, str]]:
    """The metric definitions SageMaker applies to a job of ``training_image`` (none if unknown)."""
    if not XGBOOST_IMAGE.search(training_image):
        return []
    return [
        {"Name": f"{channel}:{metric}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{re.escape(metric)}:{NUMBER}.*"}
        for channel in CHANNELS
        for metric in XGBOOST_METRICS
    ]


def final_metrics(
    definitions: Iterable[dict[str, str]], log: Iterable[str], timestamp: datetime.datetime
) -> list[dict[str, Any]]:
    """``FinalMetricDataList``: the last value each definition's regex found in the log."""
    compiled = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
    last: dict[str, float] = {}
    for line in log:
        stored = line.replace("\t", "#011")  # as CloudWatch Logs shows the container's tabs
        for name, regex in compiled:
            match = regex.match(stored)
            if match:
                last[name] = float(match.group(1))
    return [{"MetricName": name, "Value": value, "Timestamp": timestamp} for name, value in sorted(last.items())]
