"""Importing a company's own issued XMLs: one XML or a ZIP of them, with a report per file.

The body is the file itself (``Content-Type: application/xml`` or ``application/zip``), not a
multipart form: it needs no form parser, and API Gateway hands it over intact (base64 for the
ZIP). It is capped at 4 MiB: base64 makes that about 5.6 MB of event, under Lambda's 6 MB; a
larger body reaching the function is refused with a 413, and one over API Gateway's 10 MB is
refused by API Gateway itself.

Every file goes through the hardened parser (no DTD, so no external entity and no entity
bomb) and must be the company's own: an authorized document it issued, or an event it
registered on one (a cancellation, a CC-e). It is then stored exactly as the sync stores it
(:func:`fiscal_core.sync.items.classify`, the sync's object store, the document repository): all
the XMLs first, concurrently, then the records. A document or event already stored, or repeated
in the upload, is a duplicate and nothing is written for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from fiscal_core.api.context import RequestContext
from fiscal_core.api.documents_archive import Entry, base_name, read_archive
from fiscal_core.api.documents_ids import key_document_id
from fiscal_core.api.documents_import_checks import refusal
from fiscal_core.api.documents_models import ImportCounts, ImportedFile, ImportReport, ImportStatus
from fiscal_core.api.documents_services import DocumentServices
from fiscal_core.api.problems import ApiError
from fiscal_core.api.roles import company_for
from fiscal_core.documents import extract_metadata
from fiscal_core.errors import InvalidValue
from fiscal_core.storage.companies import CompanyRole
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import DocKind, PutOutcome
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.items import Company, DocumentItem, EventItem, UnreadableItem, classify

MAX_UPLOAD_BYTES: Final = 4 * 1024 * 1024
XML_MEDIA_TYPES: Final = frozenset({"application/xml", "text/xml"})
ZIP_MEDIA_TYPES: Final = frozenset({"application/zip", "application/x-zip-compressed"})
DEFAULT_FILE_NAME: Final = "document.xml"


class PayloadTooLarge(ApiError):
    """The upload is over the import's size cap."""

    status = 413
    slug = "payload-too-large"
    title = "Upload too large"


class UnsupportedMediaType(ApiError):
    """The upload is neither an XML nor a ZIP archive."""

    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


@dataclass(frozen=True, slots=True)
class Upload:
    """The request body as received, its media type, and the file name the client gave."""

    body: bytes
    content_type: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A file that passed every check, waiting for its XML and record to be written."""

    name: str
    item: DocumentItem | EventItem


def import_documents(
    ctx: RequestContext, docs: DocumentServices, company_id: str, upload: Upload
) -> ImportReport:
    """Import every file of ``upload`` for the company; audited with what was imported."""
    media_type = _checked_media_type(upload)
    record = company_for(ctx, company_id, CompanyRole.OPERATOR, "import documents")
    entries = _entries(upload, media_type)
    company = Company(ctx.account_id, record.company_id, record.cnpj)
    seen: set[str] = set()
    examined = [_examine(entry, company, docs.repository, ctx.now, seen) for entry in entries]
    accepted = [e for e in examined if isinstance(e, _Accepted)]
    docs.objects.put_xml([a.item.xml for a in accepted])  # every XML durable before any record
    results = [_write(docs.repository, e) if isinstance(e, _Accepted) else e for e in examined]
    counts = ImportCounts(**{s.value: sum(r.status is s for r in results) for s in ImportStatus})
    imported = [r.access_key for r in results if r.status is ImportStatus.IMPORTED]
    ctx.audit(
        "document.import",
        "company",
        company.company_id,
        {**counts.model_dump(), "files": len(results), "access_keys": imported},
        company_id=company.company_id,
    )
    return ImportReport(company_id=company.company_id, counts=counts, files=results)


def _checked_media_type(upload: Upload) -> str:
    """The upload's media type, once its type and size are acceptable (checks that cost nothing)."""
    media_type = upload.content_type.split(";", 1)[0].strip().lower()
    if media_type not in XML_MEDIA_TYPES | ZIP_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Send one XML (Content-Type: application/xml) or a ZIP of XMLs (application/zip), "
            f"not {media_type or 'a body without a content type'}."
        )
    if len(upload.body) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"The upload has {len(upload.body):,} bytes; at most {MAX_UPLOAD_BYTES:,} are accepted "
            "per request. Split a large batch into several ZIPs."
        )
    if not upload.body:
        raise InvalidValue("body", "the upload is empty: send the XML or ZIP as the request body")
    return media_type


def _entries(upload: Upload, media_type: str) -> list[Entry]:
    if media_type in ZIP_MEDIA_TYPES:
        # All read before the first is stored: archive-wide limits refuse the archive whole.
        return list(read_archive(upload.body))
    return [Entry(base_name(upload.filename or DEFAULT_FILE_NAME), upload.body)]


def _examine(
    entry: Entry, company: Company, repository: DocumentRepository, now: datetime, seen: set[str]
) -> ImportedFile | _Accepted:
    """The file's final outcome if it is refused or a duplicate, else what to store."""
    item = _item(entry, company, now)
    if isinstance(item, ImportedFile):
        return item
    identity = _identity(item)
    if identity in seen:
        return _outcome(entry.name, item, ImportStatus.DUPLICATE, "repeats a file earlier in this upload")
    if _stored(repository, item):
        return _outcome(entry.name, item, ImportStatus.DUPLICATE, "already stored")
    seen.add(identity)
    return _Accepted(entry.name, item)


def _item(entry: Entry, company: Company, now: datetime) -> ImportedFile | DocumentItem | EventItem:
    """The file as the sync would store it, or its rejection."""
    if entry.data is None:
        return _rejected(entry.name, entry.problem or "unreadable")
    extraction = extract_metadata(entry.data)
    meta = extraction.metadata
    if meta is None:
        return _rejected(entry.name, extraction.error or "not a fiscal document")
    problem = refusal(meta, company.cnpj)
    if problem is not None:
        return _rejected(entry.name, problem, meta.access_key)
    item = classify(DocZip(None, meta.schema, entry.data), company, meta.family, now)
    if isinstance(item, UnreadableItem):  # read once already: cannot happen
        return _rejected(entry.name, item.problem, meta.access_key)
    return item


def _identity(item: DocumentItem | EventItem) -> str:
    if isinstance(item, DocumentItem):
        return item.document.doc_key
    return f"{item.event.doc_key}/{item.event.event_id}"


def _stored(repository: DocumentRepository, item: DocumentItem | EventItem) -> bool:
    """True when the store already has it (a stored summary is still upgraded by the document)."""
    if isinstance(item, DocumentItem):
        doc = item.document
        found = repository.get_document(doc.account_id, doc.company_id, access_key=doc.access_key)
        return found is not None and found.kind is DocKind.FULL
    event = item.event
    stored = repository.list_events(event.account_id, event.company_id, event.doc_key)
    return any(e.event_id == event.event_id for e in stored)


def _write(repository: DocumentRepository, accepted: _Accepted) -> ImportedFile:
    item = accepted.item
    if isinstance(item, DocumentItem):
        new = repository.put_document(item.document) is not PutOutcome.UNCHANGED
    else:
        new = repository.put_event(item.event)
    if new:
        return _outcome(accepted.name, item, ImportStatus.IMPORTED)
    # Stored by a concurrent request between the check and the write.
    return _outcome(accepted.name, item, ImportStatus.DUPLICATE, "already stored")


def _outcome(
    name: str, item: DocumentItem | EventItem, status: ImportStatus, reason: str | None = None
) -> ImportedFile:
    record = item.document if isinstance(item, DocumentItem) else item.event
    return ImportedFile(
        file=name,
        status=status,
        access_key=record.access_key,
        document_id=key_document_id(record.company_id, record.access_key or ""),
        reason=reason,
    )


def _rejected(name: str, reason: str, access_key: str | None = None) -> ImportedFile:
    return ImportedFile(file=name, status=ImportStatus.REJECTED, access_key=access_key, reason=reason)
