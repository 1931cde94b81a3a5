"""NFeDistribuicaoDFe (distDFeInt 1.01) and CTeDistribuicaoDFe (1.00) over SOAP: one table row each.

The two services differ only in data (namespaces, versions, schemas, the dhResp format, whether
consChNFe exists), so one reader and one writer serve both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from local.fixtures.documents.xmlbuild import BRASILIA, CTE_NS, NFE_NS, Tree
from local.fixtures.xsd import assert_valid
from local.sefaz.cstat import Code
from local.sefaz.distribution import DistributionEngine
from local.sefaz.payload import message_problem
from local.sefaz.queries import DistQuery, DistResult, QueryKind
from local.sefaz.service import VER_APLIC, Service
from local.sefaz.soap import MessageHandler, SoapBinding

_NFE_WSDL: Final = "http://www.portalfiscal.inf.br/nfe/wsdl/NFeDistribuicaoDFe"
_CTE_WSDL: Final = "http://www.portalfiscal.inf.br/cte/wsdl/CTeDistribuicaoDFe"
# Which child of distDFeInt carries which query, and the element holding its value.
_QUERY_ELEMENTS: Final[Mapping[str, tuple[QueryKind, str]]] = {
    "distNSU": (QueryKind.DIST_NSU, "ultNSU"),
    "consNSU": (QueryKind.CONS_NSU, "NSU"),
    "consChNFe": (QueryKind.CONS_CHAVE, "chNFe"),
}


@dataclass(frozen=True)
class DistSpec:
    """What sets one distribution service apart from the other."""

    service: Service
    namespace: str
    version: str
    request_xsd: str
    response_xsd: str
    binding: SoapBinding
    dh_resp_offset: bool  # the NF-e schema wants dhResp with its UTC offset; the CT-e one forbids it


def _binding(wsdl: str, operation: str, message: str) -> SoapBinding:
    action = f"{wsdl}/{operation}"
    return SoapBinding(
        request_path=(f"{{{wsdl}}}{operation}", f"{{{wsdl}}}{message}"),
        responses={action: (f"{{{wsdl}}}{operation}Response", f"{{{wsdl}}}{operation}Result")},
        default_action=action,
    )


DIST_SPECS: Final[Mapping[Service, DistSpec]] = {
    Service.NFE_DIST: DistSpec(
        Service.NFE_DIST,
        NFE_NS,
        "1.01",
        "nfe_dist_dfe/schemas/v1_0/distDFeInt_v1.01.xsd",
        "nfe_dist_dfe/schemas/v1_0/retDistDFeInt_v1.01.xsd",
        _binding(_NFE_WSDL, "nfeDistDFeInteresse", "nfeDadosMsg"),
        True,
    ),
    Service.CTE_DIST: DistSpec(
        Service.CTE_DIST,
        CTE_NS,
        "1.00",
        "cte_dist_dfe/schemas/v1_0/distDFeInt_v1.00.xsd",
        "cte_dist_dfe/schemas/v1_0/retDistDFeInt_v1.00.xsd",
        _binding(_CTE_WSDL, "cteDistDFeInteresse", "cteDadosMsg"),
        False,
    ),
}


def read_query(spec: DistSpec, message: etree._Element, certificate_cnpj: str | None) -> DistQuery:
    """The query in a distDFeInt that passed :func:`~local.sefaz.payload.message_problem`."""
    ns = {"d": spec.namespace}
    interested = message.findtext("d:CNPJ", namespaces=ns) or message.findtext("d:CPF", namespaces=ns) or ""
    choice = message[-1]  # the schema puts the distNSU/consNSU/consChNFe choice last
    kind, value_tag = _QUERY_ELEMENTS[etree.QName(choice).localname]
    value = choice.findtext(f"d:{value_tag}", namespaces=ns) or ""
    return DistQuery(
        service=spec.service,
        kind=kind,
        interested=interested,
        tp_amb=message.findtext("d:tpAmb", namespaces=ns) or "",
        certificate_cnpj=certificate_cnpj,
        nsu=int(value) if kind is not QueryKind.CONS_CHAVE else 0,
        key=value if kind is QueryKind.CONS_CHAVE else "",
    )


def render(spec: DistSpec, result: DistResult, *, environment: str, now: datetime) -> etree._Element:
    """The retDistDFeInt of ``result``, checked against the official schema before it leaves."""
    tree = Tree(spec.namespace)
    answer = tree.fields(
        tree.root("retDistDFeInt", versao=spec.version),
        [
            ("tpAmb", environment),
            ("verAplic", VER_APLIC),
            ("cStat", result.code.cstat),
            ("xMotivo", result.code.xmotivo),
            ("dhResp", _dh_resp(now, with_offset=spec.dh_resp_offset)),
            ("ultNSU", f"{result.ult_nsu:015d}"),
            ("maxNSU", f"{result.max_nsu:015d}"),
        ],
    )
    if result.items:
        batch = tree.child(answer, "loteDistDFeInt")
        for item in result.items:
            tree.child(batch, "docZip", item.doczip, NSU=f"{item.nsu:015d}", schema=item.schema)
    # A simulator that answers outside the schema would teach clients the wrong thing: fail loudly.
    assert_valid(answer, spec.response_xsd)
    return answer


def _dh_resp(now: datetime, *, with_offset: bool) -> str:
    local = now.astimezone(BRASILIA).replace(microsecond=0)
    return local.isoformat() if with_offset else local.replace(tzinfo=None).isoformat()


def handler(engine: DistributionEngine, spec: DistSpec) -> MessageHandler:
    """The SOAP message handler of one distribution service over ``engine``."""

    def handle(message: etree._Element | None, certificate_cnpj: str | None) -> etree._Element:
        problem = message_problem(message, spec.request_xsd)
        if problem is None and message is not None:
            result = engine.distribute(read_query(spec, message, certificate_cnpj))
        else:
            code, detail = problem or (Code.SCHEMA_INVALID, "no message")
            engine.record(spec.service, certificate_cnpj or "", code, detail)
            result = DistResult(code)
        return render(spec, result, environment=engine.environment, now=engine.clock.now())

    return handle
