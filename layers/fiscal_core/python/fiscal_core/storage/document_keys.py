"""Which index serves which documents filter, and the index keys each document carries.

Each index of the Documents table is partitioned by a scope built from the filter values it
answers (``<account>#<company>#NFE#IN``) and sorted by issue date, so a filter plus a period
is a single key condition. This table of dimensions is the whole mapping, both ways. A value
range has an index of its own, sorted by ``total_value`` itself (nothing to derive).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fiscal_core.errors import InvalidValue
from fiscal_core.storage.keys import account_scoped
from fiscal_core.storage.models.documents import DOCUMENT_INDEXES
from fiscal_core.storage.records import DocKind, DocStatus, DocumentFilter

# Index → the document fields, in order, that its partition key is made of (after the company).
INDEX_DIMENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "by_company_issued_at": (),
    "by_type": ("doc_type",),
    "by_direction": ("direction",),
    "by_status": ("status",),
    "by_type_direction": ("doc_type", "direction"),
    "by_type_status": ("doc_type", "status"),
    "by_direction_status": ("direction", "status"),
    "by_type_direction_status": ("doc_type", "direction", "status"),
    "by_issuer": ("issuer_doc",),
    "by_recipient": ("recipient_doc",),
}
_INDEX_BY_FILTER: Final[dict[frozenset[str], str]] = {
    frozenset(dims): name for name, dims in INDEX_DIMENSIONS.items()
}
# A company's documents by total value: the one index whose sort key is not the issue date.
VALUE_INDEX: Final = "by_company_value"
FILTER_FIELDS: Final[tuple[str, ...]] = (
    "doc_type", "direction", "status", "issuer_doc", "recipient_doc",
)  # fmt: skip


def index_keys(
    account_id: str, company_id: str, values: Mapping[str, str | None], kind: DocKind
) -> dict[str, str | None]:
    """Every index partition attribute of a document (None where the index is sparse).

    ``values`` holds the document's filter fields by name; ``kind`` and ``status`` decide
    whether it belongs in ``pending_summaries`` (a summary that can still get its full XML).
    """
    keys: dict[str, str | None] = {}
    for index, dims in INDEX_DIMENSIONS.items():
        if not dims:
            continue
        parts = [p for p in (values[d] for d in dims) if p is not None]
        complete = len(parts) == len(dims)
        keys[DOCUMENT_INDEXES[index]] = account_scoped(account_id, company_id, *parts) if complete else None
    pending = kind is DocKind.SUMMARY and values["status"] == DocStatus.AUTHORIZED
    keys[DOCUMENT_INDEXES["pending_summaries"]] = account_scoped(account_id, company_id) if pending else None
    return keys


def index_for(account_id: str, company_id: str, flt: DocumentFilter) -> tuple[str, str, str]:
    """(index name, partition attribute, partition value) serving ``flt``, or InvalidValue."""
    given = {f: str(getattr(flt, f)) for f in FILTER_FIELDS if getattr(flt, f) is not None}
    if flt.by_value:
        if given or flt.start is not None or flt.end is not None:
            raise InvalidValue("filters", "a value range is served alone: no other filter or period with it")
        return VALUE_INDEX, DOCUMENT_INDEXES[VALUE_INDEX], account_scoped(account_id, company_id)
    name = _INDEX_BY_FILTER.get(frozenset(given))
    if name is None:
        supported = "; ".join(" + ".join(d) or "none" for d in INDEX_DIMENSIONS.values())
        raise InvalidValue(
            "filters", f"{' + '.join(sorted(given))} cannot be combined; supported: {supported}"
        )
    parts = [given[d] for d in INDEX_DIMENSIONS[name]]
    return name, DOCUMENT_INDEXES[name], account_scoped(account_id, company_id, *parts)
