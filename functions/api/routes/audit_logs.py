"""``/audit-logs``: every mutation and download of the account (owners and admins)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime

from fiscal_core.api.context import Ctx
from fiscal_core.api.models.audit import AuditPage
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from functions.api.router import resource_router

router = resource_router()
Time = Annotated[
    AwareDatetime | None, Query(description="ISO 8601 with a time zone, e.g. 2026-01-31T00:00:00Z.")
]
Text = Annotated[str | None, Query(min_length=1, max_length=128)]


@router.get("/audit-logs", tags=["audit"], responses=responses(403))
def search_audit_logs(
    ctx: Ctx,
    start: Time = None,
    end: Time = None,
    user_id: Text = None,
    entity_type: Text = None,
    entity_id: Text = None,
    action: Text = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> AuditPage:
    """The audit log, newest first, by period, user or entity, and action."""
    from fiscal_core.api import audit_logs

    where = audit_logs.AuditFilter(start, end, user_id, entity_type, entity_id, action)
    return audit_logs.search(ctx, where, limit, cursor)
