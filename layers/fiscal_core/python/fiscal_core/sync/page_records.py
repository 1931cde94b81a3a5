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

Items are built exactly as the repository builds them (index keys, version, event links), so the
repository and the API read them as their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pynamodb.exceptions import PutError

from fiscal_core.storage.document_keys import index_keys
from fiscal_core.storage.document_records import event_item, to_document
from fiscal_core.storage.errors import is_condition_failure, storage_call
from fiscal_core.storage.keys import company_key, document_key
from fiscal_core.storage.models import Document, DocumentEvent
from fiscal_core.storage.records import DocKind, FiscalDocument, FiscalEvent

# Of events the plan needs only whether they exist and their NSU. (A list: PynamoDB takes any
# other sequence for a single attribute name.)
_EVENT_FIELDS: Final = ["document_key", "event_key", "nsu"]


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

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def snapshot(
        self, account_id: str, company_id: str, doc_keys: Iterable[str], event_keys: Iterable[tuple[str, str]]
    ) -> Snapshot:
        """The stored documents and events among those named (strongly consistent)."""
        partition = company_key(account_id, company_id)
        wanted_docs = {(partition, key) for key in doc_keys}
        wanted_events = {(document_key(account_id, company_id, d), e) for d, e in event_keys}
        documents: dict[str, StoredDocument] = {}
        events: dict[tuple[str, str], str | None] = {}
        with storage_call("read a page's documents"):
            if wanted_docs:
                for item in Document.batch_get(wanted_docs, consistent_read=True):
                    documents[item.doc_key] = StoredDocument(to_document(item), item.version or 0)
            if wanted_events:
                prefix = len(partition) + 1
                for event in DocumentEvent.batch_get(
                    wanted_events, consistent_read=True, attributes_to_get=_EVENT_FIELDS
                ):
                    events[(event.document_key[prefix:], event.event_key)] = event.nsu
        return Snapshot(documents, events)

    def write(
        self,
        documents: Sequence[FiscalDocument],
        events: Sequence[FiscalEvent],
        updates: Sequence[DocumentUpdate],
        executor: Executor,
    ) -> list[DocumentUpdate]:
        """Write new events, new documents, then updates; the updates another writer beat.

        Events go first: a document is never stored linked to an event that is not.
        ``documents`` and ``updates`` carry their events' effects and links.
        """
        now = self._clock()
        with storage_call("write a page's new events"), DocumentEvent.batch_write() as events_batch:
            for event in events:
                events_batch.save(event_item(event, now))
        with storage_call("write a page's new documents"), Document.batch_write() as documents_batch:
            for document in documents:
                documents_batch.save(new_document_item(document, now))
        lost = list(executor.map(lambda update: self._update(update, now), updates))
        return [update for update, beaten in zip(updates, lost, strict=True) if beaten]

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
