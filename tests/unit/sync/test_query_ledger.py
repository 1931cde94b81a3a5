"""QueryLedger: an A3 step's single queries, paid for and counted once across its replays."""

from __future__ import annotations

from fiscal_core.storage.budget import Consultation
from fiscal_core.sync.single_queries import QueryLedger

NSU, KEY = Consultation.CONS_NSU, Consultation.CONS_CHNFE


def test_a_first_run_pays_for_every_call_and_counts_each_answer_once() -> None:
    ledger = QueryLedger()
    assert not ledger.already_paid(NSU, "000000000000007")
    ledger.paid(NSU, "000000000000007")
    assert ledger.first_count(NSU, "000000000000007")
    assert not ledger.first_count(NSU, "000000000000007")
    assert ledger.made == {"consNSU:000000000000007": True}


def test_a_replay_does_not_pay_again_and_counts_only_what_was_not_counted() -> None:
    earlier = QueryLedger()
    for nsu in ("1", "2"):
        earlier.paid(NSU, nsu)
    earlier.first_count(NSU, "1")  # the step stopped at "2", waiting for its agent

    replay = QueryLedger(earlier=dict(earlier.made))

    assert replay.already_paid(NSU, "1") and replay.already_paid(NSU, "2")
    assert not replay.first_count(NSU, "1")  # counted by the run that stored it first
    assert replay.first_count(NSU, "2")
    assert replay.made == {"consNSU:1": True, "consNSU:2": True}


def test_an_earlier_call_the_replay_no_longer_makes_is_no_credit_for_another() -> None:
    replay = QueryLedger(earlier={"consChNFe:35261100000000000000550010000000011000000019": False})
    assert not replay.already_paid(KEY, "35261100000000000000550010000000021000000027")
    assert not replay.already_paid(NSU, "35261100000000000000550010000000011000000019")
    assert replay.made == {}
