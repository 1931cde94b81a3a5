"""What a cursor must remember between pages besides its NSU: orphan events and NSU gaps.

- Orphan events: an event can arrive before its document (the summary fell out of the AN's 90
  days, or comes on a later page). The page store writes new documents in batches without
  looking for stored events, which is what makes it fast; the few documents listed here are
  written through the repository instead, which applies the events waiting for them.
- Gaps: NSUs SEFAZ says it returned (a 656 carrying a higher ultNSU) whose answer never reached
  FiscalMix; they are fetched one by one with consNSU, inside the hourly budget.

Kept as one small JSON object per cursor in the documents bucket; only the cursor's lease holder
writes it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from fiscal_core.storage.records import Family
from fiscal_core.sync.object_keys import sync_object_key
from fiscal_core.sync.objects import ObjectStore
from fiscal_core.sync.policy import DISTRIBUTION_RETENTION

_NAME = "notes.json"
# Past the AN's retention the document cannot arrive any more; its events stay stored, unlinked.
ORPHAN_LIFETIME: Final = DISTRIBUTION_RETENTION + timedelta(days=10)


@dataclass
class CursorNotes:
    """Documents with events waiting for them (doc key → when the latest arrived) and gaps."""

    orphans: dict[str, str] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)

    def track_orphans(self, found: Mapping[str, datetime], resolved: Collection[str], now: datetime) -> bool:
        """Add documents whose events wait for them, drop those that arrived; True if anything changed.

        Orphans whose document can no longer arrive (past the AN's retention) are forgotten.
        """
        if not found and not resolved:
            return False
        for key, at in found.items():
            known = self.orphans.get(key)
            if known is None or datetime.fromisoformat(known) < at:
                self.orphans[key] = at.isoformat()
        for key in resolved:
            self.orphans.pop(key, None)
        oldest = now - ORPHAN_LIFETIME
        self.orphans = {k: at for k, at in self.orphans.items() if datetime.fromisoformat(at) >= oldest}
        return True


class NotesStore:
    """Load and save the notes of each cursor."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    def load(self, account_id: str, company_id: str, family: Family) -> CursorNotes:
        """The cursor's notes (empty when it has none)."""
        raw = self._objects.get(sync_object_key(account_id, company_id, family, _NAME))
        if raw is None:
            return CursorNotes()
        data = json.loads(raw)
        return CursorNotes(orphans=dict(data.get("orphans", {})), gaps=list(data.get("gaps", [])))

    def save(self, account_id: str, company_id: str, family: Family, notes: CursorNotes) -> None:
        """Write the cursor's notes."""
        body = json.dumps({"orphans": notes.orphans, "gaps": notes.gaps}, sort_keys=True).encode()
        self._objects.put(sync_object_key(account_id, company_id, family, _NAME), body, "application/json")
