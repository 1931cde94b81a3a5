"""Finding one of the company's own documents by its number, through its access key.

No index holds the number, but an access key begins with cUF (2), AAMM (4), the issuer's CNPJ
(14), the model (2), the series (3) and the number (9). For a document the company issued, all
but AAMM are known, so one ``begins_with`` Query per month of the period on the table's sort key
(``KEY#<access key>``) finds it and reads nothing else. A received document's issuer UF is not
known, so it is found by its access key instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from fiscal_core.api.documents_query import BRASILIA, CompanyIdentity, DocumentQuery, NumberPlan, Order
from fiscal_core.errors import InvalidValue
from fiscal_core.identifiers import CODE_BY_UF, DocumentModel
from fiscal_core.storage.keys import access_key_doc_key
from fiscal_core.storage.records import DocType

# Documents are kept five years: a number search without a period looks that far back.
DEFAULT_MONTHS: Final = 61
MAX_MONTHS: Final = 72
# The models an access key of each type may carry (CT-e OS and GTV-e are CTE too).
MODELS_OF_TYPE: Final[dict[DocType, tuple[DocumentModel, ...]]] = {
    DocType.NFE: (DocumentModel.NFE,),
    DocType.NFCE: (DocumentModel.NFCE,),
    DocType.CTE: (DocumentModel.CTE, DocumentModel.CTE_OS, DocumentModel.GTVE),
    DocType.MDFE: (DocumentModel.MDFE,),
}


def number_plan(
    query: DocumentQuery,
    company: CompanyIdentity,
    doc_type: DocType,
    series: int,
    period: tuple[datetime | None, datetime | None],
    now: datetime,
) -> NumberPlan:
    """The key prefixes of ``query.number`` in every month of the period (default: five years)."""
    end = period[1] or now
    start = period[0] or (end - timedelta(days=31 * DEFAULT_MONTHS))
    # A day of margin each side: a key's AAMM is the issuer's local month, not Brasília's.
    months = _months(start - timedelta(days=1), end + timedelta(days=1))
    if len(months) > MAX_MONTHS:
        raise InvalidValue("issued_from", f"a number search covers at most {MAX_MONTHS} months")
    cuf = CODE_BY_UF[company.uf]
    prefixes = tuple(
        access_key_doc_key(f"{cuf}{yymm}{company.cnpj}{model.value}{series:03d}{query.number:09d}")
        for yymm in months
        for model in MODELS_OF_TYPE[doc_type]
    )
    return NumberPlan(company.company_id, prefixes, start, end, query.order is not Order.OLDEST)


def _months(start: datetime, end: datetime) -> list[str]:
    """Every AAMM from ``start``'s month to ``end``'s, in Brasília time."""
    first, last = start.astimezone(BRASILIA), end.astimezone(BRASILIA)
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year % 100:02d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
