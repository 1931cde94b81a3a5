"""The distribution engine: queues per (service, CNPJ), the notes the AN knows, usage counters.

Pure Python over a clock: no XML parsing of requests, no sockets. Seeding (``publish``,
``register_note``) fills the queues; ``distribute`` answers distNSU, consNSU and consChNFe by the
rules of :mod:`local.sefaz.queries`; the manifestação lives in :mod:`local.sefaz.manifestacao`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from fiscal_core.documents import Kind, read_document
from local.fixtures.documents.xmlbuild import HOMOLOGATION
from local.sefaz.clock import Clock
from local.sefaz.cstat import Code
from local.sefaz.ledger import Ledger, Violation
from local.sefaz.notes import RELEASING_EVENTS, Note, NoteRegistry
from local.sefaz.queries import DistQuery, DistResult, answer
from local.sefaz.rules import Consumption, Policy
from local.sefaz.service import Service
from local.sefaz.store import DocumentLog

CANCELAMENTO: Final = "110111"


class DistributionEngine:
    """Every queue, note and usage counter of the simulated AN, behind one lock."""

    def __init__(
        self,
        clock: Clock,
        *,
        policy: Policy | None = None,
        ledger: Ledger | None = None,
        environment: str = HOMOLOGATION,
    ) -> None:
        self.clock = clock
        self.policy = policy or Policy()
        self.ledger = ledger if ledger is not None else Ledger()
        self.environment = environment
        self.notes = NoteRegistry()
        self.lock = threading.RLock()
        self._logs: dict[tuple[Service, str], DocumentLog] = {}
        self._usage: dict[tuple[Service, str], Consumption] = {}
        self._paused: dict[Service, Code] = {}
        self._protocols = itertools.count(1)

    # Seeding -------------------------------------------------------------------------------------

    def publish(
        self, service: Service, cnpj: str, schema: str, xml: bytes, *, at: datetime | None = None
    ) -> None:
        """Queue ``xml`` for ``cnpj`` on ``service`` under ``docZip@schema`` name ``schema``, arriving at
        ``at`` (default now). A cancellation event also marks its note as cancelled from ``at``."""
        if len(cnpj) not in (11, 14):
            raise ValueError(f"queues belong to a CNPJ (14) or CPF (11), got {cnpj!r}")
        metadata = read_document(xml)
        with self.lock:
            moment = at or self.clock.now()
            self.log(service, cnpj, advance=False).schedule(schema, xml, moment, metadata.access_key)
            note = self.notes.get(metadata.access_key)
            if note and metadata.kind is Kind.EVENT and metadata.event_type == CANCELAMENTO:
                note.cancelled_at = min(moment, note.cancelled_at or moment)

    def register_note(self, proc_xml: bytes, *, events: Iterable[tuple[str, int]] = ()) -> Note:
        """Tell the AN about an NF-e (needed for manifestação and consChNFe). ``events`` lists
        (tpEvento, nSeqEvento) already registered for it, e.g. a Ciência sent by another system."""
        with self.lock:
            note = self.notes.add(proc_xml)
            for event_type, sequence in events:
                note.events[(event_type, sequence)] = self.next_protocol(self.clock.now())
            note.released = note.has_event(RELEASING_EVENTS)
            return note

    # Switches and inspection ---------------------------------------------------------------------

    def pause(self, service: Service, code: Code = Code.PAUSED_SHORT) -> None:
        """Answer every request to ``service`` with 108 (or 109) until :meth:`resume`."""
        if code not in (Code.PAUSED_SHORT, Code.PAUSED_NO_FORECAST):
            raise ValueError(f"a pause answers 108 or 109, not {code.cstat}")
        if service is Service.ADN_DIST:
            raise ValueError(
                "the ADN has no cStat 108/109; inject FaultKind.HTTP_503 into its faults instead"
            )
        with self.lock:
            self._paused[service] = code

    def resume(self, service: Service) -> None:
        """Put ``service`` back in operation."""
        with self.lock:
            self._paused.pop(service, None)

    def paused(self, service: Service) -> Code | None:
        """The pause answer of ``service``, or None when it is in operation."""
        with self.lock:
            return self._paused.get(service)

    def log(self, service: Service, cnpj: str, *, advance: bool = True) -> DocumentLog:
        """The queue of ``cnpj`` on ``service``, with everything due by now arrived."""
        with self.lock:
            log = self._logs.setdefault((service, cnpj), DocumentLog())
            if advance:
                log.advance_to(self.clock.now())
            return log

    def usage(self, service: Service, cnpj: str) -> Consumption:
        """What the AN remembers of ``cnpj``'s use of ``service`` (last ultNSU, block, budget)."""
        with self.lock:
            return self._usage.setdefault((service, cnpj), Consumption())

    def next_protocol(self, now: datetime) -> str:
        """A new 15-digit protocol of the AN: 891, the year, a sequence."""
        return f"891{now:%y}{next(self._protocols):010d}"

    def record(self, service: Service, cnpj: str, code: Code, detail: str = "") -> None:
        """Write ``code`` to the ledger when it marks a violation."""
        if code.violation:
            self.ledger.record(Violation(self.clock.now(), cnpj, service, code, detail))

    # Requests ------------------------------------------------------------------------------------

    def distribute(self, query: DistQuery) -> DistResult:
        """Answer a distNSU, consNSU or consChNFe request."""
        with self.lock:
            return answer(self, query)
