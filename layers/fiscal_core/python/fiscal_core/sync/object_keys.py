"""Where each XML lives in the documents bucket: deterministic keys, so a repeated write lands
on the same object instead of making a second one.

- a document, summary or full: ``{account}/{company}/{type}/{yyyy}/{mm}/{key}.xml`` (the full
  XML replaces the summary's when it arrives, as the record is upgraded in place);
- an event: ``{account}/{company}/events/{type}/{yyyy}/{mm}/{key}-{tpEvento}-{seq}.xml``;
- a docZip FiscalMix could not read, kept for support: ``{account}/{company}/unreadable/...``;
- the sync's own notes (page journal, orphan events, manifestações queued for an A3's agent):
  ``{account}/{company}/sync/{family}/...``.

Year and month are the document's (issue) or the event's, in the time zone the XML states.
"""

from __future__ import annotations

from datetime import datetime

from fiscal_core.storage.records import Family


def _prefix(account_id: str, company_id: str) -> str:
    return f"{account_id}/{company_id}"


def document_object_key(
    account_id: str, company_id: str, doc_type: str, issued_at: datetime, access_key: str
) -> str:
    """The object of a document (its summary until the full XML replaces it)."""
    return f"{_prefix(account_id, company_id)}/{doc_type.lower()}/{issued_at:%Y/%m}/{access_key}.xml"


def event_object_key(
    account_id: str, company_id: str, doc_type: str, event_at: datetime, access_key: str, event_id: str
) -> str:
    """The object of an event; ``event_id`` is ``<tpEvento>#<seq:03>``."""
    type_code, seq = event_id.split("#")
    folder = f"{_prefix(account_id, company_id)}/events/{doc_type.lower()}/{event_at:%Y/%m}"
    return f"{folder}/{access_key}-{type_code}-{seq}.xml"


def unreadable_object_key(account_id: str, company_id: str, family: Family, name: str) -> str:
    """Where a docZip that could not be read is kept, by NSU (or content hash)."""
    return f"{_prefix(account_id, company_id)}/unreadable/{family.value.lower()}/{name}.xml"


def sync_object_key(account_id: str, company_id: str, family: Family, name: str) -> str:
    """The sync's own notes for one cursor."""
    return f"{_prefix(account_id, company_id)}/sync/{family.value.lower()}/{name}"
