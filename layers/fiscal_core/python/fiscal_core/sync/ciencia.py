"""Automatic Ciência da Operação: ask SEFAZ to release the full XML of summaries addressed to us.

For a company that opted in (``auto_ciencia``), every authorised resNFe still without a
manifestação gets a Ciência (210210), in lots of up to 20 signed with the company's certificate.
The registered events are stored through the page store like any other (their procEventoNFe in
S3, the summaries marked CIENCIA); SEFAZ then distributes the procNFe under a new NSU, which the
next run's pages bring and the store upgrades in place.

Summaries past the Ciência deadline, cancelled or denied are left alone (SEFAZ would answer 596
or 580); a 573 means it was already registered (by us on a retry, or another system) and is
recorded without XML so it is not sent again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol

from fiscal_core.sefaz.cstat import Category
from fiscal_core.sefaz.evento import Manifestacao as EventKind
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import (
    Direction,
    DocStatus,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
)
from fiscal_core.sync.items import Company, EventItem, StoredObject
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.object_keys import event_object_key
from fiscal_core.sync.page_store import PageStore
from fiscal_core.sync.policy import CIENCIA_DEADLINE, CIENCIA_LOT_SIZE

logger = logging.getLogger(__name__)
_CIENCIA = EventKind.CIENCIA


class Manifestor(Protocol):
    """Sends a lot of manifestações (RecepcaoEventoClient in production)."""

    def manifestar(self, cnpj: str, events: Sequence[ManifestacaoEvent]) -> EventLotResult:
        """Register up to 20 events of the recipient ``cnpj``."""
        ...


class AutoCiencia:
    """Sends and records Ciência for a company's pending summaries."""

    def __init__(
        self, documents: DocumentRepository, store: PageStore, clock: Callable[[], datetime]
    ) -> None:
        self._documents = documents
        self._store = store
        self._clock = clock

    def run(
        self,
        company: CompanyRecord,
        manifestor: Manifestor,
        notes: CursorNotes,
        *,
        max_lots: int,
        keep_lease: Callable[[], None],
        tally: Callable[[int], None] = lambda saved: None,
    ) -> tuple[int, list[str]]:
        """Send up to ``max_lots`` lots; (events newly stored, problems in plain words).

        ``tally`` hears each lot's stored events as soon as they are stored: an A3 step that
        stops for its agent in a later lot keeps the count of the lots already done.
        """
        candidates = list(self._candidates(company, max_lots * CIENCIA_LOT_SIZE))
        ref = Company(company.account_id, company.company_id, company.cnpj)
        saved, problems = 0, []
        for start in range(0, len(candidates), CIENCIA_LOT_SIZE):
            keep_lease()
            lot = candidates[start : start + CIENCIA_LOT_SIZE]
            sent_at = self._clock()
            result = manifestor.manifestar(
                company.cnpj, [ManifestacaoEvent(d.access_key or "", _CIENCIA) for d in lot]
            )
            if not result.outcome.ok:
                problems.append(
                    f"SEFAZ refused the Ciência da Operação lot ({result.outcome.cstat} "
                    f"{result.outcome.xmotivo}): {result.outcome.hint}."
                )
                break
            by_key = {d.access_key: d for d in lot}
            registered, duplicates = [], 0
            for answer in result.events:
                document = by_key.get(answer.chave)
                if document is None:
                    continue
                if answer.outcome.category is Category.REGISTERED and answer.proc_evento is not None:
                    registered.append(_registered(document, answer.proc_evento, answer.protocol, sent_at))
                elif answer.outcome.category is Category.DUPLICATE:
                    # Already registered (a retry of ours, or another system): SEFAZ gives no XML
                    # back; recorded so it is not sent again, its XML comes with the stream.
                    duplicates += self._documents.put_event(
                        _ciencia(document, None, answer.protocol, sent_at)
                    )
                else:
                    logger.info(
                        "Ciência of %s not registered: %s %s",
                        answer.chave, answer.outcome.cstat, answer.outcome.xmotivo,
                    )  # fmt: skip
            # Outside the NSU stream (no range): SEFAZ's own copy arriving later is not counted again.
            lot_saved = (
                duplicates + self._store.store_items(ref, lot[0].family, registered, None, notes).events_saved
            )
            tally(lot_saved)
            saved += lot_saved
        return saved, problems

    def _candidates(self, company: CompanyRecord, limit: int) -> Iterator[FiscalDocument]:
        """Summaries addressed to the company that may still receive a Ciência, oldest first."""
        oldest = self._clock() - CIENCIA_DEADLINE
        found, cursor = 0, None
        while found < limit:
            page = self._documents.list_pending_summaries(
                company.account_id, company.company_id, limit=100, cursor=cursor
            )
            for document in page.items:
                if (
                    document.manifestacao is None
                    and document.direction is Direction.IN
                    and document.status is DocStatus.AUTHORIZED
                    and document.issued_at >= oldest
                    and document.access_key
                    and found < limit
                ):
                    found += 1
                    yield document
            if page.cursor is None:
                return
            cursor = page.cursor


def _registered(
    document: FiscalDocument, proc_evento: bytes, protocol: str | None, sent_at: datetime
) -> EventItem:
    """The item of a registered Ciência: its procEventoNFe, to store like any page's event."""
    event_id = f"{_CIENCIA.tp_evento}#001"
    key = event_object_key(
        document.account_id,
        document.company_id,
        document.doc_type,
        sent_at,
        document.access_key or "",
        event_id,
    )
    xml = StoredObject(key, proc_evento, hashlib.sha256(proc_evento).hexdigest())
    return EventItem(None, _ciencia(document, xml, protocol, sent_at), xml)


def _ciencia(
    document: FiscalDocument, xml: StoredObject | None, protocol: str | None, at: datetime
) -> FiscalEvent:
    """The Ciência da Operação of ``document``, sent at ``at``."""
    return FiscalEvent(
        account_id=document.account_id,
        company_id=document.company_id,
        family=document.family,
        doc_type=document.doc_type,
        type_code=_CIENCIA.tp_evento,
        description=_CIENCIA.description,
        seq=1,
        event_at=at,
        access_key=document.access_key,
        protocol=protocol,
        author_doc=document.recipient_doc,
        manifestacao_effect=Manifestacao.CIENCIA,
        s3_key=None if xml is None else xml.key,
        sha256=None if xml is None else xml.sha256,
        received_at=at,
    )
