"""What the documents list is asked (``DocumentQuery``) and the store reads that answer it (plans).

``documents_filters.plan_query`` maps one to the other; ``documents.run_plan`` runs a plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Final

from fiscal_core.api.problems import ApiError
from fiscal_core.identifiers import normalize_cnpj, normalize_cpf
from fiscal_core.storage.records import Direction, DocStatus, DocType, DocumentFilter, Family

# Dates without a time are Brasília days (UTC-03:00, no daylight saving since 2019): the clock
# SEFAZ and the fiscal calendar use.
BRASILIA: Final = timezone(timedelta(hours=-3), "BRT")


class Order(StrEnum):
    """Order of the list: by issue date, or by value when a value range is given."""

    NEWEST = "newest"
    OLDEST = "oldest"
    HIGHEST = "highest"
    LOWEST = "lowest"


# The orders of a list by issue date, and of a list by value (a value range).
DATE_ORDERS: Final = frozenset({Order.NEWEST, Order.OLDEST})
VALUE_ORDERS: Final = frozenset({Order.HIGHEST, Order.LOWEST})


class UnsupportedFilter(ApiError):
    """Filters no single store read serves; the detail names what is served."""

    status = 422
    slug = "unsupported-filter"
    title = "These filters cannot be combined"


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """What the caller asked the documents list for, as the query string gave it."""

    company_id: str | None = None
    family: Family | None = None
    doc_type: DocType | None = None
    direction: Direction | None = None
    status: DocStatus | None = None
    issuer: str | None = None
    recipient: str | None = None
    issued_from: date | datetime | None = None
    issued_to: date | datetime | None = None
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    access_key: str | None = None
    number: int | None = None
    series: int | None = None
    order: Order | None = None  # newest first by date; highest first by value


@dataclass(frozen=True, slots=True)
class CompanyIdentity:
    """What a number search needs of the company: its CNPJ and UF open its access keys."""

    company_id: str
    cnpj: str
    uf: str


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """One Query on ``index`` at ``partition``; ``company_id`` None means the whole account.

    ``descending``: newest first, or highest value first on the value index.
    """

    company_id: str | None
    flt: DocumentFilter
    index: str
    partition: str
    descending: bool


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """A GetItem of one document of the company by its access key."""

    company_id: str
    access_key: str


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """``begins_with`` Queries on the company's sort keys; results outside the period are dropped."""

    company_id: str
    prefixes: tuple[str, ...]
    start: datetime
    end: datetime
    newest_first: bool


Plan = IndexPlan | KeyPlan | NumberPlan


def party_doc(value: str | None, field: str) -> str | None:
    """A CNPJ or CPF parameter without punctuation, as documents store it; InvalidValue if neither."""
    if value is None:
        return None
    if len("".join(c for c in value if c.isalnum())) == 11:
        return normalize_cpf(value, field)
    return normalize_cnpj(value, field)
