"""The documents list's page cursor: the repository's cursor, bound to the filters it came from.

The repository's cursor already refuses to leave the partition it was issued for (another
tenant, company or filter value). The period (or value range) and the order are not part of the
partition, so a cursor reused with another period would reach DynamoDB as a start key outside
the key condition and fail there; binding the cursor to a fingerprint of the whole plan turns
that client mistake into a 422 that says what to do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from fiscal_core.api.documents_query import IndexPlan
from fiscal_core.errors import InvalidValue
from fiscal_core.storage.attributes import format_ts

_FINGERPRINT_CHARS = 16
_STALE = "belongs to another list (other filters, period, value range or order): ask for the first page again"


def fingerprint(plan: IndexPlan) -> str:
    """A short digest of everything that shapes the list's order and bounds."""
    flt = plan.flt
    parts = [
        plan.index,
        plan.partition,
        "newest" if plan.descending else "oldest",
        format_ts(flt.start) if flt.start else "",
        format_ts(flt.end) if flt.end else "",
    ]
    if flt.by_value:  # appended only then: the cursors of date lists stay as they were
        parts += ["" if v is None else str(v) for v in (flt.min_value, flt.max_value)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:_FINGERPRINT_CHARS]


def wrap(store_cursor: str | None, plan: IndexPlan) -> str | None:
    """The cursor handed to the client for the next page (None on the last page)."""
    if store_cursor is None:
        return None
    raw = json.dumps({"f": fingerprint(plan), "c": store_cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unwrap(cursor: str | None, plan: IndexPlan) -> str | None:
    """The repository's cursor inside a client's cursor; InvalidValue if it is not for ``plan``."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidValue("cursor", "is not a cursor this list returned") from exc
    if not isinstance(value, dict) or not isinstance(value.get("c"), str):
        raise InvalidValue("cursor", "is not a cursor this list returned")
    if value.get("f") != fingerprint(plan):
        raise InvalidValue("cursor", _STALE)
    store_cursor: str = value["c"]
    return store_cursor
