"""Which xgboost each SageMaker built-in XGBoost image runs, and the check that it is the local one.

A booster saved by one xgboost version loads in another but can predict wrong values, so a
training job whose image does not run the installed xgboost must fail instead of training.
Versions read from aws/sagemaker-xgboost-container: docker/3.0-5/base/Dockerfile.cpu
(``XGBOOST_VERSION=3.0.5``) and docker/1.7-1-1/base/Dockerfile.cpu (``XGBOOST_VERSION=1.7.4``).
"""

from __future__ import annotations

import re

import xgboost as xgb

from pipeline.local_model.exceptions import AlgorithmError

IMAGE_REPOSITORY = "sagemaker-xgboost"
XGBOOST_OF_IMAGE_TAG = {"3.0-5": "3.0.5", "1.7-1": "1.7.4"}
# 'sagemaker-xgboost:3.0-5', '...:1.7-1-cpu-py3' and '...:3.0-5-1' name the same framework version.
_TAG = re.compile(r"^(?P<version>\d+\.\d+-\d+)(?:-.*)?$")


def installed_xgboost() -> str:
    """The version of the xgboost imported here, e.g. '3.0.5'."""
    return str(xgb.__version__)


def image_tag_for(xgboost_version: str) -> str | None:
    """The built-in image tag whose xgboost is xgboost_version, or None."""
    for tag, version in XGBOOST_OF_IMAGE_TAG.items():
        if version == xgboost_version:
            return tag
    return None


def check_training_image(image_uri: str) -> str:
    """Return the image tag if image_uri is a built-in XGBoost image running the installed xgboost.

    Raise AlgorithmError naming both versions otherwise (or why the version cannot be told).
    """
    local = installed_xgboost()
    expected_tag = image_tag_for(local) or "none known"
    name, _, reference = image_uri.rpartition("/")[2].partition(":")
    if "@" in image_uri:
        raise AlgorithmError(
            f"Training image {image_uri} is pinned by digest; the local algorithm needs the tag "
            f"(e.g. {IMAGE_REPOSITORY}:{expected_tag}) to tell its xgboost version"
        )
    if name != IMAGE_REPOSITORY:
        raise AlgorithmError(
            f"Training image {image_uri} is not the SageMaker built-in XGBoost algorithm "
            f"(repository {IMAGE_REPOSITORY}); the local algorithm runs only that one"
        )
    match = _TAG.match(reference)
    image_version = XGBOOST_OF_IMAGE_TAG.get(match["version"]) if match else None
    if image_version is None:
        known = ", ".join(f"{t} (xgboost {v})" for t, v in XGBOOST_OF_IMAGE_TAG.items())
        raise AlgorithmError(
            f"Training image tag {reference or '(none)'!r} of {image_uri} has no known xgboost "
            f"version (known tags: {known}); installed xgboost {local} matches tag {expected_tag}"
        )
    if image_version != local:
        raise AlgorithmError(
            f"Training image {image_uri} runs xgboost {image_version} but the local algorithm has "
            f"xgboost {local} (image tag {expected_tag}); a model trained with one version predicts "
            "wrong values in the other, so the job is not run"
        )
    assert match is not None
    return match["version"]
