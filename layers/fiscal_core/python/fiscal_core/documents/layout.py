"""How FiscalMix describes a document layout: one root element, and where each value lives in it.

A layout is data, not code: XPath expressions (prefix ``d:`` is the family's namespace) relative
to the root element, plus the tables that turn codes into meaning. The reader compiles them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from fiscal_core.documents.metadata import DocType, Family, Kind, Status
from fiscal_core.identifiers import DocumentModel

NAMESPACES: Final[Mapping[Family, str]] = MappingProxyType(
    {
        Family.NFE: "http://www.portalfiscal.inf.br/nfe",
        Family.CTE: "http://www.portalfiscal.inf.br/cte",
        Family.MDFE: "http://www.portalfiscal.inf.br/mdfe",
        Family.NFSE: "http://www.sped.fazenda.gov.br/nfse",
    }
)

# The values a layout can locate: DocumentMetadata's fields, plus the raw ones the reader checks.
FieldName = Literal[
    "version",  # the layout version (versao), shown in DocumentMetadata.schema
    "access_key",
    "model",
    "series",
    "number",
    "issued_at",
    "issuer_doc",
    "issuer_name",
    "recipient_doc",
    "recipient_name",
    "total_value",  # the sum of every value the expression selects
    "status_code",  # cStat or cSitNFe, translated through Layout.statuses
    "protocol",
    "protocol_key",  # the key the protocol names; it must match access_key
    "event_type",
    "event_description",
    "event_seq",
    "event_at",
    "author_doc",
]

# One XPath expression, or several tried in order until one yields a value.
Expressions = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """How to read one root element: what it is, where its values live, what its codes mean."""

    name: str  # the root element's local name
    family: Family
    kind: Kind
    fields: Mapping[FieldName, Expressions]
    # The `mod` values this layout may carry and the type each means; None is the key for
    # layouts without a model (NFS-e). A model outside this table is an error, not a guess.
    models: Mapping[DocumentModel | None, DocType]
    statuses: Mapping[str, Status] = field(default_factory=dict)
    # The status when the layout carries no code, because being there means it (resEvento).
    fixed_status: Status | None = None

    @property
    def tag(self) -> str:
        """The root element's name in Clark notation, as lxml reports it."""
        return f"{{{NAMESPACES[self.family]}}}{self.name}"
