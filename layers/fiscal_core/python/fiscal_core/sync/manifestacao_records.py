"""The recipient's manifestações, wherever they are sent from: what may be sent, how it is recorded.

The API sends a conclusive manifestação at once with an A1; for an A3 company it is queued and
the next NF-e run sends it through the agent (:mod:`fiscal_core.sync.queued_manifestacoes`); the
automatic Ciência goes in every run. All of them check a request by the same rules and record a
registered event the same way: its procEventoNFe next to the document's other events, and a
FiscalEvent whose effect sets the document's manifestação.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final

from fiscal_core.errors import InvalidValue
from fiscal_core.sefaz.cstat import Outcome
from fiscal_core.sefaz.evento import Manifestacao as EventKind
from fiscal_core.storage.records import (
    Direction,
    DocType,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
    ManifestacaoType,
)
from fiscal_core.sync.items import StoredObject
from fiscal_core.sync.object_keys import event_object_key

# Ajuste SINIEF 07/05 (cláusula décima quinta-A): conclusive events within 180 days.
CONCLUSIVE_DEADLINE: Final = timedelta(days=180)
CONCLUSIVE: Final[dict[ManifestacaoType, EventKind]] = {
    "confirmacao": EventKind.CONFIRMACAO,
    "desconhecimento": EventKind.DESCONHECIMENTO,
    "nao_realizada": EventKind.NAO_REALIZADA,
}
# What each event makes of the document's manifestação.
EFFECTS: Final[dict[EventKind, Manifestacao]] = {
    EventKind.CIENCIA: Manifestacao.CIENCIA,
    EventKind.CONFIRMACAO: Manifestacao.CONFIRMADA,
    EventKind.DESCONHECIMENTO: Manifestacao.DESCONHECIDA,
    EventKind.NAO_REALIZADA: Manifestacao.NAO_REALIZADA,
}
_NFE_MODEL: Final = "55"


def manifestable(doc: FiscalDocument, now: datetime) -> str:
    """The NF-e's access key, if its recipient may still send a conclusive event about it.

    InvalidValue names what stands in the way: not an NF-e, not addressed to the company, or
    past the 180 days SEFAZ allows.
    """
    key = doc.access_key or ""
    if doc.doc_type is not DocType.NFE or len(key) != 44 or key[20:22] != _NFE_MODEL:
        raise InvalidValue("document_id", "a manifestação applies only to an NF-e (model 55)")
    if doc.direction is not Direction.IN:
        raise InvalidValue(
            "document_id",
            "a manifestação is sent by the recipient: this NF-e is not addressed to the company",
        )
    if now - doc.issued_at > CONCLUSIVE_DEADLINE:
        raise InvalidValue(
            "type",
            f"prazo expirado: conclusive manifestações must be sent within 180 days of the issue date "
            f"({doc.issued_at:%d/%m/%Y}); SEFAZ would refuse it",
        )
    return key


def justificativa(kind: ManifestacaoType, text: str | None) -> str | None:
    """The justification, checked as SEFAZ's schema will check it (InvalidValue naming the field)."""
    if kind != "nao_realizada":
        if text is not None:
            raise InvalidValue("justificativa", "only nao_realizada carries a justification")
        return None
    cleaned = " ".join((text or "").split())
    if not 15 <= len(cleaned) <= 255:
        raise InvalidValue("justificativa", f"nao_realizada needs 15 to 255 characters, got {len(cleaned)}")
    return cleaned


def quote(outcome: Outcome) -> str:
    """SEFAZ's answer as a person reads it: its cStat, its words, and what to do."""
    return f"SEFAZ answered {outcome.cstat} ({outcome.xmotivo}): {outcome.hint}"


def event_object(doc: FiscalDocument, kind: EventKind, proc_evento: bytes, sent_at: datetime) -> StoredObject:
    """The registered event's procEventoNFe, keyed next to the document's other events."""
    key = event_object_key(
        doc.account_id, doc.company_id, doc.doc_type, sent_at, doc.access_key or "", f"{kind.tp_evento}#001"
    )
    return StoredObject(key, proc_evento, hashlib.sha256(proc_evento).hexdigest())


def manifestacao_event(
    doc: FiscalDocument,
    kind: EventKind,
    *,
    protocol: str | None,
    xml: StoredObject | None,
    event_at: datetime,
    received_at: datetime,
) -> FiscalEvent:
    """The record of the recipient's ``kind`` about ``doc``; ``xml`` is None for a 573 (no XML back)."""
    return FiscalEvent(
        account_id=doc.account_id,
        company_id=doc.company_id,
        family=doc.family,
        doc_type=doc.doc_type,
        type_code=kind.tp_evento,
        description=kind.description,
        seq=1,
        event_at=event_at,
        access_key=doc.access_key,
        protocol=protocol,
        author_doc=doc.recipient_doc,
        manifestacao_effect=EFFECTS[kind],
        s3_key=None if xml is None else xml.key,
        sha256=None if xml is None else xml.sha256,
        received_at=received_at,
    )
