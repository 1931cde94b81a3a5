"""Conversions between document/event items and the repository's plain records."""

from __future__ import annotations

from datetime import datetime

from fiscal_core.storage.keys import document_key, event_sort_key
from fiscal_core.storage.models import Document, DocumentEvent
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


def to_document(item: Document) -> FiscalDocument:
    """The record of a stored document item (from the table or an ALL-projected index)."""
    return FiscalDocument(
        account_id=item.account_id,
        company_id=item.company_id,
        family=Family(item.family),
        doc_type=DocType(item.doc_type),
        issued_at=item.issued_at,
        issuer_doc=item.issuer_doc,
        status=DocStatus(item.status),
        direction=Direction(item.direction),
        kind=DocKind(item.kind),
        access_key=item.access_key,
        external_id=item.external_id,
        model=item.model,
        series=item.series,
        number=item.number,
        issuer_name=item.issuer_name,
        recipient_doc=item.recipient_doc,
        recipient_name=item.recipient_name,
        total_value=item.total_value,
        protocol=item.protocol,
        s3_key=item.s3_key,
        sha256=item.sha256,
        nsu=item.nsu,
        event_ids=frozenset(item.event_ids or ()),
        manifestacao=Manifestacao(item.manifestacao) if item.manifestacao else None,
        manifestacao_at=item.manifestacao_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def event_item(event: FiscalEvent, received_at: datetime) -> DocumentEvent:
    """The item that stores ``event`` under its document's key."""
    return DocumentEvent(
        document_key(event.account_id, event.company_id, event.doc_key),
        event_sort_key(event.type_code, event.seq),
        account_id=event.account_id,
        company_id=event.company_id,
        doc_key=event.doc_key,
        doc_type=event.doc_type,
        access_key=event.access_key,
        external_id=event.external_id,
        family=event.family,
        type_code=event.type_code,
        description=event.description,
        seq=event.seq,
        protocol=event.protocol,
        event_at=event.event_at,
        author_doc=event.author_doc,
        status_effect=event.status_effect,
        manifestacao_effect=event.manifestacao_effect,
        s3_key=event.s3_key,
        sha256=event.sha256,
        nsu=event.nsu,
        received_at=received_at,
    )


def to_event(item: DocumentEvent) -> FiscalEvent:
    """The record of a stored event item."""
    return FiscalEvent(
        account_id=item.account_id,
        company_id=item.company_id,
        family=Family(item.family),
        doc_type=DocType(item.doc_type),
        type_code=item.type_code,
        description=item.description,
        seq=item.seq,
        event_at=item.event_at,
        access_key=item.access_key,
        external_id=item.external_id,
        protocol=item.protocol,
        author_doc=item.author_doc,
        status_effect=DocStatus(item.status_effect) if item.status_effect else None,
        manifestacao_effect=(Manifestacao(item.manifestacao_effect) if item.manifestacao_effect else None),
        s3_key=item.s3_key,
        sha256=item.sha256,
        nsu=item.nsu,
        received_at=item.received_at,
    )
