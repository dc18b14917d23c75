"""Quiet the SageMaker SDK v2 before it is imported: its notices would corrupt our stdout."""

from __future__ import annotations

import logging
import os


def quiet_sagemaker_sdk() -> None:
    """Silence the v3 deprecation notice and the config-file INFO lines the SDK prints to stdout."""
    # The stepfunctions SDK only imports with SageMaker SDK v2, so the v3 notice is noise here.
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
