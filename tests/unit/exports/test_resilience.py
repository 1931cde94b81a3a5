"""Exports that outlive an invocation or a crash still end as one valid ZIP."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from fiscal_core.exports.errors import QueueUnavailable
from fiscal_core.exports.naming import zip_key
from fiscal_core.exports.task import ExportTask
from fiscal_core.exports.worker import LOST_CHECKPOINT, Outcome
from fiscal_core.storage.exports import ExportStatus
from tests.unit.exports.harness import LOTS_OF_TIME, FlakyS3, Harness, RecordingQueue
from tests.unit.exports.seed import EXPORTS_BUCKET, Seeder, csv_rows, open_zip, xml_entries


@pytest.fixture
def harness(aws: dict[str, Any], seeder: Seeder) -> Harness:
    return Harness(aws["s3"], seeder.account_id)


def expected_entries(seeder: Seeder) -> dict[str, str]:
    return {key: hashlib.sha256(body).hexdigest() for key, body in seeder.bodies.items()}


def test_a_timeout_checkpoints_and_a_new_invocation_continues(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 12):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    results = harness.run_to_end(harness.task(job), docs_per_invocation=3)
    # Three documents per invocation; the fourth reads the last two, has no time left for the
    # spreadsheets and footer, and hands over once more: the fifth only finishes
    assert [r["outcome"] for r in results] == [Outcome.CONTINUED] * 4 + [Outcome.FINISHED]
    assert [r["segment"] for r in results] == [0, 1, 2, 3, 4]
    archive = open_zip(harness.zip_bytes(job))
    assert xml_entries(archive) == expected_entries(seeder)
    assert [r["number"] for r in csv_rows(archive)] == [str(n) for n in range(1, 12)]
    assert harness.jobs.seen == sorted(harness.jobs.seen) and harness.jobs.seen[-1] == 100
    assert harness.work_objects(job) == [] and harness.unfinished_uploads() == []


def test_parts_of_several_invocations_make_one_object(harness: Harness, seeder: Seeder) -> None:
    # Three incompressible 2.5 MiB documents: 7.5 MiB of ZIP, two 5 MiB parts, read as streams
    company = seeder.company()
    for n in (1, 2, 3):
        seeder.document(company, n, body=os.urandom(2_621_440))
    job = harness.job({"company_id": company})
    results = harness.run_to_end(harness.task(job), docs_per_invocation=1)
    assert [r["outcome"] for r in results][-1] == Outcome.FINISHED and len(results) >= 3
    data = harness.zip_bytes(job)
    head = harness.s3.head_object(
        Bucket=EXPORTS_BUCKET, Key=zip_key(job.account_id, job.export_id), PartNumber=1
    )
    assert head["PartsCount"] == 2 and head["ContentLength"] == 5 * 1024 * 1024
    assert xml_entries(open_zip(data)) == expected_entries(seeder)


def test_a_crash_before_any_checkpoint_aborts_and_the_redelivery_starts_clean(
    harness: Harness, seeder: Seeder
) -> None:
    company = seeder.company()
    for n in range(1, 11):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    task = harness.task(job)
    with pytest.raises(RuntimeError, match="injected crash"):
        harness.worker(FlakyS3(harness.s3, fail_after=6)).run(task, lambda: LOTS_OF_TIME)
    assert harness.unfinished_uploads() == []  # the half-written ZIP was aborted
    crashed_at = harness.jobs.get(job.account_id, job.export_id).progress
    # The message comes back (SQS redelivers it) and a healthy worker takes it
    (result,) = harness.run_to_end(task)
    assert result["outcome"] == Outcome.FINISHED
    assert xml_entries(open_zip(harness.zip_bytes(job))) == expected_entries(seeder)
    seen = harness.jobs.seen
    assert seen == sorted(seen) and crashed_at > 0 and seen[-1] == 100  # never went back to 0


def test_a_crash_after_a_checkpoint_resumes_from_it(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 10):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    (first,) = [harness.worker().run(harness.task(job), harness.clock(4))]
    assert first["outcome"] == Outcome.CONTINUED
    continuation = harness.queue.sent.pop()
    with pytest.raises(RuntimeError, match="injected crash"):
        harness.worker(FlakyS3(harness.s3, fail_after=3)).run(continuation, lambda: LOTS_OF_TIME)
    assert len(harness.unfinished_uploads()) == 1  # kept: the checkpoint names it
    # Redelivered: resumes at document 5 and writes each document once
    harness.run_to_end(continuation)
    archive = open_zip(harness.zip_bytes(job))
    assert xml_entries(archive) == expected_entries(seeder)
    assert [r["number"] for r in csv_rows(archive)] == [str(n) for n in range(1, 10)]
    assert harness.unfinished_uploads() == []


def test_a_dead_workers_upload_is_aborted_by_the_next_one(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company})
    key = zip_key(job.account_id, job.export_id)
    harness.s3.create_multipart_upload(Bucket=EXPORTS_BUCKET, Key=key)  # killed without cleaning up
    harness.run_to_end(harness.task(job))
    assert harness.unfinished_uploads() == []
    assert len(xml_entries(open_zip(harness.zip_bytes(job)))) == 1


def test_duplicate_and_stale_messages_change_nothing(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 7):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    first = harness.worker().run(harness.task(job), harness.clock(2))
    assert first["outcome"] == Outcome.CONTINUED
    # segment 0 delivered again after its checkpoint: it hands over to segment 1, nothing more
    harness.queue.sent.clear()
    again = harness.worker().run(harness.task(job), lambda: LOTS_OF_TIME)
    assert again["outcome"] == Outcome.SKIPPED and [t.segment for t in harness.queue.sent] == [1]
    harness.run_to_end(harness.queue.sent.pop())
    key = harness.jobs.get(job.account_id, job.export_id).s3_key
    etag = harness.s3.head_object(Bucket=EXPORTS_BUCKET, Key=key)["ETag"]
    # Any message after the end is a no-op: the ZIP is not written again
    for segment in (0, 1, 2):
        assert (
            harness.worker().run(harness.task(job, segment), lambda: LOTS_OF_TIME)["outcome"]
            == Outcome.SKIPPED
        )
    assert harness.s3.head_object(Bucket=EXPORTS_BUCKET, Key=key)["ETag"] == etag


def test_giving_up_aborts_the_upload_and_fails_the_job(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 5):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    harness.worker().run(harness.task(job), harness.clock(2))
    assert harness.work_objects(job) and harness.unfinished_uploads()
    harness.worker().fail(harness.task(job, 1), "S3 kept failing")
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.errors, done.s3_key) == (ExportStatus.FAILED, ["S3 kept failing"], None)
    assert harness.work_objects(job) == [] and harness.unfinished_uploads() == []


def test_a_continuation_without_its_checkpoint_fails_the_job_clearly(
    harness: Harness, seeder: Seeder
) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company})
    harness.jobs.start(job.account_id, job.export_id, 1)
    result = harness.worker().run(harness.task(job, 3), lambda: LOTS_OF_TIME)
    assert result["outcome"] == Outcome.FAILED
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.errors) == (ExportStatus.FAILED, [LOST_CHECKPOINT])


def test_an_export_whose_company_is_gone_fails_at_once(harness: Harness, seeder: Seeder) -> None:
    job = harness.job({"company_id": "removed"})
    result = harness.worker().run(harness.task(job), lambda: LOTS_OF_TIME)
    assert result["outcome"] == Outcome.FAILED  # no retry would bring it back
    done = harness.jobs.get(job.account_id, job.export_id)
    assert done.status == ExportStatus.FAILED and "no longer exists" in done.errors[0]
    assert harness.unfinished_uploads() == []


class FailingOnceQueue(RecordingQueue):
    """SQS refusing the first message: the worker dies after its checkpoint, before the hand-over."""

    def send(self, task: ExportTask) -> None:
        if not hasattr(self, "refused"):
            self.refused = task
            raise QueueUnavailable("injected: SQS did not answer")
        super().send(task)


def test_a_lost_hand_over_is_sent_again_by_the_redelivery(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    for n in range(1, 6):
        seeder.document(company, n)
    job = harness.job({"company_id": company})
    harness.queue = FailingOnceQueue()
    with pytest.raises(QueueUnavailable):
        harness.worker().run(harness.task(job), harness.clock(2))
    assert len(harness.unfinished_uploads()) == 1  # the checkpoint names it: kept
    # SQS delivers segment 0 again: it finds segment 1 due and queues it
    again = harness.worker().run(harness.task(job), lambda: LOTS_OF_TIME)
    assert again["outcome"] == Outcome.SKIPPED and [t.segment for t in harness.queue.sent] == [1]
    harness.run_to_end(harness.queue.sent.pop())
    assert xml_entries(open_zip(harness.zip_bytes(job))) == expected_entries(seeder)
