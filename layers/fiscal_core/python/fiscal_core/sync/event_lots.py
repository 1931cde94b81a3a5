"""Sending a lot of the recipient's manifestações from a sync step, and recording SEFAZ's answers.

The automatic Ciência and the manifestações users queued for an A3 company share this: a lot of
up to 20 events signed with the company's certificate (through its agent for an A3); each
registered event stored through the page store like any other (its procEventoNFe in S3, the
document's manifestação set); a 573 (already registered, by a retry of ours or another system)
recorded without XML so it is not sent again; anything else handed back for the caller to word.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from fiscal_core.sefaz.cstat import Category, Outcome
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.sefaz.evento_result import EventLotResult, EventResult
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import FiscalDocument
from fiscal_core.sync.items import Company, EventItem
from fiscal_core.sync.manifestacao_records import event_object, manifestacao_event
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.page_store import PageStore


class Manifestor(Protocol):
    """Sends a lot of manifestações (RecepcaoEventoClient in production)."""

    def manifestar(self, cnpj: str, events: Sequence[ManifestacaoEvent]) -> EventLotResult:
        """Register up to 20 events of the recipient ``cnpj``."""
        ...


@dataclass(frozen=True)
class Sent:
    """One event of a lot and SEFAZ's answer about it (None: the answer did not mention it)."""

    document: FiscalDocument
    event: ManifestacaoEvent
    answer: EventResult | None

    @property
    def recorded(self) -> bool:
        """Registered now, or already registered: either way the document has the event."""
        return self.answer is not None and self.answer.outcome.category in {
            Category.REGISTERED,
            Category.DUPLICATE,
        }


@dataclass
class LotOutcome:
    """What a lot came to: refused as a whole (``refused``), or each event's answer."""

    refused: Outcome | None = None
    sent: list[Sent] = field(default_factory=list)
    events_saved: int = 0  # events newly stored, for the run's counters


class EventLots:
    """Sends lots of manifestações and records what SEFAZ registered."""

    def __init__(
        self, documents: DocumentRepository, store: PageStore, clock: Callable[[], datetime]
    ) -> None:
        self._documents = documents
        self._store = store
        self._clock = clock

    def send(
        self,
        company: CompanyRecord,
        manifestor: Manifestor,
        lot: Sequence[tuple[FiscalDocument, ManifestacaoEvent]],
        notes: CursorNotes,
    ) -> LotOutcome:
        """Send ``lot`` (each document once, up to 20) and record the events SEFAZ registered."""
        sent_at = self._clock()
        result = manifestor.manifestar(company.cnpj, [event for _, event in lot])
        if not result.outcome.ok:
            return LotOutcome(refused=result.outcome)
        outcome, registered = LotOutcome(), []
        for document, event in lot:
            answer = answer_about(result, event)
            sent = Sent(document, event, answer)
            outcome.sent.append(sent)
            if answer is None or not sent.recorded:
                continue
            # SEFAZ gives no XML back for a 573; recorded all the same so it is not sent again.
            proc = answer.proc_evento if answer.outcome.category is Category.REGISTERED else None
            xml = event_object(document, event.tipo, proc, sent_at) if proc is not None else None
            record = manifestacao_event(
                document, event.tipo, protocol=answer.protocol, xml=xml,
                event_at=answer.registered_at or sent_at, received_at=sent_at,
            )  # fmt: skip
            if xml is not None:
                registered.append(EventItem(None, record, xml))
            else:
                outcome.events_saved += self._documents.put_event(record)
        if registered:
            ref = Company(company.account_id, company.company_id, company.cnpj)
            # Outside the NSU stream (no range): SEFAZ's own copy arriving later is not counted again.
            stored = self._store.store_items(ref, registered[0].event.family, registered, None, notes)
            outcome.events_saved += stored.events_saved
        return outcome


def answer_about(result: EventLotResult, event: ManifestacaoEvent) -> EventResult | None:
    """SEFAZ's answer about ``event`` (a retEvento may leave out what a rejection cannot name)."""
    for answer in result.events:
        about = answer.chave == event.chave or (answer.chave is None and len(result.events) == 1)
        if about and answer.tp_evento in (None, event.tipo.tp_evento):
            return answer
    return None
