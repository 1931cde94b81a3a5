"""The export worker inside Lambda: SQS batches, partial failures and idempotency around the worker.

Each SQS record is one :class:`~fiscal_core.exports.task.ExportTask`. Powertools' batch
processor reports the records that raised, and only those, back to SQS (``batchItemFailures``).
Powertools' idempotency runs each task once: the record of a task in progress makes a duplicate
delivery fail fast (and come back later), the record of a finished one makes it a no-op, and a
crashed run's record is dropped (or expires with the invocation) so its redelivery runs again.
The records live in IdempotencyKeys, keyed ``<account>#export-worker#<hash of the task>``, like
every other customer key there. On a message's last delivery, a failure gives the export up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from fiscal_core.container import once_per_container
from fiscal_core.exports.errors import ExportError, ServiceUnavailable
from fiscal_core.exports.services import WorkerServices
from fiscal_core.exports.task import ExportQueue, ExportSettings, ExportTask
from fiscal_core.exports.worker import ExportWorker, Outcome
from fiscal_core.observability import logger, metrics
from fiscal_core.settings import get_settings
from fiscal_core.storage.errors import StorageUnavailable
from fiscal_core.storage.tables import bind_tables, physical_table_name

# How long a finished task is remembered: longer than SQS would ever redeliver it.
REMEMBER_FOR: Final = timedelta(days=4)
GAVE_UP: Final = "the export kept failing and was stopped; request it again"
OUTCOME_METRICS: Final = {
    Outcome.FINISHED: "ExportsFinished",
    Outcome.CONTINUED: "ExportContinuations",
    Outcome.SKIPPED: "ExportMessagesSkipped",
    Outcome.FAILED: "ExportsFailed",
}


def reason_for(exc: Exception) -> str:
    """What the job's errors say when an export is given up: plain words, no internals."""
    if isinstance(exc, ServiceUnavailable | StorageUnavailable):
        return f"{GAVE_UP} (the storage it reads and writes did not answer)"
    if isinstance(exc, ExportError):
        return str(exc)
    return GAVE_UP


class WorkerRuntime:
    """Feeds SQS records to an :class:`ExportWorker`, once per task."""

    def __init__(
        self, worker: ExportWorker, persistence: DynamoDBPersistenceLayer, *, max_receives: int
    ) -> None:
        self.worker = worker
        self._persistence = persistence
        self._max_receives = max_receives

    def handle(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        """Process a batch; the response names the records SQS must deliver again."""
        # A batch whose every record failed is reported like any other, rather than raised: with
        # batch size 1 that is every failure, and SQS learns the same either way.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        return process_partial_response(
            event=event, record_handler=self.record, processor=processor, context=context
        )

    def record(self, record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
        """Run the record's task once; raise to have SQS deliver it again."""
        task = ExportTask.model_validate_json(record.body)
        config = IdempotencyConfig(expires_after_seconds=int(REMEMBER_FOR.total_seconds()))
        # The in-progress record expires with this invocation, so a run killed by the timeout
        # does not block its redelivery.
        config.register_lambda_context(lambda_context)
        run_once: Callable[..., dict[str, Any]] = idempotent_function(
            data_keyword_argument="task",
            persistence_store=self._persistence,
            config=config,
            key_prefix=f"{task.account_id}#export-worker",
        )(self._run)
        logger.append_keys(export_id=task.export_id, segment=task.segment)
        try:
            result = run_once(task=task, remaining_ms=lambda_context.get_remaining_time_in_millis)
        except Exception as exc:
            if int(record.attributes.approximate_receive_count) >= self._max_receives:
                logger.exception("export given up after its last delivery")
                self.worker.fail(task, reason_for(exc))
            raise
        metrics.add_metric(name=OUTCOME_METRICS[result["outcome"]], unit=MetricUnit.Count, value=1)
        if result["outcome"] == Outcome.FINISHED:
            metrics.add_metric(name="ExportedDocuments", unit=MetricUnit.Count, value=result["processed"])
        return result

    def _run(self, task: ExportTask, remaining_ms: Callable[[], int]) -> dict[str, Any]:
        return self.worker.run(task, remaining_ms)


@once_per_container
def get_runtime() -> WorkerRuntime:
    """The process's runtime: settings read, tables bound and clients built once per cold start."""
    settings, exports = get_settings(), ExportSettings.from_environ()
    bind_tables(settings.table_prefix)
    # Every download thread holds a connection, plus the writer's uploads.
    config = Config(max_pool_connections=2 * exports.download_threads + 4, retries={"mode": "standard"})
    s3 = boto3.client("s3", region_name=settings.region, config=config)
    services = WorkerServices(
        s3=s3,
        exports_bucket=settings.exports_bucket,
        documents_bucket=settings.documents_bucket,
        queue=ExportQueue(boto3.client("sqs", region_name=settings.region), exports.queue_url),
        part_size=exports.part_size,
        threads=exports.download_threads,
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=physical_table_name(settings.table_prefix, "IdempotencyKeys"),
        key_attr="scope_key",
        expiry_attr="expires_at",  # the table's TTL attribute
        in_progress_expiry_attr="in_progress_expires_at",
        boto3_client=boto3.client("dynamodb", region_name=settings.region),
    )
    return WorkerRuntime(ExportWorker(services), persistence, max_receives=exports.max_receives)
