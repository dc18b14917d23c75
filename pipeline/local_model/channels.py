"""Data channels of the built-in XGBoost algorithm: content types, data files and their parsing.

Contract read in aws/sagemaker-xgboost-container (no code copied):
- src/sagemaker_xgboost_container/data_utils.py: accepted ContentType values and their parsing
  (``text/csv;label_size=1`` allowed, other label sizes rejected), a missing ContentType meaning
  libsvm, the CSV delimiter sniffed from the first line of a file, the label in column 0
  (``label_column=0``) and, with ``csv_weights=1``, the instance weight in column 1; no header
  row; every file under the channel directory (sub-directories included) is read; a hidden file
  fails the job; a channel without data fails the job.
- src/sagemaker_xgboost_container/algorithm_mode/channel_validation.py: channels ``train``
  (required), ``validation`` (optional), ``code``; any other channel name is rejected.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb
from scipy.sparse import csr_matrix  # scipy is a dependency of xgboost

from pipeline.local_model.exceptions import AlgorithmError

CSV = "csv"
LIBSVM = "libsvm"
PARQUET = "parquet"
RECORDIO_PROTOBUF = "recordio-protobuf"

# Order as in data_utils.VALID_CONTENT_TYPES, so the rejection message reads like the container's.
VALID_CONTENT_TYPES = (
    CSV, LIBSVM, PARQUET, RECORDIO_PROTOBUF, "text/csv", "text/libsvm", "text/x-libsvm",
    "application/x-parquet", "application/x-recordio-protobuf",
)  # fmt: skip
_FORMAT_OF = {
    CSV: CSV,
    "text/csv": CSV,
    LIBSVM: LIBSVM,
    "text/libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    PARQUET: PARQUET,
    "application/x-parquet": PARQUET,
    RECORDIO_PROTOBUF: RECORDIO_PROTOBUF,
    "application/x-recordio-protobuf": RECORDIO_PROTOBUF,
}
CHANNELS = ("train", "validation", "code")
# The container copies files at most this many folders deep (data_utils.MAX_FOLDER_DEPTH).
MAX_FOLDER_DEPTH = 3


def invalid_content_type_message(content_type: str) -> str:
    """The container's wording for a ContentType it does not accept."""
    return f"{content_type} is not an accepted ContentType: {', '.join(VALID_CONTENT_TYPES)}."


def parse_content_type(content_type: str | None) -> str:
    """Map a channel or request ContentType to 'csv', 'libsvm', 'parquet' or 'recordio-protobuf'.

    None means libsvm (the container's default). Parameters after ';' are ignored except
    ``label_size``, which must be 1 for CSV. Raise AlgorithmError for anything else.
    """
    if content_type is None:
        return LIBSVM
    media_type, *params = (part.strip() for part in content_type.lower().split(";"))
    fmt = _FORMAT_OF.get(media_type)
    if fmt is None:
        raise AlgorithmError(invalid_content_type_message(content_type))
    if fmt == CSV:
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "label_size" and value.strip().strip('"') != "1":
                raise AlgorithmError(
                    f"{content_type} is not an accepted csv ContentType. "
                    "Optional parameter label_size must be equal to 1"
                )
    return fmt


def data_files(channel_name: str, path: Path) -> list[Path]:
    """The data files of a channel directory (or the file itself), sorted by relative path.

    Sorting makes the row order, hence the model, independent of the file system. Files whose name
    starts with '_' (e.g. Spark's _SUCCESS) are skipped, as the container's data-file check does;
    a hidden file fails the job, as in the container.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise AlgorithmError(f"Channel {channel_name}: {path} is not a valid path!")
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        depth = len(Path(root).relative_to(path).parts)
        if depth >= MAX_FOLDER_DEPTH - 1:
            dirs.clear()  # the container ignores files deeper than MAX_FOLDER_DEPTH folders
        dirs.sort()
        for name in files:
            if name.startswith("."):
                raise AlgorithmError(
                    f"Channel {channel_name}: hidden file found in the data path "
                    f"({Path(root, name)})! Remove that before training."
                )
            if not name.startswith("_"):
                found.append(Path(root, name))
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


@dataclass(frozen=True)
class ChannelData:
    """The parsed rows of one channel."""

    dmatrix: xgb.DMatrix
    rows: int
    features: int


def _sniff_delimiter(line: str, where: str) -> str:
    try:
        return csv.Sniffer().sniff(line).delimiter
    except csv.Error as error:
        raise AlgorithmError(f"Could not determine delimiter on line {line[:50]!r} of {where}: {error}") from None


def _parse_field(text: str, where: str, line_no: int, column: int) -> float:
    stripped = text.strip()
    if stripped == "":
        return math.nan  # an empty field is a missing value, as for the serving side
    try:
        return float(stripped)
    except ValueError:
        hint = (
            " The first line looks like a header: the built-in algorithm reads CSV without a header row."
            if line_no == 1
            else ""
        )
        raise AlgorithmError(
            f"{where}, line {line_no}, column {column + 1}: {stripped[:40]!r} is not a number; "
            f"text/csv data must be numeric, label first.{hint}"
        ) from None


def _read_text(channel_name: str, file: Path) -> tuple[str, str]:
    """Where a channel file is (for messages) and its text; AlgorithmError when it cannot be read."""
    where = f"channel {channel_name}, file {file.name}"
    try:
        return where, file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AlgorithmError(f"Cannot read {where}: {error}") from None


def _read_csv(channel_name: str, files: list[Path], csv_weights: int) -> ChannelData:
    rows: list[list[float]] = []
    delimiter: str | None = None
    width: int | None = None
    for file in files:
        where, text = _read_text(channel_name, file)
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if delimiter is None:
                # Like the container: sniffed once, from the first line of the first file.
                delimiter = _sniff_delimiter(line, where)
            fields = line.split(delimiter)
            # Parse first: a text cell (header, raw column) explains more than a width mismatch.
            values = [_parse_field(f, where, line_no, i) for i, f in enumerate(fields)]
            if width is None:
                width = len(values)
            elif len(values) != width:
                raise AlgorithmError(f"{where}, line {line_no}: {len(values)} columns where the first row has {width}")
            rows.append(values)
    if not rows or width is None:
        raise AlgorithmError(f"No data in {channel_name} channel")
    first_feature = 2 if csv_weights == 1 else 1
    if width <= first_feature:
        raise AlgorithmError(
            f"Channel {channel_name}: rows have {width} column(s); need the label"
            f"{' and the weight' if csv_weights == 1 else ''} then at least one feature"
        )
    table = np.asarray(rows, dtype=np.float64)
    label = table[:, 0]
    if np.isnan(label).any():
        row = int(np.flatnonzero(np.isnan(label))[0]) + 1
        raise AlgorithmError(f"Channel {channel_name}: row {row} has no label (empty first column)")
    weight = table[:, 1] if csv_weights == 1 else None
    features = table[:, first_feature:]
    # nthread=1 as for training (algorithm.train_from_channels): the same DMatrix, without OpenMP
    # threads competing with the emulator's other work.
    dmatrix = xgb.DMatrix(features, label=label, weight=weight, missing=math.nan, nthread=1)
    return ChannelData(dmatrix, features.shape[0], features.shape[1])


def _read_libsvm(channel_name: str, files: list[Path]) -> ChannelData:
    # Parsed here rather than by xgboost's URI loader, which crashes the process on CSV text.
    # Indices are kept as written (xgboost's libsvm reader does not shift 1-based indices).
    labels: list[float] = []
    weights: list[float] = []
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for file in files:
        where, text = _read_text(channel_name, file)
        for line_no, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                label, _, weight = tokens[0].partition(":")
                labels.append(float(label))
                weights.append(float(weight) if weight else 1.0)
                for token in tokens[1:]:
                    index, sep, value = token.partition(":")
                    if not sep:
                        raise ValueError(f"{token!r} is not index:value")
                    cols.append(int(index))
                    values.append(float(value))
                    rows.append(len(labels) - 1)
            except ValueError as error:
                raise AlgorithmError(
                    f"{where}, line {line_no} is not LIBSVM '<label>[:<weight>] <index>:<value> ...': {str(error)[:120]}"
                ) from None
    if not labels:
        raise AlgorithmError(f"No data in {channel_name} channel")
    if cols and min(cols) < 0:
        raise AlgorithmError(f"Channel {channel_name}: negative LIBSVM feature index {min(cols)}")
    width = max(cols) + 1 if cols else 0
    matrix = csr_matrix((values, (rows, cols)), shape=(len(labels), width))
    has_weights = any(w != 1.0 for w in weights)
    dmatrix = xgb.DMatrix(
        matrix,
        label=np.asarray(labels),
        weight=np.asarray(weights) if has_weights else None,
        nthread=1,
    )
    return ChannelData(dmatrix, len(labels), width)


def read_channel(channel_name: str, path: Path, fmt: str, csv_weights: int = 0) -> ChannelData:
    """Read every data file of a channel into a DMatrix (label from column 0 for CSV)."""
    files = data_files(channel_name, path)
    if not files or all(f.stat().st_size == 0 for f in files):
        raise AlgorithmError(f"No data in {channel_name} channel path {path}")
    if fmt == CSV:
        return _read_csv(channel_name, files, csv_weights)
    if fmt == LIBSVM:
        return _read_libsvm(channel_name, files)
    raise AlgorithmError(
        f"Channel {channel_name}: content type {fmt} is accepted by the built-in algorithm but not "
        "implemented by the local algorithm; use text/csv or text/libsvm"
    )
