"""``/documents``: the filtered list, one document with its timeline, XML and PDF links, import."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime

from fiscal_core.api.context import Ctx
from fiscal_core.api.documents_models import DocumentDetail, DocumentPage, DownloadLink, ImportReport
from fiscal_core.api.documents_query import DocumentQuery, Order
from fiscal_core.api.documents_services import DocumentServices, get_document_services
from fiscal_core.api.openapi import responses
from fiscal_core.api.pagination import DEFAULT_PAGE_SIZE, Cursor, Limit
from fiscal_core.storage.records import Direction, DocStatus, DocType, Family
from functions.api.router import resource_router

router = resource_router()
Docs = Annotated[DocumentServices, Depends(get_document_services)]
DocumentId = Annotated[
    str, Path(min_length=3, max_length=300, description="<company_id>.<access key>, as the list gives it.")
]
CompanyId = Annotated[str | None, Query(min_length=1, max_length=64)]
Party = Annotated[str | None, Query(min_length=11, max_length=18, description="CNPJ or CPF.")]
Day = Annotated[
    AwareDatetime | date | None,
    Query(description="A date (a whole Brasília day) or an ISO 8601 time with its offset; inclusive."),
]
# vNF and vTPrest are 13 digits and two decimals in the layouts.
MAX_VALUE = Decimal("9999999999999.99")
Value = Annotated[
    Decimal | None,
    Query(
        ge=0,
        le=MAX_VALUE,
        decimal_places=2,
        description="Total in reais, inclusive (1234.56); with company_id only, listed by value.",
    ),
]


@router.get("/documents", tags=["documents"], responses=responses(403, 404))
def list_documents(
    ctx: Ctx,
    docs: Docs,
    company_id: CompanyId = None,
    family: Annotated[Family | None, Query()] = None,
    doc_type: Annotated[DocType | None, Query(alias="type")] = None,
    direction: Annotated[Direction | None, Query()] = None,
    status: Annotated[DocStatus | None, Query()] = None,
    issuer: Party = None,
    recipient: Party = None,
    issued_from: Day = None,
    issued_to: Day = None,
    min_value: Value = None,
    max_value: Value = None,
    access_key: Annotated[str | None, Query(min_length=44, max_length=60)] = None,
    number: Annotated[int | None, Query(ge=1, le=999_999_999)] = None,
    series: Annotated[int | None, Query(ge=0, le=999, description="With number only.")] = None,
    order: Annotated[
        Order | None,
        Query(description="newest (default) or oldest by issue date; highest (default) or lowest by value."),
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> DocumentPage:
    """Documents by issue date; each filter combination is one index read (422 names the served ones).

    company_id may be left out only by account owners and admins, and then only the period
    filters. number finds the company's own documents (with type and series). min_value and
    max_value list one company's documents by value, and combine with nothing else.
    """
    from fiscal_core.api import documents

    query = DocumentQuery(
        company_id, family, doc_type, direction, status, issuer, recipient, issued_from, issued_to,
        min_value, max_value, access_key, number, series, order,
    )  # fmt: skip
    return documents.list_documents(ctx, docs, query, limit=limit, cursor=cursor)


@router.get("/documents/<document_id>", tags=["documents"], responses=responses(404))
def get_document(ctx: Ctx, docs: Docs, document_id: DocumentId) -> DocumentDetail:
    """One document with its timeline: authorization, then CC-e, cancellation, manifestações."""
    from fiscal_core.api import documents

    return documents.get_document(ctx, docs, document_id)


@router.get("/documents/<document_id>/xml", tags=["documents"], responses=responses(404, 409))
def get_xml(ctx: Ctx, docs: Docs, document_id: DocumentId) -> DownloadLink:
    """A 5-minute link to the XML, saved as <access key>.xml (audited); 409 for a summary."""
    from fiscal_core.api import documents

    return documents.xml_link(ctx, docs, document_id)


@router.get("/documents/<document_id>/pdf", tags=["documents"], responses=responses(404, 409))
def get_pdf(ctx: Ctx, docs: Docs, document_id: DocumentId) -> DownloadLink:
    """A 5-minute link to the DANFE/DACTE PDF, made once and kept (audited); 409 for a summary."""
    from fiscal_core.api import documents

    return documents.pdf_link(ctx, docs, document_id)


@router.post("/documents/import", tags=["documents"], responses=responses(403, 404, 413, 415))
def import_documents(
    ctx: Ctx,
    docs: Docs,
    company_id: Annotated[str, Query(min_length=1, max_length=64)],
    filename: Annotated[str | None, Query(max_length=200, description="Name of a single XML.")] = None,
) -> ImportReport:
    """Import the company's own issued XMLs (documents, and its events on them such as cancellations).

    The body is the file itself: one XML (application/xml) or a ZIP of up to 200 XMLs
    (application/zip), at most 4 MiB. Operators and admins; the report says what happened to each.
    """
    from fiscal_core.api import imports

    event = router.current_event
    raw = event.body or ""
    body = base64.b64decode(raw) if event.is_base64_encoded else raw.encode()
    upload = imports.Upload(body, event.headers.get("content-type", ""), filename)
    return imports.import_documents(ctx, docs, company_id, upload)
