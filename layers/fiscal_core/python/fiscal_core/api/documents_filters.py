"""The documents list's filters, and the one store read that serves each combination of them.

``plan_query`` turns what the caller asked into a plan the store runs as it is, with no item
read only to be thrown away:

- ``IndexPlan``: one Query on the documents index built for the combination (see
  docs/data-model.md §4), with the period as its key condition;
- ``KeyPlan``: a GetItem by access key;
- ``NumberPlan``: the company's own document by number (see ``documents_number``).

A combination no index serves is refused (422) with the combinations that are served. A value
range (``min_value``/``max_value``) is one company's documents on the index sorted by value,
highest first unless ``order=lowest``; it combines with nothing else, since reading a period or
a type only to drop what falls outside the range would break the rule above.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import Final

from fiscal_core.api.documents_number import MODELS_OF_TYPE, number_plan
from fiscal_core.api.documents_query import (
    BRASILIA,
    DATE_ORDERS,
    VALUE_ORDERS,
    CompanyIdentity,
    DocumentQuery,
    IndexPlan,
    KeyPlan,
    Order,
    Plan,
    UnsupportedFilter,
    party_doc,
)
from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import parse_access_key, parse_nfse_key
from fiscal_core.storage.document_keys import INDEX_DIMENSIONS, index_for
from fiscal_core.storage.records import Direction, DocType, DocumentFilter, Family

# The list's vocabulary, importable from here too: the exports plan their selections with it.
__all__ = [
    "BRASILIA",
    "CompanyIdentity",
    "DocumentQuery",
    "IndexPlan",
    "KeyPlan",
    "Order",
    "Plan",
    "UnsupportedFilter",
    "period",
    "plan_query",
    "supported_combinations",
]

TYPES_OF_FAMILY: Final[dict[Family, tuple[DocType, ...]]] = {
    Family.NFE: (DocType.NFE, DocType.NFCE),
    Family.CTE: (DocType.CTE,),
    Family.MDFE: (DocType.MDFE,),
    Family.NFSE: (DocType.NFSE,),
}
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2099
# The storage filter's field names as the API's query parameters spell them.
PARAMETER_OF_FIELD: Final[dict[str, str]] = {
    "doc_type": "type",
    "direction": "direction",
    "status": "status",
    "issuer_doc": "issuer",
    "recipient_doc": "recipient",
}
_KEY_ONLY: Final = "access_key names one document: give it with company_id and nothing else."
_VALUE_ORDERS: Final = "order=highest (the default) or order=lowest"
_VALUE_ONLY: Final = (
    "A value range (min_value, max_value) lists one company's documents by value: give it with "
    f"company_id and nothing else but {_VALUE_ORDERS}. To narrow by period, type, status, issuer "
    "or recipient, list by those instead."
)
_VALUE_ORDER: Final = "order=highest and order=lowest sort by value: give min_value or max_value with them."
_CENT: Final = Decimal("0.01")
_NUMBER_ONLY: Final = (
    "number finds one of the company's own documents: give it with company_id, type (NFE, NFCE, "
    "CTE or MDFE), series and optionally the period; for a received document use its access_key, "
    "or list by issuer and period."
)


def plan_query(
    account_id: str, query: DocumentQuery, *, company: CompanyIdentity | None, now: datetime
) -> Plan:
    """The store read that answers ``query``, or UnsupportedFilter / InvalidValue saying why not.

    ``company`` is the company ``query.company_id`` names, already checked to be the caller's.
    """
    if query.min_value is not None or query.max_value is not None:
        return _value_plan(account_id, query, company)
    if query.order in VALUE_ORDERS:
        raise UnsupportedFilter(_VALUE_ORDER)
    start, end = period(query.issued_from, query.issued_to)
    doc_type = _doc_type(query.family, query.doc_type)
    if query.access_key is not None:
        return _key_plan(query, company)
    if query.number is not None:
        _only(query, {"company_id", "family", "doc_type", "number", "series", "issued_from", "issued_to",
                      "direction", "issuer"}, _NUMBER_ONLY)  # fmt: skip
        own = company is not None and party_doc(query.issuer, "issuer") in (None, company.cnpj)
        if not own or query.direction not in (None, Direction.OUT) or doc_type not in MODELS_OF_TYPE:
            raise UnsupportedFilter(_NUMBER_ONLY)
        if company is None or doc_type is None or query.series is None:
            raise UnsupportedFilter(_NUMBER_ONLY)
        return number_plan(query, company, doc_type, query.series, (start, end), now)
    if query.series is not None:
        raise UnsupportedFilter("series only narrows a number search: give number and type with it.")
    flt = DocumentFilter(
        doc_type=doc_type,
        direction=query.direction,
        status=query.status,
        issuer_doc=party_doc(query.issuer, "issuer"),
        recipient_doc=party_doc(query.recipient, "recipient"),
        start=start,
        end=end,
    )
    return _index_plan(account_id, flt, company, query.order is not Order.OLDEST)


def cents(value: Decimal | None, field: str) -> Decimal | None:
    """An amount in reais as documents store it: not negative, at most two decimal places."""
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        raise InvalidValue(field, "give an amount in reais, zero or more (1234.56)")
    exact = value.quantize(_CENT, rounding=ROUND_DOWN)
    if exact != value:
        raise InvalidValue(field, "give at most two decimal places (cents)")
    return abs(exact)  # abs: -0 is 0


def period(
    issued_from: date | datetime | None, issued_to: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """The inclusive period as aware datetimes; a date covers its whole Brasília day."""
    start = _moment(issued_from, "issued_from", time.min)
    end = _moment(issued_to, "issued_to", time.max)
    if start is not None and end is not None and start > end:
        raise InvalidValue("issued_to", "the period ends before it starts")
    return start, end


def supported_combinations() -> str:
    """The combinations the list serves, in the API's parameter names."""
    names = [" + ".join(PARAMETER_OF_FIELD[d] for d in dims) for dims in INDEX_DIMENSIONS.values() if dims]
    return "; ".join(names)


def _index_plan(
    account_id: str, flt: DocumentFilter, company: CompanyIdentity | None, descending: bool
) -> IndexPlan:
    if company is None:
        if flt != DocumentFilter(start=flt.start, end=flt.end):
            raise UnsupportedFilter(
                "Across all companies only the issue-date period can be filtered; give company_id "
                "to filter by type, direction, status, issuer or recipient."
            )
        return IndexPlan(None, flt, "by_account_issued_at", account_id, descending)
    try:
        index, _, partition = index_for(account_id, company.company_id, flt)
    except InvalidValue as exc:
        if exc.field != "filters":
            raise
        given = [PARAMETER_OF_FIELD[f] for f in PARAMETER_OF_FIELD if getattr(flt, f) is not None]
        raise UnsupportedFilter(
            f"{' + '.join(given)} cannot be combined: each list is one index read, and no index "
            f"serves this combination. Supported, each with or without a period: "
            f"{supported_combinations()}."
        ) from exc
    return IndexPlan(company.company_id, flt, index, partition, descending)


def _value_plan(account_id: str, query: DocumentQuery, company: CompanyIdentity | None) -> IndexPlan:
    """A company's documents whose total lies in the range, on the index sorted by value."""
    _only(query, {"company_id", "min_value", "max_value"}, _VALUE_ONLY)
    if company is None:
        raise UnsupportedFilter(_VALUE_ONLY)
    if query.order in DATE_ORDERS:
        raise UnsupportedFilter(f"A value range lists by value: {_VALUE_ORDERS}.")
    low, high = cents(query.min_value, "min_value"), cents(query.max_value, "max_value")
    if low is not None and high is not None and low > high:
        raise InvalidValue("max_value", "the range ends below where it starts (max_value < min_value)")
    flt = DocumentFilter(min_value=low, max_value=high)
    return _index_plan(account_id, flt, company, query.order is not Order.LOWEST)


def _moment(value: date | datetime | None, field: str, at: time) -> datetime | None:
    if value is None:
        return None
    # Access keys write the year in two digits (AAMM): no fiscal document lies outside 2000-2099.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidValue(field, f"give a date between {FIRST_YEAR} and {LAST_YEAR}")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValue(field, "give a UTC offset (2025-03-01T08:00:00-03:00) or a plain date")
        return value
    return datetime.combine(value, at, tzinfo=BRASILIA)


def _doc_type(family: Family | None, doc_type: DocType | None) -> DocType | None:
    """The one type a family and type filter mean; UnsupportedFilter if they mean several."""
    if family is None:
        return doc_type
    types = TYPES_OF_FAMILY[family]
    if doc_type is not None:
        if doc_type not in types:
            raise InvalidValue("type", f"{doc_type} is not a type of the {family} family")
        return doc_type
    if len(types) > 1:
        listed = " or ".join(f"type={t}" for t in types)
        raise UnsupportedFilter(
            f"The {family} family has {len(types)} types, each listed by its own index: give {listed}."
        )
    return types[0]


def _only(query: DocumentQuery, allowed: set[str], message: str) -> None:
    given = {f.name for f in fields(query) if getattr(query, f.name) is not None} - {"order"}
    if given - allowed:
        raise UnsupportedFilter(message)


def _key_plan(query: DocumentQuery, company: CompanyIdentity | None) -> KeyPlan:
    _only(query, {"company_id", "access_key"}, _KEY_ONLY)
    if company is None:
        raise UnsupportedFilter(_KEY_ONLY)
    digits = "".join(c for c in query.access_key or "" if c.isalnum()).upper()
    key = parse_nfse_key(digits) if len(digits) == 50 else parse_access_key(digits)
    return KeyPlan(company.company_id, key.value)
