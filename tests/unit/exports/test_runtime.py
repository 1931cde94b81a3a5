"""The worker inside Lambda: partial batch failures, one run per task, giving up on the last delivery."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from fiscal_core.exports.runtime import GAVE_UP, WorkerRuntime
from fiscal_core.exports.task import ExportTask
from fiscal_core.exports.worker import ExportWorker, Outcome
from fiscal_core.storage.exports import ExportStatus
from fiscal_core.storage.tables import physical_table_name
from local.lambda_runtime import LocalLambdaContext
from tests.unit.exports.harness import Harness
from tests.unit.exports.seed import PREFIX, REGION, Seeder, open_zip, xml_entries


class CountingWorker(ExportWorker):
    """The real worker, counting its runs and failing the first ``failures`` of them."""

    def __init__(self, inner: ExportWorker, failures: int = 0) -> None:
        super().__init__(inner.services)
        self.runs = 0
        self._failures = failures

    def run(self, task: ExportTask, remaining_ms: Any) -> dict[str, Any]:
        self.runs += 1
        if self.runs <= self._failures:
            raise RuntimeError("injected failure")
        return super().run(task, remaining_ms)


def record(body: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()), "receiptHandle": "r", "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count)}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:sa-east-1:1:exports",
        "awsRegion": REGION,
    }  # fmt: skip


@pytest.fixture
def harness(aws: dict[str, Any], seeder: Seeder) -> Harness:
    return Harness(aws["s3"], seeder.account_id)


def runtime_for(worker: ExportWorker) -> WorkerRuntime:
    persistence = DynamoDBPersistenceLayer(
        table_name=physical_table_name(PREFIX, "IdempotencyKeys"), key_attr="scope_key",
        expiry_attr="expires_at", in_progress_expiry_attr="in_progress_expires_at",
        boto3_client=boto3.client("dynamodb", region_name=REGION),
    )  # fmt: skip
    return WorkerRuntime(worker, persistence, max_receives=3)


def context() -> Any:
    """What Lambda hands the handler (the local runtime's stand-in for LambdaContext)."""
    return LocalLambdaContext(function_name="export-worker", timeout_seconds=900)


def test_a_bad_record_fails_alone_and_the_good_one_runs(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company})
    good, bad = record(harness.task(job).model_dump_json()), record('{"export_id": 42}')
    response = runtime_for(harness.worker()).handle({"Records": [good, bad]}, context())
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert harness.jobs.get(job.account_id, job.export_id).status == ExportStatus.SUCCEEDED


def test_a_duplicate_delivery_runs_nothing_and_a_crashed_one_runs_again(
    harness: Harness, seeder: Seeder
) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company})
    worker = CountingWorker(harness.worker(), failures=1)
    runtime, body = runtime_for(worker), harness.task(job).model_dump_json()
    crashed = record(body)
    assert runtime.handle({"Records": [crashed]}, context())["batchItemFailures"] == [
        {"itemIdentifier": crashed["messageId"]}
    ]
    # SQS delivers it again: the crashed run left no record that would block it
    assert runtime.handle({"Records": [record(body, receive_count=2)]}, context()) == {
        "batchItemFailures": []
    }
    # The same message once more (SQS is at-least-once): the stored result answers, no third run
    assert runtime.handle({"Records": [record(body, receive_count=1)]}, context()) == {
        "batchItemFailures": []
    }
    assert worker.runs == 2
    assert len(xml_entries(open_zip(harness.zip_bytes(job)))) == 1
    items = boto3.client("dynamodb", region_name=REGION).scan(
        TableName=physical_table_name(PREFIX, "IdempotencyKeys")
    )
    (stored,) = [
        i for i in items["Items"] if i["scope_key"]["S"].startswith(f"{job.account_id}#export-worker#")
    ]
    assert stored["status"]["S"] == "COMPLETED"
    assert json.loads(stored["data"]["S"])["outcome"] == Outcome.FINISHED


def test_the_last_delivery_failing_gives_the_export_up(harness: Harness, seeder: Seeder) -> None:
    company = seeder.company()
    seeder.document(company, 1)
    job = harness.job({"company_id": company})
    runtime = runtime_for(CountingWorker(harness.worker(), failures=5))
    last = record(harness.task(job).model_dump_json(), receive_count=3)
    assert runtime.handle({"Records": [last]}, context())["batchItemFailures"] == [
        {"itemIdentifier": last["messageId"]}
    ]
    done = harness.jobs.get(job.account_id, job.export_id)
    assert (done.status, done.errors) == (ExportStatus.FAILED, [GAVE_UP])
    assert harness.unfinished_uploads() == []
