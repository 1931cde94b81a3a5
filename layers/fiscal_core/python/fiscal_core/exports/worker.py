"""The export worker: what one queue message makes happen.

A message names an export and a segment. The checkpoint in S3 says which segment is due:

- the job is finished, or gone: nothing to do (a duplicate delivery);
- a later segment is due: this message is stale; the due one is queued again in case the
  worker that wrote the checkpoint died before queueing it (a duplicate is harmless: the
  idempotency layer lets one run per segment);
- this segment is due: resume from the checkpoint (segment 0: start a new ZIP);

then read documents until the selection ends or the invocation's time runs low, and finish or
checkpoint. Only one worker runs a given segment at a time (Powertools idempotency, keyed on the
message), and segments follow each other, so one ZIP is ever written per export.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Final

from fiscal_core.exports.bodies import DocumentBodies, prefetched
from fiscal_core.exports.errors import ExportError, ServiceUnavailable
from fiscal_core.exports.multipart import abort_other_uploads
from fiscal_core.exports.naming import zip_key
from fiscal_core.exports.services import WorkerServices, checkpoint_store, plan_for, selection
from fiscal_core.exports.session import ExportSession
from fiscal_core.exports.task import ExportTask
from fiscal_core.observability import logger
from fiscal_core.storage.errors import RecordNotFound
from fiscal_core.storage.exports import ExportRecord, ExportStatus

# Stop reading this long before Lambda's timeout: a checkpoint takes a few seconds.
MARGIN_MS: Final = 60_000
# Writing the CSV and XLSX at the end, per row (about 40 µs measured; doubled for safety).
FINISH_MS_PER_ROW: Final = 0.08
LOST_CHECKPOINT: Final = "the export lost its checkpoint and cannot go on; request it again"


class Outcome(StrEnum):
    """What a message led to."""

    FINISHED = "finished"
    CONTINUED = "continued"  # checkpointed, next segment queued
    SKIPPED = "skipped"  # nothing to do for this message
    FAILED = "failed"  # given up for a reason no retry would change


def _result(task: ExportTask, outcome: Outcome, detail: str = "", **counts: int) -> dict[str, Any]:
    return {
        "export_id": task.export_id,
        "segment": task.segment,
        "outcome": outcome,
        "detail": detail,
        **counts,
    }


class ExportWorker:
    """Runs export tasks against ``services``."""

    def __init__(self, services: WorkerServices, *, margin_ms: int = MARGIN_MS) -> None:
        self.services = services
        self._margin_ms = margin_ms

    def run(self, task: ExportTask, remaining_ms: Callable[[], int]) -> dict[str, Any]:
        """Do what ``task`` asks; ``remaining_ms`` is the invocation's time left (the Lambda context's)."""
        job = self._job(task)
        if job is None or job.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED):
            return _result(task, Outcome.SKIPPED, "the export is finished or gone")
        state = checkpoint_store(self.services, task.account_id, task.export_id).load()
        if state is not None and state.segment != task.segment:
            if state.segment > task.segment:
                self.services.queue.send(task.model_copy(update={"segment": state.segment}))
            return _result(task, Outcome.SKIPPED, f"segment {state.segment} is due")
        try:
            if state is None and task.segment > 0:
                raise ExportError(LOST_CHECKPOINT)
            plan = plan_for(job, self.services)
            if state is None:
                session = ExportSession.begin(self.services, job, plan, task)
            else:
                session = ExportSession.resume(self.services, job, plan, task, state)
            try:
                return self._work(session, remaining_ms)
            except BaseException:
                session.abandon()
                raise
            finally:
                session.close()
        except ServiceUnavailable:
            raise  # S3, SQS or DynamoDB did not answer: the message comes back and the export resumes
        except ExportError as exc:
            # Nothing a retry would change (the company is gone, the ZIP too large): stop now.
            self.fail(task, str(exc))
            return _result(task, Outcome.FAILED, str(exc))

    def fail(self, task: ExportTask, reason: str) -> None:
        """Give the export up: abort its upload, drop its checkpoint, mark the job FAILED with ``reason``."""
        job = self._job(task)
        if job is None or job.status in (ExportStatus.SUCCEEDED, ExportStatus.FAILED):
            return
        s3, bucket = self.services.s3, self.services.exports_bucket
        abort_other_uploads(s3, bucket, zip_key(task.account_id, task.export_id))
        checkpoint_store(self.services, task.account_id, task.export_id).clear()
        self.services.jobs.finish(task.account_id, task.export_id, s3_key=None, errors=[reason])
        logger.warning("export failed", extra={"export_id": task.export_id, "reason": reason})

    def _work(self, session: ExportSession, remaining_ms: Callable[[], int]) -> dict[str, Any]:
        state, task, services = session.state, session.task, self.services
        finishing_only = state.reading_done
        if not state.reading_done:
            options = session.options
            bodies = DocumentBodies(
                services.s3, services.documents_bucket, services.documents, services.renderer,
                events=options.include_events, pdfs=options.include_pdfs,
            )  # fmt: skip
            docs = selection(services.jobs, session.plan, state.cursor)
            stream = prefetched(docs, bodies.fetch, threads=services.threads, window=2 * services.threads)
            try:
                for fetched in stream:
                    session.add(fetched)
                    if remaining_ms() < self._margin_ms:
                        plan = session.plan
                        cursor = services.jobs.resume_cursor(plan.index, plan.partition, fetched.doc)
                        return self._continued(session, cursor)
            finally:
                stream.close()
                docs.close()
            state.reading_done = True
        rows = state.rows + session.rows.rows
        # A session that had only the ending to do always does it: it has a whole invocation.
        if not finishing_only and remaining_ms() < self._margin_ms + rows * FINISH_MS_PER_ROW:
            return self._continued(session, state.cursor)
        size = session.finish()
        logger.info("export finished", extra={"export_id": task.export_id, "size": size, "rows": rows})
        return _result(task, Outcome.FINISHED, processed=state.processed, failed=state.failed, size=size)

    def _continued(self, session: ExportSession, cursor: str | None) -> dict[str, Any]:
        saved = session.checkpoint(cursor)
        logger.info("export continues", extra={"export_id": session.task.export_id, "next": saved.segment})
        return _result(session.task, Outcome.CONTINUED, processed=saved.processed, failed=saved.failed)

    def _job(self, task: ExportTask) -> ExportRecord | None:
        try:
            return self.services.jobs.get(task.account_id, task.export_id)
        except RecordNotFound:
            return None
