"""What a run is trained from: the commit and the exact data objects, for the registry.

The caller that starts an execution (``run``, ``local``) knows the commit and reads the data's
ETag and version ID with HeadObject; both go into the execution input (``Commit``, ``Data``), and
the state machine writes them on the model package version it registers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pipeline import storage
from pipeline.config import PipelineConfig
from pipeline.errors import DataError, PipelineError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3's name for the version of an object in a bucket without versioning.
NULL_VERSION = "null"
UNKNOWN_COMMIT = "unknown"
# HeadObject answers a bare 404 (no body); the named codes come from other S3 implementations.
MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})


def data_provenance(s3: S3Client, config: PipelineConfig) -> dict[str, Any]:
    """``{"train": {"Uri", "ETag", "Version"}, "validation": {...}, "Synthetic": "true|false|unknown"}``.

    Only the files ``upload_prepared`` writes are read; other objects under a channel's prefix
    (which training would read too) are not recorded.
    """
    bucket, prefix = storage.data_location(config)
    result: dict[str, Any] = {}
    synthetic: set[str] = set()
    for channel, name in storage.CHANNEL_FILES.items():
        key = f"{prefix}/{name}"
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = (
                f"cannot read s3://{bucket}/{key} ({code}): upload the prepared data first "
                "(python -m pipeline run --upload-data)"
            )
            # Absent data is the caller's to fix (exit 2); any other answer is AWS failing (exit 1).
            if code in MISSING_CODES:
                raise DataError(message) from None
            raise PipelineError(message) from None
        result[channel] = {
            "Uri": f"s3://{bucket}/{key}",
            # Metadata values allow no quotes; an ETag is quoted on the wire.
            "ETag": head.get("ETag", "").strip('"') or "none",
            "Version": head.get("VersionId") or NULL_VERSION,
        }
        synthetic.add((head.get("Metadata") or {}).get(storage.SYNTHETIC_METADATA, "unknown"))
    result["Synthetic"] = synthetic.pop() if len(synthetic) == 1 else "unknown"
    return result


def lineage_input(s3: S3Client, config: PipelineConfig, commit: str | None) -> dict[str, Any]:
    """The execution input's lineage keys: ``Commit`` and ``Data``."""
    return {"Commit": (commit or "").strip().lower() or UNKNOWN_COMMIT, "Data": data_provenance(s3, config)}
