"""What an export request says: the documents list's filters, and how to pack what they select.

The filters are the documents list's (``GET /documents``), with its parameter names, and they
are planned by the list's own planner (:func:`fiscal_core.api.documents_filters.plan_query`):
an export reads exactly what the list would show, page after page, by one index Query. A job
stores its request as JSON; the worker validates it again with these models.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum
from typing import Final

from pydantic import AwareDatetime, ConfigDict, Field

from fiscal_core.api.documents_filters import DocumentQuery, Order
from fiscal_core.model import Model
from fiscal_core.storage.records import Direction, DocStatus, DocType, Family

# Printable ASCII without spaces: what the Idempotency-Key header draft allows in practice.
IDEMPOTENCY_KEY_PATTERN: Final = r"^[!-~]{1,255}$"


class FolderLayout(StrEnum):
    """Where each document goes inside the ZIP."""

    COMPANY_TYPE_MONTH = "company/type/year-month"  # 12345678000195/NFE/2025-03/<key>.xml
    TYPE_MONTH = "type/year-month"  # NFE/2025-03/<key>.xml
    COMPANY = "company"  # 12345678000195/<key>.xml
    FLAT = "flat"  # <key>.xml

    @property
    def has_company(self) -> bool:
        """Whether the company's CNPJ is a folder: required when an export spans companies."""
        return self in (FolderLayout.COMPANY_TYPE_MONTH, FolderLayout.COMPANY)


class ExportFilters(Model):
    """The documents list's filters; company_id left out means every company of the account."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    company_id: str | None = Field(default=None, min_length=1, max_length=64)
    family: Family | None = None
    doc_type: DocType | None = Field(default=None, alias="type")
    direction: Direction | None = None
    status: DocStatus | None = None
    issuer: str | None = Field(default=None, min_length=11, max_length=18, description="CNPJ or CPF.")
    recipient: str | None = Field(default=None, min_length=11, max_length=18, description="CNPJ or CPF.")
    issued_from: AwareDatetime | date | None = Field(
        default=None, description="A date (a whole Brasília day) or an ISO 8601 time with its offset."
    )
    issued_to: AwareDatetime | date | None = Field(default=None, description="Inclusive, like issued_from.")

    def query(self) -> DocumentQuery:
        """The documents list query these filters are, oldest first (an archive reads in time order)."""
        return DocumentQuery(
            company_id=self.company_id,
            family=self.family,
            doc_type=self.doc_type,
            direction=self.direction,
            status=self.status,
            issuer=self.issuer,
            recipient=self.recipient,
            issued_from=self.issued_from,
            issued_to=self.issued_to,
            order=Order.OLDEST,
        )


class ExportOptions(Model):
    """What goes into the ZIP besides each document's XML, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    include_pdfs: bool = Field(default=False, description="The DANFE/DACTE next to each XML.")
    include_events: bool = Field(default=False, description="Each document's events (cancellation, CC-e).")
    layout: FolderLayout = FolderLayout.COMPANY_TYPE_MONTH


class ExportRequest(Model):
    """``POST /exports``: filters, options and, unless sent as a header, the idempotency key."""

    model_config = ConfigDict(extra="forbid")

    filters: ExportFilters = Field(default_factory=ExportFilters)
    options: ExportOptions = Field(default_factory=ExportOptions)
    idempotency_key: str | None = Field(
        default=None,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The same as the Idempotency-Key header; give one or the other.",
    )


def stored_filters(filters: ExportFilters) -> dict[str, object]:
    """The filters as the job stores them: JSON values, parameter names, nothing unset."""
    return filters.model_dump(mode="json", by_alias=True, exclude_none=True)


def stored_options(options: ExportOptions) -> dict[str, object]:
    """The options as the job stores them."""
    return options.model_dump(mode="json")


def request_fingerprint(filters: dict[str, object], options: dict[str, object]) -> str:
    """A digest of what a request asks for, to tell a repeated request from a different one."""
    canonical = json.dumps({"filters": filters, "options": options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
