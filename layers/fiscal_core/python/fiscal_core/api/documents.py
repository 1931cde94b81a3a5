"""The documents resource: the filtered list, one document with its timeline, XML and PDF links.

Visibility: a document is visible to whoever holds a role (viewer or higher) on its company;
everyone else, in this account or another, gets the same 404 as for an id that names nothing.
Every download link handed out is written to the audit log first: no audit, no link.
"""

from __future__ import annotations

import re
from typing import Final

from fiscal_core.api.context import RequestContext
from fiscal_core.api.documents_blobs import (
    PDF_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    BodyMissing,
    Link,
    pdf_key,
    sha256_hex,
)
from fiscal_core.api.documents_cursor import unwrap, wrap
from fiscal_core.api.documents_filters import plan_query
from fiscal_core.api.documents_ids import parse_document_id
from fiscal_core.api.documents_models import DocumentDetail, DocumentPage, DownloadLink
from fiscal_core.api.documents_query import CompanyIdentity, DocumentQuery, IndexPlan, KeyPlan, Plan
from fiscal_core.api.documents_services import DocumentServices
from fiscal_core.api.documents_views import document_detail, document_out, has_full_xml
from fiscal_core.api.problems import ApiError, NotFound
from fiscal_core.api.roles import check_id, company_for, company_role, is_account_admin
from fiscal_core.errors import InvalidValue
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import FiscalDocument, Page
from fiscal_core.xmlsafe import DEFAULT_MAX_BYTES

# An external id may hold anything; in a Content-Disposition header only these are harmless.
_UNSAFE_IN_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]")


class FullXmlNotAvailable(ApiError):
    """The document is a summary: SEFAZ has not released its full XML to this company yet."""

    status = 409
    slug = "full-xml-not-available"
    title = "Full XML not yet available"

    def __init__(self) -> None:
        super().__init__(
            "The full XML of this document is not yet available: manifest Ciência da Operação "
            "(or turn on the company's automatic Ciência) or wait for SEFAZ to deliver it."
        )


def list_documents(
    ctx: RequestContext, docs: DocumentServices, query: DocumentQuery, *, limit: int, cursor: str | None
) -> DocumentPage:
    """One page of the documents the caller can see that match ``query``."""
    company = _listable_company(ctx, query.company_id)
    plan = plan_query(ctx.account_id, query, company=company, now=ctx.now)
    page = run_plan(docs.repository, ctx.account_id, plan, limit=limit, cursor=cursor)
    return DocumentPage(items=[document_out(d) for d in page.items], next_cursor=page.cursor)


def run_plan(
    repository: DocumentRepository, account_id: str, plan: Plan, *, limit: int, cursor: str | None
) -> Page[FiscalDocument]:
    """Run a plan against the store: the very reads the list makes (bench/query.py runs it too)."""
    if isinstance(plan, IndexPlan):
        store_cursor = unwrap(cursor, plan)
        flt, newest = plan.flt, plan.descending
        if plan.company_id is None:
            page = repository.list_account_documents(
                account_id, flt, limit=limit, cursor=store_cursor, newest_first=newest
            )
        else:
            page = repository.list_documents(
                account_id, plan.company_id, flt, limit=limit, cursor=store_cursor, newest_first=newest
            )
        return Page(page.items, wrap(page.cursor, plan))
    if cursor is not None:
        raise InvalidValue("cursor", "a search by access key or number has a single page")
    if isinstance(plan, KeyPlan):
        found = repository.get_document(account_id, plan.company_id, access_key=plan.access_key)
        return Page([found] if found is not None else [])
    matches = [
        doc
        for prefix in plan.prefixes
        for doc in repository.find_by_key_prefix(account_id, plan.company_id, prefix)
        if plan.start <= doc.issued_at <= plan.end
    ]
    matches.sort(key=lambda doc: doc.issued_at, reverse=plan.newest_first)
    return Page(matches)


def get_document(ctx: RequestContext, docs: DocumentServices, doc_id: str) -> DocumentDetail:
    """One document and its timeline."""
    doc = visible_document(ctx, docs.repository, doc_id)
    return document_detail(doc, docs.repository.list_events(ctx.account_id, doc.company_id, doc.doc_key))


def xml_link(ctx: RequestContext, docs: DocumentServices, doc_id: str) -> DownloadLink:
    """A short-lived link to the document's XML, saved as ``<access key>.xml``; audited."""
    doc = visible_document(ctx, docs.repository, doc_id)
    key = _full_xml_key(doc)
    filename = f"{_file_stem(doc)}.xml"
    link = docs.blobs.link(key, filename, XML_CONTENT_TYPE)
    return _audited(ctx, doc_id, doc, "document.download_xml", link, filename, XML_CONTENT_TYPE)


def pdf_link(ctx: RequestContext, docs: DocumentServices, doc_id: str) -> DownloadLink:
    """A short-lived link to the DANFE/DACTE, rendered once and kept next to the XML; audited.

    A link rather than the bytes: a DANFE of a long NF-e passes Lambda's 6 MB response limit
    once base64-encoded, and a link lets the browser show the PDF as it downloads.
    """
    doc = visible_document(ctx, docs.repository, doc_id)
    xml = _full_xml_key(doc)
    key = pdf_key(xml)
    if not docs.blobs.exists(key):
        body = docs.blobs.read(xml, DEFAULT_MAX_BYTES)
        if doc.sha256 is not None and sha256_hex(body) != doc.sha256:
            raise BodyMissing(f"{xml} does not match the SHA-256 recorded for it")
        docs.objects.put(key, docs.render(doc.doc_type, body), PDF_CONTENT_TYPE)
    filename = f"{_file_stem(doc)}.pdf"
    link = docs.blobs.link(key, filename, PDF_CONTENT_TYPE, inline=True)
    return _audited(ctx, doc_id, doc, "document.download_pdf", link, filename, PDF_CONTENT_TYPE)


def visible_document(ctx: RequestContext, repository: DocumentRepository, doc_id: str) -> FiscalDocument:
    """The document ``doc_id`` names, if the caller holds a role on its company; else NotFound."""
    ref = parse_document_id(doc_id)
    if ref is None:
        raise NotFound("document")
    check_id(ref.company_id, "document")
    if company_role(ctx, ref.company_id) is None:
        raise NotFound("document")
    doc = repository.get_document(
        ctx.account_id,
        ref.company_id,
        access_key=ref.access_key,
        doc_type=ref.doc_type or "",
        external_id=ref.external_id,
    )
    if doc is None:
        raise NotFound("document")
    return doc


def _listable_company(ctx: RequestContext, company_id: str | None) -> CompanyIdentity | None:
    """The company to list, checked; None (the whole account) only for those who see it all."""
    if company_id is None:
        if not is_account_admin(ctx):
            raise InvalidValue(
                "company_id",
                "give the company whose documents to list: you hold roles on some of the "
                "account's companies, and a list across companies would include the others",
            )
        return None
    company = company_for(ctx, company_id, CompanyRole.VIEWER, "list its documents")
    return CompanyIdentity(company.company_id, company.cnpj, company.uf)


def _full_xml_key(doc: FiscalDocument) -> str:
    if not has_full_xml(doc) or doc.s3_key is None:
        raise FullXmlNotAvailable()
    return doc.s3_key


def _file_stem(doc: FiscalDocument) -> str:
    """The download's file name: the access key, or type and external id made header-safe."""
    if doc.access_key:
        return doc.access_key
    return f"{doc.doc_type}-{_UNSAFE_IN_FILENAME.sub('_', doc.external_id or '')}"


def _audited(
    ctx: RequestContext,
    doc_id: str,
    doc: FiscalDocument,
    action: str,
    link: Link,
    filename: str,
    content_type: str,
) -> DownloadLink:
    ctx.audit(action, "document", doc_id, {"access_key": doc.access_key}, company_id=doc.company_id)
    return DownloadLink(
        url=link.url, expires_at=link.expires_at, filename=filename, content_type=content_type
    )
