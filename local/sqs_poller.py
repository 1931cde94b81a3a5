"""The SQS → Lambda event source mapping, reproduced: poll, batch, invoke, delete what succeeded.

moto stores queues, visibility timeouts and redrive policies but never calls a function. This
poller does what the Lambda service's poller does for a mapping with ``ReportBatchItemFailures``:
a batch of up to ``batch_size`` records gathered within ``batching_window_s``, the records the
handler reports as failed (or the whole batch, when the handler raises) left on the queue to
reappear after the visibility timeout, and moto's redrive moving them to the DLQ after
``maxReceiveCount`` receives.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local.lambda_dispatch import LocalFunction
from local.lambda_runtime import invoke

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger("fiscalmix.local.sqs")


@dataclass(frozen=True)
class EventSourceMapping:
    """What CDK's SqsEventSource declares: the queue, the function and how records are batched."""

    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = True


def to_sqs_record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    """One record of a Lambda SQS event, in the shape the Lambda service delivers."""
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any) -> set[str] | None:
    """The ids a handler reported in ``batchItemFailures``; None when the response has none."""
    if not isinstance(response, dict) or "batchItemFailures" not in response:
        return None
    return {str(item["itemIdentifier"]) for item in response["batchItemFailures"]}


class SqsPoller:
    """Polls one queue in a background thread and feeds its function, like an event source mapping."""

    def __init__(self, mapping: EventSourceMapping, sqs: SQSClient, region: str = "us-east-1") -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._region = region
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-poller-{mapping.function.name}", daemon=True
        )

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the batch in flight, if any."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s failed; retrying", self.mapping.queue_url)
                self._stop.wait(1.0)

    def _receive_batch(self) -> list[MessageTypeDef]:
        batch: list[MessageTypeDef] = []
        window_ends = time.monotonic() + self.mapping.batching_window_s
        while len(batch) < self.mapping.batch_size and not self._stop.is_set():
            answer = self._sqs.receive_message(
                QueueUrl=self.mapping.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(batch)),
                WaitTimeSeconds=0 if batch else 1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch.extend(answer.get("Messages", []))
            if not batch or time.monotonic() >= window_ends:
                break
            time.sleep(0.05)
        return batch

    def poll_once(self) -> int:
        """Receive one batch, invoke the function, delete what succeeded; return the batch size."""
        batch = self._receive_batch()
        if not batch:
            return 0
        event = {"Records": [to_sqs_record(m, self.mapping.queue_arn, self._region) for m in batch]}
        function = self.mapping.function
        try:
            response = invoke(function.handler, event, function.name, function.timeout_seconds)
        except Exception:
            # As in AWS: an invocation error leaves the whole batch to the visibility timeout.
            log.exception("%s failed on a batch of %d; it will be redelivered", function.name, len(batch))
            return len(batch)
        failed = failed_message_ids(response) if self.mapping.report_batch_item_failures else None
        done = [m for m in batch if failed is None or m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        log.info("%s: %d records, %d failed", function.name, len(batch), len(batch) - len(done))
        return len(batch)
