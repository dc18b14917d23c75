"""Where the training data of a real deployment comes from: the ``training_data`` config key.

- a path (default ``data/Train.csv``, relative to the repository root): the real Big Mart
  ``Train.csv``; ``run --upload-data`` prepares it and uploads it to ``<data_uri>/``;
- ``"s3"``: the prepared data (``train/``, ``validation/``, ``encoding.json``) is already in
  the bucket; nothing is uploaded;
- ``"synthetic"``: a generated table with Big Mart's schema. Only when configured, and then
  every job summary says so in its first line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.errors import DataError

SYNTHETIC = "synthetic"
S3 = "s3"
PREPARED_KEYS = ("train/", "validation/", "encoding.json")


@dataclass(frozen=True)
class Source:
    """``kind`` is ``file``, ``s3`` or ``synthetic``; ``path`` is set for ``file``."""

    kind: str
    path: Path = Path()


def source_of(config: PipelineConfig, explicit_path: str | None = None) -> Source:
    """The configured source; an explicit ``--data`` path wins."""
    if explicit_path:
        return Source("file", Path(explicit_path))
    value = config.training_data
    if value == SYNTHETIC:
        return Source(SYNTHETIC)
    if value == S3:
        return Source(S3)
    return Source("file", Path(value))


def csv_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the Big Mart Train.csv (None when its header has every column)."""
    from pipeline.data import RAW_COLUMNS

    if not path.exists():
        return "the file does not exist"
    if not path.is_file():
        return "it is not a file"
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            header = handle.readline().strip()
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    columns = [name.strip().strip('"') for name in header.split(",")]
    missing = [name for name in RAW_COLUMNS if name not in columns]
    if missing:
        return f"its header lacks {', '.join(missing)} (is it the Big Mart Train.csv?)"
    return None


def resolve(source: Source, root: Path) -> Path:
    """The file path of a ``file`` source, relative paths taken from ``root``."""
    return source.path if source.path.is_absolute() else root / source.path


def missing_file_error(config: PipelineConfig, path: Path, problem: str) -> DataError:
    """The error for a configured Train.csv that cannot be used."""
    return DataError(
        f"training_data = {config.training_data!r} ({path}): {problem}; put the Big Mart Train.csv there, "
        'or set training_data = "s3" (prepared data already in the bucket) or "synthetic" (generated rows)'
    )


def synthetic_notice(config: PipelineConfig) -> str:
    """The first line of every job summary when the configuration trains on synthetic data."""
    if config.training_data != SYNTHETIC:
        return ""
    return (
        f'> **Synthetic data**: `training_data = "synthetic"` in {config.environment}: this model trains on '
        "generated Big Mart rows, not real sales. Set `training_data` to your `Train.csv` for a real model."
    )
