"""``GET /audit-logs``: the account's audit log, newest first, for its owners and admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fiscal_core.api.context import RequestContext
from fiscal_core.api.models.audit import AuditOut, AuditPage
from fiscal_core.api.roles import require_account_admin
from fiscal_core.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to narrow the log to: a period, one user or one entity, one action."""

    start: datetime | None = None
    end: datetime | None = None
    user_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None


def search(ctx: RequestContext, where: AuditFilter, limit: int, cursor: str | None) -> AuditPage:
    """One page of the log matching ``where`` (owners and admins only)."""
    require_account_admin(ctx, "read the audit log")
    if (where.entity_type is None) != (where.entity_id is None):
        raise InvalidValue("entity_id", "filter by an entity with both entity_type and entity_id")
    if where.user_id is not None and where.entity_type is not None:
        raise InvalidValue("user_id", "filter by a user or by an entity, not both at once")
    if where.start and where.end and where.start > where.end:
        raise InvalidValue("start", "must not be after end")
    entity = (where.entity_type, where.entity_id) if where.entity_type and where.entity_id else None
    page = ctx.services.audit.search(
        ctx.account_id,
        start=where.start,
        end=where.end,
        user_id=where.user_id,
        entity=entity,
        action=where.action,
        limit=limit,
        cursor=cursor,
    )
    items = [
        AuditOut(
            audit_id=e.audit_id,
            at=e.at,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            user_id=e.user_id,
            company_id=e.company_id,
            ip=e.ip,
            user_agent=e.user_agent,
            details=dict(e.details),
        )
        for e in page.items
    ]
    return AuditPage(items=items, next_cursor=page.cursor)
