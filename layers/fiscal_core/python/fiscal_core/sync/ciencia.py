"""Automatic Ciência da Operação: ask SEFAZ to release the full XML of summaries addressed to us.

For a company that opted in (``auto_ciencia``), every authorised resNFe still without a
manifestação gets a Ciência (210210), in lots of up to 20 signed with the company's certificate
(:mod:`fiscal_core.sync.event_lots` sends them and records the answers: the summaries marked
CIENCIA); SEFAZ then distributes the procNFe under a new NSU, which the next run's pages bring
and the store upgrades in place.

Summaries past the Ciência deadline, cancelled or denied are left alone (SEFAZ would answer 596
or 580); a 573 means it was already registered (by us on a retry, or another system) and is
recorded without XML so it is not sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from fiscal_core.sefaz.evento import Manifestacao as EventKind
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Direction, DocStatus, FiscalDocument
from fiscal_core.sync.event_lots import EventLots, Manifestor
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.policy import CIENCIA_DEADLINE, CIENCIA_LOT_SIZE

logger = logging.getLogger(__name__)
_CIENCIA = EventKind.CIENCIA


class AutoCiencia:
    """Sends and records Ciência for a company's pending summaries."""

    def __init__(self, documents: DocumentRepository, lots: EventLots, clock: Callable[[], datetime]) -> None:
        self._documents = documents
        self._lots = lots
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
        saved, problems = 0, []
        for start in range(0, len(candidates), CIENCIA_LOT_SIZE):
            keep_lease()
            lot = [
                (d, ManifestacaoEvent(d.access_key or "", _CIENCIA))
                for d in candidates[start : start + CIENCIA_LOT_SIZE]
            ]
            outcome = self._lots.send(company, manifestor, lot, notes)
            if outcome.refused is not None:
                refused = outcome.refused
                problems.append(
                    f"SEFAZ refused the Ciência da Operação lot ({refused.cstat} {refused.xmotivo}): "
                    f"{refused.hint}."
                )
                break
            for sent in outcome.sent:
                if sent.answer is not None and not sent.recorded:
                    logger.info(
                        "Ciência of %s not registered: %s %s",
                        sent.event.chave, sent.answer.outcome.cstat, sent.answer.outcome.xmotivo,
                    )  # fmt: skip
            tally(outcome.events_saved)
            saved += outcome.events_saved
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
