"""Sync cursors against moto: the lease, conditional advance, the consultation budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.budget import Consultation, ConsultationBudget
from fiscal_core.storage.cursors import SyncCursorRepository
from fiscal_core.storage.errors import (
    BudgetExhausted,
    LeaseHeld,
    LeaseLost,
    RecordNotFound,
    SyncWaiting,
)
from fiscal_core.storage.records import Family

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cursors(tables, clock) -> SyncCursorRepository:
    repo = SyncCursorRepository(clock)
    repo.ensure("acc1", "co1", Family.NFE, "12345678000195")
    return repo


def nsu(n: int) -> str:
    return f"{n:015d}"


def test_new_cursor_starts_at_zero_and_ensure_is_idempotent(cursors):
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    cursors.advance(lease, last_nsu=nsu(50), max_nsu=nsu(80))
    state = cursors.ensure("acc1", "co1", Family.NFE, "12345678000195")
    assert (state.last_nsu, state.max_nsu) == (nsu(50), nsu(80))
    fresh = cursors.ensure("acc1", "co1", Family.CTE, "12345678000195")
    assert (fresh.last_nsu, fresh.caught_up, fresh.scheduled) == (nsu(0), True, True)


def test_only_one_run_holds_the_lease_until_it_expires(cursors, clock):
    first = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    with pytest.raises(LeaseHeld) as held:
        cursors.acquire("acc1", "co1", Family.NFE, "run-2", TTL)
    assert (held.value.owner, held.value.until) == ("run-1", first.expires_at)
    clock.advance(TTL + timedelta(seconds=1))
    second = cursors.acquire("acc1", "co1", Family.NFE, "run-2", TTL)
    assert second.owner == "run-2"


def test_the_holder_may_reacquire_and_renew(cursors, clock):
    cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    clock.advance(timedelta(minutes=4))
    again = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    renewed = cursors.renew(again, timedelta(minutes=10))
    assert renewed.expires_at == clock.now + timedelta(minutes=10)


def test_advance_needs_the_lease(cursors, clock):
    stale = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    clock.advance(TTL + timedelta(seconds=1))
    current = cursors.acquire("acc1", "co1", Family.NFE, "run-2", TTL)
    with pytest.raises(LeaseLost):
        cursors.advance(stale, last_nsu=nsu(99), max_nsu=nsu(99))
    state = cursors.advance(current, last_nsu=nsu(50), max_nsu=nsu(90))
    assert (state.last_nsu, state.max_nsu, state.lease_owner) == (nsu(50), nsu(90), "run-2")


def test_an_expired_lease_cannot_advance_even_if_nobody_took_it(cursors, clock):
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    clock.advance(TTL)
    with pytest.raises(LeaseLost):
        cursors.advance(lease, last_nsu=nsu(1), max_nsu=nsu(1))
    assert cursors.get("acc1", "co1", Family.NFE).last_nsu == nsu(0)


def test_the_nsu_never_moves_back(cursors):
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    cursors.advance(lease, last_nsu=nsu(50), max_nsu=nsu(90))
    with pytest.raises(InvalidValue, match="back from 000000000000050"):
        cursors.advance(lease, last_nsu=nsu(49), max_nsu=nsu(90))
    with pytest.raises(InvalidValue, match="15 digits"):
        cursors.advance(lease, last_nsu="34000", max_nsu=nsu(90))


def test_caught_up_cursor_waits_and_says_why(cursors, clock):
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    cursors.advance(lease, last_nsu=nsu(90), max_nsu=nsu(90),
                    next_allowed_at=clock.now + timedelta(hours=1), block_reason="CAUGHT_UP")  # fmt: skip
    cursors.release(lease)
    with pytest.raises(SyncWaiting, match="13:00 UTC") as waiting:
        cursors.acquire("acc1", "co1", Family.NFE, "run-2", TTL)
    assert (waiting.value.until, waiting.value.reason) == (T0 + timedelta(hours=1), "CAUGHT_UP")
    clock.advance(timedelta(hours=1))
    cursors.acquire("acc1", "co1", Family.NFE, "run-2", TTL)
    assert cursors.get("acc1", "co1", Family.NFE).block_reason == "CAUGHT_UP"


def test_failed_run_releases_and_records_why(cursors, clock):
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    cursors.release(lease, error="656 Consumo indevido", next_allowed_at=T0 + timedelta(hours=1),
                    block_reason="BLOCKED_656", block_detail="Tente apos 1 hora")  # fmt: skip
    state = cursors.get("acc1", "co1", Family.NFE)
    assert state.lease_owner is None
    assert (state.last_error, state.last_error_at) == ("656 Consumo indevido", T0)
    assert (state.block_reason, state.block_detail) == ("BLOCKED_656", "Tente apos 1 hora")
    with pytest.raises(LeaseLost):
        cursors.release(lease)


def test_missing_cursor_is_reported(cursors):
    with pytest.raises(RecordNotFound, match="no MDFE sync cursor"):
        cursors.acquire("acc1", "co1", Family.MDFE, "run-1", TTL)


def test_due_lists_scheduled_cursors_whose_time_has_come(cursors, clock):
    cursors.ensure("acc2", "co9", Family.NFE, "11222333000181")
    cursors.ensure("acc1", "co2", Family.CTE, "11222333000181")
    cursors.set_scheduled("acc1", "co2", Family.CTE, False)
    lease = cursors.acquire("acc1", "co1", Family.NFE, "run-1", TTL)
    cursors.advance(lease, last_nsu=nsu(1), max_nsu=nsu(1), next_allowed_at=T0 + timedelta(hours=1))
    assert sorted(cursors.due(T0)) == [("acc2", "co9", Family.NFE)]
    assert sorted(cursors.due(T0 + timedelta(hours=1))) == [
        ("acc1", "co1", Family.NFE),
        ("acc2", "co9", Family.NFE),
    ]


def test_budget_allows_twenty_calls_in_any_hour(cursors, clock):
    budget = ConsultationBudget(clock)
    left = [budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE) for _ in range(20)]
    assert left == list(range(19, -1, -1))
    with pytest.raises(BudgetExhausted) as spent:
        budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE)
    assert spent.value.retry_at == T0 + timedelta(hours=1)
    # consNSU has its own budget.
    assert budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_NSU) == 19
    clock.advance(timedelta(hours=1, seconds=1))
    assert budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE) == 19


def test_budget_window_slides(cursors, clock):
    budget = ConsultationBudget(clock, limit=2)
    budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_NSU)
    clock.advance(timedelta(minutes=40))
    budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_NSU)
    clock.advance(timedelta(minutes=30))  # the first call is now 70 minutes old
    assert budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_NSU) == 0
    with pytest.raises(BudgetExhausted) as spent:
        budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_NSU)
    assert spent.value.retry_at == T0 + timedelta(minutes=100)


def test_budget_survives_a_concurrent_spender(cursors, clock: Clock):
    """A spend that loses the race re-reads and counts the other caller's call."""
    other = ConsultationBudget(clock, limit=2)
    calls = []

    def racing_clock() -> datetime:
        calls.append(clock.now)
        if len(calls) == 1:  # between this spender's read and its write
            other.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE)
        return clock.now

    budget = ConsultationBudget(racing_clock, limit=2)
    assert budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE) == 0
    assert len(calls) == 2  # the first write lost and was retried
    with pytest.raises(BudgetExhausted):
        budget.spend("acc1", "co1", Family.NFE, Consultation.CONS_CHNFE)
