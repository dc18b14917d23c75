"""model.tar.gz: the artifact SageMaker uploads to ``<S3OutputPath>/<TrainingJobName>/output/``.

SageMaker packs the contents of /opt/ml/model; the built-in XGBoost algorithm writes one file
there, ``xgboost-model`` (xgb_constants.MODEL_NAME in aws/sagemaker-xgboost-container), with
``Booster.save_model`` and no file extension, which xgboost 3.0 writes as UBJSON.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path, PurePosixPath

from pipeline.local_model.exceptions import ModelLoadError

MODEL_NAME = "xgboost-model"
ARTIFACT_NAME = "model.tar.gz"
# A model file larger than this is not an XGBoost booster of this project; refuse before reading.
MAX_MEMBER_BYTES = 512 * 1024 * 1024


def write_model_tar(model_dir: Path, tar_path: Path) -> Path:
    """Pack the files of model_dir (top level) into a gzip tarball with reproducible bytes.

    Fixed mtimes, owners and order make the same model give the same artifact, so two trainings
    with the same seed can be compared byte for byte.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in model_dir.iterdir() if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        tar_path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(buffer.getvalue())
    return tar_path


def read_model_files(tar_bytes: bytes) -> dict[str, bytes]:
    """The regular files of a model.tar.gz, by base name, read in memory (nothing is extracted).

    Dot files are ignored, as the container's model loader does. Links, devices and absolute or
    '..' paths are refused: an artifact is untrusted input. Raise ModelLoadError.
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:*") as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts:
                    raise ModelLoadError(f"model.tar.gz member {member.name!r} has an unsafe path")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ModelLoadError(f"model.tar.gz member {member.name!r} is not a regular file")
                if member.size > MAX_MEMBER_BYTES:
                    raise ModelLoadError(f"model.tar.gz member {member.name!r} is {member.size} bytes")
                # The container loads files from the top of the model directory only.
                if len(path.parts) != 1 or path.name.startswith("."):
                    continue
                extracted = tar.extractfile(member)
                assert extracted is not None  # a regular file always has a payload
                files[path.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ModelLoadError(f"model.tar.gz cannot be read: {error}") from None
    if not files:
        raise ModelLoadError("model.tar.gz holds no model file at its top level")
    return files
