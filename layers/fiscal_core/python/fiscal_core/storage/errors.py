"""Storage exceptions, and the translation of PynamoDB/botocore failures into them.

Nothing above the repositories sees a PynamoDB or botocore exception: a condition that
failed is a domain answer (already exists, lease held, budget spent), anything else is
``StorageUnavailable`` with the original chained as its cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from fiscal_core.errors import FiscalMixError


class StorageError(FiscalMixError):
    """A read or write of FiscalMix's own records did not happen."""


class StorageUnavailable(StorageError):
    """DynamoDB could not be reached or refused the call (throttling, missing table): retry."""


class RecordNotFound(StorageError):
    """The record asked for does not exist in this account."""


class RecordExists(StorageError):
    """A record with the same key already exists; creating it again would overwrite it."""


class ConcurrentUpdate(StorageError):
    """Another writer kept changing the record; the update gave up after retrying."""


class LeaseHeld(StorageError):
    """Another run holds the sync cursor's lease until ``until``."""

    def __init__(self, message: str, *, owner: str | None, until: datetime | None) -> None:
        super().__init__(message)
        self.owner = owner
        self.until = until


class SyncWaiting(StorageError):
    """The cursor may not call its source before ``until``; ``reason`` says why in a code."""

    def __init__(self, message: str, *, until: datetime, reason: str | None, detail: str | None) -> None:
        super().__init__(message + (f" ({detail or reason})" if reason or detail else ""))
        self.until = until
        self.reason = reason
        self.detail = detail


class LeaseLost(StorageError):
    """The caller no longer holds the lease it is writing under (expired or taken over)."""


class BudgetExhausted(StorageError):
    """The hourly consNSU/consChNFe budget is spent; ``retry_at`` is when a call frees up."""

    def __init__(self, message: str, *, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


_CONDITION_FAILED = "ConditionalCheckFailedException"


def is_condition_failure(exc: PynamoDBException) -> bool:
    """True when a write failed only because its condition was false."""
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return any(r is not None and r.code == "ConditionalCheckFailed" for r in reasons)
    return exc.cause_response_code == _CONDITION_FAILED


@contextmanager
def storage_call(action: str) -> Iterator[None]:
    """Run a DynamoDB call, turning any SDK failure into StorageUnavailable naming ``action``."""
    try:
        yield
    except PynamoDBException as exc:
        code = exc.cause_response_code or type(exc).__name__
        raise StorageUnavailable(f"could not {action}: {code}") from exc
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable(f"could not {action}: {exc}") from exc
