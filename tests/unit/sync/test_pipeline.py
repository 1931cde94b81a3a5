"""The worker over moto and a fake SEFAZ: documents stored once, upgraded, cancelled, counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fiscal_core.storage.records import Direction, DocKind, DocStatus, Family, Manifestacao
from fiscal_core.storage.sync_runs import RunStatus
from fiscal_core.sync.contract import Next, Trigger
from local.fixtures.documents import EventType
from tests.unit.sync.harness import ACCOUNT, COMPANY, COMPANY_ID, SUPPLIER, Harness


def test_summary_then_full_document_is_one_record_upgraded(harness: Harness) -> None:
    harness.company()
    note = harness.note()
    harness.publish_summary(note)

    first = harness.run()
    summary = harness.document(note.key)
    assert summary.kind is DocKind.SUMMARY
    assert summary.direction is Direction.IN
    assert summary.recipient_doc == COMPANY.cnpj
    assert first.last.counters.docs_saved == 1

    harness.publish_full(note)
    harness.clock.advance(timedelta(hours=1, minutes=10))
    second = harness.run()
    full = harness.document(note.key)
    assert full.kind is DocKind.FULL
    assert full.issuer_doc == SUPPLIER.cnpj
    assert full.sha256 == harness.document(note.key).sha256
    assert second.last.counters.docs_saved == 1
    assert len(harness.stored_documents()) == 1
    harness.assert_consistent()
    assert harness.objects(f"{ACCOUNT}/{COMPANY_ID}/nfe/")[full.s3_key or ""] == note.xml
    assert harness.nfe.violations == []


def test_cancellation_is_reflected_and_counted_as_an_event(harness: Harness) -> None:
    harness.company()
    note = harness.note()
    harness.publish_summary(note)
    harness.publish_event(note, EventType.CANCELAMENTO)
    harness.publish_event(note, EventType.CARTA_CORRECAO, minutes=20)

    result = harness.run()

    document = harness.document(note.key)
    assert document.status is DocStatus.CANCELLED
    assert document.event_ids == {"110111#001", "110110#001"}
    assert result.last.counters.events_saved == 2
    assert result.last.counters.docs_found == 3
    harness.assert_consistent()


def test_a_page_of_many_documents_continues_then_finishes_caught_up(harness: Harness) -> None:
    harness.company()
    harness.nfe.page_size = 20
    notes = [harness.note(hours_ago=3 + i / 10) for i in range(30)]
    for note in notes:
        harness.publish_full(note)

    result = harness.run()

    assert [state.next for state in result.states[1:3]] == [Next.FETCH, Next.FETCH]
    assert result.last.counters.pages == 2
    assert result.last.counters.docs_saved == 30
    assert harness.nfe.calls == ["000000000000000", "000000000000020"]
    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.last_nsu == cursor.max_nsu == "000000000000030"
    assert cursor.block_reason == "CAUGHT_UP"
    assert cursor.next_allowed_at >= harness.clock.now + timedelta(hours=1)
    [run] = harness.run_records()
    assert run.status == RunStatus.SUCCEEDED
    assert (run.docs_found, run.docs_saved, run.pages) == (30, 30, 2)
    harness.assert_consistent()


def test_documents_sefaz_sends_again_are_stored_once(harness: Harness) -> None:
    harness.company()
    harness.nfe.page_size = 20
    notes = [harness.note(hours_ago=5 - i / 100) for i in range(25)]
    for note in notes:
        harness.publish_full(note)
    harness.publish_event(notes[0], EventType.CANCELAMENTO)
    # The second page carries NSUs 3 and 4 again, as SEFAZ occasionally does (sped-nfe #788).
    harness.nfe.resend = {20: [3, 4]}

    result = harness.run()

    assert len(harness.stored_documents()) == 25
    assert result.last.counters.docs_found == 28
    assert result.last.counters.docs_saved == 25
    assert result.last.counters.events_saved == 1
    assert harness.document(notes[0].key).status is DocStatus.CANCELLED
    harness.assert_consistent()


def test_an_event_before_its_document_is_applied_when_the_document_arrives(harness: Harness) -> None:
    harness.company()
    note = harness.note()
    harness.publish_event(note, EventType.CANCELAMENTO)
    harness.run()
    assert harness.stored_documents() == []
    assert len(harness.stored_events()) == 1

    harness.publish_summary(note)
    harness.clock.advance(timedelta(hours=2))
    harness.run()

    document = harness.document(note.key)
    assert document.status is DocStatus.CANCELLED
    assert document.event_ids == {"110111#001"}
    harness.assert_consistent()


def test_manifestacao_events_set_the_state_latest_wins(harness: Harness) -> None:
    harness.company()
    note = harness.note(hours_ago=30)
    harness.publish_summary(note)
    harness.publish_event(note, EventType.CIENCIA_OPERACAO, minutes=90)
    harness.publish_event(note, EventType.CONFIRMACAO_OPERACAO, minutes=30)

    harness.run()

    document = harness.document(note.key)
    assert document.manifestacao is Manifestacao.CONFIRMADA


def test_a_long_run_hands_over_to_a_fresh_execution_before_the_history_limit(harness: Harness) -> None:
    harness.company()
    harness.policy = replace(harness.policy, execution_page_limit=2)
    harness.nfe.page_size = 5
    for i in range(12):
        harness.publish_summary(harness.note(hours_ago=3 + i / 10))

    result = harness.run()

    nexts = [state.next for state in result.states]
    assert nexts.count(Next.CONTINUE) == 1  # after 2 pages; the new execution reads the third
    handed_over = result.states[nexts.index(Next.CONTINUE)]
    assert handed_over.execution_pages == 0
    assert handed_over.lease_owner == result.states[0].lease_owner  # the lease travels with the state
    # The worker started the next execution itself, named after the run and the pages done.
    assert harness.continuations.started == {f"sync-nfe-{handed_over.run_id}-000002": handed_over}
    assert result.last.counters.pages == 3
    assert len(harness.stored_documents()) == 12


def test_a_run_a_user_started_is_in_the_audit_log(harness: Harness) -> None:
    harness.company()
    harness.publish_summary(harness.note())

    harness.run(trigger=Trigger.USER)

    entries = harness.audit.for_account(ACCOUNT).items
    assert sorted(e.action for e in entries) == ["sync.run.finished", "sync.run.started"]
    finished = next(e for e in entries if e.action == "sync.run.finished")
    assert (finished.user_id, finished.company_id, finished.entity_type) == ("u1", COMPANY_ID, "sync_run")
    assert finished.details["status"] == "SUCCEEDED"
    assert finished.details["docs_saved"] == 1


def test_a_scheduled_run_is_not_audited(harness: Harness) -> None:
    harness.company()
    harness.run()
    assert harness.audit.for_account(ACCOUNT).items == []
