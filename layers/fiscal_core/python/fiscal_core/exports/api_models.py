"""What the exports routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from fiscal_core.exports.request import ExportOptions
from fiscal_core.model import Model


class ExportOut(Model):
    """An export: what it selects, how far it got, and what went wrong."""

    id: str
    status: str = Field(description="QUEUED, RUNNING, SUCCEEDED or FAILED.")
    progress: int = Field(description="Percent of the selected documents packed; 100 once the ZIP is ready.")
    total_docs: int = Field(description="Documents the filters selected: 0 until counted, soon after start.")
    processed_docs: int = Field(description="Documents whose XML is in the ZIP.")
    failed_docs: int = Field(description="Selected documents left out; the spreadsheet's note says why.")
    size_bytes: int
    filters: dict[str, Any]
    options: ExportOptions
    errors: list[str] = Field(description="The first problems met, one per document or the reason it failed.")
    message: str | None = Field(default=None, description="A plain-words summary when there is one to give.")
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = Field(default=None, description="When the job and its ZIP are deleted.")


class ExportPage(Model):
    """One page of the account's exports, newest first."""

    items: list[ExportOut]
    next_cursor: str | None = None
