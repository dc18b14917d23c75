"""Fixtures of the local model tests: small generated regression data written as channel CSVs."""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

FEATURES = 5


def make_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A non-linear regression problem: features in [0, 1), label a function of them plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.random((rows, FEATURES))
    y = 100 * x[:, 0] + 40 * np.sin(6 * x[:, 1]) + 25 * x[:, 2] * x[:, 3] + rng.normal(0, 2, rows)
    return x, y


def write_csv(path: Path, x: np.ndarray, y: np.ndarray | None = None) -> Path:
    """Rows 'label,f1,...' (or features only), no header; %.17g keeps every float64 exactly."""
    table = x if y is None else np.column_stack([y, x])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, table, delimiter=",", fmt="%.17g")
    return path


@pytest.fixture
def channels(tmp_path: Path) -> dict[str, Path]:
    """train (two files, 400 rows) and validation (100 rows) channel directories."""
    x, y = make_rows(500, seed=7)
    write_csv(tmp_path / "train" / "part-0.csv", x[:200], y[:200])
    write_csv(tmp_path / "train" / "part-1.csv", x[200:400], y[200:400])
    write_csv(tmp_path / "validation" / "validation.csv", x[400:], y[400:])
    return {"train": tmp_path / "train", "validation": tmp_path / "validation"}


@pytest.fixture
def emulator_errors() -> types.SimpleNamespace:
    """The emulator's TrainingFailed and ModelError, which the trainer and host raise."""
    from pipeline.emulator.errors import ModelError, TrainingFailed

    return types.SimpleNamespace(TrainingFailed=TrainingFailed, ModelError=ModelError)


@pytest.fixture
def hyperparameters() -> Callable[..., dict[str, str]]:
    """The project's default hyperparameters, overridable: hyperparameters(num_round='5')."""

    def make(**overrides: str) -> dict[str, str]:
        base = {
            "objective": "reg:squarederror",
            "num_round": "30",
            "max_depth": "4",
            "eta": "0.2",
            "subsample": "0.8",
            "seed": "42",
        }
        base.update(overrides)
        return base

    return make
