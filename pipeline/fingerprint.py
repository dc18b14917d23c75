"""The training fingerprint: what identifies a training, so an unchanged one is not paid for twice.

A training is identified by its inputs: the data objects' ETags (train and validation), the
hyperparameters, the algorithm image, the instance type and count, the volume size and the
maximum runtime. Everything but the ETags is fixed by the configuration the state machine is
built from, so it is hashed once into :func:`settings_digest` (a constant of the definition);
the ETags arrive in each execution's input (``Data``, :mod:`pipeline.provenance`).

The state machine records the fingerprint on every version it registers with ``States.Hash``
over :data:`FORMAT` (:func:`asl_expression`), so the value on a version is computed from the
definition that actually trained it, not from what a caller claims; ``run`` and ``local`` compute
the same value in Python (:func:`training_fingerprint`) to look the version up. One format, one
digest, used by both.

Why ETags and not version IDs: the bucket is versioned and every push re-uploads the prepared
data, so identical bytes get a new version ID each time; with SSE-S3 (the bootstrap's bucket) a
single-part upload's ETag is the MD5 of its content, so it changes exactly when the data does. An
ETag that is not an MD5 (SSE-KMS, multipart) can only make two equal files look different:
training runs again, never the reverse.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pipeline.config import PipelineConfig

# ``<settings digest>|<train ETag>|<validation ETag>``, hashed with SHA-256 (hex). Both the
# definition (States.Format + States.Hash) and Python fill it in: keep the two in this module.
FORMAT = "{}|{}|{}"
CHANNELS = ("train", "validation")
# Written into ModelPackageDescription (which ListModelPackages returns) so a lookup needs no
# DescribeModelPackage per version; the metadata key TrainingFingerprint is what is trusted.
DESCRIPTION_MARK = "inputs "


def training_settings(config: PipelineConfig) -> dict[str, Any]:
    """What the definition's CreateTrainingJob is built from, besides the data."""
    t = config.training
    return {
        "HyperParameters": t.hyperparameter_strings(),
        "Image": config.training_image,
        "InstanceType": t.instance_type,
        "InstanceCount": t.instance_count,
        "VolumeSizeInGB": t.volume_gb,
        "MaxRuntimeInSeconds": t.max_runtime_seconds,
    }


def settings_digest(config: PipelineConfig) -> str:
    """SHA-256 (hex) of :func:`training_settings`, as canonical JSON."""
    text = json.dumps(training_settings(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def training_fingerprint(config: PipelineConfig, data: Mapping[str, Any]) -> str:
    """The fingerprint of training ``config`` on ``data`` (the execution input's ``Data``).

    The value the state machine writes on the version (``TrainingFingerprint``) for the same
    configuration and data.
    """
    etags = [str(data[channel]["ETag"]) for channel in CHANNELS]
    return hashlib.sha256(FORMAT.format(settings_digest(config), *etags).encode()).hexdigest()


def asl_expression(config: PipelineConfig, data_path: str) -> str:
    """The intrinsic that computes :func:`training_fingerprint` in the state machine.

    ``data_path`` is where the input's ``Data`` is (``$$.Execution.Input.Data``). The digest is
    hexadecimal and FORMAT has no quote, brace or backslash, so nothing needs escaping.
    """
    template = FORMAT.replace("{}", settings_digest(config), 1)
    etags = ", ".join(f"{data_path}.{channel}.ETag" for channel in CHANNELS)
    return f"States.Hash(States.Format('{template}', {etags}), 'SHA-256')"


def description_mark(fingerprint: str) -> str:
    """The part of a version's description that names its training fingerprint."""
    return f"{DESCRIPTION_MARK}{fingerprint}"
