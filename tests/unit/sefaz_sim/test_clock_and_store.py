"""SimClock and the per-CNPJ document log: NSUs follow arrival, retention and paging by search."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from local.sefaz import SimClock
from local.sefaz.store import DocumentLog

from .conftest import START


def test_a_frozen_clock_moves_only_when_advanced():
    clock = SimClock(START)

    assert clock.now() == START
    assert clock.advance(timedelta(hours=5)) == START + timedelta(hours=5)
    assert clock.now() == START + timedelta(hours=5)


def test_a_scaled_clock_runs_faster_than_real_time():
    clock = SimClock(START, scale=3600)  # an hour per second

    time.sleep(0.05)

    assert clock.now() - START >= timedelta(minutes=3)
    assert clock.scale == 3600


def test_the_clock_refuses_naive_starts_and_going_back():
    with pytest.raises(ValueError, match="timezone-aware"):
        SimClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="forward"):
        SimClock(START).advance(timedelta(seconds=-1))


def test_nsus_follow_arrival_order_not_scheduling_order():
    log = DocumentLog()
    log.schedule("b", b"<b/>", START + timedelta(hours=2))
    log.schedule("a", b"<a/>", START + timedelta(hours=1))

    log.advance_to(START)
    assert log.max_nsu == 0
    assert log.pending == 2

    log.advance_to(START + timedelta(hours=3))
    assert [(item.nsu, item.schema) for item in log.items()] == [(1, "a"), (2, "b")]


def test_a_document_scheduled_in_the_past_arrives_after_those_already_numbered():
    log = DocumentLog()
    log.schedule("recent", b"<r/>", START)
    log.advance_to(START)
    log.schedule("old", b"<o/>", START - timedelta(days=200))
    log.advance_to(START)

    old = log.get(2)
    assert old is not None
    assert old.available_at == START  # arrival times never go backwards along the log


def test_after_skips_what_is_past_retention_and_caps_the_page():
    log = DocumentLog()
    for day in range(10):
        log.schedule(f"day {day}", b"<d/>", START + timedelta(days=day))
    log.advance_to(START + timedelta(days=10))

    page = log.after(0, not_before=START + timedelta(days=4), limit=3)

    assert [item.nsu for item in page] == [5, 6, 7]
    assert [item.nsu for item in log.after(8, not_before=START, limit=50)] == [9, 10]
    assert log.get(0) is None
    assert log.get(11) is None
