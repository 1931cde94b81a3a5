"""What the document repository takes and returns: plain values, no PynamoDB.

The enums name the values stored in the tables; the dataclasses are the repository's
contract with the sync, the API and the exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, Literal, TypeVar

# DocType and Family are the document reader's own: one vocabulary from XML to table.
from fiscal_core.documents.metadata import DocType as DocType
from fiscal_core.documents.metadata import Family as Family
from fiscal_core.errors import InvalidValue
from fiscal_core.storage.keys import access_key_doc_key, external_doc_key

T = TypeVar("T")


class Direction(StrEnum):
    """The company's side of a document: it received it, issued it, or is a third party."""

    IN = "IN"
    OUT = "OUT"
    THIRD = "THIRD"


class DocStatus(StrEnum):
    """The document's situation at SEFAZ/ADN, as last known."""

    AUTHORIZED = "AUTHORIZED"
    CANCELLED = "CANCELLED"
    DENIED = "DENIED"


class DocKind(StrEnum):
    """A summary (resNFe, no XML body) or the full authorised document."""

    SUMMARY = "SUMMARY"
    FULL = "FULL"


class Manifestacao(StrEnum):
    """The recipient's manifestação on an NF-e (the last conclusive event counts)."""

    CIENCIA = "CIENCIA"
    CONFIRMADA = "CONFIRMADA"
    DESCONHECIDA = "DESCONHECIDA"
    NAO_REALIZADA = "NAO_REALIZADA"


# The conclusive manifestações a user may ask for, as the API names them (the queue keeps them so).
ManifestacaoType = Literal["confirmacao", "desconhecimento", "nao_realizada"]


class PutOutcome(StrEnum):
    """What ``put_document`` did: a new record, a summary upgraded, or nothing to do."""

    CREATED = "CREATED"
    UPGRADED = "UPGRADED"
    UNCHANGED = "UNCHANGED"


def document_sort_key(access_key: str | None, doc_type: str, external_id: str | None) -> str:
    """The document's key within its company: its access key, else its type and external id."""
    if access_key:
        return access_key_doc_key(access_key)
    if external_id:
        return external_doc_key(doc_type, external_id)
    raise InvalidValue("access_key", "a document needs an access key or an external id")


@dataclass(frozen=True, slots=True)
class FiscalDocument:
    """A fiscal document of one company, as written by the sync and read by the API.

    ``event_ids``, ``manifestacao`` and the timestamps belong to the store: whatever a caller
    passes there is ignored on write and filled in on read.
    """

    account_id: str
    company_id: str
    family: Family
    doc_type: DocType
    issued_at: datetime
    issuer_doc: str
    status: DocStatus
    direction: Direction
    kind: DocKind
    access_key: str | None = None
    external_id: str | None = None
    model: str | None = None
    series: str | None = None
    number: int | None = None
    issuer_name: str | None = None
    recipient_doc: str | None = None
    recipient_name: str | None = None
    total_value: Decimal | None = None
    protocol: str | None = None
    s3_key: str | None = None
    sha256: str | None = None
    nsu: str | None = None
    event_ids: frozenset[str] = frozenset()
    manifestacao: Manifestacao | None = None
    manifestacao_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def doc_key(self) -> str:
        """The document's sort key within its company."""
        return document_sort_key(self.access_key, self.doc_type, self.external_id)


@dataclass(frozen=True, slots=True)
class FiscalEvent:
    """An event of a document: ``status_effect``/``manifestacao_effect`` say what it changes.

    The caller (the protocol layer, which knows what each tpEvento means) decides the effect;
    the store applies it to the document now or, if the document has not arrived, when it does.
    """

    account_id: str
    company_id: str
    family: Family
    doc_type: DocType
    type_code: str
    description: str
    seq: int
    event_at: datetime
    access_key: str | None = None
    external_id: str | None = None
    protocol: str | None = None
    author_doc: str | None = None
    status_effect: DocStatus | None = None
    manifestacao_effect: Manifestacao | None = None
    s3_key: str | None = None
    sha256: str | None = None
    nsu: str | None = None
    received_at: datetime | None = None

    @property
    def doc_key(self) -> str:
        """The sort key of the document this event belongs to."""
        return document_sort_key(self.access_key, self.doc_type, self.external_id)

    @property
    def event_id(self) -> str:
        """``<tpEvento>#<seq:03>``, unique per document."""
        return f"{self.type_code}#{self.seq:03d}"


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    """The filters of the documents list; each combination maps to one index.

    ``min_value`` / ``max_value`` (inclusive, in reais) are served by the index that sorts a
    company's documents by value, alone: no other filter can be a key condition with them.
    """

    doc_type: DocType | None = None
    direction: Direction | None = None
    status: DocStatus | None = None
    issuer_doc: str | None = None
    recipient_doc: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None

    @property
    def by_value(self) -> bool:
        """Whether a value range is asked for (the list is then sorted by value)."""
        return self.min_value is not None or self.max_value is not None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the opaque cursor of the next page (None on the last)."""

    items: list[T] = field(default_factory=list)
    cursor: str | None = None
