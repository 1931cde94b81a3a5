"""Storing one answer's documents durably: XML to S3 first, then the records, then nothing else.

The order is what makes a crash harmless: a record never points to an object that is not there,
and the cursor (moved by the caller, after this returns) never passes a page that is not fully
stored. Repeating a page repeats writes of identical content under identical keys, so a crash at
any point repeats work but loses and duplicates nothing (see :mod:`fiscal_core.sync.page_plan`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import Family, FiscalDocument
from fiscal_core.sync.answer import DocZip
from fiscal_core.sync.crash import CrashPoint, CrashPoints
from fiscal_core.sync.items import Company, DocumentItem, EventItem, PageItem, classify
from fiscal_core.sync.notes import CursorNotes, NotesStore
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.page_plan import Write, plan_page
from fiscal_core.sync.page_records import PageRecords

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageCounts:
    """What a page brought and what it newly saved."""

    docs_found: int = 0  # docZips received (unreadable ones too: they are kept aside in S3)
    docs_saved: int = 0  # documents created or upgraded from summary to full
    events_saved: int = 0  # events stored for the first time

    def __add__(self, other: PageCounts) -> PageCounts:
        return PageCounts(
            self.docs_found + other.docs_found,
            self.docs_saved + other.docs_saved,
            self.events_saved + other.events_saved,
        )


class PageStore:
    """Stores the documents of an answer for one company; see the module docstring for the order."""

    def __init__(
        self,
        objects: ObjectStore,
        records: PageRecords,
        documents: DocumentRepository,
        notes: NotesStore,
        executor: Executor,
        crash: CrashPoints,
        clock: Callable[[], datetime],
    ) -> None:
        self._objects = objects
        self._records = records
        self._documents = documents
        self._notes = notes
        self._executor = executor
        self._crash = crash
        self._clock = clock

    def store(
        self,
        company: Company,
        family: Family,
        documents: Sequence[DocZip],
        nsu_range: tuple[int, int] | None,
        notes: CursorNotes,
    ) -> PageCounts:
        """Store ``documents`` (one answer, in NSU order); ``notes`` is updated and saved if needed."""
        now = self._clock()
        items = [classify(doczip, company, family, now) for doczip in documents]
        return self.store_items(company, family, items, nsu_range, notes)

    def store_items(
        self,
        company: Company,
        family: Family,
        items: Sequence[PageItem],
        nsu_range: tuple[int, int] | None,
        notes: CursorNotes,
    ) -> PageCounts:
        """Store items already read (an answer's, or events FiscalMix registered itself)."""
        if not items:
            return PageCounts()
        now = self._clock()
        doc_keys = {i.document.doc_key for i in items if isinstance(i, DocumentItem)}
        events = {(i.event.doc_key, i.event.event_id) for i in items if isinstance(i, EventItem)}
        snapshot = self._records.snapshot(
            company.account_id, company.company_id, doc_keys | {key for key, _ in events}, events
        )
        plan = plan_page(items, snapshot, notes.orphans.keys(), nsu_range)
        for item in plan.unreadable:
            logger.warning(
                "kept an unreadable docZip (NSU %s) of company %s at %s: %s",
                item.nsu, company.company_id, item.xml.key, item.problem,
            )  # fmt: skip
        self._objects.put_xml(plan.objects)
        self._crash.reached(CrashPoint.AFTER_S3_WRITE)
        beaten = self._records.write(plan.new_documents, plan.new_events, plan.updates, self._executor)
        updated = {update.document.doc_key for update in plan.updates}
        redo = {update.document.doc_key for update in beaten}
        self._through_repository(
            [writes for key, writes in plan.through_repository.items() if key in redo or key not in updated]
        )
        if notes.track_orphans(plan.orphans_found, plan.orphans_resolved, now):
            self._notes.save(company.account_id, company.company_id, family, notes)
        self._crash.reached(CrashPoint.AFTER_RECORD_WRITE)
        return PageCounts(len(items), plan.docs_saved, plan.events_saved)

    def _through_repository(self, work: Sequence[list[Write]]) -> None:
        """Repository writes: one document's in order, different documents' concurrently."""
        if work:
            list(self._executor.map(self._write_in_order, work))

    def _write_in_order(self, writes: list[Write]) -> None:
        for write in writes:
            if isinstance(write, FiscalDocument):
                self._documents.put_document(write)
            else:
                self._documents.put_event(write)
