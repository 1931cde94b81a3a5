"""The public id of a document: ``<company id>.<access key>``, URL-safe and readable.

A document is unique per (company, access key) or (company, type, external id), so its id names
both. The account is never part of it: it always comes from the caller's token, which is what
makes another tenant's id lead nowhere. Documents without an access key (a municipal NFS-e) get
``<company id>.<type>-<base64url of the external id>``, because an external id may hold any
character. Neither an access key nor base64url contains ``.``, so the id splits at its last dot
whatever the company id looks like.

An id that cannot be read is answered like an id that names nothing: 404, never a hint.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.keys import part
from fiscal_core.storage.records import DocType, FiscalDocument

_ACCESS_KEY: Final = re.compile(r"[0-9]{6}[0-9A-Z]{12}[0-9]{26}|[0-9]{50}")
_EXTERNAL: Final = re.compile(r"(?P<type>[A-Z]+)-(?P<ref>[A-Za-z0-9_-]+)")
_MAX_ID_LENGTH: Final = 300


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """What a document id names: a company of the caller's account and a document in it."""

    company_id: str
    access_key: str | None = None
    doc_type: DocType | None = None
    external_id: str | None = None


def key_document_id(company_id: str, access_key: str) -> str:
    """The public id of the company's document with this access key."""
    return f"{company_id}.{access_key}"


def document_id(doc: FiscalDocument) -> str:
    """The public id of a stored document."""
    if doc.access_key:
        return key_document_id(doc.company_id, doc.access_key)
    if doc.external_id is None:  # the store refuses such a document; kept for the type checker
        raise InvalidValue("external_id", "a document needs an access key or an external id")
    encoded = base64.urlsafe_b64encode(doc.external_id.encode()).decode().rstrip("=")
    return f"{doc.company_id}.{doc.doc_type}-{encoded}"


def parse_document_id(value: str) -> DocumentRef | None:
    """The reference in a document id, or None when ``value`` is not one (answer 404)."""
    company_id, dot, ref = value.rpartition(".")
    if len(value) > _MAX_ID_LENGTH or not dot or not _valid_company_id(company_id):
        return None
    if _ACCESS_KEY.fullmatch(ref):
        return DocumentRef(company_id, access_key=ref)
    match = _EXTERNAL.fullmatch(ref)
    if match is None or match["type"] not in DocType.__members__:
        return None
    external_id = _decode(match["ref"])
    if not external_id:
        return None
    return DocumentRef(company_id, doc_type=DocType(match["type"]), external_id=external_id)


def _decode(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _valid_company_id(company_id: str) -> bool:
    try:
        part(company_id, "company_id")
    except InvalidValue:
        return False
    return True
