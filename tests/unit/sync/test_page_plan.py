"""The page plan, pure: what is written, through which path, and what counts as newly saved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    Family,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
)
from fiscal_core.sync.items import DocumentItem, EventItem, PageItem, StoredObject, UnreadableItem
from fiscal_core.sync.page_plan import plan_page
from fiscal_core.sync.page_records import Snapshot, StoredDocument
from tests.unit.sync.fakes import nsu

AT = datetime(2026, 3, 10, 9, tzinfo=UTC)
KEY = "35260311222333000181550010000000011000000010"


def doc(
    kind: DocKind, number: int, *, key: str = KEY, status: DocStatus = DocStatus.AUTHORIZED
) -> DocumentItem:
    document = FiscalDocument(
        account_id="a", company_id="c", family=Family.NFE, doc_type=DocType.NFE, issued_at=AT,
        issuer_doc="11222333000181", status=status, direction=Direction.IN, kind=kind, access_key=key,
        s3_key=f"a/c/nfe/2026/03/{key}.xml", sha256=f"sha-{kind}-{number}", nsu=nsu(number),
    )  # fmt: skip
    return DocumentItem(nsu(number), document, StoredObject(document.s3_key or "", f"{kind}".encode(), "00"))


def event(type_code: str, number: int, *, key: str = KEY, minutes: int = 0) -> EventItem:
    effects = {"110111": (DocStatus.CANCELLED, None), "210210": (None, Manifestacao.CIENCIA),
               "210200": (None, Manifestacao.CONFIRMADA), "110110": (None, None)}  # fmt: skip
    status, manifestacao = effects[type_code]
    fiscal = FiscalEvent(
        account_id="a", company_id="c", family=Family.NFE, doc_type=DocType.NFE, type_code=type_code,
        description="e", seq=1, event_at=AT + timedelta(minutes=minutes), access_key=key,
        status_effect=status, manifestacao_effect=manifestacao, s3_key=f"a/c/events/{key}-{type_code}",
        sha256="00", nsu=nsu(number),
    )  # fmt: skip
    return EventItem(nsu(number), fiscal, StoredObject(fiscal.s3_key or "", b"<e/>", "00"))


EMPTY = Snapshot({}, {})
DOC_KEY = f"KEY#{KEY}"


def stored(
    kind: DocKind, number: int, *, events: frozenset[str] = frozenset(), version: int = 3
) -> StoredDocument:
    """The document as the store holds it (read at ``version``)."""
    record = replace(doc(kind, number).document, event_ids=events, created_at=AT, manifestacao=None)
    return StoredDocument(record, version)


def test_new_summary_and_its_full_document_in_one_page_make_one_full_record_and_count_twice() -> None:
    plan = plan_page([doc(DocKind.SUMMARY, 1), doc(DocKind.FULL, 2)], EMPTY, (), (0, 2))
    [created] = plan.new_documents
    assert created.kind is DocKind.FULL
    assert created.nsu == nsu(2)
    assert [o.body for o in plan.objects] == [b"FULL"]  # one object: the full XML replaced its summary
    assert plan.docs_saved == 2
    assert plan.updates == []


def test_a_stored_summary_is_upgraded_in_place_with_a_versioned_put() -> None:
    snapshot = Snapshot({DOC_KEY: stored(DocKind.SUMMARY, 1, events=frozenset({"110110#001"}))}, {})
    plan = plan_page([doc(DocKind.FULL, 9)], snapshot, (), (8, 9))
    [update] = plan.updates
    assert update.version == 3
    assert (update.document.kind, update.document.nsu, update.document.sha256) == (
        DocKind.FULL,
        nsu(9),
        "sha-FULL-9",
    )
    assert update.document.event_ids == {"110110#001"}  # its history stays
    assert update.document.created_at == AT
    # If the put loses a race, the repository upgrades it instead.
    assert plan.through_repository[DOC_KEY] == [doc(DocKind.FULL, 9).document]
    assert plan.new_documents == []
    assert plan.docs_saved == 1
    assert len(plan.objects) == 1


def test_a_summary_sent_again_after_the_full_document_changes_nothing() -> None:
    snapshot = Snapshot({DOC_KEY: stored(DocKind.FULL, 9)}, {})
    plan = plan_page([doc(DocKind.SUMMARY, 1)], snapshot, (), (10, 12))
    assert not plan.objects
    assert not plan.new_documents
    assert not plan.updates
    assert plan.docs_saved == 0


def test_a_page_stored_before_a_crash_is_counted_again_but_not_rewritten() -> None:
    # The earlier attempt at this page (NSUs 1..2) created the record from both documents.
    snapshot = Snapshot(
        {DOC_KEY: stored(DocKind.FULL, 2, events=frozenset({"110111#001"}))},
        {(DOC_KEY, "110111#001"): nsu(3)},
    )
    items: list[PageItem] = [doc(DocKind.SUMMARY, 1), doc(DocKind.FULL, 2), event("110111", 3)]
    plan = plan_page(items, snapshot, (), (0, 3))
    assert (plan.docs_saved, plan.events_saved) == (2, 1)
    assert not plan.objects
    assert not plan.new_documents
    assert not plan.new_events
    assert not plan.updates


def test_resent_nsus_below_the_page_count_for_nothing() -> None:
    snapshot = Snapshot(
        {DOC_KEY: stored(DocKind.FULL, 2, events=frozenset({"110111#001"}))},
        {(DOC_KEY, "110111#001"): nsu(3)},
    )
    plan = plan_page([doc(DocKind.FULL, 2), event("110111", 3)], snapshot, (), (50, 100))
    assert (plan.docs_saved, plan.events_saved) == (0, 0)
    assert plan.objects == []


def test_events_of_a_new_document_are_applied_before_it_is_written() -> None:
    items: list[PageItem] = [
        doc(DocKind.SUMMARY, 1),
        event("210210", 2, minutes=1),
        event("210200", 3, minutes=5),
        event("110111", 4),
    ]
    plan = plan_page(items, EMPTY, (), (0, 4))
    [created] = plan.new_documents
    assert created.status is DocStatus.CANCELLED
    assert created.manifestacao is Manifestacao.CONFIRMADA
    assert created.event_ids == {"210210#001", "210200#001", "110111#001"}
    assert len(plan.new_events) == 3
    assert plan.events_saved == 3


def test_an_event_on_a_stored_document_is_stored_and_applied_with_a_versioned_put() -> None:
    snapshot = Snapshot({DOC_KEY: stored(DocKind.SUMMARY, 1)}, {})
    plan = plan_page([event("110111", 7)], snapshot, (), (6, 7))
    [update] = plan.updates
    assert update.document.status is DocStatus.CANCELLED
    assert update.document.event_ids == {"110111#001"}
    assert update.document.kind is DocKind.SUMMARY
    assert [e.type_code for e in plan.new_events] == ["110111"]
    assert plan.through_repository[DOC_KEY] == plan.new_events  # if the put loses a race
    assert len(plan.objects) == 1


def test_an_event_stored_but_not_linked_is_linked() -> None:
    # A crash between the event's write and its document's: the next attempt links it.
    snapshot = Snapshot({DOC_KEY: stored(DocKind.SUMMARY, 1)}, {(DOC_KEY, "110111#001"): nsu(7)})
    plan = plan_page([event("110111", 7)], snapshot, (), (6, 7))
    assert [u.document.event_ids for u in plan.updates] == [{"110111#001"}]
    assert not plan.new_events
    assert not plan.objects
    assert plan.events_saved == 1


def test_an_event_without_its_document_waits_as_an_orphan_and_is_applied_on_arrival() -> None:
    plan = plan_page([event("110111", 1)], EMPTY, (), (0, 1))
    assert [e.type_code for e in plan.new_events] == ["110111"]
    assert plan.orphans_found == {DOC_KEY: AT}

    stored = Snapshot({}, {(DOC_KEY, "110111#001"): nsu(1)})
    arrival = plan_page([doc(DocKind.SUMMARY, 5)], stored, (DOC_KEY,), (4, 5))
    assert not arrival.new_documents
    assert not arrival.updates
    # The repository creates it and applies the events stored for it.
    assert arrival.through_repository[DOC_KEY] == [doc(DocKind.SUMMARY, 5).document]
    assert arrival.orphans_resolved == {DOC_KEY}


def test_the_same_event_twice_in_a_page_is_one_event_and_unreadable_xml_is_kept() -> None:
    bad = UnreadableItem(nsu(3), "broken", StoredObject("a/c/unreadable/nfe/3.xml", b"<x", "00"))
    plan = plan_page([event("110110", 1), event("110110", 2), bad], EMPTY, (), (0, 3))
    assert plan.events_saved == 1
    assert len(plan.new_events) == 1
    assert plan.unreadable == [bad]
    assert bad.xml in plan.objects
