"""Opaque page cursors for Query results, checked so they cannot leave their partition.

A cursor is DynamoDB's LastEvaluatedKey as URL-safe base64 JSON. It comes back from the
client, so before it becomes an ExclusiveStartKey it must name the same partition the Query
is reading: a forged cursor is refused, never followed into another tenant's keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.models import Model
from pynamodb.pagination import ResultIterator

from fiscal_core.errors import InvalidValue

_M = TypeVar("_M", bound=Model)
_T = TypeVar("_T")

MAX_PAGE_SIZE = 200


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """The cursor for a LastEvaluatedKey, or None when the Query is exhausted."""
    if not last_key:
        return None
    raw = json.dumps(last_key, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, partition_attr: str, partition: str) -> dict[str, Any] | None:
    """The ExclusiveStartKey of ``cursor``; InvalidValue unless it is in ``partition``."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue("cursor", "is not a cursor this list returned") from exc
    if not isinstance(key, dict) or key.get(partition_attr) != {"S": partition}:
        raise InvalidValue("cursor", "belongs to another list")
    return key


def check_limit(limit: int) -> int:
    """A page size between 1 and MAX_PAGE_SIZE, or InvalidValue."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValue("limit", f"must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    return limit


def collect(results: ResultIterator[_M], convert: Callable[[_M], _T]) -> tuple[list[_T], str | None]:
    """Drain one Query page (PynamoDB stops at ``limit``) into values and the next cursor."""
    items = [convert(item) for item in results]
    return items, encode_cursor(results.last_evaluated_key)
