"""A real SyncWorker over moto with fake SEFAZ services, and helpers to drive and inspect it."""

from __future__ import annotations

import functools
import hashlib
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fiscal_core.storage.audit import AuditRepository
from fiscal_core.storage.budget import ConsultationBudget
from fiscal_core.storage.companies import CompanyRecord, CompanyRepository
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import Family, FiscalDocument, FiscalEvent
from fiscal_core.storage.sync_runs import RunRecord, SyncRunRepository
from fiscal_core.sync.ciencia import AutoCiencia
from fiscal_core.sync.contract import Next, Scope, SyncState, Task, Trigger
from fiscal_core.sync.crash import NO_CRASHES, CrashPoints, SimulatedCrash
from fiscal_core.sync.deps import SyncDeps
from fiscal_core.sync.event_lots import EventLots
from fiscal_core.sync.journal import PageJournal
from fiscal_core.sync.notes import NotesStore
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.page_records import PageRecords
from fiscal_core.sync.page_store import PageStore
from fiscal_core.sync.policy import SyncPolicy
from fiscal_core.sync.queued_manifestacoes import ManifestacaoQueue, QueuedManifestacoes
from fiscal_core.sync.runs import RunBook
from fiscal_core.sync.single_queries import Allowance, SingleQueryWork
from fiscal_core.sync.worker import SyncWorker
from local.fixtures.documents import Company, EventType, GeneratedDocument, nfe_event, proc_nfe, res_nfe
from local.fixtures.identities import cnpj_for
from tests.unit.sync.fakes import (
    FakeClock,
    FakeContinuation,
    FakeCredentials,
    FakeDistribution,
    FakeManifestor,
    FakeServices,
    FakeSingle,
)

REGION = "sa-east-1"
BUCKET = "sync-unit-documents"
ACCOUNT = "acc1"
COMPANY_ID = "co1"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
COMPANY = Company(cnpj_for("sync unit company"), "EMPRESA SYNC LTDA")
SUPPLIER = Company(cnpj_for("sync unit supplier"), "FORNECEDOR SYNC LTDA", uf="PR")


@functools.cache
def _note(issuer: Company, recipient: Company, number: int, issued: datetime) -> GeneratedDocument:
    # Signing makes a note cost ~60 ms; the same note is the same bytes in every test.
    return proc_nfe(issuer, recipient, number=number, issued_at=issued, total=Decimal("150.00"))


@functools.cache
def _event(note: GeneratedDocument, event: EventType, at: datetime) -> GeneratedDocument:
    return nfe_event(note, event, at=at)


@dataclass
class RunResult:
    """How a driven run went: the states each task returned, and the crashes met."""

    states: list[SyncState] = field(default_factory=list)
    crashes: int = 0

    @property
    def last(self) -> SyncState:
        return self.states[-1]


class Harness:
    """Drives the worker like the workflow does, over moto, with the fakes of ``fakes``."""

    def __init__(self, s3: Any, executor: Executor, policy: SyncPolicy | None = None) -> None:
        self.s3 = s3
        self.clock = FakeClock(START)
        self.nfe = FakeDistribution(self.clock)
        self.cte = FakeDistribution(self.clock)
        self.nfse = FakeDistribution(self.clock, has_max=False)
        self.single = FakeSingle(self.clock)
        self.manifestor = FakeManifestor()
        self.credentials = FakeCredentials()
        self.crash: CrashPoints = NO_CRASHES
        self.policy = policy or SyncPolicy(page_pause_seconds=0, store_threads=4)
        self.documents = DocumentRepository(clock=self.clock)
        self.cursors = SyncCursorRepository(clock=self.clock)
        self.runs = SyncRunRepository(clock=self.clock)
        self.audit = AuditRepository()
        self._executor = executor
        self.numbers = 0
        self.runs_started = 0
        self.continuations = FakeContinuation()

    def queue(self) -> ManifestacaoQueue:
        """The manifestações queued for the A3 companies, as the API queues them."""
        return ManifestacaoQueue(ObjectStore(self.s3, BUCKET, self._executor))

    def worker(self) -> SyncWorker:
        clock, policy = self.clock, self.policy
        objects = ObjectStore(self.s3, BUCKET, self._executor)
        notes = NotesStore(objects)
        store = PageStore(
            objects, PageRecords(clock), self.documents, notes, self._executor, self.crash, clock
        )
        allowance = Allowance(self.cursors, ConsultationBudget(clock=clock), clock)
        lots = EventLots(self.documents, store, clock)
        services = FakeServices(
            {Family.NFE: self.nfe, Family.CTE: self.cte, Family.NFSE: self.nfse}, self.single, self.manifestor
        )
        return SyncWorker(
            SyncDeps(
                clock=clock,
                policy=policy,
                crash=self.crash,
                companies=CompanyRepository(),
                cursors=self.cursors,
                runs=RunBook(self.runs, self.audit, clock),
                journal=PageJournal(objects),
                notes=notes,
                store=store,
                ciencia=AutoCiencia(self.documents, lots, clock),
                queued=QueuedManifestacoes(self.queue(), self.documents, lots, self.audit, clock),
                single=SingleQueryWork(self.documents, store, allowance, policy, clock),
                credentials=self.credentials,
                services=services,
                continuation=self.continuations,
            )
        )

    # Setting up --------------------------------------------------------------------------------

    def company(self, *, auto_ciencia: bool = False) -> CompanyRecord:
        record = CompanyRecord(
            account_id=ACCOUNT, company_id=COMPANY_ID, cnpj=COMPANY.cnpj, legal_name=COMPANY.name, uf="SP",
            created_at=START, updated_at=START, auto_ciencia=auto_ciencia,
        )  # fmt: skip
        CompanyRepository().create(record)
        for family in (Family.NFE, Family.CTE, Family.NFSE):
            self.cursors.ensure(ACCOUNT, COMPANY_ID, family, COMPANY.cnpj)
        return record

    def note(
        self, *, hours_ago: float = 2, issuer: Company = SUPPLIER, recipient: Company = COMPANY
    ) -> GeneratedDocument:
        """An NF-e authorised ``hours_ago`` before the clock."""
        self.numbers += 1
        issued = (self.clock.now - timedelta(hours=hours_ago)).replace(microsecond=0)
        return _note(issuer, recipient, self.numbers, issued)

    def publish_summary(self, note: GeneratedDocument) -> str:
        return self.nfe.publish("resNFe_v1.01.xsd", res_nfe(note).xml)

    def publish_full(self, note: GeneratedDocument) -> str:
        return self.nfe.publish("procNFe_v4.00.xsd", note.xml)

    def publish_event(self, note: GeneratedDocument, event: EventType, *, minutes: int = 30) -> str:
        at = (self.clock.now - timedelta(minutes=minutes)).replace(microsecond=0)
        return self.nfe.publish("procEventoNFe_v1.00.xsd", _event(note, event, at).xml)

    # Driving -----------------------------------------------------------------------------------

    def run(
        self, family: Family = Family.NFE, *, trigger: Trigger = Trigger.SCHEDULE, on_crash: str = "retry",
        max_tasks: int = 500, scope: Scope = Scope.FULL,
    ) -> RunResult:  # fmt: skip
        """START, then STEP until FINISH or SKIP, honouring WAIT on the clock.

        On a SimulatedCrash the task is repeated with the same input (the workflow's Retry) when
        ``on_crash`` is "retry", or FAIL runs (the Catch) and the run ends when it is "fail".
        """
        result = RunResult()
        self.runs_started += 1
        state = SyncState(
            account_id=ACCOUNT, company_id=COMPANY_ID, family=family, trigger=trigger,
            user_id="u1" if trigger is Trigger.USER else None, lease_owner=f"execution-{self.runs_started}",
            scope=scope,
        )  # fmt: skip
        for _ in range(max_tasks):
            try:
                state = self.worker().handle(state)
            except SimulatedCrash as exc:
                result.crashes += 1
                if on_crash == "fail":
                    failing = state.model_copy(
                        update={"task": Task.FAIL, "error": {"Error": "SimulatedCrash", "Cause": str(exc)}}
                    )
                    result.states.append(self.worker().handle(failing))
                    return result
                continue
            result.states.append(state)
            if state.next in {Next.FINISH, Next.SKIP}:
                if state.next is Next.FINISH and state.task is Task.FINISH:
                    result.states.append(self.worker().handle(state))
                return result
            if state.next is Next.WAIT:
                self.clock.advance(timedelta(seconds=state.wait_seconds))
            if state.next is Next.CONTINUE:
                state = state.model_copy(update={"task": Task.STEP})
        raise AssertionError("the run did not finish")

    # Inspecting --------------------------------------------------------------------------------

    def stored_documents(self) -> list[FiscalDocument]:
        from fiscal_core.storage.document_records import to_document

        return [to_document(item) for item in Document.scan()]

    def stored_events(self) -> list[FiscalEvent]:
        from fiscal_core.storage.document_records import to_event

        return [to_event(item) for item in DocumentEvent.scan()]

    def document(self, key: str) -> FiscalDocument:
        found = self.documents.get_document(ACCOUNT, COMPANY_ID, access_key=key)
        assert found is not None, key
        return found

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = self.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        return found

    def run_records(self) -> list[RunRecord]:
        return self.runs.list_runs(ACCOUNT, COMPANY_ID).items

    def totals(self) -> Counter[str]:
        """The counters summed over every run."""
        totals: Counter[str] = Counter()
        for run in self.run_records():
            totals.update(docs_found=run.docs_found, docs_saved=run.docs_saved, events_saved=run.events_saved)
        return totals

    def assert_consistent(self) -> None:
        """Every record's XML is in S3 with the SHA-256 recorded; no object lacks a record."""
        objects = self.objects(f"{ACCOUNT}/{COMPANY_ID}/")
        referenced = set()
        records: list[tuple[str | None, str | None]] = [(d.s3_key, d.sha256) for d in self.stored_documents()]
        records += [(e.s3_key, e.sha256) for e in self.stored_events()]
        for key, sha256 in records:
            if key is None:
                continue
            referenced.add(key)
            assert key in objects, f"{key} is missing"
            assert hashlib.sha256(objects[key]).hexdigest() == sha256, key
        xml = {key for key in objects if "/sync/" not in key}
        assert xml == referenced, f"objects without a record: {xml - referenced}"
