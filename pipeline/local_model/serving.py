"""Request/response contract of a built-in XGBoost endpoint (single model, image 3.0-5), locally.

A single-model endpoint of the built-in algorithm runs the Flask app of
``src/sagemaker_xgboost_container/algorithm_mode/serve.py`` (``serving.py`` starts it when no user
module is set) in aws/sagemaker-xgboost-container. Read there, and implemented here without
copying code:

- request ContentType (``serve_utils.parse_content_data`` + ``data_utils.get_content_type``):
  ``text/csv``/``csv`` (``label_size`` must be 1), ``text/libsvm``/``text/x-libsvm``/``libsvm``;
  a missing ContentType means libsvm. Any other type, and a payload that does not parse, answer
  **415** with the container's message (a non-numeric CSV is a 415, not a 400, in the container).
- CSV rows have no label, one row per line; the delimiter is sniffed from the first line
  (``csv.Sniffer``, an alphanumeric guess falls back to ','); empty fields are missing values
  (``encoder.csv_to_dmatrix``). LIBSVM tokens ``index:value`` build a sparse row, indices shifted
  to 0-based when none is 0; tokens without ':' (labels) are ignored.
- prediction: ``Booster.predict(dmatrix, validate_features=False)``; a failure (e.g. more columns
  than the model has features) answers **400** ``Unable to evaluate payload provided: ...``.
- Accept (``serve._parse_accept``): parameters dropped; empty or ``*/*`` means
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`` (default ``text/csv``); not one of application/json,
  application/jsonlines, application/x-recordio-protobuf, text/csv answers **406**.
- response: ``application/json`` -> ``{"predictions": [{"score": p}, ...]}`` (``json.dumps``,
  serve_utils.encode_predictions_as_json); ``text/csv`` -> sagemaker-containers 2.8.6's
  ``_encoders.array_to_csv``: **one prediction per line, each line ending in "\\n"** (the ``","``
  join is the multi-model server's handler_service.py, not used by single-model endpoints). The
  Content-Type is Flask's rendering of the mimetype: ``text/csv; charset=utf-8``,
  ``application/json``. application/jsonlines and recordio-protobuf have no encoder there: the
  container answers **500**, and so does this module.
- an empty body answers 204 with an empty body (returned here as ``b""``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from pipeline.local_model import channels as ch
from pipeline.local_model.exceptions import AlgorithmError

SUPPORTED_ACCEPTS = (
    "application/json",
    "application/jsonlines",
    "application/x-recordio-protobuf",
    "text/csv",
)
DEFAULT_ACCEPT = "text/csv"
# Flask adds the charset to text/* mimetypes only.
RESPONSE_CONTENT_TYPES = {
    "text/csv": "text/csv; charset=utf-8",
    "application/json": "application/json",
}
EMPTY_RESPONSE_CONTENT_TYPE = "text/html; charset=utf-8"  # Flask's default for the 204 response


@dataclass(frozen=True)
class ServingError(Exception):
    """A request the container answers with a non-200 status: status_code and the body text."""

    status_code: int
    message: str

    def __str__(self) -> str:
        return f"{self.status_code}: {self.message}"


# Payloads are DMatrix'd with nthread=1: starting OpenMP's threads costs more than a request's few
# rows (5-15 ms against 0.2 ms per request on a busy 2-core machine); the values are the same.
def _csv_rows(text: str) -> xgb.DMatrix:
    first = text.split("\n")[0][:512]
    guessed = csv.Sniffer().sniff(first).delimiter
    delimiter = "," if guessed.isalnum() else guessed
    rows = [["nan" if field == "" else field for field in line.split(delimiter)] for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(float), nthread=1)


def _libsvm_rows(text: str) -> xgb.DMatrix:
    entries: list[tuple[int, int, float]] = []
    for row, line in enumerate(text.split("\n")):
        for token in line.split(" "):
            if ":" in token:
                index, raw = token.split(":")[:2]
                entries.append((row, int(index), float(raw)))
    if not entries:
        raise ValueError("no index:value token in the payload")
    shift = 1 if min(col for _, col, _ in entries) >= 1 else 0
    # Like a scipy CSR matrix built from the entries: the shape ends at the last row and column
    # that hold a value, and absent entries are missing (NaN), not zero.
    matrix = np.full(
        (max(r for r, _, _ in entries) + 1, max(c for _, c, _ in entries) + 1 - shift),
        np.nan,
    )
    for row, col, value in entries:
        matrix[row, col - shift] = value
    return xgb.DMatrix(matrix, missing=np.nan, nthread=1)


def parse_payload(body: bytes, content_type: str | None) -> xgb.DMatrix:
    """Decode a request body into a DMatrix; raise ServingError(415) as the container does."""
    try:
        fmt = ch.parse_content_type(content_type)
    except AlgorithmError as error:
        raise ServingError(415, str(error)) from None
    if fmt not in (ch.CSV, ch.LIBSVM):
        if fmt == ch.RECORDIO_PROTOBUF:
            raise ServingError(
                415,
                f"Content-type {content_type} is not supported by the local model host.",
            )
        raise ServingError(415, f"Content-type {content_type} is not supported.")
    label = "csv" if fmt == ch.CSV else "libsvm"
    try:
        text = body.strip().decode("utf-8")
        return _csv_rows(text) if fmt == ch.CSV else _libsvm_rows(text)
    except Exception as error:
        raise ServingError(
            415,
            f"Loading {label} data failed with Exception, please ensure data is in {label} format:\n"
            f" {type(error)}\n {error}",
        ) from None


def parse_accept(accept: str | None, default_accept: str = DEFAULT_ACCEPT) -> str:
    """The response media type for an Accept header; raise ServingError(406) if unsupported."""
    media_type = (accept or "").split(";")[0].strip()
    if not media_type or media_type == "*/*":
        return default_accept
    if media_type.lower() not in SUPPORTED_ACCEPTS:
        raise ServingError(
            406,
            f"Accept type {media_type} is not supported. Please use supported accept types: {list(SUPPORTED_ACCEPTS)}.",
        )
    return media_type.lower()


def encode_predictions(predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
    """Serialise predictions for a parsed accept type: (body, Content-Type)."""
    values = predictions.tolist()  # float32 -> Python floats, as the container does
    if accept == "application/json":
        body = json.dumps({"predictions": [{"score": value} for value in values]})
        return body.encode("utf-8"), RESPONSE_CONTENT_TYPES[accept]
    if accept == "text/csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        array = np.array(values, dtype=np.float64)
        writer.writerows(array.reshape(-1, 1) if array.ndim == 1 else array)
        return out.getvalue().encode("utf-8"), RESPONSE_CONTENT_TYPES[accept]
    raise ServingError(
        500,
        f"Content type {accept} is not supported by this framework (the built-in XGBoost container "
        "has no encoder for it outside selectable inference).",
    )


def predict(boosters: list[xgb.Booster], dmatrix: xgb.DMatrix, vote: bool) -> np.ndarray:
    """Predict with one booster, or average (vote, for class outputs) an ensemble like serve_utils."""
    try:
        outputs = [booster.predict(dmatrix, validate_features=False) for booster in boosters]
    except (xgb.core.XGBoostError, ValueError) as error:
        raise ServingError(400, f"Unable to evaluate payload provided: {error}") from None
    if len(outputs) == 1:
        return outputs[0]
    stacked = np.stack(outputs)
    if vote:
        # Most frequent value per row; ties go to the smallest, as scipy.stats.mode does.
        result = np.empty(stacked.shape[1:], dtype=stacked.dtype)
        for index in np.ndindex(*stacked.shape[1:]):
            # Every booster's output at index. Typed Any: numpy's stubs differ between the numpy
            # versions Python 3.10 and 3.11+ get, and each rejects the other's spelling.
            column: Any = (slice(None), *index)
            values, counts = np.unique(stacked[column], return_counts=True)
            result[index] = values[np.argmax(counts)]
        return result
    return stacked.mean(axis=0)
