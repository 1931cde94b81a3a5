"""Key formats of every table: the one place that composes partition and sort keys.

Tenancy rule: every partition key of a customer item, in a table or in an index, starts with
the account id, so a Query needs the account id to reach anything. Ids may not contain ``#``,
the separator, so one tenant's key can never be spelled to look like another's.
"""

from __future__ import annotations

from datetime import datetime

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.attributes import format_ts

SEP = "#"
# Sorts after every character a timestamp or id uses: closes a range (``<end>`` .. ``<end>~``).
HIGH = "~"


def part(value: str, field: str) -> str:
    """One key component, refused when empty or when it contains the separator."""
    if not value:
        raise InvalidValue(field, "must not be empty")
    if SEP in value:
        raise InvalidValue(field, f"must not contain {SEP!r}: {value!r}")
    return value


def company_key(account_id: str, company_id: str) -> str:
    """``<account>#<company>``: partition of everything that belongs to one company."""
    return f"{part(account_id, 'account_id')}{SEP}{part(company_id, 'company_id')}"


def account_scoped(account_id: str, *parts: str) -> str:
    """``<account>#<part>...``: an account-scoped partition (a user, an entity, a filter)."""
    return SEP.join((part(account_id, "account_id"), *(part(p, "key part") for p in parts)))


def access_key_doc_key(access_key: str) -> str:
    """``KEY#<access key>``: sort key of a document identified by its 44/50-digit key."""
    return f"KEY{SEP}{part(access_key, 'access_key')}"


def external_doc_key(doc_type: str, external_id: str) -> str:
    """``EXT#<type>#<id>``: sort key of a document without an access key (municipal NFS-e)."""
    return SEP.join(("EXT", part(doc_type, "doc_type"), part(external_id, "external_id")))


def document_key(account_id: str, company_id: str, doc_key: str) -> str:
    """``<account>#<company>#<doc key>``: partition of one document's events."""
    return f"{company_key(account_id, company_id)}{SEP}{doc_key}"


def event_sort_key(type_code: str, seq: int) -> str:
    """``<tpEvento>#<nSeqEvento:03>``: an event is unique per document, type and sequence."""
    return f"{part(type_code, 'type_code')}{SEP}{seq:03d}"


def timed_sort_key(at: datetime, item_id: str) -> str:
    """``<at>#<id>``: time-ordered and unique (audit entries)."""
    return f"{format_ts(at)}{SEP}{part(item_id, 'id')}"


def time_bounds(start: datetime | None, end: datetime | None) -> tuple[str | None, str | None]:
    """Inclusive bounds on a ``<at>#...`` sort key: ``<start>`` and ``<end>~`` (None if open)."""
    low = format_ts(start) if start is not None else None
    high = format_ts(end) + HIGH if end is not None else None
    return low, high
