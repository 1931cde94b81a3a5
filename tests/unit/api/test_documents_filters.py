"""The documents list's filters map to one exact store read each, or to a 422 saying why not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fiscal_core.api.documents_cursor import unwrap, wrap
from fiscal_core.api.documents_filters import plan_query, supported_combinations
from fiscal_core.api.documents_query import (
    BRASILIA,
    CompanyIdentity,
    DocumentQuery,
    IndexPlan,
    KeyPlan,
    NumberPlan,
    Order,
    UnsupportedFilter,
)
from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import DocumentModel, build_access_key
from fiscal_core.storage.records import Direction, DocStatus, DocType, Family
from local.fixtures.identities import cnpj_for, cpf_for

ACC = "acc1"
CNPJ = cnpj_for("acme")
SUPPLIER = cnpj_for("supplier")
COMPANY = CompanyIdentity("co1", CNPJ, "SP")
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def plan(company: CompanyIdentity | None = COMPANY, **filters):
    return plan_query(ACC, DocumentQuery(company_id=company.company_id if company else None, **filters),
                      company=company, now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "index", "partition"),
    [
        ({}, "by_company_issued_at", "acc1#co1"),
        ({"doc_type": DocType.NFE}, "by_type", "acc1#co1#NFE"),
        ({"family": Family.CTE}, "by_type", "acc1#co1#CTE"),
        ({"family": Family.NFE, "doc_type": DocType.NFCE}, "by_type", "acc1#co1#NFCE"),
        ({"direction": Direction.IN}, "by_direction", "acc1#co1#IN"),
        ({"status": DocStatus.CANCELLED}, "by_status", "acc1#co1#CANCELLED"),
        ({"doc_type": DocType.NFE, "direction": Direction.OUT}, "by_type_direction", "acc1#co1#NFE#OUT"),
        ({"doc_type": DocType.CTE, "status": DocStatus.DENIED}, "by_type_status", "acc1#co1#CTE#DENIED"),
        ({"direction": Direction.IN, "status": DocStatus.AUTHORIZED}, "by_direction_status",
         "acc1#co1#IN#AUTHORIZED"),
        ({"doc_type": DocType.NFE, "direction": Direction.IN, "status": DocStatus.AUTHORIZED},
         "by_type_direction_status", "acc1#co1#NFE#IN#AUTHORIZED"),
        ({"issuer": f"{SUPPLIER[:2]}.{SUPPLIER[2:5]}.{SUPPLIER[5:8]}/{SUPPLIER[8:12]}-{SUPPLIER[12:]}"},
         "by_issuer", f"acc1#co1#{SUPPLIER}"),
        ({"recipient": cpf_for("ana")}, "by_recipient", f"acc1#co1#{cpf_for('ana')}"),
    ],
)  # fmt: skip
def test_each_filter_is_one_query_on_the_index_built_for_it(filters, index, partition) -> None:
    found = plan(**filters)
    assert isinstance(found, IndexPlan)
    assert (found.index, found.partition, found.company_id) == (index, partition, "co1")


def test_a_period_is_the_key_condition_and_dates_are_whole_brasilia_days() -> None:
    found = plan(doc_type=DocType.NFE, issued_from=date(2026, 1, 1), issued_to=date(2026, 1, 31))
    assert isinstance(found, IndexPlan)
    assert found.flt.start == datetime(2026, 1, 1, tzinfo=BRASILIA)
    assert found.flt.end == datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=BRASILIA)
    assert found.descending
    assert not plan(order=Order.OLDEST).descending


def test_a_value_range_is_the_key_condition_of_the_index_sorted_by_value() -> None:
    found = plan(min_value=Decimal("100.5"), max_value=Decimal("2000"))
    assert isinstance(found, IndexPlan)
    assert (found.index, found.partition, found.company_id) == ("by_company_value", "acc1#co1", "co1")
    assert (found.flt.min_value, found.flt.max_value) == (Decimal("100.50"), Decimal("2000.00"))
    assert found.descending  # highest first
    lowest = plan(max_value=Decimal("-0"), order=Order.LOWEST)
    assert isinstance(lowest, IndexPlan)
    assert not lowest.descending
    assert (lowest.flt.min_value, str(lowest.flt.max_value)) == (None, "0.00")
    with pytest.raises(UnsupportedFilter, match="with company_id"):
        plan(None, min_value=Decimal(1))


@pytest.mark.parametrize(
    ("filters", "field", "words"),
    [
        ({"min_value": Decimal("10"), "max_value": Decimal("9.99")}, "max_value", "ends below"),
        ({"min_value": Decimal("-1")}, "min_value", "zero or more"),
        ({"max_value": Decimal("NaN")}, "max_value", "zero or more"),
        ({"min_value": Decimal("1.001")}, "min_value", "two decimal places"),
    ],
)
def test_a_value_range_must_be_amounts_in_cents(filters, field, words) -> None:
    with pytest.raises(InvalidValue, match=words) as refused:
        plan(**filters)
    assert refused.value.field == field


def test_account_wide_lists_take_only_a_period() -> None:
    found = plan(None, issued_from=date(2026, 1, 1))
    assert isinstance(found, IndexPlan)
    assert (found.index, found.partition, found.company_id) == ("by_account_issued_at", "acc1", None)
    with pytest.raises(UnsupportedFilter, match="Across all companies only the issue-date period"):
        plan(None, status=DocStatus.CANCELLED)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"issuer": SUPPLIER, "doc_type": DocType.NFE}, "type \\+ issuer cannot be combined"),
        ({"issuer": SUPPLIER, "recipient": CNPJ}, "issuer \\+ recipient cannot be combined"),
        ({"family": Family.NFE}, "give type=NFE or type=NFCE"),
        ({"max_value": Decimal(10), "doc_type": DocType.NFE}, "A value range .* lists one company's"),
        ({"min_value": Decimal(10), "issued_from": date(2026, 1, 1)}, "A value range"),
        ({"min_value": Decimal(10), "issuer": SUPPLIER}, "A value range"),
        ({"min_value": Decimal(10), "order": Order.NEWEST}, "A value range lists by value"),
        ({"order": Order.HIGHEST}, "sort by value: give min_value or max_value"),
        ({"doc_type": DocType.NFE, "order": Order.LOWEST}, "sort by value"),
        ({"series": 1}, "series only narrows a number search"),
        ({"access_key": "x" * 44, "status": DocStatus.AUTHORIZED}, "access_key names one document"),
        ({"number": 5, "doc_type": DocType.NFE}, "number finds one of the company's own"),
        ({"number": 5, "doc_type": DocType.NFSE, "series": 1}, "number finds one of the company's own"),
        ({"number": 5, "doc_type": DocType.NFE, "series": 1, "direction": Direction.IN}, "own documents"),
        ({"number": 5, "doc_type": DocType.NFE, "series": 1, "issuer": SUPPLIER}, "own documents"),
        ({"number": 5, "doc_type": DocType.NFE, "series": 1, "status": DocStatus.AUTHORIZED}, "own"),
    ],
)
def test_combinations_no_index_serves_are_refused_naming_what_is_served(filters, message) -> None:
    with pytest.raises(UnsupportedFilter, match=message):
        plan(**filters)


def test_the_refusal_lists_the_supported_combinations_in_parameter_names() -> None:
    with pytest.raises(UnsupportedFilter) as refused:
        plan(issuer=SUPPLIER, status=DocStatus.AUTHORIZED)
    assert supported_combinations() in str(refused.value)
    assert "type + direction + status" in supported_combinations()
    assert "doc_type" not in supported_combinations()


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"issuer": "12.345.678/0001-00"}, "issuer"),
        ({"recipient": "123.456.789-00"}, "recipient"),
        ({"family": Family.CTE, "doc_type": DocType.NFE}, "type"),
        ({"issued_from": datetime(2026, 1, 1, 10)}, "issued_from"),  # naive: no zone guessed
        ({"issued_from": date(2026, 2, 1), "issued_to": date(2026, 1, 1)}, "issued_to"),
        ({"issued_to": date(9999, 12, 31)}, "issued_to"),  # would overflow once in UTC
        ({"issued_from": datetime(1, 1, 1, tzinfo=UTC)}, "issued_from"),
    ],
)
def test_invalid_values_name_their_field(filters, field) -> None:
    with pytest.raises(InvalidValue) as refused:
        plan(**filters)
    assert refused.value.field == field


def nfe_key(number: int, *, issuer: str = CNPJ, series: int = 1, year_month: str = "2602") -> str:
    return build_access_key(cuf="35", year_month=year_month, issuer_doc=issuer, model=DocumentModel.NFE,
                            series=series, number=number, cnf="10203040").value  # fmt: skip


def test_access_key_is_a_get_item_and_its_check_digit_is_checked() -> None:
    key = nfe_key(42)
    spaced = " ".join(key[i : i + 4] for i in range(0, 44, 4))  # as printed on a DANFE
    assert plan(access_key=spaced) == KeyPlan("co1", key)
    with pytest.raises(InvalidValue, match="check digit"):
        plan(access_key=key[:43] + str((int(key[43]) + 1) % 10))
    with pytest.raises(UnsupportedFilter):
        plan(None, access_key=key)


def test_number_is_a_key_prefix_per_month_of_the_period() -> None:
    found = plan(number=42, series=1, doc_type=DocType.NFE, issued_from=date(2026, 1, 10),
                 issued_to=date(2026, 2, 28))  # fmt: skip
    assert isinstance(found, NumberPlan)
    # One day of margin each side: a key's AAMM is the issuer's local month.
    months = ["2601", "2602", "2603"]
    assert found.prefixes == tuple(f"KEY#35{m}{CNPJ}55001000000042" for m in months)
    assert all(nfe_key(42, year_month="2602").startswith(p[4:]) for p in found.prefixes[1:2])


def test_number_of_a_cte_covers_every_cte_model_and_defaults_to_five_years() -> None:
    found = plan(number=7, series=2, family=Family.CTE)
    assert isinstance(found, NumberPlan)
    models = {p[4 + 2 + 4 + 14 : 4 + 2 + 4 + 14 + 2] for p in found.prefixes}
    assert models == {"57", "67", "64"}
    assert len(found.prefixes) == 3 * 63  # 61 months and the margins
    assert found.end == NOW
    with pytest.raises(InvalidValue, match="at most 72 months"):
        plan(number=7, series=2, doc_type=DocType.CTE, issued_from=NOW - timedelta(days=365 * 7))


def test_a_cursor_is_bound_to_the_list_it_came_from() -> None:
    january = plan(doc_type=DocType.NFE, issued_from=date(2026, 1, 1))
    february = plan(doc_type=DocType.NFE, issued_from=date(2026, 2, 1))
    oldest = plan(doc_type=DocType.NFE, issued_from=date(2026, 1, 1), order=Order.OLDEST)
    assert isinstance(january, IndexPlan)
    assert isinstance(february, IndexPlan)
    assert isinstance(oldest, IndexPlan)
    cursor = wrap("store-cursor", january)
    assert cursor is not None
    assert unwrap(cursor, january) == "store-cursor"
    assert wrap(None, january) is None
    for other in (february, oldest):
        with pytest.raises(InvalidValue, match="belongs to another list"):
            unwrap(cursor, other)
    cheap, dear = plan(max_value=Decimal(100)), plan(min_value=Decimal(0), max_value=Decimal(100))
    assert isinstance(cheap, IndexPlan)
    assert isinstance(dear, IndexPlan)
    by_value = wrap("store-cursor", cheap)
    assert unwrap(by_value, cheap) == "store-cursor"
    with pytest.raises(InvalidValue, match="belongs to another list"):
        unwrap(by_value, dear)
    for forged in ("not base64 at all!", "e30", "bnVsbA"):
        with pytest.raises(InvalidValue, match="cursor"):
            unwrap(forged, january)
