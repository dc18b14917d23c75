"""LocalModelHost: the models behind emulated SageMaker endpoints, served in this process.

Model loading follows ``serve_utils.get_loaded_booster`` in aws/sagemaker-xgboost-container: every
non-dot file at the top of the model directory is a booster (an ensemble when there are several,
averaged, or voted for multi:softmax / binary:hinge); ``nthread`` is set to 1. Unlike the
container, a pickled booster is refused: unpickling an artifact runs arbitrary code.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import xgboost as xgb

from pipeline.local_model import serving
from pipeline.local_model._seam import model_error
from pipeline.local_model.artifact import read_model_files
from pipeline.local_model.exceptions import ModelLoadError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_VOTING_OBJECTIVES = ("multi:softmax", "binary:hinge")


@dataclass(frozen=True)
class LoadedModel:
    """An immutable loaded model; its lock serialises predictions on its boosters."""

    model_data_url: str
    boosters: tuple[xgb.Booster, ...]
    objective: str
    num_features: int
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)


def _split_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ModelLoadError(f"ModelDataUrl {url!r} is not an s3://bucket/key URL")
    return parsed.netloc, parsed.path.lstrip("/")


def load_boosters(tar_bytes: bytes, source: str) -> LoadedModel:
    """Build a LoadedModel from model.tar.gz bytes; raise ModelLoadError naming source."""
    boosters = []
    for name, data in sorted(read_model_files(tar_bytes).items()):
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(data))
        except xgb.core.XGBoostError as error:
            if data[:1] == b"\x80":  # pickle protocol >= 2
                raise ModelLoadError(
                    f"{source}: {name} is a pickled booster; the local host loads xgboost model files only"
                ) from None
            raise ModelLoadError(f"{source}: {name} cannot be loaded by xgboost {xgb.__version__}: {error}") from None
        booster.set_param("nthread", "1")
        boosters.append(booster)
    objective = json.loads(boosters[0].save_config())["learner"]["objective"]["name"]
    return LoadedModel(source, tuple(boosters), objective, boosters[0].num_features())


class LocalModelHost:
    """Thread-safe map endpoint name -> loaded model, with the built-in container's invoke contract.

    Replacing the model of an endpoint is atomic: the new model is loaded aside, then swapped in
    under the lock; an invoke runs entirely on the model it found when it started.
    """

    def __init__(self, default_accept: str = serving.DEFAULT_ACCEPT):
        """default_accept plays SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (text/csv by default)."""
        self._default_accept = default_accept
        self._lock = threading.Lock()
        self._models: dict[str, LoadedModel] = {}

    def load(self, endpoint_name: str, model_data_url: str, s3_client: S3Client) -> None:
        """Download model_data_url (s3://.../model.tar.gz) and serve it as endpoint_name.

        Raise ModelLoadError if it cannot be downloaded or loaded; the endpoint then keeps its
        previous model, if any.
        """
        bucket, key = _split_s3_url(model_data_url)
        try:
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            raise ModelLoadError(f"Cannot download {model_data_url}: {error}") from None
        self.load_artifact(endpoint_name, body, model_data_url)

    def load_artifact(self, endpoint_name: str, tar_bytes: bytes, source: str = "model.tar.gz") -> None:
        """Serve the model.tar.gz bytes as endpoint_name (the swap is atomic)."""
        model = load_boosters(tar_bytes, source)
        with self._lock:
            self._models[endpoint_name] = model

    def unload(self, endpoint_name: str) -> bool:
        """Stop serving endpoint_name; return False if it was not loaded."""
        with self._lock:
            return self._models.pop(endpoint_name, None) is not None

    def endpoints(self) -> dict[str, str]:
        """Endpoint name -> ModelDataUrl of every loaded endpoint."""
        with self._lock:
            return {name: model.model_data_url for name, model in self._models.items()}

    def model(self, endpoint_name: str) -> LoadedModel | None:
        """The model currently served as endpoint_name, or None."""
        with self._lock:
            return self._models.get(endpoint_name)

    def invoke(
        self,
        endpoint_name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
    ) -> tuple[bytes, str]:
        """Answer an InvokeEndpoint request like the built-in container: (body, Content-Type).

        Raise pipeline.emulator.ModelError(status_code, message) with the container's status:
        415 unsupported ContentType or unparseable payload, 400 payload the model cannot score,
        406 unsupported Accept, 500 Accept with no encoder; 404 when no model is loaded for
        endpoint_name.
        """
        model = self.model(endpoint_name)
        if model is None:
            raise model_error(
                404,
                f"Endpoint {endpoint_name} has no model loaded in the local model host",
            )
        if len(body) == 0:
            return (
                b"",
                serving.EMPTY_RESPONSE_CONTENT_TYPE,
            )  # the container's 204 No Content
        try:
            dmatrix = serving.parse_payload(body, content_type)
            with model.lock:
                predictions = serving.predict(list(model.boosters), dmatrix, model.objective in _VOTING_OBJECTIVES)
            # As the container: Accept is looked at only once the prediction is made.
            return serving.encode_predictions(predictions, serving.parse_accept(accept, self._default_accept))
        except serving.ServingError as error:
            raise model_error(error.status_code, error.message) from None
