"""consChNFe and consNSU: the rationed queries, for what the NSU stream did not bring.

- Full-XML fallback: a summary manifested (Ciência or a conclusive release) some hours ago whose
  procNFe has not arrived is fetched by access key (some UFs take up to 48 h to forward it).
- Gap filling: NSUs SEFAZ says it returned but whose answer never arrived are fetched one by one.

SEFAZ allows 20 of these an hour per CNPJ, counting consNSU and consChNFe together, and blocks
the CNPJ for an hour past that (656). Each call is first taken from the cursor's sliding-window
budget (:class:`~fiscal_core.storage.budget.ConsultationBudget`), and only if both kinds together
stay under the limit; when the budget is spent the rest waits for a later run. An A3 step that
stops for its agent runs again from the start, replaying its calls: :class:`QueryLedger` keeps it
from taking a replayed call from the budget a second time.

What an answer stores is counted on the run as soon as it is stored (``tally``), once: a step
that stops for its agent later keeps the count, and its replay does not count the answer again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from fiscal_core.sefaz.cstat import Category
from fiscal_core.storage.budget import HOURLY_LIMIT, WINDOW, Consultation, ConsultationBudget
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.errors import BudgetExhausted
from fiscal_core.storage.records import DocStatus, Family, FiscalDocument, Manifestacao
from fiscal_core.sync.answer import Answer
from fiscal_core.sync.items import Company
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.page_store import PageCounts, PageStore
from fiscal_core.sync.policy import DISTRIBUTION_RETENTION, SyncPolicy

logger = logging.getLogger(__name__)
# Manifestações after which SEFAZ distributes the full XML (Desconhecimento does not release it).
RELEASING: Final = frozenset({Manifestacao.CIENCIA, Manifestacao.CONFIRMADA, Manifestacao.NAO_REALIZADA})


class SingleQueries(Protocol):
    """consChNFe and consNSU of one company (DistDFeSource in production)."""

    def by_key(self, cnpj: str, access_key: str) -> Answer:
        """The best document SEFAZ has for ``access_key``."""
        ...

    def at(self, cnpj: str, nsu: str) -> Answer:
        """The document at ``nsu``."""
        ...


@dataclass
class QueryLedger:
    """The single queries of one step, across the runs of an A3 step: paid for, and counted.

    An A3 step that stops for its agent runs again from the start and makes its calls again,
    answered from the stored replies. ``earlier`` (from ``AgentWait.queries``) says which calls the
    step's previous runs made, each mapped to whether what its answer stored was counted on the
    run: such a call is not taken from the budget again (the agent made it once), and its answer
    is counted once. A call a replay no longer makes leaves its entry unused, never a credit for
    another call.
    """

    earlier: dict[str, bool] = field(default_factory=dict)
    made: dict[str, bool] = field(default_factory=dict)  # this run's, replayed ones included

    def already_paid(self, kind: Consultation, subject: str) -> bool:
        """True (and carried over) when an earlier run of the step paid for this very call."""
        key = _ledger_key(kind, subject)
        if key not in self.earlier:
            return False
        self.made[key] = self.earlier.pop(key)
        return True

    def paid(self, kind: Consultation, subject: str) -> None:
        """Note a call this run took from the budget."""
        self.made[_ledger_key(kind, subject)] = False

    def first_count(self, kind: Consultation, subject: str) -> bool:
        """True the first time the answer to this call is counted on the run, False after."""
        key = _ledger_key(kind, subject)
        if self.made.get(key):
            return False
        self.made[key] = True
        return True


def _ledger_key(kind: Consultation, subject: str) -> str:
    return f"{kind.value}:{subject}"


@dataclass
class SingleQueryReport:
    """What the single queries of a run did; ``blocked`` is the 656 answer that stopped them."""

    calls: int = 0
    blocked: Answer | None = None


@dataclass
class StepBudget:
    """What the single queries need of the step running them."""

    ledger: QueryLedger
    keep_lease: Callable[[], None]
    tally: Callable[[PageCounts], None]  # counts what one answer stored on the run, at once


class Allowance:
    """Takes one call from the hourly budget, counting both kinds against SEFAZ's one limit."""

    def __init__(
        self, cursors: SyncCursorRepository, budget: ConsultationBudget, clock: Callable[[], datetime]
    ) -> None:
        self._cursors = cursors
        self._budget = budget
        self._clock = clock

    def take(
        self, company: Company, family: Family, kind: Consultation, subject: str, ledger: QueryLedger
    ) -> bool:
        """True when the call of ``kind`` about ``subject`` may be made now (and it is counted)."""
        if ledger.already_paid(kind, subject):
            return True
        state = self._cursors.get(company.account_id, company.company_id, family)
        since = self._clock() - WINDOW
        recent = [t for t in (*state.cons_nsu_calls, *state.cons_chnfe_calls) if t > since]
        if len(recent) >= HOURLY_LIMIT:
            return False
        try:
            self._budget.spend(company.account_id, company.company_id, family, kind)
        except BudgetExhausted:
            return False
        ledger.paid(kind, subject)
        return True


class SingleQueryWork:
    """Runs the fallback and the gap filling of one cursor, within the budget."""

    def __init__(
        self,
        documents: DocumentRepository,
        store: PageStore,
        allowance: Allowance,
        policy: SyncPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._documents = documents
        self._store = store
        self._allowance = allowance
        self._policy = policy
        self._clock = clock

    def fill_gaps(
        self, company: Company, family: Family, queries: SingleQueries, notes: CursorNotes,
        step: StepBudget,
    ) -> SingleQueryReport:  # fmt: skip
        """Fetch the NSUs of ``notes.gaps`` one by one, oldest first, while the budget lasts."""
        report = SingleQueryReport()
        for nsu in list(notes.gaps):
            step.keep_lease()
            if not self._allowance.take(company, family, Consultation.CONS_NSU, nsu, step.ledger):
                break
            answer = queries.at(company.cnpj, nsu)
            report.calls += 1
            if self._stop(answer, report):
                break
            if answer.outcome.category is Category.SUCCESS:
                stored = self._store.store(company, family, answer.documents, answer.nsu_range, notes)
                if step.ledger.first_count(Consultation.CONS_NSU, nsu):
                    step.tally(stored)
            notes.gaps.remove(nsu)  # found or not there (137): either way nothing more to ask
        return report

    def fetch_full_xml(
        self, company: Company, family: Family, queries: SingleQueries, notes: CursorNotes,
        step: StepBudget,
    ) -> SingleQueryReport:  # fmt: skip
        """consChNFe for summaries whose full XML is overdue, while the budget lasts."""
        report = SingleQueryReport()
        for document in self._overdue(company):
            step.keep_lease()
            key = document.access_key or ""
            if not self._allowance.take(company, family, Consultation.CONS_CHNFE, key, step.ledger):
                break
            answer = queries.by_key(company.cnpj, key)
            report.calls += 1
            if self._stop(answer, report):
                break
            if answer.outcome.category is Category.SUCCESS:
                stored = self._store.store(company, family, answer.documents, None, notes)
                if step.ledger.first_count(Consultation.CONS_CHNFE, key):
                    step.tally(stored)
            else:
                logger.info(
                    "consChNFe of %s: %s %s",
                    document.access_key,
                    answer.outcome.cstat,
                    answer.outcome.xmotivo,
                )
        return report

    def _stop(self, answer: Answer, report: SingleQueryReport) -> bool:
        if answer.outcome.category is Category.BLOCKED:
            report.blocked = answer
            return True
        return False

    def _overdue(self, company: Company) -> Iterator[FiscalDocument]:
        """Manifested summaries whose full XML is overdue but may still come, oldest first."""
        now = self._clock()
        released_before = now - self._policy.full_xml_fallback_after
        given_up_before = now - self._policy.full_xml_fallback_window
        issued_after = now - DISTRIBUTION_RETENTION
        cursor = None
        while True:
            page = self._documents.list_pending_summaries(
                company.account_id, company.company_id, limit=100, cursor=cursor
            )
            for document in page.items:
                at = document.manifestacao_at
                if (
                    document.manifestacao in RELEASING
                    and at is not None
                    and given_up_before <= at <= released_before
                    and document.status is DocStatus.AUTHORIZED
                    and document.issued_at >= issued_after
                    and document.access_key
                ):
                    yield document
            if page.cursor is None:
                return
            cursor = page.cursor
