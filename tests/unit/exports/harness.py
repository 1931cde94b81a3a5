"""A worker wired to moto, with a queue and a job store that record what the worker did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from fiscal_core.exports.request import ExportFilters, ExportOptions, stored_filters, stored_options
from fiscal_core.exports.services import WorkerServices
from fiscal_core.exports.task import ExportQueue, ExportTask
from fiscal_core.exports.worker import ExportWorker, Outcome
from fiscal_core.storage.exports import ExportRecord, ExportRepository
from tests.unit.exports.seed import DOCS_BUCKET, EXPORTS_BUCKET

LOTS_OF_TIME = 900_000


class RecordingQueue(ExportQueue):
    """The export queue as a list."""

    def __init__(self) -> None:
        self.sent: list[ExportTask] = []

    def send(self, task: ExportTask) -> None:
        self.sent.append(task)


class RecordingJobs(ExportRepository):
    """The job store, noting the progress a poller would have seen after each write."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

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
        written = super().advance_progress(
            account_id, export_id, total=total, processed=processed, failed=failed, size_bytes=size_bytes
        )
        self.seen.append(self.get(account_id, export_id).progress)
        return written

    def finish(self, account_id: str, export_id: str, *, s3_key: str | None, errors: list[str]) -> None:
        super().finish(account_id, export_id, s3_key=s3_key, errors=errors)
        self.seen.append(self.get(account_id, export_id).progress)


class FlakyS3:
    """An S3 client whose document reads fail after ``fail_after`` of them: a worker crash."""

    def __init__(self, real: Any, fail_after: int) -> None:
        self._real = real
        self._left = fail_after

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Bucket"] == DOCS_BUCKET:
            if self._left <= 0:
                raise RuntimeError("injected crash")
            self._left -= 1
        return self._real.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@dataclass
class Harness:
    """Jobs, a worker and the loop that plays the queue's part."""

    s3: Any
    account_id: str
    queue: RecordingQueue = field(default_factory=RecordingQueue)
    jobs: RecordingJobs = field(default_factory=RecordingJobs)
    renderer: Callable[[Any, bytes], bytes] | None = None
    part_size: int = 5 * 1024 * 1024

    def worker(self, s3: Any = None, margin_ms: int = 60_000) -> ExportWorker:
        services = WorkerServices(
            s3=cast(Any, s3 or self.s3), exports_bucket=EXPORTS_BUCKET, documents_bucket=DOCS_BUCKET,
            queue=self.queue, jobs=self.jobs, threads=4, part_size=self.part_size,
        )  # fmt: skip
        if self.renderer is not None:
            services.renderer = self.renderer
        return ExportWorker(services, margin_ms=margin_ms)

    def job(
        self, filters: dict[str, Any] | None = None, options: dict[str, Any] | None = None
    ) -> ExportRecord:
        record, _ = self.jobs.create(
            self.account_id, "u1",
            stored_filters(ExportFilters.model_validate(filters or {})),
            stored_options(ExportOptions.model_validate(options or {})),
        )  # fmt: skip
        return record

    def task(self, job: ExportRecord, segment: int = 0) -> ExportTask:
        return ExportTask(account_id=job.account_id, export_id=job.export_id, segment=segment)

    def run_to_end(self, task: ExportTask, *, docs_per_invocation: int | None = None) -> list[dict[str, Any]]:
        """Run ``task`` and every continuation it queues; ``docs_per_invocation`` plays the timeout."""
        results = []
        while True:
            results.append(self.worker().run(task, self.clock(docs_per_invocation)))
            if results[-1]["outcome"] != Outcome.CONTINUED:
                return results
            task = self.queue.sent.pop(0)

    def clock(self, docs: int | None) -> Callable[[], int]:
        """A remaining-time function that runs low after ``docs`` calls (one call per document)."""
        calls = {"n": 0}

        def remaining_ms() -> int:
            calls["n"] += 1
            return LOTS_OF_TIME if docs is None or calls["n"] < docs else 1_000

        return remaining_ms

    def zip_bytes(self, job: ExportRecord) -> bytes:
        record = self.jobs.get(job.account_id, job.export_id)
        assert record.s3_key is not None
        return cast(bytes, self.s3.get_object(Bucket=EXPORTS_BUCKET, Key=record.s3_key)["Body"].read())

    def unfinished_uploads(self) -> list[Any]:
        return cast(list[Any], self.s3.list_multipart_uploads(Bucket=EXPORTS_BUCKET).get("Uploads", []))

    def work_objects(self, job: ExportRecord) -> list[Any]:
        prefix = f"{job.account_id}/{job.export_id}/work/"
        return cast(
            list[Any], self.s3.list_objects_v2(Bucket=EXPORTS_BUCKET, Prefix=prefix).get("Contents", [])
        )
