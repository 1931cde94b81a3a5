"""A page's records over moto: one read for both tables, full batches, events before their documents."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.errors import StorageUnavailable
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    Family,
    FiscalDocument,
    FiscalEvent,
)
from fiscal_core.sync.page_records import DocumentUpdate, PageRecords
from tests.unit.sync.harness import REGION

AT = datetime(2026, 3, 10, 9, tzinfo=UTC)
ACCOUNT, COMPANY = "acc1", "co1"
# What a hook answers in DynamoDB's place: a 200 whose parsed body the hook supplies.
ANSWERED = AWSResponse("", 200, HTTPHeaders(), None)


def document(number: int) -> FiscalDocument:
    key = f"352603112223330001815500100000{number:04d}1000000010"
    return FiscalDocument(
        account_id=ACCOUNT, company_id=COMPANY, family=Family.NFE, doc_type=DocType.NFE, issued_at=AT,
        issuer_doc="11222333000181", status=DocStatus.AUTHORIZED, direction=Direction.IN,
        kind=DocKind.SUMMARY, access_key=key, s3_key=f"{ACCOUNT}/{COMPANY}/nfe/2026/03/{key}.xml",
        sha256="00", nsu=f"{number:015d}",
    )  # fmt: skip


def cancellation(of: FiscalDocument) -> FiscalEvent:
    assert of.access_key is not None
    return FiscalEvent(
        account_id=ACCOUNT, company_id=COMPANY, family=Family.NFE, doc_type=DocType.NFE,
        type_code="110111", description="Cancelamento", seq=1, event_at=AT, access_key=of.access_key,
        status_effect=DocStatus.CANCELLED, s3_key=f"{of.s3_key}-110111", sha256="00",
    )  # fmt: skip


def linked(doc: FiscalDocument, event: FiscalEvent) -> FiscalDocument:
    return replace(doc, status=DocStatus.CANCELLED, event_ids=doc.event_ids | {event.event_id})


@dataclass
class Calls:
    """The batch calls the page's records made, each as {table: [item or key, ...]}, in order."""

    made: list[tuple[str, dict[str, list[dict[str, Any]]]]] = field(default_factory=list)

    def of(self, operation: str) -> list[dict[str, list[dict[str, Any]]]]:
        return [tables for name, tables in self.made if name == operation]


Hook = Callable[..., Any]


@pytest.fixture
def calls(clean: Any) -> Iterator[Calls]:
    """Every DynamoDB batch call of the document models' clients, recorded."""
    recorded = Calls()

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        body = json.loads(params["body"])["RequestItems"]
        tables = {
            table.rsplit("-", 1)[-1]: (
                [w["PutRequest"]["Item"] for w in part] if isinstance(part, list) else part["Keys"]
            )
            for table, part in body.items()
        }
        recorded.made.append((model.name, tables))

    with _hooked(record):
        yield recorded


class _hooked:
    """Register ``hook`` before every BatchGetItem and BatchWriteItem of both models' clients."""

    def __init__(self, hook: Hook) -> None:
        self._hook = hook
        self._clients = [m._get_connection().connection.client for m in (Document, DocumentEvent)]

    def __enter__(self) -> None:
        for client in self._clients:
            for operation in ("BatchGetItem", "BatchWriteItem"):
                client.meta.events.register(
                    f"before-call.dynamodb.{operation}", self._hook, f"test-hook-{operation}"
                )

    def __exit__(self, *_: object) -> None:
        for client in self._clients:
            for operation in ("BatchGetItem", "BatchWriteItem"):
                client.meta.events.unregister(
                    f"before-call.dynamodb.{operation}", unique_id=f"test-hook-{operation}"
                )


def _doc_keys(items: list[dict[str, Any]]) -> set[str]:
    return {item["doc_key"]["S"] for item in items}


def test_a_page_is_read_in_one_call_and_written_in_full_batches_events_first(
    calls: Calls, executor: ThreadPoolExecutor
) -> None:
    repository = DocumentRepository(clock=lambda: AT)
    stored = [document(n) for n in range(1, 6)]
    for doc in stored:
        repository.put_document(doc)
    new = [document(n) for n in range(10, 41)]  # 31 new documents; the last one cancelled at once
    on_stored = [cancellation(doc) for doc in stored]
    on_new = cancellation(new[-1])
    records = PageRecords(lambda: AT)
    calls.made.clear()

    snapshot = records.snapshot(
        ACCOUNT,
        COMPANY,
        [d.doc_key for d in stored + new],
        [(e.doc_key, e.event_id) for e in [*on_stored, on_new]],
    )
    assert len(calls.of("BatchGetItem")) == 1  # documents and events, one call
    (read,) = calls.of("BatchGetItem")
    assert (len(read["Documents"]), len(read["DocumentEvents"])) == (36, 6)
    assert set(snapshot.documents) == {d.doc_key for d in stored}
    assert snapshot.events == {}

    updates = [
        DocumentUpdate(
            linked(snapshot.documents[d.doc_key].document, e), snapshot.documents[d.doc_key].version
        )
        for d, e in zip(stored, on_stored, strict=True)
    ]
    beaten = records.write([*new[:-1], linked(new[-1], on_new)], [*on_stored, on_new], updates, executor)

    assert beaten == []
    # 6 events and 31 documents: two batches, not one per table and partial batch.
    batches = calls.of("BatchWriteItem")
    assert [sum(len(items) for items in batch.values()) for batch in batches] == [25, 12]
    (events_batch, _) = batches
    assert len(events_batch["DocumentEvents"]) == 6
    # The document linking a new event is written only after the batch holding that event.
    assert new[-1].doc_key not in _doc_keys(events_batch.get("Documents", []))
    assert new[-1].doc_key in _doc_keys(batches[1]["Documents"])
    by_key = {d.doc_key: d for d in repository_documents()}
    assert set(by_key) == {d.doc_key for d in stored + new}
    assert by_key[new[-1].doc_key].status == DocStatus.CANCELLED
    for doc, event in zip(stored, on_stored, strict=True):
        assert by_key[doc.doc_key].status == DocStatus.CANCELLED
        assert by_key[doc.doc_key].event_ids == {event.event_id}
        assert by_key[doc.doc_key].version == snapshot.documents[doc.doc_key].version + 1
    assert len(list(DocumentEvent.scan())) == 6


def test_what_dynamodb_leaves_unprocessed_is_sent_again_after_a_pause(
    clean: Any, executor: ThreadPoolExecutor
) -> None:
    new = [document(n) for n in range(1, 21)]
    pauses: list[float] = []
    records = PageRecords(lambda: AT, pause=pauses.append)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    throttled: list[str] = []

    def throttle_once(
        params: dict[str, Any], model: Any, **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        if throttled:
            return None
        throttled.append(model.name)
        request = json.loads(params["body"])["RequestItems"]
        if model.name == "BatchGetItem":  # nothing read: every key comes back unprocessed
            return ANSWERED, {"Responses": {}, "UnprocessedKeys": request}
        # Half of the items written, the other half left over.
        ((table, writes),) = request.items()
        dynamodb.batch_write_item(RequestItems={table: writes[:10]})
        return ANSWERED, {"UnprocessedItems": {table: writes[10:]}}

    with _hooked(throttle_once):
        records.write(new, [], [], executor)
        assert throttled == ["BatchWriteItem"]
        assert {d.doc_key for d in repository_documents()} == {d.doc_key for d in new}
        throttled.clear()
        snapshot = records.snapshot(ACCOUNT, COMPANY, [d.doc_key for d in new], [])
        assert throttled == ["BatchGetItem"]
        assert set(snapshot.documents) == {d.doc_key for d in new}
    assert pauses == [0.05, 0.05]


def test_a_batch_dynamodb_keeps_refusing_fails_retryably_before_any_linked_document(
    clean: Any, executor: ThreadPoolExecutor
) -> None:
    doc = document(1)
    event = cancellation(doc)
    pauses: list[float] = []
    records = PageRecords(lambda: AT, pause=pauses.append)

    def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return ANSWERED, {"UnprocessedItems": json.loads(params["body"])["RequestItems"]}

    with _hooked(refuse), pytest.raises(StorageUnavailable, match="throttling"):
        records.write([linked(doc, event)], [event], [], executor)
    assert pauses == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]
    assert repository_documents() == []


def repository_documents() -> list[Document]:
    return list(Document.query(f"{ACCOUNT}#{COMPANY}"))
