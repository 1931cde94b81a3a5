"""What can go wrong in an export, as domain exceptions; S3 failures are translated here once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from fiscal_core.errors import FiscalMixError

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchUpload"})


class ExportError(FiscalMixError):
    """An export could not go on; the message is what the job's errors show."""


class ExportTooLarge(ExportError):
    """The ZIP would need more parts than a multipart upload allows."""


class ServiceUnavailable(ExportError):
    """An AWS service refused or did not answer (after the SDK's own retries): try again later."""


class ObjectStoreUnavailable(ServiceUnavailable):
    """S3 failed; the worker's message is redelivered and the export resumes."""


class QueueUnavailable(ServiceUnavailable):
    """SQS failed."""


class ObjectMissing(ExportError):
    """An object the export needs is not in its bucket."""


def is_not_found(exc: ClientError) -> bool:
    """True when S3 answered that the object (or upload) does not exist."""
    return str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND_CODES


@contextmanager
def s3_call(action: str) -> Iterator[None]:
    """Run S3 calls: a missing object becomes ObjectMissing, any other failure ObjectStoreUnavailable."""
    try:
        yield
    except ClientError as exc:
        if is_not_found(exc):
            raise ObjectMissing(f"could not {action}: not found") from exc
        raise ObjectStoreUnavailable(f"could not {action}: {exc}") from exc
    except BotoCoreError as exc:
        raise ObjectStoreUnavailable(f"could not {action}: {exc}") from exc
