"""Training contract: channels, data, metrics, model file, determinism."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from pipeline.local_model import AlgorithmError, train_from_channels
from pipeline.local_model.artifact import MODEL_NAME, write_model_tar
from tests.local_model.conftest import make_rows, write_csv

Params = Callable[..., dict[str, str]]


def test_trains_and_saves_xgboost_model(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    result = train_from_channels(hyperparameters(), channels, tmp_path / "model")
    assert result.model_path == tmp_path / "model" / MODEL_NAME
    assert result.model_path.read_bytes()[:1] == b"{"  # UBJSON, as xgboost writes an extensionless name
    assert (result.train_rows, result.validation_rows, result.features) == (400, 100, 5)
    assert (result.num_round, result.rounds, result.best_iteration) == (30, 30, None)
    assert set(result.metrics) == {"train:rmse", "validation:rmse"}
    # The label has a spread of ~35; a working model gets well under it.
    assert result.metrics["validation:rmse"] < 10
    assert result.log[0].startswith("[0]\ttrain-rmse:") and "\tvalidation-rmse:" in result.log[0]
    assert len(result.log) == 30
    booster = xgb.Booster(model_file=str(result.model_path))
    assert booster.num_features() == 5 and booster.num_boosted_rounds() == 30


def test_validation_metric_matches_the_saved_model(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    result = train_from_channels(hyperparameters(), channels, tmp_path / "model")
    table = np.loadtxt(channels["validation"] / "validation.csv", delimiter=",")
    booster = xgb.Booster(model_file=str(result.model_path))
    predictions = booster.predict(xgb.DMatrix(table[:, 1:]))
    rmse = math.sqrt(float(np.mean((table[:, 0].astype(np.float32) - predictions) ** 2)))
    assert rmse == pytest.approx(result.metrics["validation:rmse"], rel=1e-4)


def test_same_seed_gives_byte_identical_artifacts(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    artifacts = []
    for run in ("a", "b"):
        train_from_channels(hyperparameters(), channels, tmp_path / run)
        artifacts.append(write_model_tar(tmp_path / run, tmp_path / f"{run}.tar.gz").read_bytes())
    assert artifacts[0] == artifacts[1]
    train_from_channels(hyperparameters(seed="43"), channels, tmp_path / "c")
    # subsample=0.8 draws rows from the seed: another seed gives another model.
    assert (tmp_path / "c" / MODEL_NAME).read_bytes() != (tmp_path / "a" / MODEL_NAME).read_bytes()


def test_early_stopping_keeps_the_best_iteration(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    result = train_from_channels(
        hyperparameters(num_round="400", eta="0.5", eval_metric="rmse", early_stopping_rounds="3"),
        channels,
        tmp_path / "model",
    )
    assert result.best_iteration is not None
    assert result.rounds == result.best_iteration + 4 < 400
    booster = xgb.Booster(model_file=str(result.model_path))
    assert booster.num_boosted_rounds() == result.best_iteration + 1


def test_mse_and_r2_are_computed(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    result = train_from_channels(hyperparameters(eval_metric="mse,r2"), channels, tmp_path / "m")
    assert 0.5 < result.metrics["validation:r2"] <= 1
    assert result.metrics["validation:mse"] == pytest.approx(result.metrics["validation:rmse"] ** 2, rel=1e-3)


def test_classification_metrics_needing_sklearn_are_refused(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    with pytest.raises(
        AlgorithmError,
        match=r"\['f1'\] are computed by the container with scikit-learn",
    ):
        train_from_channels(hyperparameters(eval_metric="f1"), channels, tmp_path / "m")


def test_csv_weights_uses_second_column(tmp_path: Path, hyperparameters: Params) -> None:
    x, y = make_rows(200, seed=3)
    weights = np.where(np.arange(200) < 100, 0.0, 1.0)
    write_csv(tmp_path / "train" / "w.csv", np.column_stack([weights, x]), y)
    result = train_from_channels(hyperparameters(csv_weights="1"), {"train": tmp_path / "train"}, tmp_path / "m")
    assert result.features == 5  # the weight column is not a feature


def test_libsvm_channel(tmp_path: Path, hyperparameters: Params) -> None:
    x, y = make_rows(120, seed=5)
    lines = [f"{label} " + " ".join(f"{i + 1}:{v}" for i, v in enumerate(row)) for label, row in zip(y, x, strict=True)]
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "data.libsvm").write_text("\n".join(lines) + "\n")
    result = train_from_channels(
        hyperparameters(),
        {"train": tmp_path / "train"},
        tmp_path / "m",
        content_types={"train": "text/libsvm"},
    )
    assert result.train_rows == 120


def test_missing_content_type_means_libsvm_as_in_the_container(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    with pytest.raises(AlgorithmError, match=r"part-0.csv, line 1 is not LIBSVM"):
        train_from_channels(hyperparameters(), channels, tmp_path / "m", content_types={})


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (
            "application/json",
            r"^application/json is not an accepted ContentType: csv, libsvm, parquet",
        ),
        (
            "text/csv;label_size=2",
            r"^text/csv;label_size=2 is not an accepted csv ContentType",
        ),
        (
            "application/x-parquet",
            r"content type parquet is accepted by the built-in algorithm but not implemented",
        ),
    ],
)
def test_content_types(
    channels: dict[str, Path],
    hyperparameters: Params,
    tmp_path: Path,
    content_type: str,
    message: str,
) -> None:
    with pytest.raises(AlgorithmError, match=message):
        train_from_channels(
            hyperparameters(),
            channels,
            tmp_path / "m",
            content_types=dict.fromkeys(channels, content_type),
        )


def test_csv_with_charset_and_label_size_1_is_accepted(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    result = train_from_channels(
        hyperparameters(num_round="2"), channels, tmp_path / "m",
        content_types=dict.fromkeys(channels, "text/csv; label_size=1; charset=utf-8"),
    )  # fmt: skip
    assert result.rounds == 2


def test_channel_names(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    with pytest.raises(AlgorithmError, match=r"^Extraneous channel found: test"):
        train_from_channels(
            hyperparameters(),
            {**channels, "test": channels["validation"]},
            tmp_path / "m",
        )
    with pytest.raises(AlgorithmError, match=r"^Missing required channel: train$"):
        train_from_channels(hyperparameters(), {"validation": channels["validation"]}, tmp_path / "m")


def test_empty_channel(tmp_path: Path, hyperparameters: Params) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "empty.csv").write_text("")
    with pytest.raises(AlgorithmError, match=r"^No data in train channel path"):
        train_from_channels(hyperparameters(), {"train": tmp_path / "train"}, tmp_path / "m")


def test_missing_channel_directory(tmp_path: Path, hyperparameters: Params) -> None:
    with pytest.raises(AlgorithmError, match=r"is not a valid path"):
        train_from_channels(hyperparameters(), {"train": tmp_path / "nowhere"}, tmp_path / "m")


def test_header_row_is_reported_as_such(tmp_path: Path, hyperparameters: Params) -> None:
    x, y = make_rows(20, seed=1)
    path = write_csv(tmp_path / "train" / "data.csv", x, y)
    path.write_text("Item_Outlet_Sales,a,b,c,d,e\n" + path.read_text())
    with pytest.raises(AlgorithmError) as caught:
        train_from_channels(hyperparameters(), {"train": tmp_path / "train"}, tmp_path / "m")
    assert "data.csv, line 1, column 1: 'Item_Outlet_Sales' is not a number" in str(caught.value)
    assert "looks like a header" in str(caught.value)


def test_non_numeric_cell(tmp_path: Path, hyperparameters: Params) -> None:
    x, y = make_rows(20, seed=1)
    path = write_csv(tmp_path / "train" / "data.csv", x, y)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 1)[0] + ",Low Fat"
    path.write_text("\n".join(lines))
    with pytest.raises(AlgorithmError, match=r"data.csv, line 5, column 6: 'Low Fat' is not a number"):
        train_from_channels(hyperparameters(), {"train": tmp_path / "train"}, tmp_path / "m")


def test_ragged_rows(tmp_path: Path, hyperparameters: Params) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "d.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(AlgorithmError, match=r"line 2: 2 columns where the first row has 3"):
        train_from_channels(hyperparameters(), {"train": tmp_path / "train"}, tmp_path / "m")


def test_hidden_file_fails_the_job(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    (channels["train"] / ".DS_Store").write_text("x")
    with pytest.raises(AlgorithmError, match=r"hidden file found in the data path"):
        train_from_channels(hyperparameters(), channels, tmp_path / "m")


def test_validation_with_other_columns(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    x, y = make_rows(30, seed=2)
    write_csv(channels["validation"] / "validation.csv", x[:, :3], y)
    with pytest.raises(
        AlgorithmError,
        match=r"validation has 3 feature columns but channel train has 5",
    ):
        train_from_channels(hyperparameters(), channels, tmp_path / "m")


def test_xgboost_failure_is_wrapped(channels: dict[str, Path], hyperparameters: Params, tmp_path: Path) -> None:
    with pytest.raises(AlgorithmError, match=r"^XGB train call failed with exception:"):
        train_from_channels(hyperparameters(objective="binary:logistic"), channels, tmp_path / "m")


def test_files_in_sub_folders_are_read(tmp_path: Path, hyperparameters: Params) -> None:
    x, y = make_rows(90, seed=4)
    write_csv(tmp_path / "train" / "a.csv", x[:30], y[:30])
    write_csv(tmp_path / "train" / "2024" / "b.csv", x[30:60], y[30:60])
    write_csv(tmp_path / "train" / "2024" / "01" / "c.csv", x[60:], y[60:])
    (tmp_path / "train" / "_SUCCESS").write_text("")
    result = train_from_channels(hyperparameters(num_round="2"), {"train": tmp_path / "train"}, tmp_path / "m")
    assert result.train_rows == 90


def test_thread_count_does_not_change_the_model(
    channels: dict[str, Path], hyperparameters: Params, tmp_path: Path
) -> None:
    # The local default of one thread is only sound if the model does not depend on it.
    train_from_channels(hyperparameters(), channels, tmp_path / "one")
    train_from_channels(hyperparameters(nthread="2"), channels, tmp_path / "two")
    assert (tmp_path / "one" / MODEL_NAME).read_bytes() == (tmp_path / "two" / MODEL_NAME).read_bytes()
