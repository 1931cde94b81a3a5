"""Manifestações users asked for on an A3 company: queued by the API, sent by the next NF-e run.

An A3 key signs only through the company's agent, which only a sync step reaches (it stops and
waits for the agent's answers, fiscal_core.sync.agent_exchange). So the API checks the request,
queues it as one object under the NF-e cursor's sync prefix (one per note: a newer request for
the same NF-e replaces an older one still waiting) and starts an NF-e run, which may begin even
while distNSU must wait. The run sends the queued ones before anything else of its post-sync, in
lots of up to 20, and records each answer as the API would: the event stored and the document's
manifestação set, the outcome audited under the user who asked, the request removed. A request
SEFAZ refused, or that can no longer be sent (past the 180 days), is removed too, its reason in
the run's problems and in the audit log; one SEFAZ said nothing about stays for the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import ConfigDict, Field, ValidationError

from fiscal_core.errors import InvalidValue
from fiscal_core.model import Model
from fiscal_core.sefaz.evento import ManifestacaoEvent
from fiscal_core.storage.audit import AuditEntry, AuditRepository
from fiscal_core.storage.companies import CompanyRecord
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Family, FiscalDocument, ManifestacaoType
from fiscal_core.sync.event_lots import EventLots, Manifestor, Sent
from fiscal_core.sync.manifestacao_records import CONCLUSIVE, manifestable, quote
from fiscal_core.sync.notes import CursorNotes
from fiscal_core.sync.object_keys import sync_object_key
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.policy import CIENCIA_LOT_SIZE

logger = logging.getLogger(__name__)
_FOLDER: Final = "manifestacoes"
_JSON: Final = "application/json"
AUDIT_SENT: Final = "document.manifestacao"
AUDIT_REFUSED: Final = "document.manifestacao_refused"


class QueuedManifestacao(Model):
    """A conclusive manifestação a user asked for, waiting for the company's agent to sign it."""

    model_config = ConfigDict(extra="forbid")

    access_key: str = Field(pattern=r"^\d{44}$")
    type: ManifestacaoType
    justificativa: str | None = None
    requested_by: str  # the user's id, for the audit log
    requested_at: datetime


class ManifestacaoQueue:
    """The requests waiting for a company's next NF-e run: one object per NF-e."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def put(self, account_id: str, company_id: str, request: QueuedManifestacao) -> None:
        """Queue ``request``, replacing one still waiting for the same NF-e."""
        body = request.model_dump_json().encode()
        self._objects.put(_key(account_id, company_id, request.access_key), body, _JSON)

    def pending(self, account_id: str, company_id: str) -> list[QueuedManifestacao]:
        """The requests waiting, by access key (an unreadable one is logged and removed)."""
        found = []
        for key in self._objects.keys(_prefix(account_id, company_id)):
            body = self._objects.get(key)
            if body is None:  # sent and removed since the listing
                continue
            try:
                found.append(QueuedManifestacao.model_validate_json(body))
            except ValidationError as exc:
                logger.error("removing an unreadable queued manifestação %s: %s", key, exc)
                self._objects.delete(key)
        return found

    def remove(self, account_id: str, company_id: str, access_key: str) -> None:
        """Take the request for ``access_key`` off the queue (done, or refused)."""
        self._objects.delete(_key(account_id, company_id, access_key))


def _prefix(account_id: str, company_id: str) -> str:
    return sync_object_key(account_id, company_id, Family.NFE, f"{_FOLDER}/")


def _key(account_id: str, company_id: str, access_key: str) -> str:
    return f"{_prefix(account_id, company_id)}{access_key}.json"


class QueuedManifestacoes:
    """Sends a company's queued manifestações and records what came of each."""

    def __init__(
        self,
        queue: ManifestacaoQueue,
        documents: DocumentRepository,
        lots: EventLots,
        audit: AuditRepository | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._queue = queue
        self._documents = documents
        self._lots = lots
        self._audit = audit
        self._clock = clock

    def send(
        self,
        company: CompanyRecord,
        manifestor: Manifestor,
        notes: CursorNotes,
        *,
        max_lots: int,
        keep_lease: Callable[[], None],
        tally: Callable[[int], None] = lambda saved: None,
    ) -> tuple[int, list[str]]:
        """Send up to ``max_lots`` lots of the queue; (how many SEFAZ recorded, the problems in words).

        ``tally`` hears each lot's stored events as soon as they are stored (see AutoCiencia).
        """
        waiting = self._queue.pending(company.account_id, company.company_id)[: max_lots * CIENCIA_LOT_SIZE]
        problems: list[str] = []
        recorded = 0
        lot: list[tuple[FiscalDocument, ManifestacaoEvent]] = []
        requests: dict[str, QueuedManifestacao] = {}
        settled: list[tuple[QueuedManifestacao, str | None]] = []  # (request, why it cannot go)
        for request in waiting:
            checked = self._checked(company, request)
            if isinstance(checked, tuple):
                lot.append(checked)
                requests[request.access_key] = request
            else:
                settled.append((request, checked))
        for start in range(0, len(lot), CIENCIA_LOT_SIZE):
            keep_lease()
            chunk = lot[start : start + CIENCIA_LOT_SIZE]
            outcome = self._lots.send(company, manifestor, chunk, notes)
            if outcome.refused is not None:
                refusal = f"SEFAZ refused the lot ({outcome.refused.cstat} {outcome.refused.xmotivo})"
                for document, _ in chunk:
                    self._refused(company, requests[document.access_key or ""], refusal, problems)
                continue
            for sent in outcome.sent:
                self._answered(company, requests[sent.event.chave], sent, problems)
                recorded += sent.recorded
            tally(outcome.events_saved)
        # Settled last: an A3 step stops at its agent's first call and is replayed, and only the
        # pass that gets through reports them (an earlier pass taking them off would lose the words).
        for request, why in settled:
            if why is None:  # recorded by an attempt that stopped before taking it off the queue
                self._audit_entry(company, request, AUDIT_SENT, {"outcome": "ALREADY_RECORDED"})
                self._queue.remove(company.account_id, company.company_id, request.access_key)
            else:
                self._refused(company, request, why, problems)
        return recorded, problems

    def _checked(
        self, company: CompanyRecord, request: QueuedManifestacao
    ) -> tuple[FiscalDocument, ManifestacaoEvent] | str | None:
        """The event to send for ``request``; else why it cannot go, or None when already recorded."""
        kind = CONCLUSIVE[request.type]
        document = self._documents.get_document(
            company.account_id, company.company_id, access_key=request.access_key
        )
        if document is None:
            return "the NF-e is no longer stored"
        if f"{kind.tp_evento}#001" in document.event_ids:
            return None
        try:
            manifestable(document, self._clock())
        except InvalidValue as exc:
            return exc.problem
        return document, ManifestacaoEvent(request.access_key, kind, request.justificativa)

    def _answered(
        self, company: CompanyRecord, request: QueuedManifestacao, sent: Sent, problems: list[str]
    ) -> None:
        if sent.answer is None:
            logger.warning(
                "SEFAZ said nothing about the %s of %s; it stays queued", request.type, request.access_key
            )
            return
        verdict = sent.answer.outcome
        if not sent.recorded:
            self._refused(company, request, quote(verdict), problems)
            return
        details = {"cstat": verdict.cstat, "protocol": sent.answer.protocol}
        self._audit_entry(company, request, AUDIT_SENT, details)
        self._queue.remove(company.account_id, company.company_id, request.access_key)

    def _refused(
        self, company: CompanyRecord, request: QueuedManifestacao, why: str, problems: list[str]
    ) -> None:
        kind = CONCLUSIVE[request.type]
        problems.append(f"The {kind.description} of NF-e {request.access_key} was not registered: {why}.")
        self._audit_entry(company, request, AUDIT_REFUSED, {"reason": why})
        self._queue.remove(company.account_id, company.company_id, request.access_key)

    def _audit_entry(
        self, company: CompanyRecord, request: QueuedManifestacao, action: str, details: Mapping[str, Any]
    ) -> None:
        if self._audit is None:
            return
        self._audit.record(
            AuditEntry(
                account_id=company.account_id,
                action=action,
                entity_type="document",
                entity_id=f"{company.company_id}.{request.access_key}",
                at=self._clock(),
                user_id=request.requested_by,
                company_id=company.company_id,
                details={
                    "type": request.type,
                    "via": "agent",
                    "requested_at": request.requested_at.isoformat(),
                    **details,
                },
            )
        )
