"""Bodies of the audit log resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from fiscal_core.model import Model


class AuditOut(Model):
    """One entry: who did what to which entity, when and from where."""

    audit_id: str
    at: datetime
    action: str = Field(
        description="What was done, as <entity>.<verb>: company.create, certificate.upload..."
    )
    entity_type: str
    entity_id: str
    user_id: str | None = Field(description="Null for what the system did on its own (a scheduled sync).")
    company_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]


class AuditPage(Model):
    """One page of the audit log, newest first."""

    items: list[AuditOut]
    next_cursor: str | None = None
