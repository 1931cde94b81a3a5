"""The document repository: idempotent writes, summary → full upgrade, events, lists.

Writes are read-modify-write under the model's version attribute, so a concurrent writer
(another page of the same sync, an event arriving) makes the loser re-read and retry instead
of overwriting. A full document is never downgraded to a summary, and a status set by an
event (a cancellation) is never set back by a document that arrives later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, TypeVar

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.document_keys import index_for, index_keys
from fiscal_core.storage.document_records import event_item, to_document, to_event
from fiscal_core.storage.errors import (
    ConcurrentUpdate,
    is_condition_failure,
    storage_call,
)
from fiscal_core.storage.keys import company_key, document_key
from fiscal_core.storage.models import DOCUMENT_INDEXES, Document, DocumentEvent
from fiscal_core.storage.models.base import GlobalIndex
from fiscal_core.storage.models.documents import VALUE_INDEXES
from fiscal_core.storage.pagination import check_limit, collect, decode_cursor
from fiscal_core.storage.records import (
    DocKind,
    DocStatus,
    DocumentFilter,
    FiscalDocument,
    FiscalEvent,
    Page,
    PutOutcome,
    document_sort_key,
)

# A status only moves up this ladder: a cancellation is final, whatever arrives after it.
# (``stronger_status`` is its one definition; the sync's page plan climbs it too.)
_STATUS_RANK: Final[dict[str, int]] = {
    DocStatus.AUTHORIZED: 0,
    DocStatus.DENIED: 1,
    DocStatus.CANCELLED: 2,
}
# Fields a full document brings that its summary lacked or may have had provisional (the sync's
# page plan upgrades a stored summary with these same fields).
BODY_FIELDS: Final[tuple[str, ...]] = (
    "family", "doc_type", "model", "series", "number", "issued_at", "issuer_doc", "issuer_name",
    "recipient_doc", "recipient_name", "total_value", "protocol", "direction", "s3_key",
    "sha256", "nsu",
)  # fmt: skip


_V = TypeVar("_V")
_S = TypeVar("_S", bound=str)

_INDEXES: Final[dict[str, GlobalIndex[Document]]] = {
    name: getattr(Document, name) for name in DOCUMENT_INDEXES
}


class DocumentRepository:
    """Documents and events of companies; every method is scoped by account and company."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, max_attempts: int = 5) -> None:
        self._clock = clock
        self._max_attempts = max_attempts

    def put_document(self, doc: FiscalDocument) -> PutOutcome:
        """Store a document once; upgrade a stored summary when the full document arrives.

        Repeating the call is harmless (UNCHANGED); a summary arriving after the full
        document changes nothing; events already stored for it are applied on creation.
        """
        # Most documents a sync page brings are new: try the conditional create first.
        created = self._new_item(doc)
        if self._save(created, Document.company_key.does_not_exist(), "store a document"):
            self._apply_stored_events(created)
            return PutOutcome.CREATED
        if doc.kind is DocKind.SUMMARY:
            return PutOutcome.UNCHANGED
        for _ in range(self._max_attempts):
            item = self._load(doc.account_id, doc.company_id, doc.doc_key)
            if item is None:  # documents are never deleted; only a manual purge gets here
                raise ConcurrentUpdate(f"document {doc.doc_key} disappeared while being stored")
            if item.kind == DocKind.FULL:
                return PutOutcome.UNCHANGED
            for name in BODY_FIELDS:
                setattr(item, name, getattr(doc, name))
            item.kind = DocKind.FULL
            item.status = stronger_status(item.status, doc.status)
            if self._save(item, Document.kind == DocKind.SUMMARY, "upgrade a summary"):
                return PutOutcome.UPGRADED
        raise ConcurrentUpdate(f"document {doc.doc_key} kept changing; try again")

    def put_event(self, event: FiscalEvent) -> bool:
        """Store an event and apply its effect to its document; False if it was already stored.

        The effect is applied even for a repeated event, so a crash between the two writes
        heals on the retry. An event whose document has not arrived yet waits in the table.
        """
        item = event_item(event, self._clock())
        created = self._save(item, DocumentEvent.event_key.does_not_exist(), "store an event")
        for _ in range(self._max_attempts):
            doc = self._load(event.account_id, event.company_id, event.doc_key)
            if doc is None or _apply(doc, [item]) == 0:
                return created
            if self._save(doc, None, "apply an event"):
                return created
        raise ConcurrentUpdate(f"document {event.doc_key} kept changing; try again")

    def get_document(
        self,
        account_id: str,
        company_id: str,
        *,
        access_key: str | None = None,
        doc_type: str = "",
        external_id: str | None = None,
    ) -> FiscalDocument | None:
        """A company's document by access key (or type and external id), or None."""
        item = self._load(account_id, company_id, document_sort_key(access_key, doc_type, external_id))
        return to_document(item) if item is not None else None

    def list_events(self, account_id: str, company_id: str, doc_key: str) -> list[FiscalEvent]:
        """Events of one document, oldest first."""
        with storage_call("list events"):
            items = list(DocumentEvent.query(document_key(account_id, company_id, doc_key)))
        return sorted((to_event(i) for i in items), key=lambda e: (e.event_at, e.type_code, e.seq))

    def list_documents(
        self,
        account_id: str,
        company_id: str,
        flt: DocumentFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page[FiscalDocument]:
        """One page of a company's documents matching ``flt``, by issue date (by value for a value range).

        Every supported combination of filters is one Query on the index built for it; an
        unsupported combination raises InvalidValue rather than reading and discarding items.
        ``newest_first`` is the descending order: for a value range, the highest value first.
        """
        index, attr, partition = index_for(account_id, company_id, flt)
        return self._query(index, attr, partition, flt, limit, cursor, newest_first)

    def list_account_documents(
        self,
        account_id: str,
        flt: DocumentFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page[FiscalDocument]:
        """One page of the documents of every company of an account, by issue date.

        Only a period applies across companies; any other filter raises InvalidValue (it
        would have to be applied after reading, which this store does not do).
        """
        if flt != DocumentFilter(start=flt.start, end=flt.end):
            raise InvalidValue("filters", "across companies only a period can be filtered")
        return self._query("by_account_issued_at", "account_id", account_id, flt, limit, cursor, newest_first)

    def find_by_key_prefix(self, account_id: str, company_id: str, prefix: str) -> list[FiscalDocument]:
        """A company's documents whose sort key begins with ``prefix`` (one Query, few items).

        An access key begins with cUF, AAMM, issuer, model, series and number, so a prefix
        ending in a number finds that document without reading any other.
        """
        with storage_call("find documents by key prefix"):
            items = Document.query(company_key(account_id, company_id), Document.doc_key.startswith(prefix))
            return [to_document(item) for item in items]

    def list_pending_summaries(
        self, account_id: str, company_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[FiscalDocument]:
        """Authorised summaries still waiting for their full XML, oldest first (for ciência)."""
        partition = company_key(account_id, company_id)
        return self._query(
            "pending_summaries", "k_pending_summary", partition, DocumentFilter(), limit, cursor, False
        )

    def _query(
        self,
        index: str,
        attr: str,
        partition: str,
        flt: DocumentFilter,
        limit: int,
        cursor: str | None,
        newest_first: bool,
    ) -> Page[FiscalDocument]:
        if index in VALUE_INDEXES:
            condition = _range(Document.total_value, flt.min_value, flt.max_value)
        else:
            condition = _range(Document.issued_at, flt.start, flt.end)
        with storage_call("list documents"):
            results = _INDEXES[index].query(
                partition,
                range_key_condition=condition,
                scan_index_forward=not newest_first,
                limit=check_limit(limit),
                last_evaluated_key=decode_cursor(cursor, attr, partition),
            )
            items, next_cursor = collect(results, to_document)
        return Page(items, next_cursor)

    def _load(self, account_id: str, company_id: str, doc_key: str) -> Document | None:
        with storage_call("read a document"):
            try:
                return Document.get(company_key(account_id, company_id), doc_key, consistent_read=True)
            except DoesNotExist:
                return None

    def _new_item(self, doc: FiscalDocument) -> Document:
        now = self._clock()
        item = Document(
            company_key(doc.account_id, doc.company_id),
            doc.doc_key,
            account_id=doc.account_id,
            company_id=doc.company_id,
            access_key=doc.access_key,
            external_id=doc.external_id,
            status=doc.status,
            kind=doc.kind,
            created_at=now,
        )
        for name in BODY_FIELDS:
            setattr(item, name, getattr(doc, name))
        return item

    def _apply_stored_events(self, item: Document) -> None:
        """Apply events that arrived before their document (a cancellation seen first)."""
        for _ in range(self._max_attempts):
            with storage_call("read a document's events"):
                events = list(
                    DocumentEvent.query(
                        document_key(item.account_id, item.company_id, item.doc_key),
                        consistent_read=True,
                    )
                )
            if _apply(item, events) == 0 or self._save(item, None, "apply stored events"):
                return
            reloaded = self._load(item.account_id, item.company_id, item.doc_key)
            if reloaded is None:
                return
            item = reloaded
        raise ConcurrentUpdate(f"document {item.doc_key} kept changing; try again")

    def _save(self, item: Document | DocumentEvent, condition: Condition | None, action: str) -> bool:
        """Write ``item`` if ``condition`` (and its version) hold; False when they did not."""
        if isinstance(item, Document):
            item.updated_at = self._clock()
            _refresh_index_keys(item)
        with storage_call(action):
            try:
                item.save(condition=condition)
            except PutError as exc:
                if is_condition_failure(exc):
                    return False
                raise
        return True


def _range(attribute: Attribute[_V], low: _V | None, high: _V | None) -> Condition | None:
    """The sort key condition of an inclusive range, either end open."""
    if low is not None and high is not None:
        return attribute.between(low, high)
    if low is not None:
        return attribute >= low
    if high is not None:
        return attribute <= high
    return None


def stronger_status(current: _S, incoming: _S) -> _S:
    """The higher of two statuses on the ladder AUTHORIZED → DENIED → CANCELLED."""
    return current if _STATUS_RANK[current] >= _STATUS_RANK[incoming] else incoming


def _apply(doc: Document, events: list[DocumentEvent]) -> int:
    """Apply the effects of ``events`` not yet linked to ``doc``; the number applied."""
    linked = set(doc.event_ids or ())
    applied = 0
    for event in events:
        if event.event_key in linked:
            continue
        linked.add(event.event_key)
        applied += 1
        if event.status_effect:
            doc.status = stronger_status(doc.status, event.status_effect)
        # The last manifestação counts (SEFAZ keeps the latest conclusive event).
        if event.manifestacao_effect and (
            doc.manifestacao_at is None or event.event_at >= doc.manifestacao_at
        ):
            doc.manifestacao = event.manifestacao_effect
            doc.manifestacao_at = event.event_at
    doc.event_ids = linked or None
    return applied


def _refresh_index_keys(item: Document) -> None:
    values = {
        "doc_type": item.doc_type,
        "direction": item.direction,
        "status": item.status,
        "issuer_doc": item.issuer_doc,
        "recipient_doc": item.recipient_doc,
    }
    for attr, value in index_keys(item.account_id, item.company_id, values, DocKind(item.kind)).items():
        setattr(item, attr, value)
