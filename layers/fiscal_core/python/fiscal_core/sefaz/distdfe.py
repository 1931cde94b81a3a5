"""DistribuicaoDFe of NF-e and CT-e: the ``distDFeInt`` request and the ``retDistDFeInt`` answer.

Pure functions, no I/O: the request comes out as bytes validated against its official schema, and
the answer is read from the element :func:`fiscal_core.sefaz.soap.read_payload` found. The two
families differ only in data (namespace, version, which queries exist, whether ``cUFAutor`` and
``docZip@NSU`` are required), kept in :data:`LAYOUTS`. Facts: docs/sefaz-protocol.md §1-§2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from types import MappingProxyType
from typing import Final

from lxml import etree

from fiscal_core.doczip import DEFAULT_MAX_BYTES, decode_doczip
from fiscal_core.errors import DocumentError, InvalidValue
from fiscal_core.identifiers import CODE_BY_UF, UF_BY_CODE, normalize_cnpj, normalize_cpf, parse_access_key
from fiscal_core.sefaz.cstat import DISTRIBUTION_RULES, ONE_HOUR, Category, Outcome, RetryClass, classify
from fiscal_core.sefaz.environments import Service, TpAmb
from fiscal_core.sefaz.errors import MalformedResponse
from fiscal_core.sefaz.schemas import RequestSchema, validate_request
from fiscal_core.sefaz.wsdl import CTE_DIST_DFE, NFE_DIST_DFE, WsdlOperation
from fiscal_core.sefaz.xmlread import child, children, default_nsmap, require_namespace, required_text

NSU_DIGITS: Final = 15


class QueryKind(Enum):
    """The three ways to ask, as (group element, value element)."""

    DIST_NSU = ("distNSU", "ultNSU")  # the next page after the last NSU received
    CONS_NSU = ("consNSU", "NSU")  # one NSU, to fill a gap
    CONS_CHAVE = ("consChNFe", "chNFe")  # one NF-e by access key

    def __init__(self, group: str, element: str) -> None:
        self.group = group
        self.element = element


@dataclass(frozen=True)
class DistQuery:
    """What to ask for; build it with :meth:`dist_nsu`, :meth:`cons_nsu` or :meth:`cons_chave`."""

    kind: QueryKind
    value: str

    @classmethod
    def dist_nsu(cls, ult_nsu: int | str) -> DistQuery:
        """Documents after ``ult_nsu``: always the ultNSU SEFAZ last returned, never lower, never +1."""
        return cls(QueryKind.DIST_NSU, format_nsu(ult_nsu, "ult_nsu"))

    @classmethod
    def cons_nsu(cls, nsu: int | str) -> DistQuery:
        """The document at ``nsu`` (at most 20 of these an hour per CNPJ)."""
        return cls(QueryKind.CONS_NSU, format_nsu(nsu))

    @classmethod
    def cons_chave(cls, chave: str) -> DistQuery:
        """The NF-e with access key ``chave`` (at most 20 of these an hour per CNPJ)."""
        return cls(QueryKind.CONS_CHAVE, parse_access_key(chave, "chave").value)


class DistFamily(Enum):
    """The document family a distribution service serves."""

    NFE = "nfe"
    CTE = "cte"


@dataclass(frozen=True)
class DistLayout:
    """Everything that differs between the NF-e and CT-e distribution services."""

    namespace: str
    versao: str
    schema: RequestSchema
    operation: WsdlOperation
    service: Service
    queries: frozenset[QueryKind]
    cuf_autor_required: bool
    doczip_nsu_required: bool


LAYOUTS: Final = MappingProxyType(
    {
        DistFamily.NFE: DistLayout(
            namespace="http://www.portalfiscal.inf.br/nfe",
            versao="1.01",
            schema=RequestSchema.NFE_DIST_DFE,
            operation=NFE_DIST_DFE,
            service=Service.NFE_DISTRIBUICAO,
            queries=frozenset(QueryKind),
            cuf_autor_required=False,
            # consChNFe may answer with a document that has no NSU (NT 2014.002 v1.15).
            doczip_nsu_required=False,
        ),
        DistFamily.CTE: DistLayout(
            namespace="http://www.portalfiscal.inf.br/cte",
            versao="1.00",
            schema=RequestSchema.CTE_DIST_DFE,
            operation=CTE_DIST_DFE,
            service=Service.CTE_DISTRIBUICAO,
            queries=frozenset({QueryKind.DIST_NSU, QueryKind.CONS_NSU}),
            cuf_autor_required=True,
            doczip_nsu_required=True,
        ),
    }
)


def format_nsu(value: int | str, field: str = "nsu") -> str:
    """An NSU as SEFAZ demands it: 15 digits, zero-padded (``34000`` alone earns cStat 215)."""
    text = str(value).strip()
    if not text.isdigit() or not text.isascii() or len(text) > NSU_DIGITS:
        raise InvalidValue(field, f"an NSU is a number of at most {NSU_DIGITS} digits, got {value!r}")
    return text.zfill(NSU_DIGITS)


def uf_code(value: str, field: str = "cuf_autor") -> str:
    """The IBGE code of a UF given as code (``35``) or abbreviation (``SP``)."""
    text = value.strip().upper()
    code = CODE_BY_UF.get(text, text)
    if code not in UF_BY_CODE:
        raise InvalidValue(field, f"{value!r} is neither a UF nor its IBGE code")
    return code


def _interested(value: str) -> tuple[str, str]:
    """("CPF", cpf) for 11 digits, else ("CNPJ", cnpj); InvalidValue when neither is valid."""
    digits = "".join(ch for ch in value if ch.isalnum())
    return ("CPF", normalize_cpf(value)) if len(digits) == 11 else ("CNPJ", normalize_cnpj(value))


def build_dist_dfe(
    family: DistFamily, tp_amb: TpAmb, interested: str, query: DistQuery, cuf_autor: str | None = None
) -> bytes:
    """The ``distDFeInt`` of ``family``, checked against its official schema, as UTF-8 bytes.

    ``interested`` is the CNPJ (or a person's CPF) whose documents are asked for; its CNPJ base must
    match the certificate's. Raises InvalidValue for bad input and RequestRejectedLocally when the
    result breaks the schema (an alphanumeric CNPJ on CT-e, for one).
    """
    layout = LAYOUTS[family]
    if query.kind not in layout.queries:
        raise InvalidValue("query", f"{family.value.upper()} distribution has no {query.kind.group} query")
    if layout.cuf_autor_required and not cuf_autor:
        raise InvalidValue("cuf_autor", f"{family.value.upper()} distribution requires the author's UF")
    ns = layout.namespace
    root = etree.Element(f"{{{ns}}}distDFeInt", nsmap=default_nsmap(ns), versao=layout.versao)
    etree.SubElement(root, f"{{{ns}}}tpAmb").text = tp_amb.value
    if cuf_autor:
        etree.SubElement(root, f"{{{ns}}}cUFAutor").text = uf_code(cuf_autor)
    tag, document = _interested(interested)
    etree.SubElement(root, f"{{{ns}}}{tag}").text = document
    group = etree.SubElement(root, f"{{{ns}}}{query.kind.group}")
    etree.SubElement(group, f"{{{ns}}}{query.kind.element}").text = query.value
    validate_request(root, layout.schema)
    return etree.tostring(root, encoding="UTF-8")


@dataclass(frozen=True)
class DistDocument:
    """One docZip: its NSU (None when consChNFe returns none), schema name and decoded XML."""

    nsu: str | None
    schema: str
    xml: bytes


@dataclass(frozen=True)
class DistDFeResult:
    """A ``retDistDFeInt``: the classified status, the NSU bounds and up to 50 documents.

    ``ult_nsu``/``max_nsu`` are None only when a rejection omits them; use them only after looking
    at ``outcome`` (on 656, maxNSU comes back as zeros).
    """

    family: DistFamily
    tp_amb: str
    ver_aplic: str
    dh_resp: datetime
    ult_nsu: str | None
    max_nsu: str | None
    documents: tuple[DistDocument, ...]
    outcome: Outcome

    @property
    def cstat(self) -> str:
        """SEFAZ's status code."""
        return self.outcome.cstat

    @property
    def xmotivo(self) -> str:
        """SEFAZ's status text, shown to users as is."""
        return self.outcome.xmotivo

    @property
    def caught_up(self) -> bool:
        """True when every NSU SEFAZ has for this CNPJ was read (ultNSU == maxNSU)."""
        return self.ult_nsu is not None and self.ult_nsu == self.max_nsu


def parse_ret_dist_dfe(
    payload: etree._Element,
    family: DistFamily,
    query: QueryKind,
    *,
    max_document_bytes: int = DEFAULT_MAX_BYTES,
) -> DistDFeResult:
    """Read a ``retDistDFeInt`` of ``family`` answering a ``query``; MalformedResponse says what is wrong.

    After a distNSU page that reaches maxNSU, the outcome asks for the one-hour wait SEFAZ requires
    before the next distNSU (NT 2014.002; asking earlier earns 656).
    """
    layout = LAYOUTS[family]
    require_namespace(payload, layout.namespace)
    outcome = classify(DISTRIBUTION_RULES, required_text(payload, "cStat"), required_text(payload, "xMotivo"))
    needs_nsu = outcome.category in {Category.SUCCESS, Category.EMPTY}
    result = DistDFeResult(
        family=family,
        tp_amb=required_text(payload, "tpAmb"),
        ver_aplic=required_text(payload, "verAplic"),
        dh_resp=_timestamp(required_text(payload, "dhResp")),
        ult_nsu=_nsu_element(payload, "ultNSU", required=needs_nsu),
        max_nsu=_nsu_element(payload, "maxNSU", required=needs_nsu),
        documents=_documents(payload, layout, max_document_bytes),
        outcome=outcome,
    )
    if query is QueryKind.DIST_NSU and outcome.category is Category.SUCCESS and result.caught_up:
        caught_up = replace(
            outcome,
            retry=RetryClass.WAIT,
            wait_seconds=ONE_HOUR,
            hint="all documents read (ultNSU = maxNSU); SEFAZ requires an hour before asking again",
        )
        result = replace(result, outcome=caught_up)
    return result


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponse(f"dhResp {text!r} is not a date and time") from None


def _nsu_text(text: str, where: str) -> str:
    try:
        return format_nsu(text, where)
    except InvalidValue as exc:
        raise MalformedResponse(f"retDistDFeInt: {exc}") from None


def _nsu_element(payload: etree._Element, name: str, *, required: bool) -> str | None:
    node = child(payload, name)
    if node is None or not (node.text or "").strip():
        if required:
            raise MalformedResponse(f"retDistDFeInt has no {name}: the answer is incomplete")
        return None
    return _nsu_text(node.text or "", name)


def _documents(payload: etree._Element, layout: DistLayout, max_bytes: int) -> tuple[DistDocument, ...]:
    lot = child(payload, "loteDistDFeInt")
    if lot is None:
        return ()
    documents = []
    for doczip in children(lot, "docZip"):
        raw_nsu = doczip.get("NSU")
        nsu = None if raw_nsu is None else _nsu_text(raw_nsu, "docZip@NSU")
        schema = (doczip.get("schema") or "").strip()
        where = f"docZip NSU {nsu or '(none)'} schema {schema or '(none)'}"
        if not schema:
            raise MalformedResponse(f"{where}: the required schema attribute is missing")
        if nsu is None and layout.doczip_nsu_required:
            raise MalformedResponse(f"{where}: the required NSU attribute is missing")
        try:
            xml = decode_doczip(doczip.text or "", max_bytes=max_bytes)
        except DocumentError as exc:
            raise MalformedResponse(f"{where}: {exc}") from None
        documents.append(DistDocument(nsu=nsu, schema=schema, xml=xml))
    return tuple(documents)
