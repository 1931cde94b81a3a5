"""The audit log: append-only, listed by account, entity or user, newest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from pynamodb.expressions.condition import Condition

from fiscal_core.storage import crud
from fiscal_core.storage.errors import storage_call
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.keys import account_scoped, time_bounds, timed_sort_key
from fiscal_core.storage.mapping import plain
from fiscal_core.storage.models import AuditLog
from fiscal_core.storage.pagination import check_limit, decode_cursor, encode_cursor
from fiscal_core.storage.records import Page

# Fiscal records are kept five years; their audit trail a little longer, so it covers them.
RETENTION: Final = timedelta(days=6 * 366)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what to which entity, when and from where."""

    account_id: str
    action: str
    entity_type: str
    entity_id: str
    at: datetime
    user_id: str | None = None
    company_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    audit_id: str = ""  # assigned by the store


class AuditRepository:
    """Record audit entries and list them; nothing is ever updated or deleted here."""

    def __init__(self, id_factory: Callable[[datetime], str] = new_sortable_id) -> None:
        self._new_id = id_factory

    def record(self, entry: AuditEntry) -> str:
        """Append an entry; its id."""
        audit_id = self._new_id(entry.at)
        item = AuditLog(
            entry.account_id,
            timed_sort_key(entry.at, audit_id),
            audit_id=audit_id,
            user_id=entry.user_id,
            user_key=account_scoped(entry.account_id, entry.user_id) if entry.user_id else None,
            action=entry.action,
            entity_type=entry.entity_type,
            entity_id=entry.entity_id,
            entity_key=_entity_key(entry.account_id, entry.entity_type, entry.entity_id),
            company_id=entry.company_id,
            ip=entry.ip,
            user_agent=entry.user_agent,
            at=entry.at,
            details=dict(entry.details),
            expires_at=entry.at + RETENTION,
        )
        crud.create(item, f"audit entry {audit_id}")
        return audit_id

    def for_account(
        self,
        account_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """One page of the account's log, newest first, within an optional period."""
        low, high = time_bounds(start, end)
        condition: Condition | None = None
        if low is not None and high is not None:
            condition = AuditLog.audit_key.between(low, high)
        elif low is not None:
            condition = AuditLog.audit_key >= low
        elif high is not None:
            condition = AuditLog.audit_key <= high
        items, next_cursor = crud.query_page(
            AuditLog, account_id, what="audit entries", limit=limit, cursor=cursor,
            condition=condition, newest_first=True,
        )  # fmt: skip
        return Page([_entry(i) for i in items], next_cursor)

    def for_entity(
        self, account_id: str, entity_type: str, entity_id: str, *, limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:  # fmt: skip
        """One page of what happened to one entity, newest first."""
        partition = _entity_key(account_id, entity_type, entity_id)
        items, next_cursor = crud.query_page(
            AuditLog, partition, what="audit entries", index=AuditLog.by_entity,
            partition_attr="entity_key", limit=limit, cursor=cursor, newest_first=True,
        )  # fmt: skip
        return Page([_entry(i) for i in items], next_cursor)

    def for_user(
        self, account_id: str, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[AuditEntry]:
        """One page of what one user did, newest first."""
        items, next_cursor = crud.query_page(
            AuditLog, account_scoped(account_id, user_id), what="audit entries",
            index=AuditLog.by_user, partition_attr="user_key", limit=limit, cursor=cursor,
            newest_first=True,
        )  # fmt: skip
        return Page([_entry(i) for i in items], next_cursor)

    def search(
        self,
        account_id: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        user_id: str | None = None,
        entity: tuple[str, str] | None = None,
        action: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[AuditEntry]:
        """One page of the log, newest first, narrowed by user or entity, period and action.

        A user or an entity (type, id) picks the index and the period is its key condition, so
        those filters read only what they return. ``action`` is a filter on what the key
        condition reads (there is no index per action), so with it the query may read more
        entries than it returns; narrow the period to keep that small.
        """
        if user_id is not None and entity is not None:
            raise ValueError("filter by a user or by an entity, not both")
        source: Any = AuditLog
        partition, attr = account_id, "account_id"
        if user_id is not None:
            source, partition, attr = AuditLog.by_user, account_scoped(account_id, user_id), "user_key"
        elif entity is not None:
            source, partition, attr = AuditLog.by_entity, _entity_key(account_id, *entity), "entity_key"
        results = source.query(
            partition,
            range_key_condition=_period(start, end),
            filter_condition=(AuditLog.action == action) if action is not None else None,
            scan_index_forward=False,
            limit=check_limit(limit),
            last_evaluated_key=decode_cursor(cursor, attr, partition),
        )
        with storage_call("search the audit log"):
            items = [_entry(i) for i in results]
        return Page(items, encode_cursor(results.last_evaluated_key))


def _period(start: datetime | None, end: datetime | None) -> Condition | None:
    low, high = time_bounds(start, end)
    if low is not None and high is not None:
        return AuditLog.audit_key.between(low, high)
    if low is not None:
        return AuditLog.audit_key >= low
    if high is not None:
        return AuditLog.audit_key <= high
    return None


def _entity_key(account_id: str, entity_type: str, entity_id: str) -> str:
    # ``:`` rather than the key separator: an entity id (an access key) is one opaque part.
    return account_scoped(account_id, f"{entity_type}:{entity_id}")


def _entry(item: AuditLog) -> AuditEntry:
    return AuditEntry(
        account_id=item.account_id,
        action=item.action,
        entity_type=item.entity_type,
        entity_id=item.entity_id,
        at=item.at,
        user_id=item.user_id,
        company_id=item.company_id,
        ip=item.ip,
        user_agent=item.user_agent,
        details=plain(item.details) or {},
        audit_id=item.audit_id,
    )
