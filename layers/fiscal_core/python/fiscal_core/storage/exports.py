"""Export jobs: created once per idempotency key, then moved along by the export worker."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from fiscal_core.storage import crud
from fiscal_core.storage.attributes import format_ts, utc_now
from fiscal_core.storage.document_records import to_document
from fiscal_core.storage.errors import RecordNotFound, is_condition_failure, storage_call
from fiscal_core.storage.ids import new_sortable_id
from fiscal_core.storage.keys import account_scoped, company_key
from fiscal_core.storage.mapping import record_from
from fiscal_core.storage.models import Document, ExportJob, IdempotencyKey
from fiscal_core.storage.models.documents import DOCUMENT_INDEXES
from fiscal_core.storage.pagination import collect, decode_cursor, encode_cursor
from fiscal_core.storage.records import FiscalDocument, Page

JOB_TTL: Final = timedelta(days=7)  # the ZIP's own lifecycle rule in S3 should match
KEY_TTL: Final = timedelta(hours=24)
# What an export writes of each document (its ZIP path, its spreadsheet row): about half of
# the stored attributes, none of the index keys. DynamoDB bills the items read all the same,
# but a page carries and parses half as much, which is most of an export's reading time.
EXPORT_ATTRIBUTES: Final = (
    "account_id", "company_id", "family", "doc_type", "model", "access_key", "external_id", "series",
    "number", "issued_at", "issuer_doc", "issuer_name", "recipient_doc", "recipient_name", "total_value",
    "status", "protocol", "direction", "kind", "s3_key", "sha256", "nsu", "event_ids", "manifestacao",
)  # fmt: skip
# DynamoDB returns at most 1 MB per page anyway; a stored document is about 1 KB.
EXPORT_PAGE_SIZE: Final = 1000


class ExportStatus(StrEnum):
    """Where an export job is."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """An export job as the API shows it."""

    account_id: str
    export_id: str
    requested_by: str
    status: str
    created_at: datetime
    filters: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    progress: int = 0
    total_docs: int = 0
    processed_docs: int = 0
    failed_docs: int = 0
    size_bytes: int = 0
    s3_key: str | None = None
    errors: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None


class ExportRepository:
    """Create, read, list and advance export jobs of an account."""

    def __init__(
        self, clock: Callable[[], datetime] = utc_now, id_factory: Callable[[datetime], str] = new_sortable_id
    ) -> None:
        self._clock = clock
        self._new_id = id_factory

    def create(
        self,
        account_id: str,
        requested_by: str,
        filters: Mapping[str, Any],
        options: Mapping[str, Any],
        idempotency_key: str | None = None,
    ) -> tuple[ExportRecord, bool]:
        """Queue a new job, or return the one this idempotency key already created (False)."""
        now = self._clock()
        job = ExportJob(
            account_id, self._new_id(now), requested_by=requested_by, status=ExportStatus.QUEUED,
            filters=dict(filters), options=dict(options), idempotency_key=idempotency_key,
            created_at=now, expires_at=now + JOB_TTL,
        )  # fmt: skip
        if idempotency_key is None:
            crud.create(job, "export job")
            return record_from(job, ExportRecord), True
        marker = IdempotencyKey(
            account_scoped(account_id, f"exports:{idempotency_key}"),
            target_id=job.export_id, created_at=now, expires_at=now + KEY_TTL,
        )  # fmt: skip
        # An expired marker still blocks until TTL deletes it (up to days later), so the
        # condition lets a key be reused as soon as its time is up.
        free = IdempotencyKey.scope_key.does_not_exist() | (IdempotencyKey.expires_at < now)
        bound: type[Model] = ExportJob  # typed as Model: its Meta carries region and host
        connection = Connection(region=bound.Meta.region, host=bound.Meta.host)
        with storage_call("create an export job"):
            try:
                with TransactWrite(connection=connection) as tx:
                    tx.save(marker, condition=free)
                    tx.save(job, condition=ExportJob.export_id.does_not_exist())
            except TransactWriteError as exc:
                if not is_condition_failure(exc):
                    raise
                existing = crud.get(IdempotencyKey, marker.scope_key, None, "idempotency key")
                return self.get(account_id, existing.target_id), False
        return record_from(job, ExportRecord), True

    def get(self, account_id: str, export_id: str) -> ExportRecord:
        """A job of the account, or RecordNotFound."""
        return record_from(crud.get(ExportJob, account_id, export_id, f"export {export_id}"), ExportRecord)

    def list_exports(
        self, account_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[ExportRecord]:
        """One page of the account's jobs, newest first."""
        items, next_cursor = crud.query_page(
            ExportJob, account_id, what="exports", limit=limit, cursor=cursor, newest_first=True
        )
        return Page([record_from(i, ExportRecord) for i in items], next_cursor)

    def start(self, account_id: str, export_id: str, total_docs: int) -> None:
        """Mark a job running with the number of documents it will pack."""
        self._update(account_id, export_id, [
            ExportJob.status.set(ExportStatus.RUNNING), ExportJob.started_at.set(self._clock()),
            ExportJob.total_docs.set(total_docs),
        ])  # fmt: skip

    def report_progress(
        self, account_id: str, export_id: str, *, processed: int, failed: int, size_bytes: int
    ) -> None:
        """Record how far the worker got; the percentage follows from the counts."""
        total = max(self.get(account_id, export_id).total_docs, 1)
        self._update(account_id, export_id, [
            ExportJob.processed_docs.set(processed), ExportJob.failed_docs.set(failed),
            ExportJob.size_bytes.set(size_bytes),
            ExportJob.progress.set(min(100, (processed + failed) * 100 // total)),
        ])  # fmt: skip

    def finish(self, account_id: str, export_id: str, *, s3_key: str | None, errors: list[str]) -> None:
        """Close a job: SUCCEEDED with its ZIP's key, or FAILED with what went wrong."""
        now = self._clock()
        status = ExportStatus.SUCCEEDED if s3_key is not None else ExportStatus.FAILED
        actions: list[Action] = [
            ExportJob.status.set(status), ExportJob.finished_at.set(now),
            ExportJob.expires_at.set(now + JOB_TTL), ExportJob.errors.set(list(errors)),  # type: ignore[arg-type]
        ]  # fmt: skip
        if s3_key is not None:
            actions += [ExportJob.s3_key.set(s3_key), ExportJob.progress.set(100)]
        self._update(account_id, export_id, actions)

    def record_total(self, account_id: str, export_id: str, total: int) -> None:
        """Set the number of documents of a running job, counted while it had already begun."""
        self._update(account_id, export_id, [ExportJob.total_docs.set(total)])

    def advance_progress(
        self,
        account_id: str,
        export_id: str,
        *,
        total: int | None,
        processed: int,
        failed: int,
        size_bytes: int,
    ) -> bool:
        """Record how far a running job got, never moving it back; False when the write was skipped.

        A worker that resumes from a checkpoint, or restarts, reports counts the job may already
        have passed: those writes are skipped, so the progress a user polls only rises. It stops
        at 99: 100 is :meth:`finish`'s, once the ZIP exists. Until the total is known (None) only
        the counts move.
        """
        condition = (ExportJob.status == ExportStatus.RUNNING) & (ExportJob.processed_docs <= processed)
        actions: list[Action] = [
            ExportJob.processed_docs.set(processed), ExportJob.failed_docs.set(failed),
            ExportJob.size_bytes.set(size_bytes),
        ]  # fmt: skip
        if total is not None:
            progress = min(99, (processed + failed) * 100 // max(total, 1))
            condition &= ExportJob.progress <= progress
            actions.append(ExportJob.progress.set(progress))
        with storage_call("update an export job's progress"):
            try:
                ExportJob(account_id, export_id).update(actions, condition=condition)
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                return False
        return True

    def count_selection(
        self, index: str, partition: str, start: datetime | None, end: datetime | None
    ) -> int:
        """How many documents a documents Query of ``index`` at ``partition`` returns, by issue date.

        A COUNT Query: DynamoDB counts the items without sending them, so an export knows its
        total before it starts (and shows a percentage) at a fraction of reading the list twice.
        """
        with storage_call("count an export's documents"):
            return int(getattr(Document, index).count(partition, range_key_condition=_period(start, end)))

    def export_page(
        self,
        index: str,
        partition: str,
        start: datetime | None,
        end: datetime | None,
        *,
        cursor: str | None = None,
        limit: int = EXPORT_PAGE_SIZE,
    ) -> Page[FiscalDocument]:
        """One page of the documents a Query of ``index`` returns, oldest first, with EXPORT_ATTRIBUTES.

        The same Query as the documents list (``DocumentRepository.list_documents``), projected:
        the records hold only what an export writes (no timestamps of the store, no version).
        """
        with storage_call("list an export's documents"):
            results = getattr(Document, index).query(
                partition,
                range_key_condition=_period(start, end),
                scan_index_forward=True,
                limit=limit,
                last_evaluated_key=decode_cursor(cursor, DOCUMENT_INDEXES[index], partition),
                attributes_to_get=list(EXPORT_ATTRIBUTES),
            )
            items, next_cursor = collect(results, to_document)
        return Page(items, next_cursor)

    @staticmethod
    def resume_cursor(index: str, partition: str, doc: FiscalDocument) -> str:
        """The documents page cursor that resumes a Query of ``index`` right after ``doc``.

        An export checkpoints between two documents, mid-page: this cursor (the ExclusiveStartKey
        DynamoDB would have returned had the page ended at ``doc``) goes on with the next one,
        and a document added meanwhile before ``doc`` can never make one come out twice.
        """
        key = {
            DOCUMENT_INDEXES[index]: {"S": partition},
            "issued_at": {"S": format_ts(doc.issued_at)},
            "company_key": {"S": company_key(doc.account_id, doc.company_id)},
            "doc_key": {"S": doc.doc_key},
        }
        cursor = encode_cursor(key)
        assert cursor is not None  # a non-empty key always encodes
        return cursor

    def _update(self, account_id: str, export_id: str, actions: list[Action]) -> None:
        with storage_call("update an export job"):
            try:
                ExportJob(account_id, export_id).update(actions, condition=ExportJob.export_id.exists())
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                raise RecordNotFound(f"export {export_id} was not found") from exc


def _period(start: datetime | None, end: datetime | None) -> Condition | None:
    """The key condition of an issue-date period, as the documents list reads it."""
    if start is not None and end is not None:
        return Document.issued_at.between(start, end)
    if start is not None:
        return Document.issued_at >= start
    if end is not None:
        return Document.issued_at <= end
    return None
