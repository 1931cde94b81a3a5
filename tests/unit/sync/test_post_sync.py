"""After catching up: automatic Ciência in lots of 20, overdue XML by access key within SEFAZ's
hourly 20, and NSU gaps filled one by one."""

from __future__ import annotations

from datetime import timedelta

from fiscal_core.sefaz.cstat import DISTRIBUTION_RULES, classify
from fiscal_core.storage.budget import Consultation, ConsultationBudget
from fiscal_core.storage.records import DocKind, Family, Manifestacao
from fiscal_core.sync.answer import Answer, DocZip
from fiscal_core.sync.notes import CursorNotes
from local.fixtures.documents import res_nfe
from tests.unit.sync.fakes import nsu
from tests.unit.sync.harness import ACCOUNT, COMPANY_ID, Harness


def _summaries(harness: Harness, count: int, *, hours_ago: float = 5) -> list[str]:
    notes = [harness.note(hours_ago=hours_ago + i / 100) for i in range(count)]
    for note in notes:
        harness.publish_summary(note)
    return [note.key for note in notes]


def test_ciencia_goes_in_lots_of_at_most_20_and_is_recorded(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    keys = _summaries(harness, 45)

    result = harness.run()

    assert [len(lot) for lot in harness.manifestor.lots] == [20, 20, 5]
    assert {event.chave for lot in harness.manifestor.lots for event in lot} == set(keys)
    assert all(event.tipo.tp_evento == "210210" for lot in harness.manifestor.lots for event in lot)
    for key in keys:
        document = harness.document(key)
        assert document.manifestacao is Manifestacao.CIENCIA
        assert document.event_ids == {"210210#001"}
    assert result.last.counters.events_saved == 45
    assert result.last.counters.docs_saved == 45
    harness.assert_consistent()


def test_no_ciencia_without_the_company_setting_nor_for_summaries_past_the_deadline(harness: Harness) -> None:
    harness.company(auto_ciencia=False)
    _summaries(harness, 3)
    harness.run()
    assert harness.manifestor.lots == []


def test_ciencia_skips_summaries_past_the_deadline(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    old = _summaries(harness, 2, hours_ago=11 * 24)
    recent = _summaries(harness, 1)
    harness.run()
    assert [[e.chave for e in lot] for lot in harness.manifestor.lots] == [recent]
    assert all(harness.document(key).manifestacao is None for key in old)


def test_a_ciencia_already_registered_elsewhere_is_recorded_and_not_sent_again(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    [key] = _summaries(harness, 1)
    harness.manifestor.codes[key] = "573"

    harness.run()
    harness.clock.advance(timedelta(hours=2))
    harness.run()

    assert len(harness.manifestor.lots) == 1
    assert harness.document(key).manifestacao is Manifestacao.CIENCIA
    [event] = harness.stored_events()
    assert event.s3_key is None  # SEFAZ gave no procEvento for a duplicate
    harness.assert_consistent()


def test_the_full_xml_then_arrives_in_the_stream_and_upgrades_the_summary(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    note = harness.note()
    harness.publish_summary(note)
    harness.run()
    assert harness.document(note.key).manifestacao is Manifestacao.CIENCIA

    harness.publish_full(note)  # SEFAZ releases the procNFe under a new NSU
    harness.clock.advance(timedelta(hours=1, minutes=10))
    harness.run()

    document = harness.document(note.key)
    assert document.kind is DocKind.FULL
    assert document.manifestacao is Manifestacao.CIENCIA
    assert len(harness.manifestor.lots) == 1
    harness.assert_consistent()


def test_overdue_full_xml_is_fetched_by_key_never_more_than_20_an_hour(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    notes = [harness.note(hours_ago=30 + i / 100) for i in range(22)]
    for note in notes:
        harness.publish_summary(note)
        harness.single.by_key_answers[note.key] = DocZip(None, "procNFe_v4.00.xsd", note.xml)
    harness.run()  # Ciência for all 22
    assert harness.single.calls == []

    harness.clock.advance(timedelta(hours=7))  # past the 6 h fallback
    first = harness.run()
    assert len(harness.single.calls) == 20
    assert sum(harness.document(n.key).kind is DocKind.FULL for n in notes) == 20
    assert first.last.counters.docs_saved == 20

    harness.clock.advance(timedelta(minutes=70))  # the next hour: the budget has room again
    harness.run()
    assert len(harness.single.calls) == 22
    assert all(harness.document(n.key).kind is DocKind.FULL for n in notes)
    # Stored outside the NSU stream: no NSU, so a later stream copy is not counted twice.
    assert harness.document(notes[0].key).nsu is None
    harness.assert_consistent()


def test_the_budget_counts_both_single_query_kinds_against_one_limit(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    for i in range(5):
        harness.publish_summary(harness.note(hours_ago=30 + i / 100))
    harness.run()
    harness.clock.advance(timedelta(hours=7))
    budget = ConsultationBudget(clock=harness.clock)
    for _ in range(18):  # 18 consNSU in the last hour (gap filling)
        budget.spend(ACCOUNT, COMPANY_ID, Family.NFE, Consultation.CONS_NSU)

    harness.run()

    assert len(harness.single.calls) == 2  # 18 + 2 = SEFAZ's 20 for consNSU and consChNFe together


def test_a_656_on_a_single_query_stops_them_and_blocks_the_cursor(harness: Harness) -> None:
    harness.company(auto_ciencia=True)
    for i in range(3):
        harness.publish_summary(harness.note(hours_ago=30 + i))
    harness.run()
    harness.clock.advance(timedelta(hours=7))
    harness.single.blocked = True

    harness.run()

    assert len(harness.single.calls) == 1
    cursor = harness.cursors.get(ACCOUNT, COMPANY_ID, Family.NFE)
    assert cursor.block_reason == "BLOCKED_656"
    assert cursor.next_allowed_at >= harness.clock.now + timedelta(hours=1)


def test_gaps_are_filled_with_cons_nsu(harness: Harness) -> None:
    harness.company()
    note = harness.note()
    summary = res_nfe(note).xml
    notes_store = harness.worker()._deps.notes
    notes_store.save(ACCOUNT, COMPANY_ID, Family.NFE, CursorNotes(gaps=[nsu(3), nsu(4)]))
    asked: list[str] = []

    def at(cnpj: str, number: str) -> Answer:
        asked.append(number)
        if number == nsu(3):
            found = classify(DISTRIBUTION_RULES, "138", "ok")
            return Answer(
                nsu(2),
                found,
                nsu(3),
                nsu(9),
                (DocZip(nsu(3), "resNFe_v1.01.xsd", summary),),
                False,
                harness.clock(),
            )
        return Answer(
            nsu(3), classify(DISTRIBUTION_RULES, "137", "nada"), nsu(4), nsu(9), (), False, harness.clock()
        )

    harness.single.at = at  # type: ignore[method-assign]
    result = harness.run()

    assert asked == [nsu(3), nsu(4)]
    assert harness.document(note.key).nsu == nsu(3)
    assert notes_store.load(ACCOUNT, COMPANY_ID, Family.NFE).gaps == []
    assert result.last.counters.docs_saved == 1
