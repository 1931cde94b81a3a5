"""One invocation's work on an export: open or reopen the ZIP, add documents, then hand over or finish.

A session begins from nothing (segment 0) or from a checkpoint, and ends in one of three ways:
:meth:`ExportSession.checkpoint` (state to S3, the next segment queued), :meth:`ExportSession.finish`
(spreadsheets, central directory, upload completed, job closed) or :meth:`ExportSession.abandon`
(an error: a ZIP no checkpoint names is aborted, so a retry starts clean).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from typing import Final

from fiscal_core.api.documents_filters import IndexPlan
from fiscal_core.exports.archive import ArchiveWriter, read_chunks
from fiscal_core.exports.bodies import Fetched
from fiscal_core.exports.checkpoint import Checkpoint, PartRecord
from fiscal_core.exports.multipart import MultipartUpload, abort_other_uploads
from fiscal_core.exports.naming import CSV_NAME, XLSX_NAME, document_stem, event_name, zip_key
from fiscal_core.exports.progress import ProgressThrottle
from fiscal_core.exports.request import ExportOptions
from fiscal_core.exports.services import Companies, WorkerServices, checkpoint_store
from fiscal_core.exports.spreadsheet import HEADER, RowSpool, build_xlsx, document_row
from fiscal_core.exports.task import ExportTask
from fiscal_core.storage.exports import ExportRecord

MAX_ERRORS: Final = 50  # the job lists the first ones and counts the rest
STREAMED_MISMATCH: Final = "its XML does not match the SHA-256 recorded for it (included as stored)"


def _hashed(chunks: Iterable[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


class ExportSession:
    """The ZIP, the rows and the counters of one export during one invocation."""

    def __init__(
        self,
        services: WorkerServices,
        job: ExportRecord,
        plan: IndexPlan,
        task: ExportTask,
        state: Checkpoint,
        upload: MultipartUpload,
    ) -> None:
        self.services = services
        self.job = job
        self.plan = plan
        self.task = task
        self.state = state
        self.upload = upload
        self.archive = ArchiveWriter(upload, entries=state.entries, directory_bytes=state.directory_bytes)
        self.options = ExportOptions.model_validate(dict(job.options))
        self.store = checkpoint_store(services, job.account_id, job.export_id)
        self.key = upload.key
        self.companies = Companies(services.companies, job.account_id)
        self.rows = RowSpool()
        self._saved = False
        self.progress = ProgressThrottle(
            state.total, self.report, done=state.processed + state.failed, clock=services.monotonic
        )
        # A new export counts its selection while it already writes: the count reads every item
        # of the selection (seconds for a large one) and nothing has to wait for it but the %.
        self._counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-count")
        self._count: Future[int] | None = None
        if state.total is None:
            flt = plan.flt
            self._count = self._counter.submit(
                services.jobs.count_selection, plan.index, plan.partition, flt.start, flt.end
            )

    @classmethod
    def begin(
        cls, services: WorkerServices, job: ExportRecord, plan: IndexPlan, task: ExportTask
    ) -> ExportSession:
        """A new ZIP: mark the job running, open the upload (the selection is counted meanwhile)."""
        s3, bucket, key = services.s3, services.exports_bucket, zip_key(job.account_id, job.export_id)
        abort_other_uploads(s3, bucket, key)  # a worker that died before any checkpoint left one
        services.jobs.start(job.account_id, job.export_id, 0)
        upload = MultipartUpload.start(s3, bucket, key, part_size=services.part_size)
        return cls(services, job, plan, task, Checkpoint(segment=0, upload_id=upload.upload_id), upload)

    @classmethod
    def resume(
        cls, services: WorkerServices, job: ExportRecord, plan: IndexPlan, task: ExportTask, state: Checkpoint
    ) -> ExportSession:
        """The ZIP as the last checkpoint left it."""
        s3, bucket, key = services.s3, services.exports_bucket, zip_key(job.account_id, job.export_id)
        abort_other_uploads(s3, bucket, key, keep=state.upload_id)
        tail = checkpoint_store(services, job.account_id, job.export_id).tail(state.segment)
        upload = MultipartUpload(
            s3,
            bucket,
            key,
            state.upload_id,
            part_size=services.part_size,
            parts=state.upload_parts(),
            tail=tail,
        )
        return cls(services, job, plan, task, state, upload)

    @property
    def checkpointed(self) -> bool:
        """Whether a checkpoint names this session's upload (it must then outlive an error)."""
        return self.task.segment > 0 or self._saved

    def add(self, fetched: Fetched) -> None:
        """Put one document (XML, events, PDF) in the ZIP and its row in the spreadsheet."""
        doc, state = fetched.doc, self.state
        cnpj = self.companies.cnpj(doc.company_id)
        stem = document_stem(self.options.layout, cnpj, doc)
        file = pdf = None
        note = fetched.note
        if fetched.xml is not None:
            file, digest = f"{stem}.xml", hashlib.sha256()
            self.archive.add(file, _hashed(fetched.xml.chunks(), digest), fetched.xml.size)
            if fetched.xml.data is None and doc.sha256 and digest.hexdigest() != doc.sha256:
                note = STREAMED_MISMATCH
                self._error(doc.access_key or doc.external_id, note)
            for event, data in fetched.events:
                self.archive.add(event_name(stem, event), [data], len(data))
            state.events += len(fetched.events)
            if fetched.pdf is not None:
                pdf = f"{stem}.pdf"
                self.archive.add(pdf, [fetched.pdf], len(fetched.pdf))
                state.pdfs += 1
            state.processed += 1
        else:
            state.failed += 1
            self._error(doc.access_key or doc.external_id, note)
        self.rows.write(
            document_row(doc, company_cnpj=cnpj, file=file, events=len(fetched.events), pdf=pdf, note=note)
        )
        if self._count is not None and self._count.done():
            self._await_total()
        self.progress.update(state.processed + state.failed)

    def report(self) -> None:
        """Write the counters to the job (skipped by the store if the job already showed more)."""
        state = self.state
        self.services.jobs.advance_progress(
            self.job.account_id, self.job.export_id, total=state.total,
            processed=state.processed, failed=state.failed, size_bytes=self.upload.offset,
        )  # fmt: skip

    def checkpoint(self, cursor: str | None) -> Checkpoint:
        """Save everything the next segment needs and queue it; this session ends here."""
        self._await_total()
        state = self.state.model_copy(
            update={
                "segment": self.state.segment + 1,
                "parts": [PartRecord(number=p.number, etag=p.etag, size=p.size) for p in self.upload.parts],
                "entries": self.archive.entries,
                "directory_bytes": self.archive.directory_bytes,
                "rows": self.state.rows + self.rows.rows,
                "rows_bytes": self.state.rows_bytes + self.rows.bytes,
                "cursor": cursor,
            }
        )
        self.store.save(state, directory=self.archive.directory, rows=self.rows.file, tail=self.upload.tail)
        self._saved = True
        self.report()
        self.services.queue.send(self.task.model_copy(update={"segment": state.segment}))
        return state

    def finish(self) -> int:
        """Spreadsheets, central directory, the upload completed, the job closed; returns the ZIP's size."""
        self._await_total()
        segments = self.state.segments
        rows_bytes = self.state.rows_bytes + self.rows.bytes
        csv_chunks = chain([HEADER], self.store.chunks(segments, "rows"), read_chunks(self.rows.file))
        self.archive.add(CSV_NAME, csv_chunks, len(HEADER) + rows_bytes)
        path = build_xlsx(
            chain(self.store.chunks(segments, "rows"), read_chunks(self.rows.file)), self.services.tmpdir
        )
        try:
            with open(path, "rb") as xlsx:
                # An XLSX is a ZIP already: deflating it again costs time and saves nothing.
                self.archive.add(XLSX_NAME, read_chunks(xlsx), os.path.getsize(path), compress=False)
        finally:
            os.remove(path)
        self.archive.finish(self.store.chunks(segments, "directory"))
        self.report()
        size = self.upload.complete()
        self.services.jobs.finish(
            self.job.account_id, self.job.export_id, s3_key=self.key, errors=self.errors()
        )
        self.store.clear()
        return size

    def abandon(self) -> None:
        """After an error: abort a ZIP no checkpoint names (a retry restarts); keep a checkpointed one."""
        if not self.checkpointed:
            self.upload.abort()

    def close(self) -> None:
        """Release the spools and the counting thread."""
        self._counter.shutdown(wait=True)
        self.archive.close()
        self.rows.close()

    def _await_total(self) -> None:
        """Take the count's result once: into the state, the job and the progress steps."""
        if self._count is None:
            return
        total, self._count = self._count.result(), None
        self.state.total = total
        self.services.jobs.record_total(self.job.account_id, self.job.export_id, total)
        self.progress.set_total(total)

    def errors(self) -> list[str]:
        """The job's error list: the first MAX_ERRORS messages and how many more there were."""
        state = self.state
        extra = state.problems - len(state.errors)
        return state.errors + (
            [f"... and {extra} more (see the note column of {CSV_NAME})"] if extra > 0 else []
        )

    def _error(self, document: str | None, note: str | None) -> None:
        self.state.problems += 1
        if len(self.state.errors) < MAX_ERRORS:
            self.state.errors.append(f"{document}: {note}")
