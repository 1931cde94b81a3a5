"""What the sync cursor repository returns: the cursor's state and the lease a run holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from fiscal_core.storage.attributes import parse_ts
from fiscal_core.storage.models import SyncCursor
from fiscal_core.storage.records import Family


@dataclass(frozen=True, slots=True)
class Lease:
    """The right of one run (``owner``) to work a cursor until ``expires_at``."""

    account_id: str
    company_id: str
    family: Family
    owner: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CursorState:
    """Where a company's sync stands for one family, and why it waits if it does."""

    account_id: str
    company_id: str
    family: Family
    cnpj: str
    last_nsu: str
    max_nsu: str
    next_allowed_at: datetime
    block_reason: str | None
    block_detail: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    cons_nsu_calls: tuple[datetime, ...]
    cons_chnfe_calls: tuple[datetime, ...]
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    scheduled: bool
    updated_at: datetime

    def lease_expired(self, now: datetime) -> bool:
        """True when nobody holds the lease, or its holder let it run out."""
        return self.lease_expires_at is None or self.lease_expires_at <= now

    @property
    def caught_up(self) -> bool:
        """True when every NSU SEFAZ has announced was read (ultNSU == maxNSU)."""
        return self.last_nsu == self.max_nsu


def to_state(item: SyncCursor) -> CursorState:
    """The state of a stored cursor item."""
    return CursorState(
        account_id=item.account_id,
        company_id=item.company_id,
        family=Family(item.family),
        cnpj=item.cnpj,
        last_nsu=item.last_nsu,
        max_nsu=item.max_nsu,
        next_allowed_at=item.next_allowed_at,
        block_reason=item.block_reason,
        block_detail=item.block_detail,
        lease_owner=item.lease_owner,
        lease_expires_at=item.lease_expires_at,
        cons_nsu_calls=_times(item.cons_nsu_calls),
        cons_chnfe_calls=_times(item.cons_chnfe_calls),
        last_error=item.last_error,
        last_error_at=item.last_error_at,
        last_success_at=item.last_success_at,
        scheduled=item.schedule_shard is not None,
        updated_at=item.updated_at,
    )


def _times(texts: Iterable[object] | None) -> tuple[datetime, ...]:
    # PynamoDB types ListAttribute(of=UnicodeAttribute) elements as the attribute class.
    return tuple(parse_ts(str(t)) for t in texts or ())
