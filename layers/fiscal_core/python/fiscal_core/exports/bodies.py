"""What goes into the ZIP for one document, read from the documents bucket ahead of the writer.

S3 answers one GET in tens of milliseconds; one at a time, an export of a year of documents
would take hours. :func:`prefetched` keeps a bounded window of documents being fetched by a
thread pool while the writer consumes them in order, so the ZIP's order is the selection's and
memory is the window: bodies up to INLINE_LIMIT are read whole (and checked against the SHA-256
their record holds), larger ones are handed over as an open stream and read in chunks.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeVar

from fiscal_core.api.documents_blobs import pdf_key
from fiscal_core.api.documents_views import has_full_xml
from fiscal_core.api.pdf import RENDERERS, RenderFailed
from fiscal_core.exports.errors import ObjectMissing, s3_call
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.records import DocType, FiscalDocument, FiscalEvent

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INLINE_LIMIT: Final = 1024 * 1024
CHUNK: Final = 64 * 1024
SUMMARY_ONLY: Final = "only the summary is stored: SEFAZ has not released the full XML yet (manifest Ciência)"
DIGEST_MISMATCH: Final = (
    "the stored XML does not match the SHA-256 recorded for it; left out, contact support"
)

T = TypeVar("T")
R = TypeVar("R")
Renderer = Callable[[DocType, bytes], bytes]


@dataclass
class Body:
    """An object's bytes: read whole (``data``), or still streaming from S3 (``stream``)."""

    size: int
    data: bytes | None = None
    stream: Any = None  # botocore's StreamingBody

    def chunks(self) -> Iterator[bytes]:
        """The bytes, in chunks; a stream is closed when read to the end."""
        if self.data is not None:
            yield self.data
            return
        try:
            yield from self.stream.iter_chunks(CHUNK)
        finally:
            self.close()

    def close(self) -> None:
        """Release the connection of a body that will not be read."""
        if self.stream is not None:
            self.stream.close()


@dataclass
class Fetched:
    """One document and everything the ZIP holds for it; ``note`` says what is missing and why."""

    doc: FiscalDocument
    xml: Body | None = None
    note: str | None = None
    events: list[tuple[FiscalEvent, bytes]] = field(default_factory=list)
    pdf: bytes | None = None


class DocumentBodies:
    """Reads a document's XML, and optionally its events and its PDF, from the documents bucket.

    The PDF is the one the API rendered and kept next to the XML; if there is none yet it is
    rendered here (and not stored: the worker only reads the documents bucket).
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        repository: DocumentRepository,
        renderer: Renderer,
        *,
        events: bool = False,
        pdfs: bool = False,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._repository = repository
        self._render = renderer
        self._events = events
        self._pdfs = pdfs

    def fetch(self, doc: FiscalDocument) -> Fetched:
        """Everything the ZIP holds for ``doc``; ObjectStoreUnavailable if S3 fails."""
        if not has_full_xml(doc) or doc.s3_key is None:
            return Fetched(doc, note=SUMMARY_ONLY)
        try:
            xml = self._xml(doc.s3_key, whole=self._pdfs)
        except ObjectMissing:
            return Fetched(doc, note=f"the XML is missing from storage ({doc.s3_key}); contact support")
        if xml.data is not None and doc.sha256 and hashlib.sha256(xml.data).hexdigest() != doc.sha256:
            return Fetched(doc, note=DIGEST_MISMATCH)
        fetched = Fetched(doc, xml)
        if self._events and doc.event_ids:
            fetched.events = self._event_bodies(doc)
        if self._pdfs and xml.data is not None:
            fetched.pdf, fetched.note = self._pdf(doc, doc.s3_key, xml.data)
        return fetched

    def _xml(self, key: str, *, whole: bool) -> Body:
        with s3_call(f"read {key}"):
            answer = self._client.get_object(Bucket=self._bucket, Key=key)
            body = Body(answer["ContentLength"], stream=answer["Body"])
            if whole or body.size <= INLINE_LIMIT:
                body.data = body.stream.read()
                body.close()
                body.stream = None
        return body

    def _event_bodies(self, doc: FiscalDocument) -> list[tuple[FiscalEvent, bytes]]:
        events = self._repository.list_events(doc.account_id, doc.company_id, doc.doc_key)
        bodies = []
        for event in events:
            if event.s3_key is None:
                continue
            try:
                data = self._xml(event.s3_key, whole=True).data
            except ObjectMissing:
                continue  # left out: the row's events column counts the events in the ZIP
            bodies.append((event, data or b""))
        return bodies

    def _pdf(self, doc: FiscalDocument, xml_key: str, xml: bytes) -> tuple[bytes | None, str | None]:
        try:
            return self._xml(pdf_key(xml_key), whole=True).data, None
        except ObjectMissing:
            pass
        if doc.doc_type not in RENDERERS:
            return None, f"no printable layout exists for {doc.doc_type}"
        try:
            return self._render(doc.doc_type, xml), None
        except RenderFailed as exc:
            return None, str(exc)


def prefetched(
    items: Iterable[T], fetch: Callable[[T], R], *, threads: int, window: int
) -> Generator[R, None, None]:
    """``fetch(item)`` for every item, in order, at most ``window`` ahead of the consumer.

    Stopping early (the consumer closes the generator) cancels what has not started and closes
    the streams of what was fetched but not consumed.
    """
    pending: deque[Future[R]] = deque()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="export-fetch")
    try:
        for item in items:
            pending.append(pool.submit(fetch, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        for future in pending:
            if not future.cancelled() and future.exception() is None:
                _close(future.result())


def _close(result: object) -> None:
    xml = getattr(result, "xml", None)
    if isinstance(xml, Body):
        xml.close()
