"""Bodies of the documents resource: list rows, one document with its timeline, links, import reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from fiscal_core.model import Model
from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    Family,
    Manifestacao,
)


class Party(Model):
    """An issuer or recipient as the document names it."""

    doc: str = Field(description="CNPJ or CPF, digits (and letters of an alphanumeric CNPJ) only.")
    name: str | None = None


class DocumentOut(Model):
    """A document as one company sees it: a row of the list."""

    id: str = Field(description="The document's id: <company_id>.<access key>.")
    company_id: str
    family: Family
    type: DocType
    model: str | None = Field(default=None, description="mod: 55, 65, 57, 67, 64, 58; none for NFS-e.")
    series: str | None = None
    number: int | None = None
    access_key: str | None = None
    external_id: str | None = None
    direction: Direction = Field(description="IN: received; OUT: issued by the company; THIRD: other role.")
    status: DocStatus
    kind: DocKind = Field(description="SUMMARY until the full XML arrives (after Ciência), then FULL.")
    issued_at: datetime
    issuer: Party
    recipient: Party | None = None
    total_value: Decimal | None = Field(default=None, description="Total in BRL, as an exact decimal.")
    protocol: str | None = None
    manifestacao: Manifestacao | None = None
    manifestacao_at: datetime | None = None
    has_xml: bool = Field(description="True when the full XML (and so the PDF) can be downloaded.")


class DocumentPage(Model):
    """One page of documents, by issue date."""

    items: list[DocumentOut]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page.")


class TimelineKind(StrEnum):
    """What a timeline entry records."""

    AUTHORIZATION = "authorization"
    DENIAL = "denial"
    CANCELLATION = "cancellation"
    CORRECTION = "correction"
    MANIFESTACAO = "manifestacao"
    OTHER_EVENT = "other_event"


class TimelineEntry(Model):
    """A step of the document's life at SEFAZ: its authorization, then its events in time order."""

    kind: TimelineKind
    at: datetime
    type_code: str | None = Field(default=None, description="tpEvento of an event (110111, 210200...).")
    description: str
    seq: int | None = Field(default=None, description="nSeqEvento of an event.")
    protocol: str | None = None
    author_doc: str | None = None
    status_effect: DocStatus | None = None
    manifestacao_effect: Manifestacao | None = None


class DocumentDetail(DocumentOut):
    """One document with what is known about its XML and its timeline."""

    sha256: str | None = Field(default=None, description="SHA-256 of the stored XML, hex.")
    nsu: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    timeline: list[TimelineEntry]


class DownloadLink(Model):
    """A short-lived link to download a file straight from storage."""

    url: str = Field(description="A presigned GET link; it works without the bearer token.")
    expires_at: datetime
    filename: str
    content_type: str


class ImportStatus(StrEnum):
    """What happened to one file of an import."""

    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class ImportedFile(Model):
    """The outcome for one file: its name (without directories), status, key and why."""

    file: str
    status: ImportStatus
    access_key: str | None = None
    document_id: str | None = None
    reason: str | None = None


class ImportCounts(Model):
    """How many files ended in each status."""

    imported: int = 0
    duplicate: int = 0
    rejected: int = 0


class ImportReport(Model):
    """What an import did with each file it received."""

    company_id: str
    counts: ImportCounts
    files: list[ImportedFile]
