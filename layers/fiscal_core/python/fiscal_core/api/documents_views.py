"""Stored document records as the API shows them: list rows, the detail, and its timeline."""

from __future__ import annotations

from collections.abc import Sequence

from fiscal_core.api.documents_ids import document_id
from fiscal_core.api.documents_models import (
    DocumentDetail,
    DocumentOut,
    Party,
    TimelineEntry,
    TimelineKind,
)
from fiscal_core.storage.records import DocKind, DocStatus, FiscalDocument, FiscalEvent

_CORRECTION = "110110"  # CC-e, the carta de correção: the same code for NF-e and CT-e


def document_out(doc: FiscalDocument) -> DocumentOut:
    """A list row."""
    return DocumentOut.model_validate(_fields(doc))


def document_detail(doc: FiscalDocument, events: Sequence[FiscalEvent]) -> DocumentDetail:
    """One document with its XML's digest and its timeline."""
    return DocumentDetail.model_validate(
        {
            **_fields(doc),
            "sha256": doc.sha256,
            "nsu": doc.nsu,
            "created_at": doc.created_at,
            "updated_at": doc.updated_at,
            "timeline": timeline(doc, events),
        }
    )


def has_full_xml(doc: FiscalDocument) -> bool:
    """True when the document's full XML is stored (a summary has none until Ciência)."""
    return doc.kind is DocKind.FULL and doc.s3_key is not None


def timeline(doc: FiscalDocument, events: Sequence[FiscalEvent]) -> list[TimelineEntry]:
    """The authorization (or denial) at issue time, then every event, in time order.

    What an event is (a cancellation, a manifestação) is read from the effect the store
    recorded for it, not guessed again from its code: the sync decided it once, by family.
    """
    denied = doc.status is DocStatus.DENIED
    entries = [
        TimelineEntry(
            kind=TimelineKind.DENIAL if denied else TimelineKind.AUTHORIZATION,
            at=doc.issued_at,
            description="Uso denegado" if denied else "Autorização de uso",
            protocol=doc.protocol,
        )
    ]
    entries += [_event_entry(event) for event in events]
    # Stable: the authorization stays first when an event carries the same instant.
    return sorted(entries, key=lambda entry: entry.at)


def _event_entry(event: FiscalEvent) -> TimelineEntry:
    if event.status_effect is DocStatus.CANCELLED:
        kind = TimelineKind.CANCELLATION
    elif event.manifestacao_effect is not None:
        kind = TimelineKind.MANIFESTACAO
    elif event.type_code == _CORRECTION:
        kind = TimelineKind.CORRECTION
    else:
        kind = TimelineKind.OTHER_EVENT
    return TimelineEntry(
        kind=kind,
        at=event.event_at,
        type_code=event.type_code,
        description=event.description,
        seq=event.seq,
        protocol=event.protocol,
        author_doc=event.author_doc,
        status_effect=event.status_effect,
        manifestacao_effect=event.manifestacao_effect,
    )


def _fields(doc: FiscalDocument) -> dict[str, object]:
    recipient = Party(doc=doc.recipient_doc, name=doc.recipient_name) if doc.recipient_doc else None
    return {
        "id": document_id(doc),
        "company_id": doc.company_id,
        "family": doc.family,
        "type": doc.doc_type,
        "model": doc.model,
        "series": doc.series,
        "number": doc.number,
        "access_key": doc.access_key,
        "external_id": doc.external_id,
        "direction": doc.direction,
        "status": doc.status,
        "kind": doc.kind,
        "issued_at": doc.issued_at,
        "issuer": Party(doc=doc.issuer_doc, name=doc.issuer_name),
        "recipient": recipient,
        "total_value": doc.total_value,
        "protocol": doc.protocol,
        "manifestacao": doc.manifestacao,
        "manifestacao_at": doc.manifestacao_at,
        "has_xml": has_full_xml(doc),
    }
