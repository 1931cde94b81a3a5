"""What a docZip is for one company: a document (summary or full), an event, or unreadable.

Reading is :func:`fiscal_core.documents.read_document`; this module adds the company's point of
view (direction), what each event does to its document (tables, by tpEvento), the SHA-256 and
the object key. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from fiscal_core.documents import DocumentMetadata, Kind, Status, read_document
from fiscal_core.errors import DocumentError
from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    Family,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
)
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.object_keys import document_object_key, event_object_key, unreadable_object_key

# What an event does to the status of its document. A cancellation is final (the repository
# never lowers a status), whichever family it comes from.
STATUS_EFFECTS: Final[Mapping[str, DocStatus]] = {
    "110111": DocStatus.CANCELLED,  # NF-e, CT-e, MDF-e: Cancelamento
    "110112": DocStatus.CANCELLED,  # NFC-e: Cancelamento por substituição
    "101101": DocStatus.CANCELLED,  # NFS-e: Cancelamento
    "105102": DocStatus.CANCELLED,  # NFS-e: Cancelamento por substituição
}
# The recipient's manifestações (docs/sefaz-protocol.md §4.2); the latest one counts.
MANIFESTACAO_EFFECTS: Final[Mapping[str, Manifestacao]] = {
    "210200": Manifestacao.CONFIRMADA,
    "210210": Manifestacao.CIENCIA,
    "210220": Manifestacao.DESCONHECIDA,
    "210240": Manifestacao.NAO_REALIZADA,
}
_STATUSES: Final[Mapping[Status, DocStatus]] = {
    Status.AUTHORIZED: DocStatus.AUTHORIZED,
    Status.DENIED: DocStatus.DENIED,
    Status.CANCELLED: DocStatus.CANCELLED,
}


@dataclass(frozen=True)
class Company:
    """The company a sync works for: its tenant keys and the CNPJ that decides direction."""

    account_id: str
    company_id: str
    cnpj: str


@dataclass(frozen=True)
class StoredObject:
    """An XML body to put in S3, with its SHA-256 (hex)."""

    key: str
    body: bytes
    sha256: str


@dataclass(frozen=True)
class DocumentItem:
    """A summary or full document, ready to store."""

    nsu: str | None
    document: FiscalDocument
    xml: StoredObject


@dataclass(frozen=True)
class EventItem:
    """An event, with the effect it has on its document, ready to store."""

    nsu: str | None
    event: FiscalEvent
    xml: StoredObject


@dataclass(frozen=True)
class UnreadableItem:
    """A docZip that could not be read: kept in S3 for support, never blocks the cursor."""

    nsu: str | None
    problem: str
    xml: StoredObject


PageItem = DocumentItem | EventItem | UnreadableItem


def classify(doczip: DocZip, company: Company, family: Family, now: datetime) -> PageItem:
    """What ``doczip`` is for ``company`` (fetched from ``family``'s distribution at ``now``)."""
    sha256 = hashlib.sha256(doczip.xml).hexdigest()
    try:
        metadata = read_document(doczip.xml)
        if metadata.kind is Kind.EVENT:
            return _event(doczip, metadata, company, family, sha256, now)
        return _document(doczip, metadata, company, family, sha256)
    except DocumentError as exc:
        name = doczip.nsu or sha256
        key = unreadable_object_key(company.account_id, company.company_id, family, name)
        return UnreadableItem(doczip.nsu, f"{doczip.schema}: {exc}", StoredObject(key, doczip.xml, sha256))


def direction(company_cnpj: str, issuer: str | None, recipient: str | None) -> Direction:
    """The company's side: it issued the document, received it, or is a third party to it."""
    if issuer == company_cnpj:
        return Direction.OUT
    if recipient == company_cnpj:
        return Direction.IN
    return Direction.THIRD


def _document(
    doczip: DocZip, metadata: DocumentMetadata, company: Company, family: Family, sha256: str
) -> DocumentItem:
    # Required of every document and summary by the reader.
    assert metadata.issued_at is not None
    assert metadata.issuer_doc is not None
    summary = metadata.kind is Kind.SUMMARY
    # A resNFe names no recipient: SEFAZ hands it only to the recipient, this company.
    recipient = company.cnpj if summary else metadata.recipient_doc
    key = document_object_key(
        company.account_id, company.company_id, metadata.doc_type, metadata.issued_at, metadata.access_key
    )
    document = FiscalDocument(
        account_id=company.account_id,
        company_id=company.company_id,
        family=family,
        doc_type=DocType(metadata.doc_type.value),
        issued_at=metadata.issued_at,
        issuer_doc=metadata.issuer_doc,
        status=_status(metadata.status),
        direction=direction(company.cnpj, metadata.issuer_doc, recipient),
        kind=DocKind.SUMMARY if summary else DocKind.FULL,
        access_key=metadata.access_key,
        model=None if metadata.model is None else str(metadata.model),
        series=None if metadata.series is None else str(metadata.series),
        number=metadata.number,
        issuer_name=metadata.issuer_name,
        recipient_doc=recipient,
        recipient_name=metadata.recipient_name,
        total_value=metadata.total_value,
        protocol=metadata.protocol,
        s3_key=key,
        sha256=sha256,
        nsu=doczip.nsu,
    )
    return DocumentItem(doczip.nsu, document, StoredObject(key, doczip.xml, sha256))


def _status(status: Status | None) -> DocStatus:
    # Only a bare NFe lacks the authority's answer, and distribution never hands one out.
    return DocStatus.AUTHORIZED if status is None else _STATUSES.get(status, DocStatus.AUTHORIZED)


def _event(
    doczip: DocZip, metadata: DocumentMetadata, company: Company, family: Family, sha256: str, now: datetime
) -> EventItem:
    # Required of every event by the reader.
    assert metadata.event_type is not None
    assert metadata.event_at is not None
    type_code, seq = metadata.event_type, metadata.event_seq or 1
    key = event_object_key(
        company.account_id, company.company_id, metadata.doc_type, metadata.event_at,
        metadata.access_key, f"{type_code}#{seq:03d}",
    )  # fmt: skip
    event = FiscalEvent(
        account_id=company.account_id,
        company_id=company.company_id,
        family=family,
        doc_type=DocType(metadata.doc_type.value),
        type_code=type_code,
        description=metadata.event_description or f"Evento {type_code}",
        seq=seq,
        event_at=metadata.event_at,
        access_key=metadata.access_key,
        protocol=metadata.protocol,
        author_doc=metadata.author_doc,
        status_effect=STATUS_EFFECTS.get(type_code),
        manifestacao_effect=MANIFESTACAO_EFFECTS.get(type_code),
        s3_key=key,
        sha256=sha256,
        nsu=doczip.nsu,
        received_at=now,
    )
    return EventItem(doczip.nsu, event, StoredObject(key, doczip.xml, sha256))
