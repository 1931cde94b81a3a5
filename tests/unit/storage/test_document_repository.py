"""The document repository against moto: idempotency, upgrade, events, every list."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import DocumentModel, build_access_key
from fiscal_core.storage.documents import DocumentRepository
from fiscal_core.storage.errors import StorageUnavailable
from fiscal_core.storage.records import (
    Direction,
    DocKind,
    DocStatus,
    DocType,
    DocumentFilter,
    Family,
    FiscalDocument,
    FiscalEvent,
    Manifestacao,
    PutOutcome,
)
from fiscal_core.storage.tables import bind_tables

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "12345678000195"
RECIPIENT = "11222333000181"


def key(number: int) -> str:
    return build_access_key(
        cuf="35", year_month="2503", issuer_doc=ISSUER, model=DocumentModel.NFE, series=1,
        number=number, cnf="12345678",
    ).value  # fmt: skip


def doc(number: int = 1, **changes) -> FiscalDocument:
    base = FiscalDocument(
        account_id="acc1", company_id="co1", family=Family.NFE, doc_type=DocType.NFE,
        issued_at=T0 + timedelta(days=number), issuer_doc=ISSUER, status=DocStatus.AUTHORIZED,
        direction=Direction.IN, kind=DocKind.SUMMARY, access_key=key(number), model="55",
        series="1", number=number, issuer_name="Fornecedor SA", recipient_doc=RECIPIENT,
        recipient_name="ACME", total_value=Decimal("100.10"), nsu=f"{number:015d}",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def full(number: int = 1, **changes) -> FiscalDocument:
    body = {"kind": DocKind.FULL, "protocol": "135250000000001", "sha256": "ab" * 32,
            "s3_key": f"acc1/co1/NFE/2025/03/{key(number)}.xml"}  # fmt: skip
    return doc(number, **{**body, **changes})


def event(number: int, type_code: str, seq: int = 1, **changes) -> FiscalEvent:
    base = FiscalEvent(
        account_id="acc1", company_id="co1", family=Family.NFE, doc_type=DocType.NFE,
        type_code=type_code, description="evento", seq=seq, event_at=T0 + timedelta(days=20),
        access_key=key(number),
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


CANCEL: dict[str, Any] = {"status_effect": DocStatus.CANCELLED}


@pytest.fixture
def repo(tables) -> DocumentRepository:
    return DocumentRepository(clock=lambda: T0 + timedelta(days=30))


def stored(repo: DocumentRepository, number: int = 1, **scope) -> FiscalDocument:
    found = repo.get_document(scope.get("account_id", "acc1"), scope.get("company_id", "co1"),
                              access_key=key(number))  # fmt: skip
    assert found is not None
    return found


def test_put_is_idempotent(repo):
    assert repo.put_document(doc()) is PutOutcome.CREATED
    assert repo.put_document(doc()) is PutOutcome.UNCHANGED
    got = stored(repo)
    assert got.kind is DocKind.SUMMARY
    assert got.total_value == Decimal("100.10")
    assert got.created_at == T0 + timedelta(days=30)


def test_full_document_upgrades_the_summary_in_place(repo):
    repo.put_document(doc())
    assert repo.put_document(full()) is PutOutcome.UPGRADED
    got = stored(repo)
    assert got.kind is DocKind.FULL
    assert got.s3_key == f"acc1/co1/NFE/2025/03/{key(1)}.xml"
    assert got.protocol == "135250000000001"
    page = repo.list_documents("acc1", "co1", DocumentFilter())
    assert len(page.items) == 1  # one record, not a summary and a full one


def test_a_full_document_is_never_downgraded(repo):
    assert repo.put_document(full()) is PutOutcome.CREATED
    assert repo.put_document(doc(s3_key="summary.xml")) is PutOutcome.UNCHANGED
    got = stored(repo)
    assert got.kind is DocKind.FULL
    assert got.s3_key == f"acc1/co1/NFE/2025/03/{key(1)}.xml"
    assert repo.put_document(full(sha256="cd" * 32)) is PutOutcome.UNCHANGED


def test_cancellation_event_changes_status_and_moves_the_document_between_lists(repo):
    repo.put_document(full())
    assert repo.put_event(event(1, "110111", **CANCEL)) is True
    got = stored(repo)
    assert got.status is DocStatus.CANCELLED
    assert got.event_ids == {"110111#001"}
    cancelled = repo.list_documents("acc1", "co1", DocumentFilter(status=DocStatus.CANCELLED))
    authorized = repo.list_documents("acc1", "co1", DocumentFilter(status=DocStatus.AUTHORIZED))
    assert [d.access_key for d in cancelled.items] == [key(1)]
    assert authorized.items == []
    assert [e.type_code for e in repo.list_events("acc1", "co1", got.doc_key)] == ["110111"]


def test_repeated_event_is_reported_and_applied_once(repo):
    repo.put_document(doc())
    assert repo.put_event(event(1, "110111", **CANCEL)) is True
    assert repo.put_event(event(1, "110111", **CANCEL)) is False
    assert len(repo.list_events("acc1", "co1", stored(repo).doc_key)) == 1


def test_event_arriving_before_its_document_is_applied_when_the_document_arrives(repo):
    assert repo.put_event(event(1, "110111", **CANCEL)) is True
    assert repo.get_document("acc1", "co1", access_key=key(1)) is None
    repo.put_document(doc())
    got = stored(repo)
    assert got.status is DocStatus.CANCELLED
    assert got.event_ids == {"110111#001"}


def test_full_document_after_cancellation_stays_cancelled(repo):
    repo.put_document(doc())
    repo.put_event(event(1, "110111", **CANCEL))
    assert repo.put_document(full()) is PutOutcome.UPGRADED
    got = stored(repo)
    assert (got.kind, got.status) == (DocKind.FULL, DocStatus.CANCELLED)


def test_latest_manifestacao_wins_whatever_the_arrival_order(repo):
    repo.put_document(doc())
    at = T0 + timedelta(days=5)
    repo.put_event(event(1, "210220", event_at=at + timedelta(hours=2),
                         manifestacao_effect=Manifestacao.DESCONHECIDA))  # fmt: skip
    repo.put_event(event(1, "210210", event_at=at, manifestacao_effect=Manifestacao.CIENCIA))
    got = stored(repo)
    assert got.manifestacao is Manifestacao.DESCONHECIDA
    assert got.manifestacao_at == at + timedelta(hours=2)
    assert got.status is DocStatus.AUTHORIZED


def test_same_nfe_in_two_companies_of_two_accounts_is_two_records(repo):
    repo.put_document(doc(direction=Direction.IN))
    other = doc(account_id="acc2", company_id="coX", direction=Direction.OUT)
    assert repo.put_document(other) is PutOutcome.CREATED
    repo.put_event(event(1, "110111", **CANCEL))
    assert stored(repo).status is DocStatus.CANCELLED
    theirs = stored(repo, account_id="acc2", company_id="coX")
    assert (theirs.status, theirs.direction) == (DocStatus.AUTHORIZED, Direction.OUT)
    assert [d.company_id for d in repo.list_account_documents("acc2", DocumentFilter()).items] == ["coX"]


def test_documents_without_access_key_are_unique_per_type_and_external_id(repo):
    nfse = doc(access_key=None, external_id="2025-77", doc_type=DocType.NFSE, family=Family.NFSE,
               model=None)  # fmt: skip
    assert repo.put_document(nfse) is PutOutcome.CREATED
    assert repo.put_document(nfse) is PutOutcome.UNCHANGED
    got = repo.get_document("acc1", "co1", doc_type="NFSE", external_id="2025-77")
    assert got is not None
    assert got.doc_key == "EXT#NFSE#2025-77"


def test_pending_summaries_lists_only_authorised_summaries(repo):
    repo.put_document(doc(1))
    repo.put_document(doc(2))
    repo.put_document(doc(3))
    repo.put_document(full(2))
    repo.put_event(event(3, "110111", **CANCEL))
    assert numbers(repo.list_pending_summaries("acc1", "co1")) == [1]


def test_account_list_spans_companies(repo):
    repo.put_document(doc(1))
    repo.put_document(doc(2, company_id="co2"))
    repo.put_document(doc(3, account_id="acc2"))
    page = repo.list_account_documents("acc1", DocumentFilter())
    assert [(d.company_id, d.number) for d in page.items] == [("co2", 2), ("co1", 1)]


def test_concurrent_event_during_upgrade_is_kept(tables):
    """The upgrade loses the race to an event, re-reads, and keeps both changes."""
    other = DocumentRepository(clock=lambda: T0)
    calls = {"n": 0}

    def clock() -> datetime:
        calls["n"] += 1
        if calls["n"] == 5:  # inside the upgrade, after its read, before its write
            other.put_event(event(1, "110111", **CANCEL))
        return T0

    repo = DocumentRepository(clock=clock)
    repo.put_document(doc())
    assert repo.put_document(full()) is PutOutcome.UPGRADED
    # created (2 ticks), full one: built (1), create refused (1), upgrade lost (1), retried (1)
    assert calls["n"] == 6
    got = stored(repo)
    assert (got.kind, got.status) == (DocKind.FULL, DocStatus.CANCELLED)


def test_sdk_failures_become_storage_unavailable(repo):
    bind_tables("missing", region="sa-east-1")
    try:
        with pytest.raises(StorageUnavailable, match="read a document") as info:
            repo.get_document("acc1", "co1", access_key=key(1))
        assert info.value.__cause__ is not None
    finally:
        bind_tables("test", region="sa-east-1")


LISTS = "acc-lists"  # its own account: other tests' leftovers are invisible to its queries


@pytest.fixture
def queries_read(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(ScannedCount, Count) of every Query from now on: what each read touched and returned."""
    from pynamodb.connection.base import Connection

    seen: list[tuple[int, int]] = []
    original = Connection.query

    def spy(self: Connection, *args: Any, **kwargs: Any) -> Any:
        response = original(self, *args, **kwargs)
        seen.append((response["ScannedCount"], response["Count"]))
        return response

    monkeypatch.setattr(Connection, "query", spy)
    return seen


@pytest.fixture(scope="class")
def catalogue(created_tables):
    """Nine documents on nine days: mixed types, directions, statuses and parties.

    Built once for the read-only list tests, in an account no other test writes to.
    """
    repo = DocumentRepository(clock=lambda: T0)
    kinds = [
        (DocType.NFE, Direction.IN, ISSUER),
        (DocType.NFE, Direction.OUT, RECIPIENT),
        (DocType.CTE, Direction.IN, ISSUER),
    ]
    for n in range(1, 10):
        doc_type, direction, issuer = kinds[n % 3]
        repo.put_document(doc(n, account_id=LISTS, doc_type=doc_type, direction=direction,
                              issuer_doc=issuer))  # fmt: skip
    for n in (4, 7):  # both NFE OUT
        repo.put_event(event(n, "110111", account_id=LISTS, **CANCEL))
    return repo


def numbers(page) -> list[int]:
    return [d.number for d in page.items]


class TestDocumentLists:
    """Every list of the documents screen over one shared catalogue."""

    @pytest.mark.parametrize(
        ("flt", "expected"),
        [
            (DocumentFilter(), [9, 8, 7, 6, 5, 4, 3, 2, 1]),
            (DocumentFilter(doc_type=DocType.CTE), [8, 5, 2]),
            (DocumentFilter(direction=Direction.OUT), [7, 4, 1]),
            (DocumentFilter(status=DocStatus.CANCELLED), [7, 4]),
            (DocumentFilter(doc_type=DocType.NFE, direction=Direction.IN), [9, 6, 3]),
            (DocumentFilter(doc_type=DocType.NFE, status=DocStatus.AUTHORIZED), [9, 6, 3, 1]),
            (DocumentFilter(direction=Direction.OUT, status=DocStatus.AUTHORIZED), [1]),
            (
                DocumentFilter(doc_type=DocType.NFE, direction=Direction.OUT, status=DocStatus.CANCELLED),
                [7, 4],
            ),
            (DocumentFilter(issuer_doc=RECIPIENT), [7, 4, 1]),
            (DocumentFilter(recipient_doc=RECIPIENT), [9, 8, 7, 6, 5, 4, 3, 2, 1]),
            (DocumentFilter(start=T0 + timedelta(days=3), end=T0 + timedelta(days=5)), [5, 4, 3]),
            (DocumentFilter(doc_type=DocType.NFE, start=T0 + timedelta(days=4)), [9, 7, 6, 4]),
            (DocumentFilter(direction=Direction.IN, end=T0 + timedelta(days=3)), [3, 2]),
        ],
    )
    def test_every_filter_is_one_query_that_returns_what_it_reads(self, catalogue, flt, expected):
        page = catalogue.list_documents(LISTS, "co1", flt)
        assert numbers(page) == expected
        assert page.cursor is None

    def test_filters_read_only_what_they_return(self, catalogue, queries_read):
        """ScannedCount equals Count: every filter is a key condition, none a FilterExpression."""
        catalogue.list_documents(
            LISTS, "co1", DocumentFilter(doc_type=DocType.NFE, direction=Direction.OUT,
                                          status=DocStatus.CANCELLED, start=T0 + timedelta(days=5)),
        )  # fmt: skip
        assert queries_read == [(1, 1)]

    def test_pages_follow_the_cursor_oldest_first(self, catalogue):
        flt = DocumentFilter(doc_type=DocType.NFE)
        seen: list[int] = []
        cursor = None
        while True:
            page = catalogue.list_documents(LISTS, "co1", flt, limit=2, cursor=cursor,
                                            newest_first=False)  # fmt: skip
            seen += numbers(page)
            assert len(page.items) <= 2
            cursor = page.cursor
            if cursor is None:
                break
        assert seen == [1, 3, 4, 6, 7, 9]

    def test_a_cursor_cannot_be_used_for_another_company_or_filter(self, catalogue):
        page = catalogue.list_documents(LISTS, "co1", DocumentFilter(), limit=2)
        assert page.cursor is not None
        with pytest.raises(InvalidValue, match="cursor"):
            catalogue.list_documents("acc2", "co1", DocumentFilter(), cursor=page.cursor)
        with pytest.raises(InvalidValue, match="cursor"):
            catalogue.list_documents(LISTS, "co1", DocumentFilter(doc_type=DocType.NFE),
                                     cursor=page.cursor)  # fmt: skip
        with pytest.raises(InvalidValue, match="cursor"):
            catalogue.list_documents(LISTS, "co1", DocumentFilter(), cursor="not-a-cursor!")

    def test_unsupported_filter_combination_is_refused(self, catalogue):
        with pytest.raises(InvalidValue, match="cannot be combined"):
            catalogue.list_documents(LISTS, "co1", DocumentFilter(issuer_doc=ISSUER, doc_type=DocType.NFE))


def test_account_list_refuses_filters_it_cannot_apply_as_keys(repo):
    with pytest.raises(InvalidValue, match="only a period"):
        repo.list_account_documents("acc1", DocumentFilter(doc_type=DocType.NFE))


def test_naive_timestamps_are_refused(repo):
    with pytest.raises(InvalidValue, match="time zone"):
        repo.put_document(doc(issued_at=datetime(2025, 3, 1, 9, 0)))


def test_a_value_range_is_a_key_condition_in_numeric_order(created_tables, queries_read):
    """by_company_value sorts by the number (9.99 < 100 < 1000) and skips documents without a total."""
    repo, account = DocumentRepository(clock=lambda: T0), "acc-values"
    totals = {1: "1000.00", 2: "9.99", 3: "100", 4: None, 5: "100.01", 6: "0", 7: "25000.5"}
    for n, total in totals.items():
        repo.put_document(doc(n, account_id=account, total_value=Decimal(total) if total else None))

    def listed(low: str | None, high: str | None, **options: Any) -> list[int]:
        bounds = [Decimal(v) if v is not None else None for v in (low, high)]
        flt = DocumentFilter(min_value=bounds[0], max_value=bounds[1])
        return numbers(repo.list_documents(account, "co1", flt, **options))

    assert listed("9.99", "1000") == [1, 5, 3, 2]
    assert listed("0", None, newest_first=False) == [6, 2, 3, 5, 1, 7]
    assert listed(None, "99.99") == [2, 6]
    assert all(scanned == count for scanned, count in queries_read)
    # The full document's total replaces the summary's: the item moves in the index.
    repo.put_document(full(2, account_id=account, total_value=Decimal("5000")))
    assert listed("1000", "9999") == [2, 1]
    with pytest.raises(InvalidValue, match="served alone"):
        repo.list_documents(account, "co1", DocumentFilter(min_value=Decimal(1), doc_type=DocType.NFE))
    with pytest.raises(InvalidValue, match="only a period"):
        repo.list_account_documents(account, DocumentFilter(min_value=Decimal(1)))
