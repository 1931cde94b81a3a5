"""A run that dies anywhere repeats work on the next attempt but loses and duplicates nothing.

Each crash point is armed once; the run either repeats the task (the workflow's Retry) or fails
(the Catch) and a later run picks up. Either way every document ends stored once, its XML matching
its SHA-256, and the counters summed over the runs equal what was saved, once each.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fiscal_core.storage.records import DocKind, DocStatus, Family
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.contract import Next, SyncState
from fiscal_core.sync.crash import CrashAt, CrashPoint, SimulatedCrash
from local.fixtures.documents import EventType
from tests.unit.sync.harness import ACCOUNT, COMPANY_ID, Harness


def _stream(harness: Harness) -> list[str]:
    """30 documents over two pages of 20: summaries, full notes, events, summaries upgraded later."""
    harness.nfe.page_size = 20
    notes = [harness.note(hours_ago=8 - i / 20) for i in range(24)]
    for note in notes[:16]:
        harness.publish_summary(note)
    for note in notes[16:]:
        harness.publish_full(note)
    harness.publish_event(notes[0], EventType.CANCELAMENTO)
    harness.publish_event(notes[18], EventType.CARTA_CORRECAO)
    for note in notes[1:5]:  # their full XML arrives later in the stream
        harness.publish_full(note)
    return [note.key for note in notes]


EXPECTED = {"docs_found": 30, "docs_saved": 28, "events_saved": 2}


def _check(harness: Harness, keys: list[str]) -> None:
    documents = harness.stored_documents()
    assert sorted(d.access_key or "" for d in documents) == sorted(keys)
    assert sum(d.kind is DocKind.FULL for d in documents) == 12
    assert harness.document(keys[0]).status is DocStatus.CANCELLED
    assert len(harness.stored_events()) == 2
    harness.assert_consistent()
    assert harness.nfe.violations == []
    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.last_nsu == "000000000000030"


@pytest.mark.parametrize("point", list(CrashPoint))
def test_a_crash_retried_by_the_workflow_loses_and_duplicates_nothing(
    harness: Harness, point: CrashPoint
) -> None:
    harness.company()
    keys = _stream(harness)
    harness.crash = CrashAt(point)

    result = harness.run()

    assert result.crashes == 1
    _check(harness, keys)
    assert dict(harness.totals()) == EXPECTED
    counters = result.last.counters
    assert (counters.docs_found, counters.docs_saved, counters.events_saved) == (30, 28, 2)
    # Replaying the journal, SEFAZ was asked once per page, never twice for one ultNSU.
    assert harness.nfe.calls == ["000000000000000", "000000000000020"]


@pytest.mark.parametrize("point", [p for p in CrashPoint if p is not CrashPoint.HOLDING_LEASE])
def test_a_failed_run_is_completed_by_the_next_one(harness: Harness, point: CrashPoint) -> None:
    harness.company()
    keys = _stream(harness)
    harness.crash = CrashAt(point)

    failed = harness.run(on_crash="fail")
    harness.crash = CrashAt(point, times=0)
    harness.run()

    assert failed.last.next is Next.FINISH
    runs = {r.status: r for r in harness.run_records()}  # same instant on the frozen clock
    assert set(runs) == {RunStatus.SUCCEEDED, RunStatus.FAILED}
    assert "Nothing stored was lost" in (runs[RunStatus.FAILED].error_summary or "")
    _check(harness, keys)
    assert dict(harness.totals()) == EXPECTED


def test_a_lease_left_by_a_dead_run_blocks_until_it_expires(harness: Harness) -> None:
    harness.company()
    keys = _stream(harness)
    harness.crash = CrashAt(CrashPoint.HOLDING_LEASE)
    # The Lambda died holding the lease and the Catch never ran (a killed container).
    with pytest.raises(SimulatedCrash):
        harness.worker().handle(SyncState(account_id=ACCOUNT, company_id=COMPANY_ID, family=Family.NFE))

    refused = harness.run()
    assert refused.last.next is Next.SKIP
    assert "already running" in (refused.last.message or "")
    assert harness.nfe.calls == []

    harness.clock.advance(harness.policy.lease_ttl + timedelta(seconds=1))
    harness.run()
    _check(harness, keys)


def test_a_second_start_while_a_run_holds_the_lease_does_no_work(harness: Harness) -> None:
    harness.company()
    _stream(harness)
    first = harness.worker().handle(SyncState(account_id=ACCOUNT, company_id=COMPANY_ID, family=Family.NFE))
    assert first.next is Next.FETCH

    second = harness.run()

    assert second.last.next is Next.SKIP
    assert len(second.states) == 1
    assert harness.nfe.calls == []
    assert len(harness.run_records()) == 1


def test_within_the_hour_after_catching_up_sefaz_is_not_called(harness: Harness) -> None:
    harness.company()
    _stream(harness)
    harness.run()
    calls = list(harness.nfe.calls)

    harness.clock.advance(timedelta(minutes=50))
    again = harness.run()

    assert again.last.next is Next.SKIP
    assert "may be queried" in (again.last.message or "")
    assert "no new documents" in (again.last.message or "")
    assert harness.nfe.calls == calls
