"""The Documents and DocumentEvents tables as a page needs them: one read, then batched writes.

``DocumentRepository`` writes one document at a time: a conditional put, then a query for events
stored before it; an upgrade or an event on a stored document is a put, a read and a versioned
put. Right for a single write, three round trips per document for a page of fifty. A page instead
reads every record it touches in one consistent BatchGetItem and decides in memory:

- new documents and new events are written with BatchWriteItem, 25 per call. Under the cursor's
  lease the sync is the only writer of documents it brings (the API acts on a document only once
  it exists), and documents with orphan events waiting go through the repository instead;
- a stored document that changes (summary → full, an event's effect) is one PutItem conditioned
  on the version read, the repository's own optimistic scheme; if another writer (a user's
  manifestação through the API) changed it meanwhile, the caller redoes it through the repository.

Both tables share each call: one BatchGetItem reads a page's documents and events (up to 100
keys), and the batches of 25 mix new events and new documents, so a page of fifty costs two or
three batch calls rather than one per table and per partial batch. Items are built exactly as the
repository builds them (index keys, version, event links), so the repository and the API read
them as their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from fiscal_core.storage.document_keys import index_keys
from fiscal_core.storage.document_records import event_item, to_document
from fiscal_core.storage.errors import StorageUnavailable, is_condition_failure, storage_call
from fiscal_core.storage.keys import company_key, document_key
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import DocKind, FiscalDocument, FiscalEvent

# Of events the plan needs only whether they exist and their NSU.
_EVENT_FIELDS: Final = ("document_key", "event_key", "nsu")
# DynamoDB's limits per BatchGetItem and per BatchWriteItem, whatever the tables.
_GET_LIMIT: Final = 100
_WRITE_LIMIT: Final = 25
# What DynamoDB left unprocessed (throttling) is sent again after 50 ms, 100 ms, ... 3.2 s.
_ATTEMPTS: Final = 8
_FIRST_PAUSE: Final = 0.05

_Request = dict[str, Any]  # a key, an item or a table's part of a request, in DynamoDB's JSON
_Answer = dict[str, Any]


@dataclass(frozen=True)
class StoredDocument:
    """A stored document and the version it was read at."""

    document: FiscalDocument
    version: int

    @property
    def kind(self) -> DocKind:
        """Summary or full."""
        return self.document.kind

    @property
    def nsu(self) -> str | None:
        """The NSU its stored version came with (None outside the stream)."""
        return self.document.nsu

    @property
    def event_ids(self) -> frozenset[str]:
        """The events linked to it."""
        return self.document.event_ids


@dataclass(frozen=True)
class DocumentUpdate:
    """A stored document's new state, to write only if it is still at ``version``."""

    document: FiscalDocument
    version: int


@dataclass(frozen=True)
class Snapshot:
    """The stored state of everything a page touches, read at once."""

    documents: Mapping[str, StoredDocument]  # by doc key
    events: Mapping[tuple[str, str], str | None]  # (doc key, event id) -> the event's NSU


class PageRecords:
    """Read a page's records in bulk and write its new ones in batches."""

    def __init__(self, clock: Callable[[], datetime], pause: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._pause = pause

    def snapshot(
        self, account_id: str, company_id: str, doc_keys: Iterable[str], event_keys: Iterable[tuple[str, str]]
    ) -> Snapshot:
        """The stored documents and events among those named (strongly consistent)."""
        partition = company_key(account_id, company_id)
        keys: list[tuple[type[Model], _Request]] = [
            (Document, _key(Document, partition, key)) for key in sorted(set(doc_keys))
        ]
        keys += [
            (DocumentEvent, _key(DocumentEvent, document_key(account_id, company_id, doc), event))
            for doc, event in sorted(set(event_keys))
        ]
        documents: dict[str, StoredDocument] = {}
        events: dict[tuple[str, str], str | None] = {}
        prefix = len(partition) + 1
        with storage_call("read a page's documents"):
            for found in self._get(keys):
                if isinstance(found, Document):
                    documents[found.doc_key] = StoredDocument(to_document(found), found.version or 0)
                elif isinstance(found, DocumentEvent):
                    events[(found.document_key[prefix:], found.event_key)] = found.nsu
        return Snapshot(documents, events)

    def write(
        self,
        documents: Sequence[FiscalDocument],
        events: Sequence[FiscalEvent],
        updates: Sequence[DocumentUpdate],
        executor: Executor,
    ) -> list[DocumentUpdate]:
        """Write new events, new documents, then updates; the updates another writer beat.

        Events are durable before any document linking them is written: a document is never
        stored linked to an event that is not. ``documents`` and ``updates`` carry their events'
        effects and links. The new events' batches are filled up with documents that link none
        of them; the other documents and the updates follow once those batches are written.
        """
        now = self._clock()
        linking = {event.doc_key for event in events}
        unlinked = [new_document_item(doc, now) for doc in documents if doc.doc_key not in linking]
        room = -len(events) % _WRITE_LIMIT
        first: list[Model] = [event_item(event, now) for event in events]
        first += unlinked[:room]
        then = unlinked[room:] + [new_document_item(doc, now) for doc in documents if doc.doc_key in linking]
        with storage_call("write a page's new records"):
            self._put_all(first, executor)
        beaten = [executor.submit(self._update, update, now) for update in updates]
        try:
            with storage_call("write a page's new documents"):
                self._put_all(then, executor)
        finally:
            wait(beaten)  # no update left running behind a failure
        return [update for update, lost in zip(updates, beaten, strict=True) if lost.result()]

    def _get(self, keys: Sequence[tuple[type[Model], _Request]]) -> Iterator[Model]:
        """The items stored under ``keys``, in calls of up to 100 keys across both tables."""
        for start in range(0, len(keys), _GET_LIMIT):
            pending: dict[str, Any] = {}
            for model, key in keys[start : start + _GET_LIMIT]:
                table = pending.setdefault(model.Meta.table_name, {**_GET_OPTIONS[model], "Keys": []})
                table["Keys"].append(key)
            models = {model.Meta.table_name: model for model, _ in keys[start : start + _GET_LIMIT]}
            for answer in self._until_processed("BatchGetItem", pending, "UnprocessedKeys"):
                for table, items in answer.get("Responses", {}).items():
                    yield from (models[table].from_raw_data(item) for item in items)

    def _put_all(self, items: Sequence[Model], executor: Executor) -> None:
        """Put ``items`` in batches of 25 across both tables, the batches concurrently."""
        batches = [items[start : start + _WRITE_LIMIT] for start in range(0, len(items), _WRITE_LIMIT)]
        if len(batches) == 1:
            self._put_batch(batches[0])
        elif batches:
            list(executor.map(self._put_batch, batches))  # waits for all, raises the first failure

    def _put_batch(self, items: Sequence[Model]) -> None:
        requests: dict[str, list[_Request]] = {}
        for item in items:
            requests.setdefault(item.Meta.table_name, []).append({"PutRequest": {"Item": item.serialize()}})
        for _ in self._until_processed("BatchWriteItem", requests, "UnprocessedItems"):
            pass

    def _until_processed(self, operation: str, request: Mapping[str, Any], left: str) -> Iterator[_Answer]:
        """Each answer to ``request`` and to what DynamoDB left of it (throttled), paused between."""
        pending = request
        for attempt in range(_ATTEMPTS):
            if attempt:
                self._pause(_FIRST_PAUSE * 2 ** (attempt - 1))
            # PynamoDB's cached connection of the model: its botocore client, rebuilt on rebinding.
            answer = Document._get_connection().connection.dispatch(operation, {"RequestItems": pending})
            yield answer
            pending = {table: rest for table, rest in answer.get(left, {}).items() if rest}
            if not pending:
                return
        raise StorageUnavailable(f"DynamoDB kept throttling a {operation} of {len(pending)} table(s)")

    def _update(self, update: DocumentUpdate, now: datetime) -> bool:
        """Put the new state if the stored version is unchanged; True when another writer won."""
        item = new_document_item(update.document, update.document.created_at or now)
        item.updated_at = now
        item.version = update.version  # PynamoDB conditions the put on it and increments it
        with storage_call("update a stored document"):
            try:
                item.save()
            except PutError as exc:
                if is_condition_failure(exc):
                    return True
                raise
        return False


_KEY_NAMES: Final[Mapping[type[Model], tuple[str, str]]] = {
    Document: (Document.company_key.attr_name, Document.doc_key.attr_name),
    DocumentEvent: (DocumentEvent.document_key.attr_name, DocumentEvent.event_key.attr_name),
}
# Every read is strongly consistent; of events, only what the plan needs.
_GET_OPTIONS: Final[Mapping[type[Model], _Request]] = {
    Document: {"ConsistentRead": True},
    DocumentEvent: {
        "ConsistentRead": True,
        "ProjectionExpression": ", ".join(f"#f{i}" for i in range(len(_EVENT_FIELDS))),
        "ExpressionAttributeNames": {f"#f{i}": name for i, name in enumerate(_EVENT_FIELDS)},
    },
}


def _key(model: type[Model], hash_value: str, range_value: str) -> _Request:
    """The primary key of an item of ``model``, in DynamoDB's JSON."""
    hash_name, range_name = _KEY_NAMES[model]
    return {hash_name: {"S": hash_value}, range_name: {"S": range_value}}


def new_document_item(doc: FiscalDocument, created_at: datetime) -> Document:
    """The item of a document, with its event links and index keys, as the repository writes it."""
    item = Document(
        company_key(doc.account_id, doc.company_id),
        doc.doc_key,
        account_id=doc.account_id,
        company_id=doc.company_id,
        family=doc.family,
        doc_type=doc.doc_type,
        model=doc.model,
        access_key=doc.access_key,
        external_id=doc.external_id,
        series=doc.series,
        number=doc.number,
        issued_at=doc.issued_at,
        issuer_doc=doc.issuer_doc,
        issuer_name=doc.issuer_name,
        recipient_doc=doc.recipient_doc,
        recipient_name=doc.recipient_name,
        total_value=doc.total_value,
        status=doc.status,
        protocol=doc.protocol,
        direction=doc.direction,
        kind=doc.kind,
        s3_key=doc.s3_key,
        sha256=doc.sha256,
        nsu=doc.nsu,
        event_ids=set(doc.event_ids) or None,
        manifestacao=doc.manifestacao,
        manifestacao_at=doc.manifestacao_at,
        created_at=created_at,
        updated_at=created_at,
        version=1,  # what the repository's first conditional save would have set
    )
    values = {
        "doc_type": doc.doc_type,
        "direction": doc.direction,
        "status": doc.status,
        "issuer_doc": doc.issuer_doc,
        "recipient_doc": doc.recipient_doc,
    }
    for attr, value in index_keys(doc.account_id, doc.company_id, values, doc.kind).items():
        setattr(item, attr, value)
    return item
