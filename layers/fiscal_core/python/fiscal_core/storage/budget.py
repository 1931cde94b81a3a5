"""The hourly budget of consNSU and consChNFe calls, kept on the sync cursor.

SEFAZ allows 20 of each an hour per CNPJ and answers the 21st with 656 and a one-hour block.
The cursor keeps the times of the calls of the last hour (a sliding window, not a counter
reset on the hour, which would allow 40 calls in a few minutes around the reset); a call
is spent with an optimistic write on the cursor's revision, so two callers cannot both take
the last slot.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pynamodb.exceptions import DoesNotExist, UpdateError

from fiscal_core.storage.attributes import format_ts, parse_ts, utc_now
from fiscal_core.storage.errors import (
    BudgetExhausted,
    ConcurrentUpdate,
    RecordNotFound,
    is_condition_failure,
    storage_call,
)
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.models import SyncCursor
from fiscal_core.storage.records import Family

HOURLY_LIMIT: Final = 20
WINDOW: Final = timedelta(hours=1)


class Consultation(StrEnum):
    """The single-document queries SEFAZ rations: by NSU and by access key."""

    CONS_NSU = "consNSU"
    CONS_CHNFE = "consChNFe"


_CALLS: Final = {
    Consultation.CONS_NSU: SyncCursor.cons_nsu_calls,
    Consultation.CONS_CHNFE: SyncCursor.cons_chnfe_calls,
}


class ConsultationBudget:
    """Spend consNSU/consChNFe calls of a cursor within the hourly limit."""

    def __init__(
        self, clock: Callable[[], datetime] = utc_now, limit: int = HOURLY_LIMIT, max_attempts: int = 5
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._max_attempts = max_attempts

    def spend(self, account_id: str, company_id: str, family: Family, kind: Consultation) -> int:
        """Take one call from the budget; the calls left this hour, or BudgetExhausted."""
        attribute = _CALLS[kind]
        for _ in range(self._max_attempts):
            item = self._load(account_id, company_id, family)
            now = self._clock()
            recent = [t for t in (parse_ts(str(c)) for c in getattr(item, attribute.attr_name) or ())
                      if t > now - WINDOW]  # fmt: skip
            if len(recent) >= self._limit:
                retry_at = min(recent) + WINDOW
                raise BudgetExhausted(
                    f"company {company_id} used its {self._limit} {kind} calls of the hour;"
                    f" the next is allowed at {retry_at:%H:%M} UTC",
                    retry_at=retry_at,
                )
            # Any: PynamoDB types ListAttribute(of=UnicodeAttribute) items as the attribute class.
            calls: list[Any] = [format_ts(t) for t in [*recent, now]]
            with storage_call(f"spend a {kind} call"):
                try:
                    item.update(
                        [attribute.set(calls), SyncCursor.revision.add(1),
                         SyncCursor.updated_at.set(now)],
                        condition=SyncCursor.revision == item.revision,
                    )  # fmt: skip
                except UpdateError as exc:
                    if not is_condition_failure(exc):
                        raise
                    continue  # another call was spent meanwhile: recount
            return self._limit - len(calls)
        raise ConcurrentUpdate(f"the {kind} budget of company {company_id} kept changing")

    def _load(self, account_id: str, company_id: str, family: Family) -> SyncCursor:
        with storage_call("read a sync cursor"):
            try:
                return SyncCursor.get(company_key(account_id, company_id), family.value, consistent_read=True)
            except DoesNotExist as exc:
                raise RecordNotFound(f"company {company_id} has no {family} sync cursor") from exc
