"""The SQS poller behaves like an event source mapping; the scheduler fires on its clock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.lambda_dispatch import LocalFunction
from local.scheduler import Schedule, Scheduler, SimulatedClock
from local.sqs_poller import EventSourceMapping, SqsPoller


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        _, port = server.get_host_and_port()
        yield boto3.client("sqs", endpoint_url=f"http://localhost:{port}")
        server.stop()


def _queue_with_dlq(sqs: Any, name: str, max_receives: int) -> tuple[str, str, str]:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def _wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_partial_batch_failure_redelivers_only_the_failed_record_then_dead_letters_it(sqs: Any) -> None:
    url, arn, dlq_url = _queue_with_dlq(sqs, "exports-partial", max_receives=2)
    seen: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            assert record["eventSourceARN"] == arn
            with lock:
                seen.append(record["body"])
            if record["body"] == "poison":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    for body in ("a", "poison", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    mapping = EventSourceMapping(url, arn, LocalFunction("export-worker", handler), batch_size=10)
    poller = SqsPoller(mapping, sqs)
    poller.start()
    try:
        _wait_for(lambda: seen.count("poison") >= 2)
        _wait_for(
            lambda: (
                int(
                    sqs.get_queue_attributes(
                        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
                    )["Attributes"]["ApproximateNumberOfMessages"]
                )
                == 1
            )
        )
    finally:
        poller.stop()
    assert seen.count("a") == 1
    assert seen.count("b") == 1
    assert seen.count("poison") == 2
    dead = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]


def test_handler_crash_leaves_the_whole_batch_for_redelivery(sqs: Any) -> None:
    url, arn, _ = _queue_with_dlq(sqs, "exports-crash", max_receives=5)
    attempts: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> None:
        attempts.append(len(event["Records"]))
        if len(attempts) == 1:
            raise RuntimeError("worker crashed")

    sqs.send_message(QueueUrl=url, MessageBody="x")
    mapping = EventSourceMapping(url, arn, LocalFunction("export-worker", handler))
    poller = SqsPoller(mapping, sqs)
    poller.start()
    try:
        _wait_for(lambda: len(attempts) >= 2)
        _wait_for(
            lambda: (
                sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
            )
        )
    finally:
        poller.stop()
    assert attempts[:2] == [1, 1]


def test_batches_respect_the_batch_size(sqs: Any) -> None:
    url, arn, _ = _queue_with_dlq(sqs, "exports-size", max_receives=5)
    sizes: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sizes.append(len(event["Records"]))
        return {"batchItemFailures": []}

    for i in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    mapping = EventSourceMapping(
        url, arn, LocalFunction("export-worker", handler), batch_size=3, batching_window_s=0.5
    )
    poller = SqsPoller(mapping, sqs)
    poller.start()
    try:
        _wait_for(lambda: sum(sizes) == 7)
    finally:
        poller.stop()
    assert max(sizes) <= 3


def test_scheduled_rule_fires_on_the_scaled_clock() -> None:
    fired: list[dict[str, Any]] = []

    def fan_out(event: dict[str, Any], context: Any) -> None:
        fired.append(event)

    start = datetime(2026, 11, 28, 10, 59, 58, tzinfo=UTC)
    schedules = [
        Schedule("hourly-sync", "cron(0 * * * ? *)", LocalFunction("sync-fan-out", fan_out)),
        Schedule("with-input", "rate(1 hour)", LocalFunction("sync-fan-out", fan_out), '{"kind": "nfe"}'),
    ]
    scheduler = Scheduler(schedules, SimulatedClock(time_scale=3600.0, start=start))
    scheduler.start()
    try:
        _wait_for(lambda: len(fired) >= 3, seconds=10)
    finally:
        scheduler.stop()
    names = [name for name, _ in scheduler.fired]
    assert "hourly-sync" in names
    assert "with-input" in names
    hourly_times = [when for name, when in scheduler.fired if name == "hourly-sync"]
    assert hourly_times[0] == datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert {"kind": "nfe"} in fired
    envelope = next(e for e in fired if "detail-type" in e)
    assert envelope["detail-type"] == "Scheduled Event"
