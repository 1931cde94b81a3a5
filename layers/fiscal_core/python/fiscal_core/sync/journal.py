"""The page journal: the last distribution answer of a cursor, kept in S3 until it is recorded.

SEFAZ remembers the ultNSU it returned and answers 656 (and blocks the CNPJ for an hour) to a
request with any other, so a page received but not yet recorded must never be asked for again.
The answer is written here before anything else is done with it; a step that dies afterwards
(a crash, a throttled write, a timeout) and runs again finds it and replays it instead of calling
SEFAZ. It is cleared once the cursor records the page.

An answer is valid only for the NSU it answered: once the cursor moves past it, it is ignored.
"""

from __future__ import annotations

import gzip
import json
import logging

from fiscal_core.storage.records import Family
from fiscal_core.sync.answer import Answer
from fiscal_core.sync.object_keys import sync_object_key
from fiscal_core.sync.objects import ObjectStore

logger = logging.getLogger(__name__)
_NAME = "page-journal.json.gz"


class PageJournal:
    """Save, find and clear the pending answer of each cursor."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def pending(self, account_id: str, company_id: str, family: Family, requested_nsu: str) -> Answer | None:
        """The answer already received for ``requested_nsu`` and not yet recorded, if any."""
        raw = self._objects.get(sync_object_key(account_id, company_id, family, _NAME))
        if raw is None:
            return None
        try:
            answer = Answer.from_json(json.loads(gzip.decompress(raw)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged journal cannot be replayed; SEFAZ will say (656) if the page was received.
            logger.warning("ignoring an unreadable page journal of company %s: %s", company_id, exc)
            return None
        return answer if answer.requested_nsu == requested_nsu else None

    def save(self, account_id: str, company_id: str, family: Family, answer: Answer) -> None:
        """Keep ``answer`` durably before acting on it."""
        body = gzip.compress(json.dumps(answer.to_json(), separators=(",", ":")).encode(), compresslevel=5)
        self._objects.put(sync_object_key(account_id, company_id, family, _NAME), body, "application/gzip")

    def clear(self, account_id: str, company_id: str, family: Family) -> None:
        """Forget the pending answer: its page is recorded."""
        self._objects.delete(sync_object_key(account_id, company_id, family, _NAME))
