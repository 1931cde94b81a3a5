"""The sync cursor repository: one cursor per (company, family), worked under a lease.

Every write that moves a cursor is conditional: acquiring needs a free or expired lease and
a cursor whose next call is allowed; advancing and releasing need the caller still to hold
the lease, so a run that lost its lease (it stalled past the expiry and another run took
over) can never move the NSU another run is working from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Final

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.attributes import utc_now
from fiscal_core.storage.cursor_records import CursorState, Lease, to_state
from fiscal_core.storage.errors import (
    LeaseHeld,
    LeaseLost,
    RecordNotFound,
    SyncWaiting,
    is_condition_failure,
    storage_call,
)
from fiscal_core.storage.keys import company_key
from fiscal_core.storage.models import SyncCursor
from fiscal_core.storage.records import Family

_NSU: Final = re.compile(r"[0-9]{15}")
SCHEDULE_SHARDS: Final = 8


def schedule_shard(account_id: str, company_id: str) -> str:
    """The ``due`` index partition of a company: a stable hash spread over a few shards."""
    digest = hashlib.sha256(company_key(account_id, company_id).encode()).digest()
    return f"DUE#{digest[0] % SCHEDULE_SHARDS}"


def _nsu(value: str, field: str) -> str:
    if not _NSU.fullmatch(value):
        raise InvalidValue(field, f"an NSU has 15 digits, left-padded with zeros; got {value!r}")
    return value


class SyncCursorRepository:
    """Create, lease, advance and release sync cursors; list the ones due for the scheduler."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock

    def ensure(self, account_id: str, company_id: str, family: Family, cnpj: str) -> CursorState:
        """The cursor of a company and family, created at NSU zero if it does not exist yet."""
        now = self._clock()
        item = SyncCursor(
            company_key(account_id, company_id), family.value, account_id=account_id,
            company_id=company_id, cnpj=cnpj, next_allowed_at=now, updated_at=now,
            schedule_shard=schedule_shard(account_id, company_id),
        )  # fmt: skip
        with storage_call("create a sync cursor"):
            try:
                item.save(condition=SyncCursor.company_key.does_not_exist())
            except PutError as exc:
                if not is_condition_failure(exc):
                    raise
        return self.get(account_id, company_id, family)

    def get(self, account_id: str, company_id: str, family: Family) -> CursorState:
        """The cursor as stored now (strongly consistent), or RecordNotFound."""
        return to_state(self._load(account_id, company_id, family))

    def set_scheduled(self, account_id: str, company_id: str, family: Family, on: bool) -> None:
        """Put the cursor in (or take it out of) the scheduler's ``due`` index."""
        shard = SyncCursor.schedule_shard
        action = shard.set(schedule_shard(account_id, company_id)) if on else shard.remove()
        self._update(account_id, company_id, family, [action], None)

    def acquire(
        self,
        account_id: str,
        company_id: str,
        family: Family,
        owner: str,
        ttl: timedelta,
        *,
        even_if_waiting: bool = False,
    ) -> Lease:
        """Take the cursor's lease for ``ttl``; LeaseHeld or SyncWaiting say why not.

        ``even_if_waiting`` takes it while SEFAZ must not be asked yet, for a run that will not ask.
        """
        now = self._clock()
        free = (
            SyncCursor.lease_owner.does_not_exist()
            | (SyncCursor.lease_expires_at < now)
            | (SyncCursor.lease_owner == owner)
        )
        condition = free if even_if_waiting else free & (SyncCursor.next_allowed_at <= now)
        actions = [SyncCursor.lease_owner.set(owner), SyncCursor.lease_expires_at.set(now + ttl)]
        if self._update(account_id, company_id, family, actions, condition):
            return Lease(account_id, company_id, family, owner, now + ttl)
        state = self.get(account_id, company_id, family)
        if state.lease_owner and state.lease_owner != owner and not state.lease_expired(now):
            raise LeaseHeld(
                f"the {family} sync of company {company_id} is already running",
                owner=state.lease_owner,
                until=state.lease_expires_at,
            )
        raise SyncWaiting(
            f"the {family} sync of company {company_id} may call SEFAZ again at "
            f"{state.next_allowed_at:%Y-%m-%d %H:%M} UTC",
            until=state.next_allowed_at,
            reason=state.block_reason,
            detail=state.block_detail,
        )

    def renew(self, lease: Lease, ttl: timedelta) -> Lease:
        """Extend a lease still held; LeaseLost if it expired or was taken over."""
        expires = self._clock() + ttl
        self._under_lease(lease, [SyncCursor.lease_expires_at.set(expires)])
        return Lease(lease.account_id, lease.company_id, lease.family, lease.owner, expires)

    def advance(
        self,
        lease: Lease,
        *,
        last_nsu: str,
        max_nsu: str,
        next_allowed_at: datetime | None = None,
        block_reason: str | None = None,
        block_detail: str | None = None,
    ) -> CursorState:
        """Record a page durably stored: the ultNSU/maxNSU SEFAZ returned and when to call next.

        Call it only after every document of the page is in S3 and DynamoDB. The NSU never
        moves backwards; ``block_reason`` (and its detail) is cleared unless given again.
        """
        now = self._clock()
        new_last = _nsu(last_nsu, "last_nsu")
        actions = [
            SyncCursor.last_nsu.set(new_last),
            SyncCursor.max_nsu.set(_nsu(max_nsu, "max_nsu")),
            SyncCursor.next_allowed_at.set(next_allowed_at or now),
            SyncCursor.last_success_at.set(now),
            _set_or_remove(SyncCursor.block_reason, block_reason),
            _set_or_remove(SyncCursor.block_detail, block_detail),
        ]
        self._under_lease(lease, actions, SyncCursor.last_nsu <= new_last)
        return self.get(lease.account_id, lease.company_id, lease.family)

    def release(
        self,
        lease: Lease,
        *,
        error: str | None = None,
        next_allowed_at: datetime | None = None,
        block_reason: str | None = None,
        block_detail: str | None = None,
    ) -> None:
        """Give the lease back, recording why the run stopped when it failed or was blocked."""
        actions: list[Action] = [SyncCursor.lease_owner.remove(), SyncCursor.lease_expires_at.remove()]
        if error is not None:
            actions += [SyncCursor.last_error.set(error), SyncCursor.last_error_at.set(self._clock())]
        if next_allowed_at is not None:
            actions.append(SyncCursor.next_allowed_at.set(next_allowed_at))
        if block_reason is not None:
            actions += [
                SyncCursor.block_reason.set(block_reason),
                _set_or_remove(SyncCursor.block_detail, block_detail),
            ]
        self._under_lease(lease, actions)

    def due(self, now: datetime | None = None) -> Iterator[tuple[str, str, Family]]:
        """(account, company, family) of every scheduled cursor whose next call is allowed.

        The scheduler's fan-out, across tenants by design; it reads one shard after another.
        """
        until = now or self._clock()
        for shard in range(SCHEDULE_SHARDS):
            with storage_call("list due sync cursors"):
                for item in SyncCursor.due.query(
                    f"DUE#{shard}", range_key_condition=SyncCursor.next_allowed_at <= until
                ):
                    yield item.account_id, item.company_id, Family(item.family)

    def _under_lease(self, lease: Lease, actions: Sequence[Action], extra: Condition | None = None) -> None:
        held = (SyncCursor.lease_owner == lease.owner) & (SyncCursor.lease_expires_at > self._clock())
        condition = held & extra if extra is not None else held
        if self._update(lease.account_id, lease.company_id, lease.family, actions, condition):
            return
        state = self.get(lease.account_id, lease.company_id, lease.family)
        held_now = state.lease_owner == lease.owner and not state.lease_expired(self._clock())
        if extra is None or not held_now:
            raise LeaseLost(
                f"the lease on the {lease.family} cursor of company {lease.company_id} was lost;"
                " this run must stop without writing"
            )
        raise InvalidValue("last_nsu", f"would move the cursor back from {state.last_nsu}")

    def _update(
        self,
        account_id: str,
        company_id: str,
        family: Family,
        actions: Sequence[Action],
        condition: Condition | None,
    ) -> bool:
        """Apply ``actions`` to an existing cursor if ``condition`` holds; False if it did not."""
        item = SyncCursor(company_key(account_id, company_id), family.value)
        exists = SyncCursor.company_key.exists()
        actions = [*actions, SyncCursor.updated_at.set(self._clock()), SyncCursor.revision.add(1)]
        with storage_call("update a sync cursor"):
            try:
                item.update(actions, condition=exists & condition if condition is not None else exists)
            except UpdateError as exc:
                if not is_condition_failure(exc):
                    raise
                self._load(account_id, company_id, family)  # RecordNotFound if it is missing
                return False
        return True

    def _load(self, account_id: str, company_id: str, family: Family) -> SyncCursor:
        with storage_call("read a sync cursor"):
            try:
                return SyncCursor.get(company_key(account_id, company_id), family.value, consistent_read=True)
            except DoesNotExist as exc:
                raise RecordNotFound(f"company {company_id} has no {family} sync cursor") from exc


def _set_or_remove(attribute: UnicodeAttribute, value: str | None) -> Action:
    return attribute.set(value) if value is not None else attribute.remove()
