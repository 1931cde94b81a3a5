"""The NT 2014.002 rules of distNSU, consNSU and consChNFe, on the simulated clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from local.fixtures.documents import Company, nfe_event, proc_cte, proc_nfe, res_nfe
from local.fixtures.documents.events import EventType
from local.fixtures.identities import cnpj_for
from local.sefaz import Code, DistributionEngine, Service, SimClock

from .conftest import BRANCH, COMPANY, START, SUPPLIER, cons_key, cons_nsu, dist, fill

HOUR = timedelta(hours=1)
OTHER = Company(cnpj_for("outra empresa"), "OUTRA EMPRESA LTDA")


def test_answers_hold_at_most_50_documents_and_ult_nsu_is_the_last_returned(engine, summary):
    fill(engine, summary, 120)

    pages = [dist(engine, 0)]
    pages.append(dist(engine, pages[-1].ult_nsu))
    pages.append(dist(engine, pages[-1].ult_nsu))

    assert [page.code for page in pages] == [Code.FOUND] * 3
    assert [len(page.items) for page in pages] == [50, 50, 20]
    assert [(page.ult_nsu, page.max_nsu) for page in pages] == [(50, 120), (100, 120), (120, 120)]
    assert [item.nsu for item in pages[1].items] == list(range(51, 101))
    assert not engine.ledger, engine.ledger.describe()


def test_an_empty_queue_answers_137_with_zeros(engine):
    result = dist(engine, 0)

    assert (result.code, result.code.cstat, result.ult_nsu, result.max_nsu) == (
        Code.NOTHING_FOUND,
        "137",
        0,
        0,
    )


def test_a_query_within_the_hour_after_137_is_656_and_each_attempt_restarts_the_block(engine, clock):
    assert dist(engine, 0).code is Code.NOTHING_FOUND

    clock.advance(59 * timedelta(minutes=1))
    blocked = dist(engine, 0)
    clock.advance(59 * timedelta(minutes=1))  # past the first hour, but the 656 restarted the count
    again = dist(engine, 0)
    clock.advance(HOUR + timedelta(seconds=1))
    released = dist(engine, 0)

    assert (blocked.code, blocked.code.cstat) == (Code.WAIT_AFTER_EMPTY, "656")
    assert again.code is Code.WAIT_AFTER_EMPTY
    assert released.code is Code.NOTHING_FOUND
    assert engine.ledger.codes() == [Code.WAIT_AFTER_EMPTY, Code.WAIT_AFTER_EMPTY]
    assert "during a block" in engine.ledger.entries[1].detail


def test_reaching_max_nsu_also_starts_the_hour_and_656_carries_the_last_ult_nsu(engine, clock, summary):
    fill(engine, summary, 10)
    assert dist(engine, 0).ult_nsu == 10

    clock.advance(timedelta(minutes=30))
    result = dist(engine, 10)

    assert (result.code, result.ult_nsu, result.max_nsu) == (Code.WAIT_AFTER_EMPTY, 10, 0)


def test_waiting_the_hour_is_enough(engine, clock, summary):
    assert dist(engine, 0).code is Code.NOTHING_FOUND
    clock.advance(HOUR)
    fill(engine, summary, 3)

    result = dist(engine, 0)

    assert (result.code, result.ult_nsu, result.max_nsu) == (Code.FOUND, 3, 3)
    assert not engine.ledger


@pytest.mark.parametrize("sent", [30, 51, 0], ids=["lower", "plus-one", "zero-after-progress"])
def test_anything_but_the_last_ult_nsu_is_656_and_blocks(engine, clock, summary, sent):
    fill(engine, summary, 120)
    assert dist(engine, 0).ult_nsu == 50

    wrong = dist(engine, sent)
    clock.advance(timedelta(minutes=10))
    right_but_blocked = dist(engine, 50)

    assert (wrong.code, wrong.ult_nsu, wrong.max_nsu) == (Code.WRONG_ULT_NSU, 50, 0)
    assert "Deve ser utilizado o ultNSU" in wrong.code.xmotivo
    assert right_but_blocked.code is Code.WRONG_ULT_NSU
    assert [entry.code for entry in engine.ledger] == [Code.WRONG_ULT_NSU] * 2
    assert engine.ledger.entries[0].detail == f"ultNSU {sent} sent, 50 returned last"


def test_the_first_query_may_resume_from_a_persisted_cursor(engine, summary):
    fill(engine, summary, 120)

    result = dist(engine, 70)

    assert (result.code, result.items[0].nsu, result.ult_nsu) == (Code.FOUND, 71, 120)


def test_nsu_above_max_nsu_is_589(engine, summary):
    fill(engine, summary, 5)

    assert dist(engine, 9).code is Code.NSU_ABOVE_MAX
    assert cons_nsu(engine, 6).code is Code.NSU_ABOVE_MAX
    assert engine.ledger.codes() == [Code.NSU_ABOVE_MAX, Code.NSU_ABOVE_MAX]


def test_the_certificate_may_query_any_branch_of_its_cnpj_base_only(engine):
    branch = dist(engine, 0, cnpj=BRANCH.cnpj, certificate=COMPANY.cnpj)
    other = dist(engine, 0, cnpj=OTHER.cnpj, certificate=COMPANY.cnpj)
    anonymous = dist(engine, 0, certificate=None)

    assert branch.code is Code.NOTHING_FOUND
    assert (other.code.cstat, anonymous.code.cstat) == ("593", "282")
    assert [(entry.cnpj, entry.cstat) for entry in engine.ledger] == [
        (OTHER.cnpj, "593"),
        (COMPANY.cnpj, "282"),
    ]


def test_the_wrong_environment_is_252(engine):
    assert dist(engine, 0, tp_amb="1").code is Code.ENVIRONMENT_MISMATCH
    assert engine.ledger.entries[0].cstat == "252"


def test_a_paused_service_answers_108_or_109_and_counts_nothing(engine, summary):
    fill(engine, summary, 3)
    engine.pause(Service.NFE_DIST)
    short = dist(engine, 0)
    engine.pause(Service.NFE_DIST, Code.PAUSED_NO_FORECAST)
    long = dist(engine, 0)
    cte = dist(engine, 0, service=Service.CTE_DIST)
    engine.resume(Service.NFE_DIST)

    assert (short.code.cstat, long.code.cstat, cte.code) == ("108", "109", Code.NOTHING_FOUND)
    assert dist(engine, 0).ult_nsu == 3  # the paused answers did not move the sequence
    assert not engine.ledger
    with pytest.raises(ValueError, match="108 or 109"):
        engine.pause(Service.NFE_DIST, Code.FOUND)
    with pytest.raises(ValueError, match="HTTP_503"):
        engine.pause(Service.ADN_DIST)


def test_documents_older_than_90_days_are_no_longer_distributed(engine, clock, note, summary):
    engine.register_note(note.xml)
    engine.publish(Service.NFE_DIST, COMPANY.cnpj, "resNFe_v1.01.xsd", summary.xml, at=START)
    clock.advance(timedelta(days=60))
    fill(engine, summary, 2)
    clock.advance(timedelta(days=31))

    result = dist(engine, 0)

    assert (result.code, [item.nsu for item in result.items], result.ult_nsu) == (Code.FOUND, [2, 3], 3)
    assert cons_nsu(engine, 1).code is Code.OUT_OF_WINDOW
    assert cons_key(engine, note.key).code is Code.FOUND  # the newest copy is still inside the window
    clock.advance(timedelta(days=60))
    assert cons_key(engine, note.key).code.cstat == "632"


def test_documents_scheduled_for_later_arrive_on_the_clock(engine, clock, summary):
    engine.publish(Service.NFE_DIST, COMPANY.cnpj, "resNFe_v1.01.xsd", summary.xml, at=START + 2 * HOUR)

    assert (dist(engine, 0).code, engine.log(Service.NFE_DIST, COMPANY.cnpj).pending) == (
        Code.NOTHING_FOUND,
        1,
    )
    clock.advance(2 * HOUR)
    assert dist(engine, 0).code is Code.FOUND


def test_the_21st_single_query_within_an_hour_is_656(engine, clock, note, summary):
    fill(engine, summary, 1)
    answers = [cons_nsu(engine, 1) for _ in range(10)] + [cons_key(engine, note.key) for _ in range(10)]

    over = cons_nsu(engine, 1)
    blocked_dist = dist(engine, 0)
    clock.advance(HOUR)

    assert {answer.code for answer in answers} == {Code.FOUND}
    assert (over.code, blocked_dist.code) == (Code.SINGLE_QUERY_LIMIT, Code.SINGLE_QUERY_LIMIT)
    assert cons_nsu(engine, 1).code is Code.FOUND  # an hour after the last attempt, the budget is back
    assert engine.ledger.codes() == [Code.SINGLE_QUERY_LIMIT] * 2


def test_distnsu_does_not_spend_the_single_query_budget(engine, clock, summary):
    fill(engine, summary, 1)
    for _ in range(25):
        dist(engine, engine.usage(Service.NFE_DIST, COMPANY.cnpj).last_ult_nsu or 0)
        clock.advance(HOUR)

    assert cons_nsu(engine, 1).code is Code.FOUND
    assert not engine.ledger, engine.ledger.describe()


def test_cons_ch_nfe_answers_the_summary_then_the_released_procnfe(engine, clock, note, summary):
    engine.register_note(note.xml)
    fill(engine, summary, 1)
    first = cons_key(engine, note.key)
    engine.publish(Service.NFE_DIST, COMPANY.cnpj, "procNFe_v4.00.xsd", note.xml)

    second = cons_key(engine, note.key)

    assert (first.code, first.items[0].schema) == (Code.FOUND, "resNFe_v1.01.xsd")
    assert (second.items[0].schema, second.items[0].nsu) == ("procNFe_v4.00.xsd", 2)


def test_cons_ch_nfe_refusals(engine, note, summary):
    own = proc_nfe(COMPANY, SUPPLIER, number=3)
    stranger = proc_nfe(SUPPLIER, OTHER, number=4)
    for document in (note, own, stranger):
        engine.register_note(document.xml)
    bad_digit = note.key[:-1] + str((int(note.key[-1]) + 1) % 10)

    answers = {
        "own": cons_key(engine, own.key),
        "stranger": cons_key(engine, stranger.key),
        "not yet at the AN": cons_key(engine, note.key),
        "unknown": cons_key(engine, proc_nfe(SUPPLIER, COMPANY, number=99).key),
        "check digit": cons_key(engine, bad_digit),
    }

    assert {name: answer.code.cstat for name, answer in answers.items()} == {
        "own": "641",
        "stranger": "640",
        "not yet at the AN": "217",
        "unknown": "217",
        "check digit": "236",
    }
    assert [entry.cstat for entry in engine.ledger] == ["641", "640", "236"]


def test_a_cancelled_note_is_653_to_cons_ch_nfe(engine, note, summary):
    engine.register_note(note.xml)
    fill(engine, summary, 1)
    cancellation = nfe_event(note, EventType.CANCELAMENTO, at=START - timedelta(minutes=30))
    engine.publish(Service.NFE_DIST, COMPANY.cnpj, "procEventoNFe_v1.00.xsd", cancellation.xml)

    assert cons_key(engine, note.key).code is Code.CANCELLED
    assert engine.notes.get(note.key).cancelled(START)


def test_nfe_and_cte_queues_are_separate(engine, summary):
    cte = proc_cte(SUPPLIER, OTHER, COMPANY, number=1)
    engine.publish(Service.CTE_DIST, COMPANY.cnpj, "procCTe_v4.00.xsd", cte.xml)
    fill(engine, summary, 2)

    nfe_answer, cte_answer = dist(engine, 0), dist(engine, 0, service=Service.CTE_DIST)

    assert (nfe_answer.max_nsu, cte_answer.max_nsu) == (2, 1)
    assert cte_answer.items[0].key == cte.key


def test_each_cnpj_has_its_own_queue_and_sequence(engine, summary):
    fill(engine, summary, 3)
    fill(engine, summary, 1, cnpj=BRANCH.cnpj)

    assert dist(engine, 0).max_nsu == 3
    assert dist(engine, 0, cnpj=BRANCH.cnpj).max_nsu == 1
    assert not engine.ledger


def test_publishing_refuses_what_is_not_a_cnpj_or_cpf(engine, summary):
    with pytest.raises(ValueError, match="CNPJ"):
        engine.publish(Service.NFE_DIST, "123", "resNFe_v1.01.xsd", summary.xml)


def test_a_summary_of_another_notes_key_is_kept_with_its_own_key(clock):
    engine = DistributionEngine(clock)
    other = proc_nfe(SUPPLIER, COMPANY, number=8)
    engine.publish(Service.NFE_DIST, COMPANY.cnpj, "resNFe_v1.01.xsd", res_nfe(other).xml)

    assert engine.log(Service.NFE_DIST, COMPANY.cnpj).for_key(other.key)[0].nsu == 1


def test_the_clock_is_the_only_time_the_engine_reads(summary):
    clock = SimClock(START + timedelta(days=400))
    engine = DistributionEngine(clock)
    fill(engine, summary, 1)

    assert engine.log(Service.NFE_DIST, COMPANY.cnpj).items()[0].available_at == clock.now()
