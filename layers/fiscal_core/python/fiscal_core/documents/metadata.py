"""What FiscalMix knows about a fiscal document once it has read it: a typed, immutable record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Family(StrEnum):
    """The document family, which decides the namespace, the key format and the distribution service."""

    NFE = "NFE"
    CTE = "CTE"
    MDFE = "MDFE"
    NFSE = "NFSE"


class DocType(StrEnum):
    """The document type users filter by; CT-e OS and GTV-e are CTE (their model tells them apart)."""

    NFE = "NFE"
    NFCE = "NFCE"
    CTE = "CTE"
    MDFE = "MDFE"
    NFSE = "NFSE"


class Kind(StrEnum):
    """Whether the XML is a full document, a summary of one (resNFe) or an event about one."""

    DOCUMENT = "document"
    SUMMARY = "summary"
    EVENT = "event"


class Status(StrEnum):
    """What the authority's answer says: documents are authorized, denied or cancelled; events registered."""

    AUTHORIZED = "authorized"
    DENIED = "denied"
    CANCELLED = "cancelled"
    REGISTERED = "registered"


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """The metadata of one fiscal document, summary or event; fields that do not apply are None.

    For an event, ``access_key``, ``doc_type`` and ``model`` describe the document the event
    concerns, and the issuer, recipient, series, number and total are None.
    """

    family: Family
    schema: str  # root element and version, e.g. "nfeProc 4.00"
    doc_type: DocType
    kind: Kind
    access_key: str  # 44 characters, or the 50-digit national key of an NFS-e
    model: int | None  # 55, 65, 57, 67, 64, 58; None for NFS-e
    series: int | None
    number: int | None
    issued_at: datetime | None  # always with its UTC offset
    issuer_doc: str | None  # CNPJ or CPF
    issuer_name: str | None
    recipient_doc: str | None  # CNPJ, CPF or foreign id; None for an anonymous consumer
    recipient_name: str | None
    total_value: Decimal | None
    status: Status | None  # None when the XML carries no answer from the authority
    protocol: str | None  # nProt of the authorization, denial or event registration
    event_type: str | None  # tpEvento, six digits
    event_description: str | None
    event_seq: int | None
    event_at: datetime | None
    author_doc: str | None  # CNPJ or CPF of whoever registered the event


@dataclass(frozen=True, slots=True)
class Extraction:
    """The outcome of reading untrusted XML: its metadata, or what is wrong with it.

    ``unsupported`` is True when the XML is well formed but not a document FiscalMix reads, so a
    caller can keep it aside instead of treating it as damaged.
    """

    metadata: DocumentMetadata | None
    error: str | None = None
    unsupported: bool = False
