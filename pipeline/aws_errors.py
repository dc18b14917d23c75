"""The one way to read an AWS error: code, message, HTTP status and retries from a ClientError."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class AwsError:
    """What a botocore ClientError says: AWS's code and message, the HTTP status, botocore's attempts."""

    code: str
    message: str
    status: int
    attempts: int


def read_error(exc: ClientError) -> AwsError:
    """The parts of ``exc``; missing ones are '' or 0 (botocore leaves them out for some errors)."""
    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    return AwsError(
        code=str(error.get("Code", "")),
        message=str(error.get("Message", "")),
        status=int(metadata.get("HTTPStatusCode", 0) or 0),
        # botocore counts the retries it made (standard mode) in the response metadata.
        attempts=int(metadata.get("RetryAttempts", 0) or 0) + 1,
    )


def error_code(exc: ClientError) -> str:
    """AWS's error code of ``exc`` ('' when absent)."""
    return read_error(exc).code


def error_message(exc: ClientError) -> str:
    """AWS's error message of ``exc`` ('' when absent)."""
    return read_error(exc).message


def describe_error(exc: BaseException) -> str:
    """AWS's error code, HTTP status and message, or the exception text for any other error."""
    if isinstance(exc, ClientError):
        error = read_error(exc)
        return f"{error.code or '?'} (HTTP {error.status or '?'}): {error.message}"
    return f"{type(exc).__name__}: {exc}"
